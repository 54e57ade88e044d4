import abc
import uuid
from datetime import datetime
from typing import ClassVar

from dukcapil_documents.domain.model import Document
from dukcapil_shared.contracts import DocumentIssued, DocumentRevoked, Event
from dukcapil_shared.messaging import UnitOfWork


class DocumentRepository(abc.ABC):
    @abc.abstractmethod
    async def add(self, document: Document) -> None:
        """Store a new document; a second valid document for the same request fails on its unique index."""

    @abc.abstractmethod
    async def get(self, document_id: uuid.UUID) -> Document | None: ...

    @abc.abstractmethod
    async def for_request(self, request_id: uuid.UUID) -> list[Document]:
        """Every document issued for the request, oldest first: the valid one and those it replaced."""

    @abc.abstractmethod
    async def by_verification_token(self, token: str) -> Document | None: ...

    @abc.abstractmethod
    async def next_sequence(self, type_code: str, year: int) -> int:
        """The next number in the type's sequence for the year, never handed out twice."""

    @abc.abstractmethod
    async def peek_sequence(self, type_code: str, year: int) -> int:
        """The number `next_sequence` would hand out now, without taking it: only a guess once this transaction
        ends, since another may take it first."""

    @abc.abstractmethod
    async def save_revocation(self, document: Document) -> bool:
        """Record the document's revocation if it is still valid here; False if someone revoked it first."""

    @abc.abstractmethod
    async def count_verification(self, document_id: uuid.UUID, at: datetime) -> int:
        """Count one more public verification of the document; returns the count so far."""


class DocumentsUnitOfWork(UnitOfWork):
    documents: DocumentRepository
    publishes: ClassVar[tuple[type[Event], ...] | None] = (
        DocumentIssued,
        DocumentRevoked,
    )
