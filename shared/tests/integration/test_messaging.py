"""The outbox relay and the consumer against the real RabbitMQ, on SQLite and PostgreSQL."""

import asyncio
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import aio_pika
import pytest
from faststream.rabbit import Channel, RabbitBroker, RabbitRouter
from sqlalchemy import Column, Engine, MetaData, String, Table, bindparam, event, func, insert, select, text
from sqlalchemy.exc import IntegrityError
from structlog.testing import capture_logs

from dukcapil_shared.contracts import Envelope, RequestCancelled
from dukcapil_shared.db import create_engine
from dukcapil_shared.messaging import (
    EVENTS_EXCHANGE,
    AlreadyApplied,
    ConcurrentChange,
    EventConsumer,
    OutboxRelay,
    PermanentFailure,
    RetryPolicy,
    ServiceTopology,
    SqlUnitOfWork,
    Subscription,
    add_messaging_tables,
)
from dukcapil_shared.messaging.consumer import CONCURRENT_CHANGE_RERUNS
from dukcapil_shared.messaging.unit_of_work import with_pending

pytestmark = pytest.mark.integration

metadata = MetaData()
effects = Table("effects", metadata, Column("request_id", String(36), primary_key=True))
outbox, inbox = add_messaging_tables(metadata)
_ADDED_EFFECT = insert(effects).values(request_id=bindparam("effect_id")).returning(effects.c.request_id).cte("added")
_ADDING_EFFECT = select(func.count()).select_from(_ADDED_EFFECT)
"""PostgreSQL: an effect stored in one statement, as the services' repositories store a change."""


class ProbeUnitOfWork(SqlUnitOfWork):
    pass


async def make_engine(url: str):  # type: ignore[no-untyped-def]
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    return engine


