"""One database transaction holding a service's state change, its outbox rows and its inbox row."""

import abc
import contextlib
import functools
import json
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar, Self, TypeVar

from sqlalchemy import CTE, DateTime, Insert, Select, String, Table, bindparam, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dukcapil_shared.contracts import Envelope, Event
from dukcapil_shared.db import parameter_rows, row_parameters
from dukcapil_shared.observability.tracing import traceparent_for_event
from dukcapil_shared.refusals import Refusal, RefusalKind


class ConcurrentChange(Refusal):
    """Raised when the state a unit of work loaded was changed by another one (another delivery, another replica)
    before it could commit. Nothing was stored; the same work on fresh state will most likely succeed, so the
    consumer runs it again at once instead of spending one of the message's retries on it, and an HTTP caller is
    told to reload."""

    code = "concurrent_update"
    message = "Someone else changed this just now; reload it and try again."
    kind = RefusalKind.conflict

    def __init__(self, what: str | None = None) -> None:
        """`what` changed, for the logs; the caller reads `message`."""
        super().__init__()
        if what is not None:
            self.args = (what,)


class AlreadyApplied(Exception):
    """The event was applied before: raised by a handler of a subscription without inbox rows
    (`Subscription.inbox`) when its own state shows it, before it writes anything, and by a unit of work's commit
    when the claim it deferred (`Inbox.defer_claim`) finds the event claimed. The delivery is a duplicate, acked
    without effect."""


@dataclass
class _Cause:
    """The event a consumer is handling, and the events it has added so far (by subject and routing key)."""

    consumer: str
    event_id: str
    added: Counter[tuple[str, str]] = field(default_factory=Counter)


_consuming: ContextVar[_Cause | None] = ContextVar("dukcapil_consuming", default=None)
_CONSEQUENCES = uuid.UUID("5b0e3c1a-6f1d-4d0e-9a57-0d1b7e0c2f11")


@contextlib.contextmanager
def caused_by(consumer: str, event_id: str) -> Iterator[None]:
    """The events added to an outbox inside this block are consequences of `consumer` handling the event `event_id`:
    each gets the id "the n-th event of this type about this subject that handling added" (uuid5 of the source, the
    consumer, the event's id, the subject, the routing key and n). Handling the same event again, as a service
    restored from a backup does when the events since are replayed to it, adds events with the same ids, whatever
    order the events come back in, and the consumers' inboxes drop what they already applied. The count is the
    handling's own: no query of the outbox (an id derived from the rows already there cost a round trip per event)."""
    token = _consuming.set(_Cause(consumer, event_id))
    try:
        yield
    finally:
        _consuming.reset(token)


def consequent_event_id(source: str, subject: str, routing_key: str) -> uuid.UUID | None:
    """The id of the next event about `subject` with `routing_key` added inside `caused_by`; None outside it (a fresh
    random id then: a person's action through the API, a background loop)."""
    cause = _consuming.get()
    if cause is None:
        return None
    earlier = cause.added[(subject, routing_key)]
    cause.added[(subject, routing_key)] += 1
    return uuid.uuid5(_CONSEQUENCES, f"{source}|{cause.consumer}|{cause.event_id}|{subject}|{routing_key}|{earlier}")


class Outbox(abc.ABC):
    @abc.abstractmethod
    async def add(self, event: Event, *, traceparent: str | None = None) -> Envelope:
        """Queue `event` for publishing with the transaction. `traceparent`: the trace it belongs to, when the
        caller knows better than the current context (a background loop acting on a stored shipment)."""


