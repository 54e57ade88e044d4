"""Where a service keeps its dead letters: the `dead_letters` table, in the same transactions as its outbox."""

import abc
import base64
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from sqlalchemy import Row, Table, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dukcapil_shared.contracts import OPERATIONS_EVENTS, Event
from dukcapil_shared.db import as_utc
from dukcapil_shared.messaging.unit_of_work import SqlUnitOfWork, UnitOfWork
from dukcapil_shared.ops.dead_letters import DeadLetter, DeadLetterStatus, LetterAlreadyResolved


@dataclass(frozen=True)
class DeadLetterQuery:
    status: DeadLetterStatus | None = DeadLetterStatus.parked
    original_queue: str | None = None
    routing_key: str | None = None
    subject: str | None = None
    limit: int = 100
    offset: int = 0


class DeadLetterRepository(abc.ABC):
    @abc.abstractmethod
    async def add(self, letter: DeadLetter) -> bool:
        """Park the letter; False when a letter with its id is parked already (a redelivery)."""

    @abc.abstractmethod
    async def get(self, letter_id: uuid.UUID) -> DeadLetter | None: ...

    @abc.abstractmethod
    async def list(self, query: DeadLetterQuery) -> list[DeadLetter]:
        """Oldest first."""

    @abc.abstractmethod
    async def save_resolution(self, letter: DeadLetter) -> None:
        """Store the letter's resolution if it is still parked in the database, else raise LetterAlreadyResolved.

        Also holds the row until the transaction ends, so two operators cannot resolve it at once."""


class OpsUnitOfWork(UnitOfWork):
    dead_letters: DeadLetterRepository
    publishes: ClassVar[tuple[type[Event], ...] | None] = OPERATIONS_EVENTS


class SqlDeadLetterRepository(DeadLetterRepository):
    def __init__(self, connection: AsyncConnection, table: Table) -> None:
        self._connection = connection
        self._table = table

    async def add(self, letter: DeadLetter) -> bool:
        text, encoding = _stored_body(letter.body)
        try:
            async with self._connection.begin_nested():
                await self._connection.execute(
                    insert(self._table).values(
                        id=str(letter.id),
                        message_id=letter.message_id,
                        original_queue=letter.original_queue,
                        routing_key=letter.routing_key,
                        subject=letter.subject,
                        body=text,
                        body_encoding=encoding,
                        content_type=letter.content_type,
                        headers=letter.headers,
                        error=letter.error,
                        attempts=letter.attempts,
                        first_failure_at=letter.first_failure_at,
                        last_failure_at=letter.last_failure_at,
                        parked_at=letter.parked_at,
                        status=letter.status.value,
                    )
                )
        except IntegrityError:
            return False
        return True

    async def get(self, letter_id: uuid.UUID) -> DeadLetter | None:
        row = (await self._connection.execute(select(self._table).where(self._table.c.id == str(letter_id)))).first()
        return _letter(row) if row is not None else None

    async def list(self, query: DeadLetterQuery) -> list[DeadLetter]:
        columns = self._table.c
        statement = select(self._table).order_by(columns.parked_at, columns.id).limit(query.limit).offset(query.offset)
        if query.status is not None:
            statement = statement.where(columns.status == query.status.value)
        if query.original_queue is not None:
            statement = statement.where(columns.original_queue == query.original_queue)
        if query.routing_key is not None:
            statement = statement.where(columns.routing_key == query.routing_key)
        if query.subject is not None:
            statement = statement.where(columns.subject == query.subject)
        return [_letter(row) for row in await self._connection.execute(statement)]

    async def save_resolution(self, letter: DeadLetter) -> None:
        columns = self._table.c
        result = await self._connection.execute(
            update(self._table)
            .where(columns.id == str(letter.id), columns.status == DeadLetterStatus.parked.value)
            .values(
                status=letter.status.value,
                resolved_at=letter.resolved_at,
                resolved_by=letter.resolved_by,
                resolution_reason=letter.resolution_reason,
            )
        )
        if result.rowcount != 1:
            current = await self.get(letter.id)
            raise LetterAlreadyResolved(current or letter)


class SqlOpsUnitOfWork(SqlUnitOfWork, OpsUnitOfWork):
    def __init__(
        self,
        engine: AsyncEngine,
        *,
        dead_letter_table: Table,
        outbox_table: Table,
        inbox_table: Table,
        source: str,
        events_committed: Callable[[], None] | None = None,
        traced: bool = False,
    ) -> None:
        super().__init__(
            engine,
            outbox_table=outbox_table,
            inbox_table=inbox_table,
            source=source,
            events_committed=events_committed,
            traced=traced,
        )
        self._dead_letter_table = dead_letter_table

    def bind(self, connection: AsyncConnection) -> None:
        self.dead_letters = SqlDeadLetterRepository(connection, self._dead_letter_table)


def _stored_body(body: bytes) -> tuple[str, str]:
    # Text columns take neither invalid UTF-8 nor (on PostgreSQL) NUL characters.
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return base64.b64encode(body).decode("ascii"), "base64"
    if "\x00" in text:
        return base64.b64encode(body).decode("ascii"), "base64"
    return text, "utf-8"


def _letter(row: Row) -> DeadLetter:
    body = base64.b64decode(row.body) if row.body_encoding == "base64" else row.body.encode("utf-8")
    return DeadLetter(
        id=uuid.UUID(row.id),
        message_id=row.message_id,
        original_queue=row.original_queue,
        routing_key=row.routing_key,
        subject=row.subject,
        body=body,
        content_type=row.content_type,
        headers=dict(row.headers),
        error=row.error,
        attempts=row.attempts,
        first_failure_at=as_utc(row.first_failure_at),
        last_failure_at=as_utc(row.last_failure_at),
        parked_at=as_utc(row.parked_at),
        status=DeadLetterStatus(row.status),
        resolved_at=_maybe_utc(row.resolved_at),
        resolved_by=row.resolved_by,
        resolution_reason=row.resolution_reason,
    )


def _maybe_utc(moment: datetime | None) -> datetime | None:
    return as_utc(moment) if moment is not None else None
