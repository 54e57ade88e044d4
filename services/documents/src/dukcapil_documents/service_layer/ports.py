"""What the use cases need from the outside besides the database: a PDF renderer, the office's signatures (inside
the PDF, and over its record) and a file store."""

import abc
from dataclasses import dataclass

from dukcapil_documents.domain.model import Document, EmbeddedSignature
from dukcapil_shared.files import FileStore


class DocumentRenderer(abc.ABC):
    @abc.abstractmethod
    async def render(self, document: Document, *, verification_url: str) -> bytes:
        """The document as a PDF, with a QR code pointing at `verification_url`."""


class PdfSealer(abc.ABC):
    """The office's signature inside each PDF (PAdES, with its certificate chain): the file in hand proves itself,
    offline, in any PDF reader."""

    @abc.abstractmethod
    async def seal(self, content: bytes) -> bytes:
        """The PDF with the office's signature embedded over the whole file; what the pages show is unchanged."""

    @abc.abstractmethod
    async def examine(self, content: bytes) -> EmbeddedSignature:
        """What the signature inside the PDF says, checked against the office's trusted roots without going online;
        a file that cannot be read as a PDF has no signature."""


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