class Inbox(abc.ABC):
    @abc.abstractmethod
    async def claim(self, consumer: str, event_id: str) -> bool:
        """Record that `consumer` handles `event_id`; False if it already did."""

    @abc.abstractmethod
    async def has_claimed(self, consumer: str, event_id: str) -> bool:
        """Whether `consumer` has handled `event_id` (a committed claim)."""

    def defer_claim(self, consumer: str, event_id: str) -> bool:
        """Leave the claim of `event_id` to the change the handler stores, where the inbox can take it into the
        change's statement (`SqlInbox`), or else to the commit; False where it cannot, and the caller claims at
        once. A duplicate then runs its handler and is found at that statement or at the commit, and nothing of it
        is stored."""
        return False

    async def claim_many(self, consumer: str, event_ids: Sequence[str]) -> set[str]:
        """Record that `consumer` handles each of `event_ids`; the ones it had not handled yet (each id once)."""
        return {event_id for event_id in dict.fromkeys(event_ids) if await self.claim(consumer, event_id)}


class UnitOfWork(abc.ABC):
    outbox: Outbox
    inbox: Inbox
    publishes: ClassVar[tuple[type[Event], ...] | None] = None
    """Every event type this unit of work's outbox may carry: the service's published events in its AsyncAPI
    document. Each service's unit of work declares them; the in-memory fakes refuse an event not declared, so the
    handlers' tests keep the declaration true."""

    _after_commit_callbacks: list[Callable[[], object]] | None = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.rollback()

    def after_commit(self, callback: Callable[[], object]) -> None:
        """Call `callback` once this unit of work has committed, and not if it rolls back: work that should follow
        what was stored at once and cannot be part of the transaction (waking a background loop for it, say). A
        callback that fails is the caller's bug: the commit has happened, and the error goes to the caller. A unit of
        work joined to another's transaction never commits: ask the one that owns it."""
        if self._after_commit_callbacks is None:
            self._after_commit_callbacks = []
        self._after_commit_callbacks.append(callback)

    def _committed(self) -> None:
        """Call what `after_commit` asked for (each implementation's commit ends with it)."""
        callbacks, self._after_commit_callbacks = self._after_commit_callbacks or [], None
        for callback in callbacks:
            callback()

    def _rolled_back(self) -> None:
        """Forget what `after_commit` asked for (each implementation's rollback calls it)."""
        self._after_commit_callbacks = None

    def reading(self) -> Self:
        """This unit of work for reading, entered as usual (`async with uow.reading():`) and never committed. The
        SQL one on PostgreSQL runs each statement on its own, without a transaction around them (a single read then
        costs one round trip to the database, not three), so two statements may see the database at different
        moments."""
        return self

    @abc.abstractmethod
    async def commit(self) -> None: ...

    @abc.abstractmethod
    async def rollback(self) -> None: ...


