import abc
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import ClassVar

from dukcapil_review.domain.model import AuditEntry, Review, ReviewStatus
from dukcapil_shared.contracts import (
    Event,
    InformationRequested,
    RequestApproved,
    RequestRejected,
    ReviewClaimed,
    ReviewStarted,
)
from dukcapil_shared.messaging import ConcurrentChange, UnitOfWork


class ConcurrentUpdate(ConcurrentChange):
    """Someone else changed the review since it was loaded."""

    message = "Someone else changed this review just now; reload it."


class QueueOrder(StrEnum):
    received = "received"
    """Oldest first."""
    due = "due"
    """Earliest due date first."""


@dataclass(frozen=True)
class ReviewQuery:
    status: ReviewStatus | None = None
    request_type: str | None = None
    kecamatan_code: str | None = None
    overdue_at: datetime | None = None
    """When set, only pending reviews whose due date passed before this moment."""
    register_retry_due_at: datetime | None = None
    """When set, only open reviews whose register checks are due for another try by this moment."""
    order: QueueOrder = QueueOrder.received
    limit: int = 50
    offset: int = 0


@dataclass(frozen=True)
class PendingCount:
    """The pending reviews of one type in one kecamatan: how many, how many are past their due date, and the
    earliest due date among them."""

    request_type: str
    kecamatan_code: str
    pending: int
    overdue: int
    earliest_due_at: datetime


class AuditLog(abc.ABC):
    """Append-only: entries are added and listed, never changed or removed."""

    @abc.abstractmethod
    async def append(self, entries: Sequence[AuditEntry]) -> None: ...

    @abc.abstractmethod
    async def list(self, request_id: uuid.UUID) -> list[AuditEntry]:
        """In the order they were written."""


class ReviewRepository(abc.ABC):
    """`add` and `save` also append the review's new audit entries, in the same transaction."""

    @abc.abstractmethod
    async def add(self, review: Review) -> None: ...

    @abc.abstractmethod
    async def get(self, request_id: uuid.UUID) -> Review | None: ...

    @abc.abstractmethod
    async def save(self, review: Review) -> None:
        """Store the review if nobody changed it since it was loaded, else raise ConcurrentUpdate."""

    @abc.abstractmethod
    async def find_duplicates(
        self, *, request_type: str, subject_nik: str, exclude: uuid.UUID, approved_since: datetime
    ) -> list[Review]:
        """Other reviews of this type for this person that are open, or were approved since `approved_since`."""

    async def get_with_duplicates(
        self,
        request_id: uuid.UUID,
        *,
        approved_since: datetime,
        request_type: str | None = None,
        subject_nik: str | None = None,
    ) -> tuple[Review | None, list[Review]]:
        """The review, if any, and the others `find_duplicates` finds for it: of `request_type` for `subject_nik`
        when given (a request that may not be stored yet), else of the stored review's type and person. The SQL
        repository answers in one round trip."""
        review = await self.get(request_id)
        if request_type is None or subject_nik is None:
            if review is None:
                return None, []
            request_type, subject_nik = review.request_type, review.subject_nik
        others = await self.find_duplicates(
            request_type=request_type, subject_nik=subject_nik, exclude=request_id, approved_since=approved_since
        )
        return review, others

    @abc.abstractmethod
    async def count_pending(
        self, *, now: datetime, request_type: str | None = None, kecamatan_code: str | None = None
    ) -> list[PendingCount]:
        """Pending reviews counted per type and kecamatan (those with none left out), in no particular order; a
        review is overdue when its due date is before `now`."""

    @abc.abstractmethod
    async def list(self, query: ReviewQuery) -> list[Review]: ...


class ReviewUnitOfWork(UnitOfWork):
    reviews: ReviewRepository
    audit: AuditLog
    publishes: ClassVar[tuple[type[Event], ...] | None] = (
        ReviewStarted,
        ReviewClaimed,
        InformationRequested,
        RequestApproved,
        RequestRejected,
    )
