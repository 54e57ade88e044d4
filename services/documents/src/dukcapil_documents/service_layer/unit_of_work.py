import abc
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from dukcapil_documents.domain.model import Document, DocumentKind, NumberReservation
from dukcapil_shared.contracts import DocumentIssued, DocumentRevoked, Event
from dukcapil_shared.messaging import ConcurrentChange, UnitOfWork


class NumberAlreadyReserved(ConcurrentChange):
    """Another delivery of the same approval reserved the request's number first; it is the one to use."""


@dataclass(frozen=True)
class NumberState:
    """Where a request's document number stands before the document is drawn."""

    issued: bool
    reservation: NumberReservation | None


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
    async def by_checksum(self, checksum_sha256: str) -> Document | None:
        """The document whose issued file has this SHA-256, if any."""

    @abc.abstractmethod
    async def next_sequence(self, type_code: str, year: int) -> int:
        """The next number in the type's sequence for the year, never handed out twice."""

    @abc.abstractmethod
    async def number_state(self, request_id: uuid.UUID) -> NumberState:
        """Whether the request has a document already, and the number reserved for it and not yet issued, if any:
        in one query."""

    @abc.abstractmethod
    async def reserve_number(self, request_id: uuid.UUID, kind: DocumentKind, at: datetime) -> NumberReservation:
        """Take the next number of the kind's sequence for `at`'s year and reserve it for the request's document.
        Raises NumberAlreadyReserved if the request has a reservation already (committed meanwhile)."""

    async def reserve_unless_taken(self, request_id: uuid.UUID, kind: DocumentKind, at: datetime) -> NumberState:
        """The request's number state, with a number reserved for it now (`reserve_number`) when it has neither a
        document nor a reservation. The SQL repository does both in one statement on PostgreSQL."""
        state = await self.number_state(request_id)
        if state.issued or state.reservation is not None:
            return state
        return NumberState(issued=False, reservation=await self.reserve_number(request_id, kind, at))

    @abc.abstractmethod
    async def release_reservation(self, request_id: uuid.UUID) -> None:
        """The request's document was issued under its reserved number: the reservation ends."""

    async def add_reserved(self, document: Document) -> None:
        """Store a new document issued under its request's reserved number (`add`), and end the reservation
        (`release_reservation`). The SQL repository does both in one statement on PostgreSQL."""
        await self.release_reservation(document.request_id)
        await self.add(document)

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