@pytest.fixture(params=["sqlite", "postgresql"])
async def engine(request, tmp_path: Path, postgres):  # type: ignore[no-untyped-def]
    url = f"sqlite+aiosqlite:///{tmp_path}/probe.db" if request.param == "sqlite" else await postgres.create()
    engine = await make_engine(url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def broker(amqp_url: str):  # type: ignore[no-untyped-def]
    broker = RabbitBroker(amqp_url, graceful_timeout=5)
    yield broker
    await broker.stop()


def unit_of_work(engine) -> ProbeUnitOfWork:  # type: ignore[no-untyped-def]
    return ProbeUnitOfWork(engine, outbox_table=outbox, inbox_table=inbox, source="/probe")


async def probe_queue(
    amqp_url: str, routing_key: str
) -> tuple[aio_pika.abc.AbstractRobustConnection, aio_pika.abc.AbstractQueue]:
    connection = await aio_pika.connect_robust(amqp_url)
    channel = await connection.channel()
    exchange = await channel.declare_exchange(EVENTS_EXCHANGE.name, aio_pika.ExchangeType.TOPIC, durable=True)
    queue = await channel.declare_queue(f"probe-{uuid.uuid4().hex[:8]}", exclusive=True)
    await queue.bind(exchange, routing_key)
    return connection, queue


async def drain(
    queue: aio_pika.abc.AbstractQueue, expected: int, timeout: float = 10.0
) -> list[aio_pika.abc.AbstractIncomingMessage]:
    messages = []
    deadline = time.monotonic() + timeout
    while len(messages) < expected and time.monotonic() < deadline:
        message = await queue.get(no_ack=True, fail=False)
        if message is None:
            await asyncio.sleep(0.05)
        else:
            messages.append(message)
    return messages


async def add_events(engine, count: int) -> list[RequestCancelled]:  # type: ignore[no-untyped-def]
    events = [RequestCancelled(request_id=uuid.uuid4()) for _ in range(count)]
    async with unit_of_work(engine) as uow:
        for event in events:
            await uow.outbox.add(event)
        await uow.commit()
    return events


async def pending(engine) -> int:  # type: ignore[no-untyped-def]
    async with engine.connect() as connection:
        return (await connection.execute(select(func.count()).where(outbox.c.published_at.is_(None)))).scalar_one()


async def test_the_relay_publishes_committed_rows_persistently_and_marks_them_sent(engine, broker, amqp_url) -> None:  # type: ignore[no-untyped-def]
    connection, queue = await probe_queue(amqp_url, "request.cancelled.v1")
    await broker.connect()
    events = await add_events(engine, 25)
    relay = OutboxRelay(engine=engine, outbox=outbox, broker=broker, source="/probe")
    assert await relay.publish_pending() == 25
    await relay.close()
    assert await pending(engine) == 0
    messages = await drain(queue, 25)
    assert sorted(m.correlation_id for m in messages) == sorted(str(e.request_id) for e in events)
    sample = messages[0]
    assert sample.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    assert sample.content_type == "application/cloudevents+json"
    assert sample.message_id == str(Envelope.model_validate_json(sample.body).id)
    await connection.close()


async def test_a_pass_can_leave_its_marks_to_the_next_passs_read_of_the_due_rows(postgres, broker, amqp_url) -> None:  # type: ignore[no-untyped-def]
    engine = await make_engine(await postgres.create())
    connection, queue = await probe_queue(amqp_url, "request.cancelled.v1")
    await broker.connect()
    relay = OutboxRelay(engine=engine, outbox=outbox, broker=broker, source="/probe")
    statements: list[str] = []

    def record(*call: object) -> None:
        statement = str(call[2]).lstrip().upper()
        if "PUBLISHED_AT" in statement and "COUNT(" not in statement:  # the relay's, not the test's
            statements.append(statement)

    event.listen(Engine, "before_cursor_execute", record)
    try:
        await add_events(engine, 3)
        assert await relay.publish_pending(defer_marks=True) == 3
        assert await pending(engine) == 3, "published, and marked by the next pass"
        assert [statement.split()[0] for statement in statements] == ["SELECT"]
        await add_events(engine, 2)
        assert await relay.publish_pending() == 2, "the next pass leaves out the rows it marks"
        assert await pending(engine) == 0
        assert [statement.split()[0] for statement in statements] == ["SELECT", "WITH", "UPDATE"]
        await add_events(engine, 1)
        assert await relay.publish_pending(defer_marks=True) == 1
        await relay.close()
        assert await pending(engine) == 0, "a relay that stops marks what it published"
        assert len(await drain(queue, 6)) == 6
        assert await queue.get(no_ack=True, fail=False) is None, "each row published once"
    finally:
        event.remove(Engine, "before_cursor_execute", record)
        await relay.close()
        await connection.close()
        await engine.dispose()


async def test_a_running_relay_marks_what_it_published_when_no_commit_follows(engine, broker) -> None:  # type: ignore[no-untyped-def]
    """Its marks wait for the next pass only briefly: a quiet service has nothing unmarked for long."""
    await broker.connect()
    relay = OutboxRelay(engine=engine, outbox=outbox, broker=broker, source="/probe", poll_interval=30)
    running = asyncio.create_task(relay.run())
    try:
        await _until_idle(relay)
        await add_events(engine, 4)
        relay.wake()

        async def all_marked() -> bool:
            return await pending(engine) == 0

        await wait_for(all_marked, timeout=10)  # well before the next poll
    finally:
        running.cancel()
        await asyncio.wait({running})


async def test_a_failed_publish_stays_pending_with_backoff_and_goes_out_later(engine, amqp_url) -> None:  # type: ignore[no-untyped-def]
    unreachable = RabbitBroker("amqp://guest:guest@127.0.0.1:1/")  # never connected: every publish fails
    await add_events(engine, 3)
    failing = OutboxRelay(engine=engine, outbox=outbox, broker=unreachable, source="/probe", publish_timeout=1)
    assert await failing.publish_pending() == 0
    async with engine.connect() as connection:
        rows = (await connection.execute(select(outbox))).all()
    assert {row.attempts for row in rows} == {1}
    assert all(row.last_error and row.published_at is None for row in rows)
    assert await failing.publish_pending() == 0, "rows in backoff are not retried at once"
    await failing.close()

    broker = RabbitBroker(amqp_url)
    await broker.connect()
    async with engine.begin() as connection:
        await connection.execute(outbox.update().values(next_attempt_at=datetime(2000, 1, 1, tzinfo=UTC)))
    relay = OutboxRelay(engine=engine, outbox=outbox, broker=broker, source="/probe")
    assert await relay.publish_pending() == 3
    await relay.close()
    assert await pending(engine) == 0
    await broker.stop()


class FailingOnce:
    """A broker whose publish fails once for the given message ids and goes through to the real one otherwise."""

    def __init__(self, broker: RabbitBroker, fail: set[str]) -> None:
        self._broker = broker
        self._fail = set(fail)

    async def publish(self, *args, message_id: str, **kwargs) -> None:  # type: ignore[no-untyped-def]
        if message_id in self._fail:
            self._fail.discard(message_id)
            raise ConnectionError("broker away for this one")
        await self._broker.publish(*args, message_id=message_id, **kwargs)


async def test_a_requests_events_leave_in_commit_order_even_when_one_fails(engine, broker, amqp_url) -> None:  # type: ignore[no-untyped-def]
    """The first event of a request fails to publish: the request's later event waits for it (it does not overtake
    it during the backoff), while another request's event goes out at once."""
    connection, queue = await probe_queue(amqp_url, "request.cancelled.v1")
    await broker.connect()
    request, other = uuid.uuid4(), uuid.uuid4()
    async with unit_of_work(engine) as uow:
        first = await uow.outbox.add(RequestCancelled(request_id=request))
        second = await uow.outbox.add(RequestCancelled(request_id=request))
        unrelated = await uow.outbox.add(RequestCancelled(request_id=other))
        await uow.commit()
    relay = OutboxRelay(
        engine=engine,
        outbox=outbox,
        broker=FailingOnce(broker, {str(first.id)}),
        source="/probe",  # type: ignore[arg-type]
    )
    assert await relay.publish_pending() == 1
    assert await relay.publish_pending() == 0, "the second event waits while the first is in backoff"
    assert [m.message_id for m in await drain(queue, 1)] == [str(unrelated.id)]

    async with engine.begin() as connection_:
        await connection_.execute(outbox.update().values(next_attempt_at=datetime(2000, 1, 1, tzinfo=UTC)))
    assert await relay.publish_pending() == 2
    await relay.close()
    assert [m.message_id for m in await drain(queue, 2)] == [str(first.id), str(second.id)]
    await connection.close()


async def test_two_relays_on_postgresql_publish_each_row_once(postgres, amqp_url) -> None:  # type: ignore[no-untyped-def]
    engine = await make_engine(await postgres.create())
    connection, queue = await probe_queue(amqp_url, "request.cancelled.v1")
    brokers = [RabbitBroker(amqp_url), RabbitBroker(amqp_url)]
    for broker in brokers:
        await broker.connect()
    await add_events(engine, 300)
    relays = [OutboxRelay(engine=engine, outbox=outbox, broker=b, source="/probe", batch_size=20) for b in brokers]

    async def until_empty(relay: OutboxRelay) -> None:
        while await pending(engine):
            await relay.publish_pending()

    await asyncio.gather(*(until_empty(relay) for relay in relays))
    for relay in relays:
        await relay.close()
    messages = await drain(queue, 300)
    await asyncio.sleep(0.3)
    assert len(messages) + len(await drain(queue, 1, timeout=0.3)) == 300
    assert len({m.message_id for m in messages}) == 300
    await connection.close()
    for broker in brokers:
        await broker.stop()
    await engine.dispose()


async def holder_of_the_turn(engine) -> tuple[int, str] | None:  # type: ignore[no-untyped-def]
    """The backend holding a relay's turn (a session-level advisory lock) and its state, if any."""
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                text(
                    "SELECT a.pid, a.state FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                    "WHERE l.locktype = 'advisory' AND l.granted AND a.datname = current_database()"
                )
            )
        ).one_or_none()
    return (row.pid, row.state) if row is not None else None


