"""The outbox relay: publishes committed outbox rows with publisher confirms, marks them sent after the ack.

Events about one request leave in the order they were committed. Consumers cope with disorder (they retry an
event that arrives before the state it needs), but only for as long as their retries last: after a broker
outage, rows with backoffs of their own used to leave in any order, and an attachment could reach review
minutes before its request did and be parked. So:
- a request's rows are published one after another, and a failure stops the rest of that request's rows;
- a row waits while an earlier row of the same request is in backoff;
- on PostgreSQL, where every replica of a service runs a relay, one relay at a time has the turn, so two replicas
  never publish rows of one request side by side. Rows of different requests are published concurrently, which
  pipelines the confirms: a batch costs about one round trip.
On SQLite (one process per service) rows are read and marked in separate short transactions so the relay
never holds the database's write lock while it waits on the broker. Every publish is bounded in time.

The turn on PostgreSQL is a session-level advisory lock held on a connection of the relay's own, outside the
service's pool, for as long as that connection lives. Its holder reads the due rows and marks them in two
statements, each its own transaction: a pass is two round trips, and an empty one is one. (Taking a lock per pass
inside a transaction cost four: BEGIN, the rows, the marks, COMMIT; the relays were a fifth of every service's round
trips.) Under load the marks wait for the next pass, which a commit starts within moments, and go in the same
statement as its read of the due rows: one round trip a pass. When no commit comes within `marks_wait` (50 ms), they
are marked on their own. A relay that stops or crashes between the two has published rows it has not marked; they
go again, and the consumers' inboxes drop them. The lock and the statements share the connection, so any statement
that succeeds runs while the lock is held; when the connection fails the lock is gone with it, the relay drops the
connection, and whichever relay asks next takes the turn. A relay without the turn asks for it at every poll;
woken by its own service's commit, it passes the wake-up on to the holder through NOTIFY, to which the holder
listens, so rows committed by any replica leave at once.

Each row is published in the trace context that committed it (the envelope's traceparent, also sent as the
AMQP header `traceparent`), since the relay runs in a task of its own, long after that context ended.
"""

