"""Who opened whose data, and why: every staff read of a person's data leaves a row in the service's own
`access_log` table (and a log line), with the reason the member of staff gave in `X-Access-Reason`."""

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge
from sqlalchemy import Column, DateTime, Index, MetaData, String, Table, delete, insert
from sqlalchemy.ext.asyncio import AsyncEngine

from dukcapil_shared.clock import Clock, system_clock

log = structlog.get_logger(__name__)


def add_access_log_table(metadata: MetaData) -> Table:
    return Table(
        "access_log",
        metadata,
        Column("id", String(36), primary_key=True),
        Column("accessed_at", DateTime(timezone=True), nullable=False),
        Column("username", String(100), nullable=False),
        Column("role", String(40), nullable=False),
        Column("scope", String(40), nullable=False, comment="The scope the access was allowed under"),
        Column("method", String(10), nullable=False),
        Column("path", String(300), nullable=False, comment="What was opened: ids only, never a NIK"),
        Column("reason", String(300), nullable=False, comment="Why, in the words of the member of staff"),
        Index("ix_access_log_user", "username", "accessed_at"),
        Index("ix_access_log_time", "accessed_at"),
    )


@dataclass(frozen=True)
class AccessRecord:
    username: str
    role: str
    scope: str
    method: str
    path: str
    reason: str
    accessed_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    id: uuid.UUID = field(default_factory=uuid.uuid4)


class AccessLog(Protocol):
    async def record(self, access: AccessRecord) -> None: ...


class SqlAccessLog:
    def __init__(self, engine: AsyncEngine, table: Table) -> None:
        self._engine = engine
        self._table = table

    async def record(self, access: AccessRecord) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                insert(self._table).values(
                    id=str(access.id),
                    accessed_at=access.accessed_at,
                    username=access.username,
                    role=access.role,
                    scope=access.scope,
                    method=access.method,
                    path=access.path[:300],
                    reason=access.reason,
                )
            )
        log.info(
            "personal_data_accessed",
            username=access.username,
            role=access.role,
            scope=access.scope,
            path=access.path,
            reason=access.reason,
        )


class AccessLogRetention:
    """Purges the access log's rows older than `days` (UU 27/2022: kept no longer than needed; longer than the data it
    audits, for a complaint's investigation), counted in the service's metrics."""

    def __init__(
        self, *, engine: AsyncEngine, table: Table, days: int, registry: CollectorRegistry, clock: Clock = system_clock
    ) -> None:
        self._engine = engine
        self._table = table
        self._kept = timedelta(days=days)
        self._clock = clock
        self._purged = Counter(
            "access_log_purged", "Access-log rows purged after their retention period", registry=registry
        )
        self._last_run = Gauge(
            "access_log_retention_last_run_timestamp_seconds",
            "When the access log's retention job last finished a round (Unix time)",
            registry=registry,
        )

    async def purge(self) -> int:
        now = self._clock()
        async with self._engine.begin() as connection:
            result = await connection.execute(delete(self._table).where(self._table.c.accessed_at < now - self._kept))
        self._purged.inc(result.rowcount)
        self._last_run.set(now.timestamp())
        if result.rowcount:
            log.info("access_log_purged", rows=result.rowcount)
        return result.rowcount


class MemoryAccessLog:
    """For tests of the HTTP layer over fakes."""

    def __init__(self) -> None:
        self.records: list[AccessRecord] = []

    async def record(self, access: AccessRecord) -> None:
        self.records.append(access)