@pytest.fixture
async def two_replicas(postgres, amqp_url):  # type: ignore[no-untyped-def]
    """An outbox on PostgreSQL and the relays of two replicas of its service, each polling only every 30 s."""
    engine = await make_engine(await postgres.create())
    broker = RabbitBroker(amqp_url)
    await broker.connect()
    relays = [
        OutboxRelay(engine=engine, outbox=outbox, broker=broker, source="/probe", poll_interval=30) for _ in range(2)
    ]
    yield engine, *relays
    for relay in relays:
        await relay.close()
    await broker.stop()
    await engine.dispose()


async def test_a_relay_keeps_its_turn_between_passes_outside_any_transaction(two_replicas) -> None:  # type: ignore[no-untyped-def]
    """The turn is held across passes, so another replica's relay publishes nothing meanwhile; the holder's
    connection is idle between passes, not idle in a transaction (which would hold back VACUUM)."""
    engine, holder, other = two_replicas
    await add_events(engine, 3)
    assert await holder.publish_pending() == 3
    await add_events(engine, 2)
    assert await other.publish_pending() == 0, "the turn stays with the relay that took it"
    assert await pending(engine) == 2
    found = await holder_of_the_turn(engine)
    assert found is not None and found[1] == "idle"
    assert await holder.publish_pending() == 2


async def test_when_the_holders_connection_dies_another_relay_takes_the_turn(two_replicas) -> None:  # type: ignore[no-untyped-def]
    engine, holder, other = two_replicas
    await add_events(engine, 1)
    assert await holder.publish_pending() == 1
    found = await holder_of_the_turn(engine)
    assert found is not None
    async with engine.connect() as connection:
        await connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": found[0]})
    await add_events(engine, 2)

    async def other_has_published() -> bool:
        return await other.publish_pending() == 2

    await wait_for(other_has_published)
    assert await pending(engine) == 0
    with pytest.raises(Exception):  # noqa: B017 - whatever the driver raises for a connection that is gone
        await holder.publish_pending()
    assert await holder.publish_pending() == 0, "after its connection failed, the turn is the other relay's"


async def test_a_relay_without_the_turn_wakes_the_holder_to_publish_its_services_rows(two_replicas) -> None:  # type: ignore[no-untyped-def]
    """Two replicas, each relay polling only every 30 s: rows committed on the replica without the turn leave at
    once, because its relay, woken by that commit, wakes the holder through NOTIFY."""
    engine, holder, other = two_replicas
    holding = asyncio.create_task(holder.run())
    try:
        await _until_idle(holder)
        assert await holder_of_the_turn(engine) is not None
        running = asyncio.create_task(other.run())
        await _until_idle(other)
        await add_events(engine, 4)
        other.wake()

        async def all_published() -> bool:
            return await pending(engine) == 0

        await wait_for(all_published, timeout=20)  # well before either relay's next poll
        running.cancel()
        await asyncio.wait({running})
    finally:
        holding.cancel()
        await asyncio.wait({holding})


async def test_a_relay_woken_as_it_is_stopped_stops(engine, broker) -> None:  # type: ignore[no-untyped-def]
    """Under load every commit wakes the relay, so a service's stop often cancels it just as its wait for a wake-up
    ends. Python 3.11's asyncio.wait_for returned normally in that window and swallowed the cancellation: the relay
    ran on, the service's stop waited for it for ever and documents was killed 30 s after SIGTERM. Each of the
    loop iterations of that window is tried here."""
    await broker.connect()
    relay = OutboxRelay(engine=engine, outbox=outbox, broker=broker, source="/probe", poll_interval=30)
    for iterations_after_the_wake in range(6):
        running = asyncio.create_task(relay.run())
        await _until_idle(relay)
        relay.wake()
        for _ in range(iterations_after_the_wake):
            await asyncio.sleep(0)
        running.cancel()
        done, _ = await asyncio.wait({running}, timeout=5)
        assert done, f"the relay ran on after its cancellation ({iterations_after_the_wake} iterations after a wake)"
        assert running.cancelled()


async def _until_idle(relay: OutboxRelay) -> None:
    """Until the relay has finished its first pass and waits to be woken."""
    deadline = time.monotonic() + 10
    while not relay.waiting:
        assert time.monotonic() < deadline, "the relay never came to wait for a wake-up"
        await asyncio.sleep(0.01)