import asyncio
import zlib
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import structlog
from faststream.rabbit import RabbitBroker, RabbitExchange
from sqlalchemy import (
    BigInteger,
    Row,
    Select,
    String,
    Table,
    Update,
    all_,
    and_,
    any_,
    bindparam,
    exists,
    func,
    literal,
    select,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from dukcapil_shared.contracts import CONTENT_TYPE
from dukcapil_shared.messaging.topology import EVENTS_EXCHANGE
from dukcapil_shared.messaging.unit_of_work import traceparent_in
from dukcapil_shared.observability.metrics import ServiceMetrics
from dukcapil_shared.observability.tracing import inject_traceparent, within_trace

log = structlog.get_logger(__name__)


class OutboxRelay:
    """Publishes the rows of `outbox` to `exchange` as the broker user `user` (the service's own; see access.py).
    Any table with the outbox's columns will do (see tables.py): intake relays its log of events for agencies
    the same way, to the public exchanges."""

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        outbox: Table,
        broker: RabbitBroker,
        source: str,
        user: str | None = None,
        exchange: RabbitExchange = EVENTS_EXCHANGE,
        batch_size: int = 200,
        poll_interval: float = 1.0,
        publish_timeout: float = 5.0,
        backoff_seconds: Sequence[float] = (1, 2, 5, 10, 30, 60),
        metrics: ServiceMetrics | None = None,
        marks_wait: float = 0.05,
    ) -> None:
        """`marks_wait`: how long the rows a pass published wait for the next pass to mark them in its read of the
        due rows (PostgreSQL) before they are marked on their own."""
        self._engine = engine
        self._outbox = outbox
        self._broker = broker
        self._source = source
        self._user = user
        self._exchange = exchange
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._publish_timeout = publish_timeout
        self._backoff = tuple(backoff_seconds)
        self._marks_wait = marks_wait
        self._metrics = metrics or ServiceMetrics()
        self._wake = asyncio.Event()
        self.waiting = False
        """Between passes, waiting to be woken or for the next poll."""
        self._on_postgresql = engine.dialect.name == "postgresql"
        # Built once and executed with parameters: SQLAlchemy neither builds them nor works out their cache keys
        # at every pass.
        self._due = _selecting_due_rows(outbox, batch_size)
        self._sent = _marking_sent(outbox, on_postgresql=self._on_postgresql)
        self._due_after_marking = _selecting_due_rows_after_marking(outbox, batch_size) if self._on_postgresql else None
        self._unmarked: list[str] = []
        """Rows the broker confirmed that are not marked sent yet (PostgreSQL only): when the next pass follows
        within `marks_wait`, they are marked by its query for the due rows, one round trip instead of two."""
        self._turn = _Turn(engine, f"outbox-relay:{source}:{outbox.name}", on_notice=self._wake.set)

    def wake(self) -> None:
        """Called after a commit that added outbox rows, so they leave at once rather than at the next poll."""
        self._wake.set()

    async def close(self) -> None:
        """Mark what the last pass published, give up the turn, if held, and close the relay's own connection (run()
        does this when it stops)."""
        await self._mark_unmarked()
        await self._turn.give_up()

    async def run(self) -> None:
        try:
            await self._run()
        finally:
            with anyio.CancelScope(shield=True):
                await self.close()

    async def _run(self) -> None:
        while True:
            woken = self._wake.is_set()
            try:
                published = await self.publish_pending(pass_on_wake=woken, defer_marks=True)
            except Exception as error:  # the database may be briefly away: the next pass tries again
                published = 0
                log.warning("outbox_relay_pass_failed", error=f"{type(error).__name__}: {error}")
            if published >= self._batch_size or self._wake.is_set():
                continue
            if self._unmarked and await self._woken_within(self._marks_wait):
                continue
            await self._mark_unmarked()
            self.waiting = True
            try:
                await self._woken_within(self._poll_interval)
            finally:
                self.waiting = False

    async def _woken_within(self, seconds: float) -> bool:
        # Not asyncio.wait_for: on Python 3.11 it swallows a cancellation that arrives as the wake-up does, and the
        # relay then ran on after its service had asked it to stop.
        try:
            async with asyncio.timeout(seconds):
                await self._wake.wait()
        except TimeoutError:
            return False
        return True

    async def publish_pending(self, *, pass_on_wake: bool = False, defer_marks: bool = False) -> int:
        """One pass over the due rows; returns how many the broker confirmed. On PostgreSQL, 0 as well when
        another replica's relay has the turn: with `pass_on_wake` (this relay was woken by its service's commit),
        that relay is woken to publish the rows. On PostgreSQL with `defer_marks`, the rows confirmed are marked
        sent by the next pass's first statement (or `close`); otherwise before this pass ends."""
        self._wake.clear()  # a wake-up before the pass is served by it
        if self._on_postgresql:
            connection = await self._turn.take(pass_on_wake=pass_on_wake)
            if connection is None:
                return 0
            async with self._turn.in_use():
                rows = await self._due_rows(connection)
                if not rows:
                    return 0
                confirmed, failed = await self._publish(rows)
                self._unmarked = confirmed if defer_marks else []
                await self._mark(connection, [] if defer_marks else confirmed, failed)
        else:
            async with self._engine.begin() as connection:
                rows = await self._due_rows(connection)
            confirmed, failed = await self._publish(rows)
            async with self._engine.begin() as connection:
                await self._mark(connection, confirmed, failed)
        return len(confirmed)

    async def _due_rows(self, connection: AsyncConnection) -> Sequence[Row]:
        now = datetime.now(UTC)
        if self._unmarked and self._due_after_marking is not None:
            unmarked, self._unmarked = self._unmarked, []
            # Should the statement fail, the rows were published all the same, and go again: consumers drop a
            # duplicate by their inbox.
            parameters = {"now": now, "sent": unmarked, "sent_at": now}
            return (await connection.execute(self._due_after_marking, parameters)).all()
        return (await connection.execute(self._due, {"now": now})).all()

    async def _mark_unmarked(self) -> None:
        """Mark sent the rows confirmed by the last pass, if it left any (PostgreSQL, on the turn's connection)."""
        unmarked, self._unmarked = self._unmarked, []
        connection = self._turn.held
        if not unmarked or connection is None:
            return
        try:
            async with self._turn.in_use():
                await self._mark(connection, unmarked, {})
        except Exception as error:  # published all the same: they go again, and consumers drop the duplicates
            log.warning("outbox_relay_mark_failed", rows=len(unmarked), error=f"{type(error).__name__}: {error}")

    async def _publish(self, rows: Sequence[Row]) -> tuple[list[str], dict[str, tuple[int, str]]]:
        by_subject: dict[str, list[Row]] = {}
        for row in rows:
            by_subject.setdefault(row.subject, []).append(row)
        confirmed: list[str] = []
        failed: dict[str, tuple[int, str]] = {}

        async def publish_in_order(subject_rows: list[Row]) -> None:
            for row in subject_rows:
                try:
                    await self._publish_one(row)
                except Exception as error:  # the rest of this request's rows wait for this one
                    failed[row.id] = (row.attempts + 1, f"{type(error).__name__}: {error}"[:500])
                    self._metrics.outbox_relayed.labels(event_type=row.routing_key, outcome="failed").inc()
                    return
                confirmed.append(row.id)
                self._metrics.outbox_relayed.labels(event_type=row.routing_key, outcome="published").inc()

        await asyncio.gather(*(publish_in_order(subject_rows) for subject_rows in by_subject.values()))
        if failed:
            log.warning("outbox_publish_failed", count=len(failed), error=next(iter(failed.values()))[1])
        return confirmed, failed

    async def _publish_one(self, row: Row) -> None:
        traceparent = traceparent_in(row.body)
        headers = {"source": self._source}
        inject_traceparent(headers, traceparent)
        with within_trace(traceparent), anyio.fail_after(self._publish_timeout):
            await self._broker.publish(
                row.body.encode(),
                exchange=self._exchange,
                routing_key=row.routing_key,
                persist=True,
                # An event nobody subscribes to yet is not an error: agencies may bind later.
                mandatory=False,
                message_id=row.id,
                correlation_id=row.subject,
                message_type=row.routing_key,
                content_type=CONTENT_TYPE,
                timestamp=datetime.now(UTC),
                headers=headers,
                # Checked by the broker against the connection's user: consumers know who published it.
                user_id=self._user,
            )

    async def _mark(
        self, connection: AsyncConnection, confirmed: list[str], failed: dict[str, tuple[int, str]]
    ) -> None:
        table = self._outbox
        now = datetime.now(UTC)
        if confirmed:
            await connection.execute(self._sent, {"sent": confirmed, "sent_at": now})
        for row_id, (attempts, error) in failed.items():
            delay = self._backoff[min(attempts, len(self._backoff)) - 1]
            await connection.execute(
                update(table)
                .where(table.c.id == row_id)
                .values(attempts=attempts, last_error=error, next_attempt_at=now + timedelta(seconds=delay))
            )


