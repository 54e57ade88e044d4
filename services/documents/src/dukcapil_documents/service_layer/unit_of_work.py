import abc
import uuid

from dukcapil_documents.domain.model import Document
from dukcapil_shared.messaging import UnitOfWork


class DocumentRepository(abc.ABC):
    @abc.abstractmethod
    async def add(self, document: Document) -> None:
        """Store a new document; a second document for the same request fails on its unique key."""

    @abc.abstractmethod
    async def get(self, document_id: uuid.UUID) -> Document | None: ...

    @abc.abstractmethod
    async def for_request(self, request_id: uuid.UUID) -> Document | None: ...

    @abc.abstractmethod
    async def by_verification_token(self, token: str) -> Document | None: ...

    @abc.abstractmethod
    async def next_sequence(self, type_code: str, year: int) -> int:
        """The next number in the type's sequence for the year, never handed out twice."""


class DocumentsUnitOfWork(UnitOfWork):
    documents: DocumentRepository
