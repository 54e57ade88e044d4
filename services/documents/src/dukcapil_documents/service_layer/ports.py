"""What the use cases need from the outside besides the database: a PDF renderer and a file store."""

import abc

from dukcapil_documents.domain.model import Document
from dukcapil_shared.files import FileStore


class DocumentRenderer(abc.ABC):
    @abc.abstractmethod
    async def render(self, document: Document, *, verification_url: str) -> bytes:
        """The document as a PDF, with a QR code pointing at `verification_url`."""


# Issued PDFs are kept as files under the storage key each document records.
DocumentStorage = FileStore
