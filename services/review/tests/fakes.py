import copy
import uuid

from dukcapil_review.domain.model import Review
from dukcapil_review.service_layer.unit_of_work import ConcurrentUpdate, ReviewRepository, ReviewUnitOfWork
from dukcapil_shared.testing import FakeUnitOfWork


class FakeReviewRepository(ReviewRepository):
    def __init__(self) -> None:
        self.committed: dict[uuid.UUID, Review] = {}
        self.pending: dict[uuid.UUID, Review] = {}

    async def add(self, review: Review) -> None:
        self.pending[review.request_id] = copy.deepcopy(review)

    async def get(self, request_id: uuid.UUID) -> Review | None:
        return copy.deepcopy(self.pending.get(request_id) or self.committed.get(request_id))

    async def save(self, review: Review) -> None:
        current = self.pending.get(review.request_id) or self.committed[review.request_id]
        if current.version != review.version:
            raise ConcurrentUpdate(str(review.request_id))
        review.version += 1
        self.pending[review.request_id] = copy.deepcopy(review)

    async def list(self, *, status, request_type, limit, offset):  # type: ignore[no-untyped-def]
        found = [
            r
            for r in sorted(self.committed.values(), key=lambda r: r.received_at)
            if (status is None or r.status == status) and (request_type is None or r.request_type == request_type)
        ]
        return found[offset : offset + limit]


class FakeReviewUnitOfWork(FakeUnitOfWork, ReviewUnitOfWork):
    def __init__(self) -> None:
        super().__init__()
        self.reviews = FakeReviewRepository()

    async def commit(self) -> None:
        await super().commit()
        self.reviews.committed.update(self.reviews.pending)
        self.reviews.pending = {}

    async def rollback(self) -> None:
        await super().rollback()
        self.reviews.pending = {}