async def test_the_events_a_unit_of_work_adds_are_written_in_one_statement_at_its_commit(engine) -> None:  # type: ignore[no-untyped-def]
    request_id = uuid.uuid4()
    statements: list[str] = []

    def stored() -> list[str]:
        return [statement for statement in statements if statement.lstrip().upper().startswith("INSERT INTO OUTBOX")]

    async with unit_of_work(engine) as uow:
        event.listen(uow._connection.sync_connection, "before_cursor_execute", lambda *call: statements.append(call[2]))
        added = [await uow.outbox.add(RequestCancelled(request_id=request_id)) for _ in range(3)]
        assert stored() == [], "nothing is written before the commit"
        await uow.commit()
    assert len(stored()) == 1, "the three rows in one statement"
    async with engine.connect() as connection:
        rows = (await connection.execute(select(outbox.c.id).order_by(outbox.c.created_at))).scalars().all()
    assert rows == [str(envelope.id) for envelope in added], "in the order they were added"

    async with unit_of_work(engine) as uow:
        await uow.outbox.add(RequestCancelled(request_id=request_id))
    async with engine.connect() as connection:
        assert (await connection.execute(select(func.count()).select_from(outbox))).scalar_one() == 3, (
            "a unit of work left without its commit writes none of its events"
        )


async def test_what_a_unit_of_work_asks_for_after_its_commit_runs_once_it_committed_and_not_after_a_rollback(
    engine,
) -> None:  # type: ignore[no-untyped-def]
    in_transaction_when_called: list[bool] = []
    async with unit_of_work(engine) as uow:
        await uow._connection.execute(insert(effects).values(request_id=str(uuid.uuid4())))
        connection = uow._connection
        uow.after_commit(lambda: in_transaction_when_called.append(connection.in_transaction()))
        assert in_transaction_when_called == []
        await uow.commit()
    assert in_transaction_when_called == [False], "called once, the transaction ended"
    assert await effect_count(engine) == 1

    called: list[str] = []
    async with unit_of_work(engine) as uow:
        await uow._connection.execute(insert(effects).values(request_id=str(uuid.uuid4())))
        uow.after_commit(lambda: called.append("rolled back"))
    assert called == [] and await effect_count(engine) == 1, "left without its commit: nothing stored, nothing called"


async def test_the_inbox_claims_an_event_once_and_a_refused_claim_leaves_the_transaction_usable(engine) -> None:  # type: ignore[no-untyped-def]
    event_id = str(uuid.uuid4())
    async with unit_of_work(engine) as uow:
        assert await uow.inbox.claim("probe", event_id)
        await uow.commit()
    async with unit_of_work(engine) as uow:
        assert not await uow.inbox.claim("probe", event_id)
        assert await uow.inbox.claim("another consumer", event_id)
        await uow._connection.execute(insert(effects).values(request_id=event_id))
        await uow.commit()
    assert await effect_count(engine) == 1


async def test_a_unit_of_work_for_reading_runs_each_statement_alone_and_its_connection_goes_back_transactional(
    postgres,
) -> None:  # type: ignore[no-untyped-def]
    engine = create_engine(await postgres.create(), pool_size=1)  # one connection: each unit of work gets it
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    started = select(func.transaction_timestamp())
    try:
        async with unit_of_work(engine).reading() as uow:
            connection = uow._connection
            first, second = [(await connection.execute(started)).scalar_one() for _ in range(2)]
            assert first != second, "each statement in a transaction of its own: no BEGIN, no ROLLBACK"
            assert not (await connection.execute(select(func.pg_current_xact_id_if_assigned()))).scalar_one()
            with pytest.raises(AssertionError, match="for reading"):
                await uow.commit()
        async with unit_of_work(engine) as uow:
            first, second = [(await uow._connection.execute(started)).scalar_one() for _ in range(2)]
            assert first == second, "the next unit of work on the same connection is one transaction again"
            await uow._connection.execute(insert(effects).values(request_id=str(uuid.uuid4())))
        assert await effect_count(engine) == 0, "and what it wrote without a commit was rolled back"
    finally:
        await engine.dispose()


async def test_the_inbox_claims_a_batch_in_one_statement_whatever_its_size(engine) -> None:  # type: ignore[no-untyped-def]
    seen, fresh, more = str(uuid.uuid4()), str(uuid.uuid4()), [str(uuid.uuid4()) for _ in range(7)]
    async with unit_of_work(engine) as uow:
        assert await uow.inbox.claim_many("probe", [seen]) == {seen}
        await uow.commit()
    async with unit_of_work(engine) as uow:
        assert await uow.inbox.claim_many("probe", [seen, fresh, fresh]) == {fresh}, "each id once, the seen one not"
        assert await uow.inbox.claim_many("probe", [*more, seen]) == set(more)
        assert await uow.inbox.claim_many("another consumer", [seen]) == {seen}
        assert await uow.inbox.claim_many("probe", []) == set()
        await uow.commit()
    async with unit_of_work(engine) as uow:
        assert await uow.inbox.claim_many("probe", [seen, fresh, *more]) == set()


async def test_two_transactions_claiming_one_event_at_once_get_it_once(postgres) -> None:  # type: ignore[no-untyped-def]
    """The second claim waits for the first transaction, then finds the row (or takes it, had the first rolled
    back)."""
    engine = await make_engine(await postgres.create())
    event_id = str(uuid.uuid4())
    first_claimed = asyncio.Event()

    async def claim(hold: bool) -> bool:
        async with unit_of_work(engine) as uow:
            claimed = await uow.inbox.claim("probe", event_id)
            if hold:
                first_claimed.set()
                await asyncio.sleep(0.3)  # the other transaction claims meanwhile, and must wait
            await uow.commit()
            return claimed

    async def second() -> bool:
        await first_claimed.wait()
        return await claim(hold=False)

    try:
        assert await asyncio.gather(claim(hold=True), second()) == [True, False]
    finally:
        await engine.dispose()


