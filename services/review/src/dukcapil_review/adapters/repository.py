import uuid
from dataclasses import asdict

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from dukcapil_review.adapters import tables
from dukcapil_review.domain.model import Review, ReviewStatus
from dukcapil_review.service_layer.unit_of_work import ConcurrentUpdate, ReviewRepository, ReviewUnitOfWork
from dukcapil_shared.db import as_utc
from dukcapil_shared.messaging import SqlUnitOfWork


class SqlReviewRepository(ReviewRepository):
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, review: Review) -> None:
        await self._connection.execute(insert(tables.reviews).values(**_row(review)))

    async def get(self, request_id: uuid.UUID) -> Review | None:
        row = (
            await self._connection.execute(select(tables.reviews).where(tables.reviews.c.request_id == str(request_id)))
        ).one_or_none()
        return _review(row) if row is not None else None

    async def save(self, review: Review) -> None:
        values = _row(review) | {"version": review.version + 1}
        result = await self._connection.execute(
            update(tables.reviews)
            .where(
                tables.reviews.c.request_id == str(review.request_id),
                tables.reviews.c.version == review.version,
            )
            .values(**values)
        )
        if result.rowcount != 1:
            raise ConcurrentUpdate(f"review {review.request_id} changed since it was loaded")
        review.version += 1

    async def list(
        self, *, status: ReviewStatus | None, request_type: str | None, limit: int, offset: int
    ) -> list[Review]:
        query = select(tables.reviews).order_by(tables.reviews.c.received_at).limit(limit).offset(offset)
        if status is not None:
            query = query.where(tables.reviews.c.status == status.value)
        if request_type is not None:
            query = query.where(tables.reviews.c.request_type == request_type)
        return [_review(row) for row in await self._connection.execute(query)]


class SqlReviewUnitOfWork(SqlUnitOfWork, ReviewUnitOfWork):
    def bind(self, connection: AsyncConnection) -> None:
        self.reviews = SqlReviewRepository(connection)


def _row(review: Review) -> dict[str, object]:
    row = asdict(review)
    row["request_id"] = str(review.request_id)
    row["status"] = review.status.value
    return row


def _review(row) -> Review:  # type: ignore[no-untyped-def]
    values = dict(row._mapping)
    values["request_id"] = uuid.UUID(values["request_id"])
    values["status"] = ReviewStatus(values["status"])
    values["received_at"] = as_utc(values["received_at"])
    values["updated_at"] = as_utc(values["updated_at"])
    return Review(**values)