def _selecting_due_rows(table: Table, batch_size: int) -> Select[Any]:
    """The rows due at `now`, oldest first, except those queued behind an earlier row of their request that waits
    out its backoff (its request's order is kept)."""
    earlier = table.alias("earlier")
    waiting_behind_backoff = exists(
        select(1).where(
            and_(
                earlier.c.subject == table.c.subject,
                earlier.c.published_at.is_(None),
                earlier.c.created_at < table.c.created_at,
                earlier.c.next_attempt_at > bindparam("now"),
            )
        )
    )
    return (
        select(table.c.id, table.c.routing_key, table.c.subject, table.c.body, table.c.attempts)
        .where(table.c.published_at.is_(None), table.c.next_attempt_at <= bindparam("now"), ~waiting_behind_backoff)
        .order_by(table.c.created_at)
        .limit(batch_size)
    )


def _selecting_due_rows_after_marking(table: Table, batch_size: int) -> Select[Any]:
    """PostgreSQL: mark the rows `sent` published at `sent_at`, and select the due rows as `_selecting_due_rows`
    does, in one statement. The select sees the table as it was before the update, so it leaves those rows out
    itself."""
    sent = bindparam("sent", type_=postgresql.ARRAY(String))
    marking = (
        update(table).where(table.c.id == any_(sent)).values(published_at=bindparam("sent_at")).returning(table.c.id)
    ).cte("marked")
    return _selecting_due_rows(table, batch_size).where(table.c.id != all_(sent)).add_cte(marking)


