"""The work queue against its service levels, for Prometheus: pending reviews and overdue ones per request type.

Read from the reviews table when Prometheus scrapes, with one aggregate over the pending rows (the status/due
index); "overdue" means what GET /reviews?overdue=true means: pending, and past its due date.
"""

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Gauge
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from dukcapil_review.adapters import tables
from dukcapil_review.domain.model import ReviewStatus
from dukcapil_shared.clock import Clock


class ReviewQueueGauges:
    def __init__(
        self,
        *,
        engine: AsyncEngine,
        registry: CollectorRegistry,
        clock: Clock,
        request_types: Iterable[str],
    ) -> None:
        self._engine = engine
        self._clock = clock
        # Every type reads a number from the first scrape on, 0 included, so an alert on "overdue > 0" has a
        # series to watch before the first breach.
        self._types = set(request_types)
        self.pending = Gauge(
            "dukcapil_reviews_pending",
            "Reviews waiting for the office (status pending), by request type",
            ["request_type"],
            registry=registry,
        )
        self.overdue = Gauge(
            "dukcapil_reviews_overdue",
            "Pending reviews past their due date: service-level breaches now open, by request type",
            ["request_type"],
            registry=registry,
        )

    async def refresh(self) -> None:
        reviews = tables.reviews
        now = self._clock()
        query = (
            select(
                reviews.c.request_type,
                func.count(),
                func.coalesce(func.sum(case((reviews.c.due_at < now, 1), else_=0)), 0),
            )
            .where(reviews.c.status == ReviewStatus.pending.value)
            .group_by(reviews.c.request_type)
        )
        async with self._engine.connect() as connection:
            counts = {row[0]: (row[1], row[2]) for row in await connection.execute(query)}
        self._types |= counts.keys()
        for request_type in self._types:
            pending, overdue = counts.get(request_type, (0, 0))
            self.pending.labels(request_type=request_type).set(pending)
            self.overdue.labels(request_type=request_type).set(overdue)