class Scenario:
    """A handler whose behaviour per request is scripted: fail N times, fail forever, or refuse for good."""

    def __init__(self) -> None:
        self.failures_left: dict[uuid.UUID, int] = defaultdict(int)
        self.conflicts_left: dict[uuid.UUID, int] = defaultdict(int)
        self.permanent: set[uuid.UUID] = set()
        self.calls: dict[uuid.UUID, list[float]] = defaultdict(list)

    async def handle(self, uow: ProbeUnitOfWork, event: RequestCancelled, _envelope: Envelope) -> None:
        self.calls[event.request_id].append(time.monotonic())
        if event.request_id in self.permanent:
            raise PermanentFailure("this request can never be processed")
        if self.conflicts_left[event.request_id] != 0:
            self.conflicts_left[event.request_id] -= 1
            raise ConcurrentChange("simulated: another unit of work changed the request first")
        if self.failures_left[event.request_id] != 0:
            self.failures_left[event.request_id] -= 1
            raise RuntimeError("simulated transient failure")
        await uow._connection.execute(insert(effects).values(request_id=str(event.request_id)))


class StateScenario(Scenario):
    """A handler whose state tells an event applied before (the effect's row, by its primary key), for a
    subscription without inbox rows."""

    async def handle(self, uow: ProbeUnitOfWork, event: RequestCancelled, envelope: Envelope) -> None:
        applied = select(effects.c.request_id).where(effects.c.request_id == str(event.request_id))
        if (await uow._connection.execute(applied)).first() is not None:
            self.calls[event.request_id].append(time.monotonic())
            raise AlreadyApplied(str(envelope.id))
        await super().handle(uow, event, envelope)


class CarryingScenario(Scenario):
    """A handler that stores its effect in one statement with what the unit of work writes alongside it
    (`take_pending`, `with_pending`), as the services' repositories do on PostgreSQL."""

    async def handle(self, uow: ProbeUnitOfWork, event: RequestCancelled, _envelope: Envelope) -> None:
        self.calls[event.request_id].append(time.monotonic())
        parameters: dict[str, object] = {"effect_id": str(event.request_id)}
        statement = with_pending(_ADDING_EFFECT, _ADDED_EFFECT, uow.outbox.take_pending(parameters))
        await uow._connection.execute(statement, parameters)


class CountingUnitOfWork(ProbeUnitOfWork):
    commits = 0

    async def commit(self) -> None:
        await super().commit()
        CountingUnitOfWork.commits += 1


async def start_consumer(  # type: ignore[no-untyped-def]
    engine,
    amqp_url: str,
    *,
    batch_size: int = 1,
    prefetch: int = 20,
    inbox_rows: bool = True,
    scenario: Scenario | None = None,
):
    """A started consumer on a topology of its own: (scenario, broker, topology). Without `inbox_rows`, the
    subscription writes none and its handler tells a duplicate by its own state."""
    scenario = scenario or (Scenario() if inbox_rows else StateScenario())
    broker = RabbitBroker(amqp_url, graceful_timeout=5, default_channel=Channel(prefetch_count=prefetch))
    topology = ServiceTopology(f"probe{uuid.uuid4().hex[:6]}")
    retry = RetryPolicy(delays_ms=(100, 300, 600))
    consumer = EventConsumer(
        topology=topology,
        subscription=Subscription(name="cancellations", handlers={RequestCancelled: scenario.handle}, inbox=inbox_rows),
        unit_of_work=lambda: CountingUnitOfWork(engine, outbox_table=outbox, inbox_table=inbox, source="/probe"),
        broker=broker,
        retry=retry,
        batch_size=batch_size,
    )
    router = RabbitRouter()
    consumer.attach(router)
    broker.include_router(router)
    await broker.connect()
    await topology.declare(broker, {"cancellations": ["request.cancelled.v1"]}, list(retry.delays_ms))
    return scenario, broker, topology


@pytest.fixture
async def consuming(engine, amqp_url):  # type: ignore[no-untyped-def]
    """A consumer that applies each delivery on its own (batch size 1): the counts of handler runs below are those
    of a single delivery's attempts."""
    scenario, broker, topology = await start_consumer(engine, amqp_url)
    await broker.start()
    yield scenario, broker, topology
    await broker.stop()


async def publish(broker: RabbitBroker, body: bytes, message_id: str | None = None) -> None:
    await broker.publish(
        body, exchange=EVENTS_EXCHANGE, routing_key="request.cancelled.v1", persist=True, message_id=message_id
    )


async def effect_count(engine) -> int:  # type: ignore[no-untyped-def]
    async with engine.connect() as connection:
        return (await connection.execute(select(func.count()).select_from(effects))).scalar_one()


