"""Gauges read when Prometheus scrapes: from the service's own tables (each one indexed aggregate query), and
from the broker (a passive declaration per queue, which reports its depth without changing it)."""

import contextlib
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from dukcapil_shared.db import as_utc
from dukcapil_shared.observability.metrics import ServiceMetrics
from dukcapil_shared.ops.dead_letters import DeadLetterStatus


class OutboxBacklog:
    """How many events wait in the outbox, and for how long the oldest has waited: a relay that cannot publish
    (the broker away, a replica stuck) shows here before anyone notices a stalled request."""

    def __init__(self, *, engine: AsyncEngine, outbox: Table, metrics: ServiceMetrics) -> None:
        self._engine = engine
        self._outbox = outbox
        self._metrics = metrics

    async def refresh(self) -> None:
        table = self._outbox
        query = select(func.count(), func.min(table.c.created_at)).where(table.c.published_at.is_(None))
        async with self._engine.connect() as connection:
            pending, oldest = (await connection.execute(query)).one()
        self._metrics.outbox_pending.set(pending)
        age = (datetime.now(UTC) - as_utc(oldest)).total_seconds() if oldest is not None else 0.0
        self._metrics.outbox_oldest_pending_age.set(max(0.0, age))


class ParkedDeadLetters:
    """Dead letters waiting for an operator, per queue they failed in."""

    def __init__(self, *, engine: AsyncEngine, dead_letters: Table, metrics: ServiceMetrics) -> None:
        self._engine = engine
        self._dead_letters = dead_letters
        self._metrics = metrics
        self._queues_seen: set[str] = set()

    async def refresh(self) -> None:
        table = self._dead_letters
        query = (
            select(table.c.original_queue, func.count())
            .where(table.c.status == DeadLetterStatus.parked.value)
            .group_by(table.c.original_queue)
        )
        async with self._engine.connect() as connection:
            counts: dict[str, int] = {queue: count for queue, count in await connection.execute(query)}
        # A queue whose letters were all resolved reads 0 rather than keeping its last count.
        self._queues_seen |= counts.keys()
        for queue in self._queues_seen:
            self._metrics.dead_letters_parked.labels(queue=queue).set(counts.get(queue, 0))


class BrokerQueueDepths:
    """Messages ready and consumers attached, per queue of this service (subscriptions, delays, dead letters):
    the backlog of each stage as the broker sees it. Replicas of a service report the same queues."""

    def __init__(
        self, *, connection: Callable[[], Any], queues: Callable[[], Iterable[str]], metrics: ServiceMetrics
    ) -> None:
        self._connection = connection
        self._queues = queues
        self._metrics = metrics

    async def refresh(self) -> None:
        connection = await self._connection()
        if connection is None:  # not started yet, or stopping
            return
        channel = await connection.channel(publisher_confirms=False)
        try:
            for name in self._queues():
                declared = (await channel.declare_queue(name, passive=True)).declaration_result
                self._metrics.queue_messages_ready.labels(queue=name).set(declared.message_count)
                self._metrics.queue_consumers.labels(queue=name).set(declared.consumer_count)
        finally:
            with contextlib.suppress(Exception):
                await channel.close()