class SqlOutbox(Outbox):
    """Rows added are written when the unit of work commits (`flush`), all in one round trip: a shipment's tracking
    step, a review approved by policy, a consumer's batch add several events in one transaction, and a statement
    each cost a round trip each. Before that, a repository may take them into the statement that stores the change
    they announce (`take_pending`, `with_pending`): on PostgreSQL intake's requests, review's reviews, documents'
    reserved documents and shipping's new shipments do, and their events cost no round trip of their own. The
    consumer's deferred inbox claim goes with them (`SqlInbox.defer_claim`), and costs none either."""

    def __init__(
        self,
        connection: AsyncConnection,
        table: Table,
        source: str,
        *,
        traced: bool = False,
        inbox: "SqlInbox | None" = None,
    ) -> None:
        """`inbox`: the unit of work's, whose deferred claim (`SqlInbox.defer_claim`) goes with the rows."""
        self._connection = connection
        self._table = table
        self._source = source
        self._traced = traced
        self._inbox = inbox
        self._pending: list[dict[str, object]] = []
        self.added = 0

    async def add(self, event: Event, *, traceparent: str | None = None) -> Envelope:
        if self._traced:
            # The event joins its request's trace, even from a background loop outside any span (see
            # dukcapil_shared.observability.tracing).
            request_trace = traceparent or await self._first_traceparent(event.subject)
            traceparent = traceparent_for_event(request_trace)
        event_id = consequent_event_id(self._source, event.subject, event.routing_key())
        envelope = Envelope.wrap(event, source=self._source, traceparent=traceparent, id=event_id)
        now = datetime.now(UTC)
        self._pending.append(
            {
                "id": str(envelope.id),
                "routing_key": envelope.type,
                "subject": envelope.subject,
                "body": envelope.model_dump_json(),
                "created_at": now,
                "attempts": 0,
                "next_attempt_at": now,
            }
        )
        self.added += 1
        return envelope

    async def flush(self) -> None:
        """Write the rows added since the last flush (the unit of work's commit calls it)."""
        rows, self._pending = self._pending, []
        if rows:
            await self._connection.execute(_adding(self._table), rows)

    def take_pending(self, parameters: dict[str, object]) -> "Pending":
        """Move the rows added since the last flush, and the inbox's deferred claim if there is one, into
        `parameters`, for `with_pending`: a repository writes them in the statement of its change (one round trip
        for all), and `flush` and the commit have them no more. Nothing is lost if that statement fails: the
        transaction rolls back."""
        rows, self._pending = self._pending, []
        parameters |= row_parameters("outbox", rows)
        claims = self._inbox.take_deferred(parameters) if self._inbox is not None else None
        return Pending(len(rows), self._table if rows else None, claims)

    async def _first_traceparent(self, subject: str) -> str | None:
        """The trace of this service's first event about the request: the request's trace, as far as this service
        is concerned (one indexed lookup, made only when tracing is on); an event added earlier in this unit of
        work, not written yet, when there is none before it."""
        table = self._table
        first = (
            await self._connection.execute(
                select(table.c.body).where(table.c.subject == subject).order_by(table.c.created_at).limit(1)
            )
        ).scalar_one_or_none()
        if first is None:
            first = next((str(row["body"]) for row in self._pending if row["subject"] == subject), None)
        return traceparent_in(first) if first is not None else None


def traceparent_in(envelope_json: str) -> str | None:
    """The traceparent of a stored envelope, without validating the rest of it."""
    try:
        traceparent = json.loads(envelope_json).get("traceparent")
    except (ValueError, AttributeError):
        return None
    return traceparent if isinstance(traceparent, str) else None


class SqlInbox(Inbox):
    def __init__(self, connection: AsyncConnection, table: Table) -> None:
        self._connection = connection
        self._table = table
        self._deferred: tuple[str, str, datetime] | None = None
        """The claim left to the change's statement or the commit: consumer, event id, when."""

    def defer_claim(self, consumer: str, event_id: str) -> bool:
        """On PostgreSQL: a repository that stores a change in one statement takes the claim into it
        (`SqlOutbox.take_pending`), a round trip less a delivery; one the handler does not store that way is made at
        the commit (`flush`). On SQLite, which costs no round trip, the claim is made at once."""
        if self._connection.dialect.name != "postgresql":
            return False
        self._deferred = (consumer, event_id, datetime.now(UTC))
        return True

    def take_deferred(self, parameters: dict[str, object]) -> Table | None:
        """Move the deferred claim, if any, into `parameters`, for `claiming_with(table)`; the table, or None."""
        if self._deferred is None:
            return None
        consumer, event_id, at = self._deferred
        parameters |= {"claim_consumer": consumer, "claim_event_id": event_id, "claim_processed_at": at}
        self._deferred = None
        return self._table

    async def flush(self) -> None:
        """Make the claim still deferred (no statement took it); AlreadyApplied when the event was claimed before."""
        deferred, self._deferred = self._deferred, None
        if deferred is None:
            return
        consumer, event_id, _ = deferred
        if not await self.claim(consumer, event_id):
            raise AlreadyApplied(event_id)

    async def has_claimed(self, consumer: str, event_id: str) -> bool:
        columns = self._table.c
        found = select(columns.event_id).where(columns.consumer == consumer, columns.event_id == event_id)
        return (await self._connection.execute(found)).first() is not None

    async def claim(self, consumer: str, event_id: str) -> bool:
        # One round trip, every delivery: a plain insert would need a savepoint around it (two more) to keep the
        # transaction usable when the row is there. A concurrent claim of the same event waits for the first
        # transaction and then finds the row, as with a unique violation.
        statement = _claim(self._table, self._connection.dialect.name)
        parameters = {"consumer": consumer, "event_id": event_id, "processed_at": datetime.now(UTC)}
        return (await self._connection.execute(statement, parameters)).rowcount == 1

    async def claim_many(self, consumer: str, event_ids: Sequence[str]) -> set[str]:
        # A batch's claims in one statement: the rows it inserted are the events new to this consumer.
        if not event_ids:
            return set()
        unique_ids = list(dict.fromkeys(event_ids))
        now = datetime.now(UTC)
        columns = self._table.c
        if self._connection.dialect.name == "postgresql":
            statement = _claim_many_on_postgresql(self._table)
            parameters = {"claiming_consumer": consumer, "claimed_event_ids": unique_ids, "claimed_at": now}
            return set((await self._connection.execute(statement, parameters)).scalars())
        statement = (
            sqlite.insert(self._table)
            .values([{"consumer": consumer, "event_id": event_id, "processed_at": now} for event_id in unique_ids])
            .on_conflict_do_nothing(index_elements=[columns.consumer, columns.event_id])
            .returning(columns.event_id)
        )
        return set((await self._connection.execute(statement)).scalars())