async def wait_for(condition, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def dead_letters(broker: RabbitBroker, topology: ServiceTopology, expected: int, timeout: float = 15) -> list:  # type: ignore[no-untyped-def]
    queue = await broker.declare_queue(topology.dead_letter_queue)
    found = []
    deadline = time.monotonic() + timeout
    while len(found) < expected and time.monotonic() < deadline:
        message = await queue.get(no_ack=True, fail=False)
        if message is None:
            await asyncio.sleep(0.05)
        else:
            found.append(message)
    return found


async def test_a_duplicate_delivery_has_one_effect(engine, consuming) -> None:  # type: ignore[no-untyped-def]
    """On SQLite the claim comes first, and a duplicate never runs the handler. On PostgreSQL a lone delivery's
    claim waits for the handler's change (this handler stores its own way, so the commit makes the claim): a
    duplicate runs the handler, meets the claim at the commit, and nothing of it is stored."""
    scenario, broker, topology = consuming
    envelope = Envelope.wrap(RequestCancelled(request_id=uuid.uuid4()), source="/probe")
    runs = 3 if engine.dialect.name == "postgresql" else 1
    with capture_logs() as logs:
        for _ in range(3):
            await publish(broker, envelope.to_json(), str(envelope.id))

        async def all_three_seen() -> bool:
            return await effect_count(engine) == 1 and len(scenario.calls[envelope.event().request_id]) == runs

        await wait_for(all_three_seen)
        await asyncio.sleep(0.5)
    assert await effect_count(engine) == 1
    assert await inbox_rows(engine) == 1
    assert len(scenario.calls[envelope.event().request_id]) == runs
    assert [entry for entry in logs if entry["event"] == "event_retry_scheduled"] == [], "a duplicate is no failure"
    assert await dead_letters(broker, topology, 1, timeout=1) == []


async def test_a_deferred_claim_goes_into_the_changes_statement_and_meets_any_claim_before_it(postgres) -> None:  # type: ignore[no-untyped-def]
    """PostgreSQL: the claim is written by the statement that stores the change, with no statement of its own; a
    claim of the same event made before it, or by a transaction that commits while it waits, fails that statement;
    a claim no statement took is made at the commit, which refuses a duplicate with nothing stored."""
    engine = await make_engine(await postgres.create())
    event_id = str(uuid.uuid4())
    statements: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *call: statements.append(call[2]))

    async def store_effect(uow: ProbeUnitOfWork) -> None:
        parameters: dict[str, object] = {"effect_id": str(uuid.uuid4())}
        statement = with_pending(_ADDING_EFFECT, _ADDED_EFFECT, uow.outbox.take_pending(parameters))
        await uow._connection.execute(statement, parameters)

    def own_claims() -> list[str]:
        return [statement for statement in statements if statement.lstrip().upper().startswith("INSERT INTO INBOX")]

    try:
        async with unit_of_work(engine) as uow:
            assert uow.inbox.defer_claim("probe", event_id)
            await store_effect(uow)
            await uow.commit()
        assert own_claims() == [], "the claim went with the change"
        async with unit_of_work(engine).reading() as uow:
            assert await uow.inbox.has_claimed("probe", event_id)
            assert not await uow.inbox.has_claimed("another consumer", event_id)

        async with unit_of_work(engine) as uow:
            assert uow.inbox.defer_claim("probe", event_id)
            with pytest.raises(IntegrityError):
                await store_effect(uow)

        async with unit_of_work(engine) as uow:
            assert uow.inbox.defer_claim("probe", event_id)
            await uow._connection.execute(insert(effects).values(request_id=str(uuid.uuid4())))
            with pytest.raises(AlreadyApplied):
                await uow.commit()
        assert len(own_claims()) == 1, "the claim no statement took, made at the commit"
        assert await effect_count(engine) == 1, "neither duplicate stored anything"

        # Two deliveries of a new event at once: the second statement waits for the first transaction, then fails.
        concurrent_id = str(uuid.uuid4())
        first_stored = asyncio.Event()

        async def deliver(hold: bool) -> str:
            try:
                async with unit_of_work(engine) as uow:
                    uow.inbox.defer_claim("probe", concurrent_id)
                    if not hold:
                        await first_stored.wait()
                    await store_effect(uow)
                    if hold:
                        first_stored.set()
                        await asyncio.sleep(0.3)  # the other statement runs meanwhile, and must wait
                    await uow.commit()
                    return "applied"
            except IntegrityError:
                return "duplicate"

        assert await asyncio.gather(deliver(hold=True), deliver(hold=False)) == ["applied", "duplicate"]
        assert await effect_count(engine) == 2
    finally:
        await engine.dispose()


async def test_the_claim_of_a_lone_delivery_goes_with_its_change_and_a_duplicate_meets_it(postgres, amqp_url) -> None:  # type: ignore[no-untyped-def]
    engine = await make_engine(await postgres.create())
    statements: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *call: statements.append(call[2]))
    scenario, broker, topology = await start_consumer(engine, amqp_url, scenario=CarryingScenario())
    await broker.start()
    try:
        envelope = Envelope.wrap(RequestCancelled(request_id=uuid.uuid4()), source="/probe")
        request_id = envelope.event().request_id
        with capture_logs() as logs:
            await publish(broker, envelope.to_json(), str(envelope.id))
            await wait_for(lambda: _settled(broker, scenario, 1))
            await wait_for(lambda: _inbox_holds(engine, 1))
            await publish(broker, envelope.to_json(), str(envelope.id))

            async def duplicate_seen() -> bool:
                return len(scenario.calls[request_id]) == 2

            await wait_for(duplicate_seen)
            await asyncio.sleep(0.5)
        assert [statement for statement in statements if "INSERT INTO inbox" in statement.lstrip()[:20]] == [], (
            "no claim of its own: the duplicate met the claim in its handler's statement"
        )
        assert await effect_count(engine) == 1
        assert await inbox_rows(engine) == 1
        assert len(scenario.calls[request_id]) == 2
        assert [entry for entry in logs if entry["event"] == "event_retry_scheduled"] == [], "a duplicate is no failure"
        assert await dead_letters(broker, topology, 1, timeout=1) == []
    finally:
        await broker.stop()
        await engine.dispose()


async def _inbox_holds(engine, rows: int) -> bool:  # type: ignore[no-untyped-def]
    return await inbox_rows(engine) == rows


