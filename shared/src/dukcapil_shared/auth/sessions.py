"""Ended staff sessions, which every service refuses: a token whose session intake ended (sign-out, deactivation, a
password change) stops working everywhere within seconds, not when it expires.

Intake records its ended sessions in its own `ended_sessions` table, in the transaction that ends them, and
announces them (`staff.sessions_ended.v1`). Every other service records the announcement in its own table of the
same name. Each process keeps the sessions still worth refusing (their tokens not yet expired) in memory, learns
of the ones its own replicas recorded by reading the table again every few seconds, and forgets (and deletes)
those whose tokens have expired anyway.
"""

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any, ClassVar

import structlog
from sqlalchemy import Column, DateTime, Index, MetaData, String, Table, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dukcapil_shared.contracts import Envelope, Event, StaffSessionsEnded
from dukcapil_shared.messaging import SqlUnitOfWork, Subscription

log = structlog.get_logger(__name__)

REFRESH_INTERVAL = 2.0
"""Seconds between two readings of the table: the longest a replica may accept a token another replica refused."""


def add_ended_sessions_table(metadata: MetaData) -> Table:
    return Table(
        "ended_sessions",
        metadata,
        Column("session_id", String(36), primary_key=True, comment="A staff token's sid"),
        Column("username", String(100), nullable=False),
        Column("ended_at", DateTime(timezone=True), nullable=False),
        Column("expires_at", DateTime(timezone=True), nullable=False, comment="Its tokens have expired by then"),
        Index("ix_ended_sessions_expires_at", "expires_at"),
    )


_TABLE = add_ended_sessions_table(MetaData())


async def record_ended(
    connection: AsyncConnection,
    *,
    username: str,
    session_ids: Iterable[uuid.UUID],
    ended_at: datetime,
    expires_at: datetime,
) -> None:
    """Record sessions as ended, in the caller's transaction; one recorded already stays as it is."""
    rows = [
        {"session_id": str(sid), "username": username, "ended_at": ended_at, "expires_at": expires_at}
        for sid in session_ids
    ]
    if not rows:
        return
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    await connection.execute(dialect.insert(_TABLE).values(rows).on_conflict_do_nothing(index_elements=["session_id"]))


class EndedSessions:
    """The ended sessions whose tokens may still be presented, as this process knows them."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._ended: set[str] = set()

    async def ended(self, session_id: str) -> bool:
        return session_id in self._ended

    def learn(self, session_ids: Iterable[uuid.UUID]) -> None:
        """Sessions this process just recorded: refused at once, before the next reading."""
        self._ended |= {str(sid) for sid in session_ids}

    async def refresh(self) -> None:
        """Read the table again, deleting the sessions whose tokens have expired anyway."""
        now = datetime.now(UTC)
        async with self._engine.begin() as connection:
            await connection.execute(delete(_TABLE).where(_TABLE.c.expires_at < now))
            found = await connection.execute(select(_TABLE.c.session_id))
            self._ended = {row.session_id for row in found}


class SessionsUnitOfWork(SqlUnitOfWork):
    """What recording an announcement of ended sessions takes: the inbox and the table (no events out)."""

    publishes: ClassVar[tuple[type[Event], ...] | None] = ()

    def bind(self, connection: AsyncConnection) -> None:
        self._recording = connection

    async def record_ended(self, event: StaffSessionsEnded) -> None:
        await record_ended(
            self._recording,
            username=event.username,
            session_ids=event.session_ids,
            ended_at=event.ended_at,
            expires_at=event.tokens_expire_by,
        )


def sessions_subscription(ended: EndedSessions) -> Subscription[SessionsUnitOfWork]:
    """A service other than intake hears of the sessions intake ended."""

    async def handle(uow: SessionsUnitOfWork, event: StaffSessionsEnded, _envelope: Envelope, **_: Any) -> None:
        await uow.record_ended(event)
        ended.learn(event.session_ids)
        log.info("staff_sessions_ended", username=event.username, sessions=len(event.session_ids), reason=event.reason)

    return Subscription(
        name="staff-sessions",
        description="Staff sessions intake ended: their tokens are refused here from now on",
        handlers={StaffSessionsEnded: handle},
    )