OUTBOX_FIELDS = ("id", "routing_key", "subject", "body", "created_at", "attempts", "next_attempt_at")
"""An outbox row's columns as `SqlOutbox.add` fills them."""


@dataclass(frozen=True)
class Pending:
    """What a unit of work writes with the change a repository stores (`take_pending`): `events` outbox rows into
    `outbox`, and the claim of the event being handled into `inbox` (when the consumer deferred it)."""

    events: int = 0
    outbox: Table | None = None
    inbox: Table | None = None


NOTHING_PENDING = Pending()

WritingStatement = TypeVar("WritingStatement", Insert, Select[Any])
"""A statement that stores a change with CTEs: an insert, or a select of what the CTEs wrote."""


def take_pending(outbox: SqlOutbox | None, parameters: dict[str, object]) -> Pending:
    """`outbox.take_pending(parameters)`, or nothing to write for a repository without an outbox (one joined to
    another unit of work's transaction, say)."""
    return outbox.take_pending(parameters) if outbox is not None else NOTHING_PENDING


def with_pending(statement: WritingStatement, written: CTE, pending: Pending) -> WritingStatement:
    """PostgreSQL: `statement`, which stores a change (`written`, a CTE returning what it wrote), with what the unit
    of work writes alongside it (`take_pending`): the outbox rows (`queueing_with`) and the deferred claim
    (`claiming_with`)."""
    if pending.events:
        assert pending.outbox is not None, "events go to an outbox"
        statement = statement.add_cte(queueing_with(written, pending.outbox, pending.events))
    if pending.inbox is not None:
        statement = statement.add_cte(claiming_with(pending.inbox))
    return statement


def queueing_with(written: CTE, table: Table, rows: int) -> CTE:
    """PostgreSQL: the insert of `rows` outbox rows (`SqlOutbox.take_pending`'s parameters) as a CTE of the statement
    that writes the change they announce; inserted only if `written` (that change, a CTE returning what it wrote)
    returned a row, so that a change refused for its version leaves no events behind either."""
    queued = parameter_rows(None, table, OUTBOX_FIELDS, rows, "outbox", only_if=select(written.c[0]).exists())
    return insert(table).from_select(list(OUTBOX_FIELDS), queued).cte("queued")


@functools.cache
def claiming_with(table: Table) -> CTE:
    """PostgreSQL: the deferred claim (`SqlInbox.take_deferred`'s parameters) as a CTE of the statement that writes
    the change. A plain insert: for an event claimed before, or by a concurrent delivery that commits first, the
    inbox's primary key fails the whole statement, and the consumer then finds the claim (`has_claimed`)."""
    claim = {
        "consumer": bindparam("claim_consumer", type_=String),
        "event_id": bindparam("claim_event_id", type_=String),
        "processed_at": bindparam("claim_processed_at", type_=DateTime(timezone=True)),
    }
    return insert(table).values(claim).cte("claimed")