async def test_a_transient_failure_is_retried_with_growing_delays_and_processed_once(engine, consuming) -> None:  # type: ignore[no-untyped-def]
    scenario, broker, _ = consuming
    event = RequestCancelled(request_id=uuid.uuid4())
    scenario.failures_left[event.request_id] = 2

    async def done() -> bool:
        return await effect_count(engine) == 1

    with capture_logs() as logs:
        await publish(broker, Envelope.wrap(event, source="/probe").to_json())
        await wait_for(done)
    scheduled = [entry["delay_ms"] for entry in logs if entry["event"] == "event_retry_scheduled"]
    assert scheduled == [100, 300], "each retry waits longer than the one before"
    calls = scenario.calls[event.request_id]
    assert len(calls) == 3
    # A loaded machine may run a retry later than its delay, never sooner.
    first_gap, second_gap = calls[1] - calls[0], calls[2] - calls[1]
    assert first_gap >= 0.09 and second_gap >= 0.29


async def test_a_lost_race_is_run_again_at_once_without_spending_the_messages_retries(engine, consuming) -> None:  # type: ignore[no-untyped-def]
    """More conflicts in a row than the message has attempts: still processed once, never dead-lettered."""
    scenario, broker, topology = consuming
    event = RequestCancelled(request_id=uuid.uuid4())
    scenario.conflicts_left[event.request_id] = 5
    await publish(broker, Envelope.wrap(event, source="/probe").to_json())

    async def done() -> bool:
        return await effect_count(engine) == 1

    await wait_for(done)
    assert len(scenario.calls[event.request_id]) == 6
    assert await dead_letters(broker, topology, 1, timeout=1) == []


async def test_a_race_lost_every_time_ends_as_a_dead_letter_naming_the_conflict(engine, consuming) -> None:  # type: ignore[no-untyped-def]
    scenario, broker, topology = consuming
    event = RequestCancelled(request_id=uuid.uuid4())
    scenario.conflicts_left[event.request_id] = -1
    await publish(broker, Envelope.wrap(event, source="/probe").to_json())
    [dead] = await dead_letters(broker, topology, 1, timeout=60)
    assert dead.headers["x-attempts"] == 4
    assert "attempts exhausted" in dead.headers["x-error"] and "ConcurrentChange" in dead.headers["x-error"]
    assert len(scenario.calls[event.request_id]) == 4 * (CONCURRENT_CHANGE_RERUNS + 1)
    assert await effect_count(engine) == 0


async def test_a_poison_message_is_dead_lettered_with_its_error_and_the_rest_flow_on(engine, consuming) -> None:  # type: ignore[no-untyped-def]
    scenario, broker, topology = consuming
    poison = RequestCancelled(request_id=uuid.uuid4())
    scenario.failures_left[poison.request_id] = -1  # fails forever
    await publish(broker, Envelope.wrap(poison, source="/probe").to_json())
    for _ in range(5):
        await publish(broker, Envelope.wrap(RequestCancelled(request_id=uuid.uuid4()), source="/probe").to_json())

    async def five_done() -> bool:
        return await effect_count(engine) == 5

    await wait_for(five_done)
    [dead] = await dead_letters(broker, topology, 1)
    assert dead.headers["x-attempts"] == 4
    assert "attempts exhausted" in dead.headers["x-error"] and "RuntimeError" in dead.headers["x-error"]
    assert dead.headers["x-original-queue"] == topology.subscription_queue("cancellations").name
    assert dead.headers["x-first-failure-at"] <= dead.headers["x-last-failure-at"]
    assert Envelope.model_validate_json(dead.body).event() == poison
    assert len(scenario.calls[poison.request_id]) == 4


async def test_malformed_and_permanently_failing_messages_are_dead_lettered_at_once(engine, consuming) -> None:  # type: ignore[no-untyped-def]
    scenario, broker, topology = consuming
    refused = RequestCancelled(request_id=uuid.uuid4())
    scenario.permanent.add(refused.request_id)
    await publish(broker, b"{not json")
    await publish(broker, Envelope.wrap(refused, source="/probe").to_json())
    found = await dead_letters(broker, topology, 2)
    errors = sorted(message.headers["x-error"] for message in found)
    assert len(errors) == 2
    assert errors[0].startswith("malformed") and errors[1].startswith("permanent")
    assert {message.headers["x-attempts"] for message in found} == {1}
    assert len(scenario.calls[refused.request_id]) == 1
    assert await effect_count(engine) == 0


async def backlog_then_start(
    engine, amqp_url: str, events: list[Envelope], *, duplicates: int = 0, inbox_rows: bool = True
):  # type: ignore[no-untyped-def]
    """A consumer with batches of up to 20, started once `events` (and the first `duplicates` of them again) wait
    in its queue, as after an outage: prefetch hands it many deliveries at once."""
    scenario, broker, topology = await start_consumer(
        engine, amqp_url, batch_size=20, prefetch=50, inbox_rows=inbox_rows
    )
    for envelope in [*events, *events[:duplicates]]:
        await publish(broker, envelope.to_json(), str(envelope.id))
    CountingUnitOfWork.commits = 0
    await broker.start()
    return scenario, broker, topology


async def test_a_backlog_is_applied_in_batches_each_event_once(engine, amqp_url) -> None:  # type: ignore[no-untyped-def]
    events = [Envelope.wrap(RequestCancelled(request_id=uuid.uuid4()), source="/probe") for _ in range(60)]
    scenario, broker, _ = await backlog_then_start(engine, amqp_url, events, duplicates=10)
    try:

        async def all_applied() -> bool:
            return await effect_count(engine) == 60

        await wait_for(all_applied)
        await wait_for(lambda: _settled(broker, scenario, 60))
        assert CountingUnitOfWork.commits < 30, f"{CountingUnitOfWork.commits} transactions for 60 events"
        assert all(len(calls) == 1 for calls in scenario.calls.values()), "a duplicate never runs the handler"
        assert len(scenario.calls) == 60
    finally:
        await broker.stop()


