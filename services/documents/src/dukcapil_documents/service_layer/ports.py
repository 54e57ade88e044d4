"""What the use cases need from the outside besides the database: a PDF renderer, a signer and a file store."""

import abc
from dataclasses import dataclass

from dukcapil_documents.domain.model import Document
from dukcapil_shared.files import FileStore


class DocumentRenderer(abc.ABC):
    @abc.abstractmethod
    async def render(self, document: Document, *, verification_url: str) -> bytes:
        """The document as a PDF, with a QR code pointing at `verification_url`."""


@dataclass(frozen=True)
class PublicKey:
    key_id: str
    algorithm: str
    pem: str
    current: bool
    """True for the key that signs new documents; False for a retired key kept to verify older ones."""


class DocumentSigner(abc.ABC):
    """The office's electronic signature: signs new documents, and checks any document it ever signed."""

    @property
    @abc.abstractmethod
    def key_id(self) -> str:
        """The id of the key that signs new documents."""

    @abc.abstractmethod
    def sign(self, payload: bytes) -> str:
        """A detached signature of `payload`, as text."""

    @abc.abstractmethod
    def verify(self, payload: bytes, signature: str, key_id: str) -> bool:
        """True only if `signature` was made over `payload` by the trusted key `key_id`."""

    @abc.abstractmethod
    def public_keys(self) -> list[PublicKey]: ...


# Issued PDFs are kept as files under the storage key each document records.
DocumentStorage = FileStore