@functools.cache
def _adding(table: Table) -> Insert:
    """Built once per table and executed with parameters: SQLAlchemy then neither builds the statement nor works out
    its cache key for every event (nearly half the CPU of such an insert: 190 of 430 µs, measured on 2026-12-04)."""
    return insert(table)


@functools.cache
def _claim(table: Table, dialect_name: str) -> Insert:
    """Built once per table and dialect (see `_adding`)."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing(index_elements=[table.c.consumer, table.c.event_id])


@functools.cache
def _claim_many_on_postgresql(table: Table) -> Insert:
    """Built once per table (see `_adding`). The ids as one array: the same statement for any batch,
    prepared once per connection (a VALUES list is another statement for every batch size, and crowds the others
    out of the prepared cache)."""
    columns = table.c
    claimed = select(
        bindparam("claiming_consumer", type_=String),
        func.unnest(bindparam("claimed_event_ids", type_=postgresql.ARRAY(String))),
        bindparam("claimed_at", type_=DateTime(timezone=True)),
    )
    return (
        postgresql.insert(table)
        .from_select([columns.consumer, columns.event_id, columns.processed_at], claimed)
        .on_conflict_do_nothing(index_elements=[columns.consumer, columns.event_id])
        .returning(columns.event_id)
    )


class SqlUnitOfWork(UnitOfWork):
    """Subclasses add their repositories in `bind`, built on the same connection."""

    _reading = False
    """`reading()` was asked for the next time this unit of work is entered."""
    _read_only = False
    """Entered for reading: the connection has no transaction to commit."""

    def __init__(
        self,
        engine: AsyncEngine,
        *,
        outbox_table: Table,
        inbox_table: Table,
        source: str,
        events_committed: Callable[[], None] | None = None,
        traced: bool = False,
    ) -> None:
        """`events_committed`: called after each commit that stored events (the relay's wake). `traced`: tracing is
        on in this service, so the events committed here carry their request's trace."""
        self._engine = engine
        self._outbox_table = outbox_table
        self._inbox_table = inbox_table
        self._source = source
        self._events_committed = events_committed
        self._traced = traced
        self._connection: AsyncConnection | None = None

    def bind(self, connection: AsyncConnection) -> None:
        """Build the service's repositories on `connection`."""

    def reading(self) -> Self:
        # On PostgreSQL only: SQLite is in the process, so a transaction costs no round trip, and its engine begins
        # each one itself (BEGIN IMMEDIATE, see db.py), which a connection in autocommit would not undo.
        self._reading = self._engine.dialect.name == "postgresql"
        return self

    async def __aenter__(self) -> Self:
        self._read_only, self._reading = self._reading, False
        self._connection = await self._engine.connect()
        if self._read_only:
            await self._connection.execution_options(isolation_level="AUTOCOMMIT")
        else:
            await self._connection.begin()
        self.inbox = SqlInbox(self._connection, self._inbox_table)
        self.outbox = SqlOutbox(
            self._connection, self._outbox_table, self._source, traced=self._traced, inbox=self.inbox
        )
        self.bind(self._connection)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._connection is not None:
            await self.rollback()
            await self._connection.close()
            self._connection = None

    async def commit(self) -> None:
        assert self._connection is not None, "commit outside the unit of work"
        assert not self._read_only, "commit of a unit of work entered for reading"
        await self.inbox.flush()
        await self.outbox.flush()
        await self._connection.commit()
        if self.outbox.added and self._events_committed is not None:
            self._events_committed()
        self._committed()

    async def rollback(self) -> None:
        self._rolled_back()
        if self._connection is not None and self._connection.in_transaction():
            await self._connection.rollback()
