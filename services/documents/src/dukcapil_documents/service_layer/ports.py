"""What the use cases need from the outside besides the database: a PDF renderer and a file store."""

import abc

from dukcapil_documents.domain.model import Document


class DocumentRenderer(abc.ABC):
    @abc.abstractmethod
    async def render(self, document: Document, *, verification_url: str) -> bytes:
        """The document as a PDF, with a QR code pointing at `verification_url`."""


class DocumentStorage(abc.ABC):
    @abc.abstractmethod
    async def save(self, key: str, content: bytes) -> None:
        """Store `content` under `key` whole or not at all, replacing what was there."""

    @abc.abstractmethod
    async def load(self, key: str) -> bytes | None: ...
