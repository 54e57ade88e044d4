import abc
import uuid

from dukcapil_review.domain.model import Review, ReviewStatus
from dukcapil_shared.messaging import UnitOfWork


class ConcurrentUpdate(Exception):
    """Someone else changed the review since it was loaded."""


class ReviewRepository(abc.ABC):
    @abc.abstractmethod
    async def add(self, review: Review) -> None: ...

    @abc.abstractmethod
    async def get(self, request_id: uuid.UUID) -> Review | None: ...

    @abc.abstractmethod
    async def save(self, review: Review) -> None:
        """Store the review if nobody changed it since it was loaded, else raise ConcurrentUpdate."""

    @abc.abstractmethod
    async def list(
        self, *, status: ReviewStatus | None, request_type: str | None, limit: int, offset: int
    ) -> list[Review]:
        """Oldest first: the work queue's order."""


class ReviewUnitOfWork(UnitOfWork):
    reviews: ReviewRepository
