"""Who opened whose data, and why: every staff read of a person's data leaves a row in the service's own
`access_log` table (and a log line), with the reason the member of staff gave in `X-Access-Reason`."""

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

import structlog
from sqlalchemy import Column, DateTime, Index, MetaData, String, Table, insert
from sqlalchemy.ext.asyncio import AsyncEngine

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


class MemoryAccessLog:
    """For tests of the HTTP layer over fakes."""

    def __init__(self) -> None:
        self.records: list[AccessRecord] = []

    async def record(self, access: AccessRecord) -> None:
        self.records.append(access)