async def inbox_rows(engine) -> int:  # type: ignore[no-untyped-def]
    async with engine.connect() as connection:
        return (await connection.execute(select(func.count()).select_from(inbox))).scalar_one()


async def test_without_inbox_rows_a_duplicate_found_in_the_state_has_one_effect_and_writes_no_inbox_row(
    engine, amqp_url
) -> None:  # type: ignore[no-untyped-def]
    scenario, broker, _ = await start_consumer(engine, amqp_url, inbox_rows=False)
    await broker.start()
    try:
        envelope = Envelope.wrap(RequestCancelled(request_id=uuid.uuid4()), source="/probe")
        for _ in range(3):
            await publish(broker, envelope.to_json(), str(envelope.id))

        async def three_handled() -> bool:
            return len(scenario.calls[envelope.event().request_id]) == 3

        await wait_for(three_handled)
        assert await effect_count(engine) == 1
        assert await inbox_rows(engine) == 0
    finally:
        await broker.stop()


async def test_without_inbox_rows_a_backlog_with_duplicates_is_applied_in_batches_each_event_once(
    engine, amqp_url
) -> None:  # type: ignore[no-untyped-def]
    """A duplicate in a batch, found applied by its handler, leaves the rest of the batch to commit."""
    events = [Envelope.wrap(RequestCancelled(request_id=uuid.uuid4()), source="/probe") for _ in range(60)]
    with capture_logs() as logs:
        scenario, broker, _ = await backlog_then_start(engine, amqp_url, events, duplicates=10, inbox_rows=False)
        try:

            async def all_handled() -> bool:
                return await effect_count(engine) == 60 and await _settled(broker, scenario, 70)

            await wait_for(all_handled)
        finally:
            await broker.stop()
    assert [entry for entry in logs if entry["event"] == "batch_split"] == [], "a duplicate splits no batch"
    assert CountingUnitOfWork.commits < 30, f"{CountingUnitOfWork.commits} transactions for 60 events"
    assert len(scenario.calls) == 60
    assert await inbox_rows(engine) == 0


async def _settled(broker: RabbitBroker, scenario: Scenario, expected: int) -> bool:
    return sum(len(calls) for calls in scenario.calls.values()) >= expected


async def test_one_failing_event_in_a_batch_holds_back_none_of_its_neighbours(engine, amqp_url) -> None:  # type: ignore[no-untyped-def]
    """A poison event, a permanent refusal and a lost race among forty: the batch they are in is stored not at
    all, each of its events runs again on its own, the thirty-seven good ones are applied once, the poison is
    retried with its attempts as a single delivery would be and dead-lettered, the refusal at once."""
    events = [Envelope.wrap(RequestCancelled(request_id=uuid.uuid4()), source="/probe") for _ in range(40)]
    poison, refused, raced = (envelope.event().request_id for envelope in events[5:8])
    scenario, broker, topology = await backlog_then_start(engine, amqp_url, events)
    scenario.failures_left[poison] = -1
    scenario.permanent.add(refused)
    scenario.conflicts_left[raced] = 1
    try:

        async def good_ones_applied() -> bool:
            return await effect_count(engine) == 38  # the raced one too

        await wait_for(good_ones_applied)
        found = await dead_letters(broker, topology, 2, timeout=30)
        reasons = {Envelope.model_validate_json(m.body).event().request_id: m.headers for m in found}
        assert reasons[poison]["x-attempts"] == 4 and "attempts exhausted" in reasons[poison]["x-error"]
        assert reasons[refused]["x-attempts"] == 1 and reasons[refused]["x-error"].startswith("permanent")
        async with engine.connect() as connection:
            stored = set((await connection.execute(select(effects.c.request_id))).scalars())
        assert str(poison) not in stored and str(refused) not in stored and str(raced) in stored
    finally:
        await broker.stop()


async def test_a_retired_routing_key_is_unbound_from_its_queue_and_nothing_else_is(amqp_url) -> None:  # type: ignore[no-untyped-def]
    """A subscription that stops taking an event: the next start unbinds it, so a broker set up by the earlier version
    stops delivering it (its consumer would have parked it as an event it does not handle)."""
    broker = RabbitBroker(amqp_url)
    await broker.connect()
    topology = ServiceTopology(f"probe{uuid.uuid4().hex[:6]}")
    queue_name = topology.subscription_queue("cancellations").name
    await topology.declare(broker, {"cancellations": ["request.cancelled.v1", "request.rejected.v1"]}, [])
    await topology.declare(
        broker,
        {"cancellations": ["request.cancelled.v1"]},
        [],
        # Never bound: unbinding it is no error.
        {"cancellations": ["request.rejected.v1", "request.approved.v1"]},
    )
    queue = await broker.declare_queue(topology.subscription_queue("cancellations"))
    # Published in this order on one channel: were the retired key still bound, its message would be first in the queue.
    for routing_key in ("request.rejected.v1", "request.cancelled.v1"):
        await broker.publish(
            routing_key.encode(), exchange=EVENTS_EXCHANGE, routing_key=routing_key, persist=True, timeout=5
        )
    deadline = time.monotonic() + 10
    while (message := await queue.get(no_ack=True, fail=False)) is None:
        assert time.monotonic() < deadline, f"nothing reached {queue_name}"
        await asyncio.sleep(0.05)
    assert message.body == b"request.cancelled.v1"
    assert await queue.get(no_ack=True, fail=False) is None
    await queue.delete(if_unused=False, if_empty=False)
    await broker.stop()