def _marking_sent(table: Table, *, on_postgresql: bool) -> Update:
    """Marks the rows `sent` (their ids) published at `sent_at`: on PostgreSQL one statement for any number of rows
    (see SqlInbox.claim_many)."""
    if on_postgresql:
        sent = table.c.id == any_(bindparam("sent", type_=postgresql.ARRAY(String)))
    else:
        sent = table.c.id.in_(bindparam("sent", expanding=True))
    return update(table).where(sent).values(published_at=bindparam("sent_at"))


class _Turn:
    """The relay's turn on PostgreSQL: a session-level advisory lock on a connection of the relay's own (see the
    module's docstring). One lock per outbox, so services sharing a PostgreSQL server do not wait on each other."""

    def __init__(self, engine: AsyncEngine, name: str, *, on_notice: Callable[[], None]) -> None:
        self._url = engine.url
        self._engine: AsyncEngine | None = None
        key = zlib.crc32(name.encode())
        self._channel = f"outbox_relay_{key}"
        self._try_lock = func.pg_try_advisory_lock(literal(key, BigInteger))
        self._notify_holder = func.pg_notify(literal(self._channel), literal(""))
        self._on_notice = on_notice
        self._connection: AsyncConnection | None = None
        self._held = False

    @property
    def held(self) -> AsyncConnection | None:
        """The connection on which this relay has the turn, if it has it."""
        return self._connection if self._held else None

    async def take(self, *, pass_on_wake: bool) -> AsyncConnection | None:
        """The connection on which this relay has the turn, or None when another relay has it; then, with
        `pass_on_wake`, that relay is woken in the same round trip."""
        if self._held:
            return self._connection
        async with self.in_use():
            connection = await self._connect()
            asked = select(self._try_lock, self._notify_holder) if pass_on_wake else select(self._try_lock)
            if not (await connection.execute(asked)).scalars().first():
                return None
            raw = await connection.get_raw_connection()
            await raw.driver_connection.add_listener(self._channel, self._notice)
            self._held = True
        log.info("outbox_relay_turn_taken", channel=self._channel)
        return connection

    @asynccontextmanager
    async def in_use(self) -> AsyncIterator[None]:
        """Any failure on the connection (or a cancellation midway) drops it, and the turn with it."""
        try:
            yield
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._drop()
            raise

    async def give_up(self) -> None:
        connection, self._connection, self._held = self._connection, None, False
        if connection is not None:
            try:
                with anyio.fail_after(5):
                    await connection.close()  # the session ends, and its lock with it
            except Exception:
                await connection.invalidate()
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    async def _connect(self) -> AsyncConnection:
        if self._connection is None:
            if self._engine is None:
                # Outside the service's pool: a connection held for good, whose session is the lock.
                self._engine = create_async_engine(self._url, poolclass=NullPool, hide_parameters=True)
            connection = await self._engine.connect()
            self._connection = await connection.execution_options(isolation_level="AUTOCOMMIT")
        return self._connection

    async def _drop(self) -> None:
        connection, self._connection, self._held = self._connection, None, False
        if connection is not None:
            # Not a clean close: the connection may be broken, and its session must end either way.
            try:
                await connection.invalidate()
                await connection.close()
            except Exception as error:  # the failure that brought us here is the one worth raising
                log.warning("outbox_relay_connection_not_closed", error=f"{type(error).__name__}: {error}")

    def _notice(self, *_: object) -> None:
        self._on_notice()
