"""Dead letters against the real RabbitMQ, on SQLite and PostgreSQL: parked with their error and attempts, listed
over HTTP, replayed after a fix and processed once, discarded with a reason; and the repository itself."""

import asyncio
import json
import time
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aio_pika
import httpx
import pytest
from fastapi import FastAPI
from faststream.rabbit import RabbitBroker, RabbitRouter
from sqlalchemy import Column, MetaData, String, Table, func, insert, select

from dukcapil_shared.auth.roles import Role
from dukcapil_shared.contracts import Envelope, RequestCancelled
from dukcapil_shared.db import create_engine
from dukcapil_shared.messaging import (
    EVENTS_EXCHANGE,
    EventConsumer,
    PermanentFailure,
    RetryPolicy,
    ServiceTopology,
    SqlUnitOfWork,
    Subscription,
    add_dead_letter_table,
    add_messaging_tables,
)
from dukcapil_shared.ops import http as dead_letter_http
from dukcapil_shared.ops.amqp import BrokerRepublisher, DeadLetterParking
from dukcapil_shared.ops.dead_letters import DeadLetter, DeadLetterStatus, LetterAlreadyResolved, parse_dead_letter
from dukcapil_shared.ops.service import DeadLetterDesk, ReplayFailed
from dukcapil_shared.ops.store import DeadLetterQuery, SqlOpsUnitOfWork
from dukcapil_shared.web import install_error_handlers
from dukcapil_testing import install_test_auth, staff_headers

pytestmark = pytest.mark.integration

metadata = MetaData()
effects = Table("effects", metadata, Column("request_id", String(36), primary_key=True))
outbox, inbox = add_messaging_tables(metadata)
dead_letters = add_dead_letter_table(metadata)


@pytest.fixture(params=["sqlite", "postgresql"])
async def engine(request, tmp_path: Path, postgres):  # type: ignore[no-untyped-def]
    url = f"sqlite+aiosqlite:///{tmp_path}/probe.db" if request.param == "sqlite" else await postgres.create()
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


@pytest.fixture(scope="module")
def vhost(rabbitmq) -> str:  # type: ignore[no-untyped-def]
    """A RabbitMQ vhost of this module's own."""
    return rabbitmq.create()


def ops_unit_of_work(engine) -> SqlOpsUnitOfWork:  # type: ignore[no-untyped-def]
    return SqlOpsUnitOfWork(
        engine, dead_letter_table=dead_letters, outbox_table=outbox, inbox_table=inbox, source="/dukcapil/lebak/probe"
    )


class Handler:
    """Fails for the requests in `broken` (for good in `refused`) until the fix is deployed."""

    def __init__(self) -> None:
        self.broken: set[uuid.UUID] = set()
        self.refused: set[uuid.UUID] = set()
        self.calls: dict[uuid.UUID, int] = defaultdict(int)

    async def handle(self, uow: SqlUnitOfWork, event: RequestCancelled, _envelope: Envelope) -> None:
        self.calls[event.request_id] += 1
        if event.request_id in self.refused:
            raise PermanentFailure(f"request {event.request_id} cannot be cancelled here")
        if event.request_id in self.broken:
            raise RuntimeError("handler bug: KeyError 'reason'")
        await uow._connection.execute(insert(effects).values(request_id=str(event.request_id)))


class Service:
    """One probe service: a consumer with retries, the parking consumer and the dead-letter API."""

    def __init__(self, engine, amqp_url: str, *, delivery_limit: int = 20) -> None:  # type: ignore[no-untyped-def]
        self.engine = engine
        self.handler = Handler()
        self.topology = ServiceTopology(f"probe{uuid.uuid4().hex[:6]}", delivery_limit=delivery_limit)
        self.broker = RabbitBroker(amqp_url, graceful_timeout=5)
        self.retry = RetryPolicy(delays_ms=(100, 200, 300))
        router = RabbitRouter()
        EventConsumer(
            topology=self.topology,
            subscription=Subscription(name="cancellations", handlers={RequestCancelled: self.handler.handle}),
            unit_of_work=lambda: SqlUnitOfWork(engine, outbox_table=outbox, inbox_table=inbox, source="/probe"),
            broker=self.broker,
            retry=self.retry,
        ).attach(router)
        DeadLetterParking(topology=self.topology, unit_of_work=lambda: ops_unit_of_work(engine)).attach(router)
        self.broker.include_router(router)
        self.desk = DeadLetterDesk(
            service=self.topology.service,
            unit_of_work=lambda: ops_unit_of_work(engine),
            republisher=BrokerRepublisher(broker=self.broker, topology=self.topology, timeout=5, user=None),
        )
        app = FastAPI()
        install_error_handlers(app)
        install_test_auth(app)
        dead_letter_http.install(app, self.desk)
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://probe",
            headers=staff_headers(Role.ADMIN, username="rina"),
        )

    @property
    def queue(self) -> str:
        return self.topology.subscription_queue("cancellations").name

    async def start(self) -> None:
        await self.broker.connect()
        subscriptions = {"cancellations": ["request.cancelled.v1"]}
        await self.topology.declare(self.broker, subscriptions, list(self.retry.delays_ms))
        await self.broker.start()

    async def stop(self) -> None:
        await self.http.aclose()
        await self.broker.stop()

    async def publish(self, event: RequestCancelled) -> Envelope:
        envelope = Envelope.wrap(event, source="/dukcapil/lebak/intake")
        await self.broker.publish(
            envelope.to_json(),
            exchange=EVENTS_EXCHANGE,
            routing_key=event.routing_key(),
            persist=True,
            message_id=str(envelope.id),
            correlation_id=envelope.subject,
            message_type=envelope.type,
        )
        return envelope

    async def effects(self) -> set[str]:
        async with self.engine.connect() as connection:
            return set((await connection.execute(select(effects.c.request_id))).scalars())

    async def parked(self) -> list[DeadLetter]:
        async with ops_unit_of_work(self.engine) as uow:
            return await uow.dead_letters.list(DeadLetterQuery(status=None))

    async def announced(self) -> list[str]:
        async with self.engine.connect() as connection:
            rows = await connection.execute(select(outbox.c.routing_key).order_by(outbox.c.created_at))
            return list(rows.scalars())


@pytest.fixture
async def probe(engine, vhost):  # type: ignore[no-untyped-def]
    service = Service(engine, vhost)
    await service.start()
    yield service
    await service.stop()


async def eventually(condition, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_a_poison_message_is_parked_listed_and_after_the_fix_replayed_and_processed_once(probe: Service) -> None:
    poison = RequestCancelled(request_id=uuid.uuid4())
    probe.handler.broken.add(poison.request_id)
    envelope = await probe.publish(poison)
    behind = [RequestCancelled(request_id=uuid.uuid4()) for _ in range(3)]
    for event in behind:
        await probe.publish(event)

    async def parked_and_the_rest_done() -> bool:
        return len(await probe.parked()) == 1 and len(await probe.effects()) == 3

    await eventually(parked_and_the_rest_done)
    assert probe.handler.calls[poison.request_id] == probe.retry.max_attempts == 4
    assert await probe.announced() == ["operations.message_parked.v1"]

    [listed] = (await probe.http.get("/dead-letters", params={"status": "parked"})).json()
    assert listed["message_id"] == str(envelope.id) and listed["subject"] == str(poison.request_id)
    assert listed["attempts"] == 4
    assert listed["error"].startswith("attempts exhausted") and "RuntimeError" in listed["error"]
    assert (listed["original_queue"], listed["routing_key"]) == (probe.queue, "request.cancelled.v1")
    assert listed["first_failure_at"] < listed["last_failure_at"]

    probe.handler.broken.clear()  # the fix is deployed
    replayed = await probe.http.post(f"/dead-letters/{listed['id']}/replay", json={"note": "fixed"})
    assert replayed.status_code == 200, replayed.text
    assert (replayed.json()["status"], replayed.json()["resolved_by"]) == ("replayed", "rina")

    async def processed() -> bool:
        return str(poison.request_id) in await probe.effects()

    await eventually(processed)
    again = await probe.http.post(
        f"/dead-letters/{listed['id']}/replay", json={}, headers=staff_headers(Role.ADMIN, username="budi")
    )
    assert again.status_code == 409
    await asyncio.sleep(0.5)
    assert probe.handler.calls[poison.request_id] == 5, "once more after the replay, attempts counted afresh"
    assert len(await probe.effects()) == 4
    assert (await probe.http.get("/dead-letters")).json() == []
    assert await probe.announced() == ["operations.message_parked.v1", "operations.message_resolved.v1"]


async def test_a_replay_that_fails_again_is_parked_again_as_a_new_letter(probe: Service) -> None:
    poison = RequestCancelled(request_id=uuid.uuid4())
    probe.handler.broken.add(poison.request_id)
    await probe.publish(poison)

    async def parked(count: int):  # type: ignore[no-untyped-def]
        async def check() -> bool:
            return len([letter for letter in await probe.parked() if letter.status == DeadLetterStatus.parked]) == count

        return check

    await eventually(await parked(1))
    [first] = await probe.parked()
    assert (await probe.http.post(f"/dead-letters/{first.id}/replay", json={})).status_code == 200
    await eventually(await parked(1))
    letters = {letter.id: letter for letter in await probe.parked()}
    assert len(letters) == 2 and letters[first.id].status == DeadLetterStatus.replayed
    [second] = [letter for letter in letters.values() if letter.id != first.id]
    assert second.message_id == first.message_id and second.attempts == 4
    assert probe.handler.calls[poison.request_id] == 8


async def test_a_permanent_failure_is_parked_at_once_and_discarded_with_a_reason(probe: Service) -> None:
    refused = RequestCancelled(request_id=uuid.uuid4())
    probe.handler.refused.add(refused.request_id)
    await probe.publish(refused)

    async def parked() -> bool:
        return len(await probe.parked()) == 1

    await eventually(parked)
    [letter] = (await probe.http.get("/dead-letters")).json()
    assert letter["attempts"] == 1 and letter["error"].startswith("permanent: PermanentFailure")

    discarded = await probe.http.post(
        f"/dead-letters/{letter['id']}/discard", json={"reason": "the request was withdrawn by phone"}
    )
    assert discarded.status_code == 200, discarded.text
    shown = (await probe.http.get(f"/dead-letters/{letter['id']}")).json()
    assert (shown["status"], shown["resolved_by"], shown["resolution_reason"]) == (
        "discarded",
        "rina",
        "the request was withdrawn by phone",
    )
    assert (await probe.http.post(f"/dead-letters/{letter['id']}/replay", json={})).status_code == 409
    assert await probe.announced() == ["operations.message_parked.v1", "operations.message_resolved.v1"]
    assert await probe.effects() == set() and probe.handler.calls[refused.request_id] == 1


async def test_a_dead_letter_delivered_twice_is_parked_once(probe: Service) -> None:
    envelope = Envelope.wrap(RequestCancelled(request_id=uuid.uuid4()), source="/t")
    headers = {"x-error": "malformed: test", "x-attempts": 1, "x-original-queue": probe.queue}
    headers["x-dead-letter-id"] = str(uuid.uuid4())
    for _ in range(2):
        await probe.broker.publish(
            envelope.to_json(),
            exchange=probe.topology.dead_letter_exchange,
            persist=True,
            headers=headers,
            message_id=str(envelope.id),
        )
    depth = await probe.broker.declare_queue(probe.topology.dead_letter_queue)

    async def drained() -> bool:
        return len(await probe.parked()) == 1 and (await depth.declare()).message_count == 0

    await eventually(drained)
    await asyncio.sleep(0.3)
    assert len(await probe.parked()) == 1
    assert await probe.announced() == ["operations.message_parked.v1"]


async def test_a_replay_no_queue_would_take_is_refused_and_the_letter_stays_parked(probe: Service) -> None:
    envelope = Envelope.wrap(RequestCancelled(request_id=uuid.uuid4()), source="/t")
    await probe.broker.publish(
        envelope.to_json(),
        exchange=probe.topology.dead_letter_exchange,
        persist=True,
        headers={
            "x-error": "permanent: test",
            "x-original-queue": f"dukcapil.{probe.topology.service}.removed-subscription",
            "x-dead-letter-id": str(uuid.uuid4()),
        },
        message_id=str(envelope.id),
    )

    async def parked() -> bool:
        return len(await probe.parked()) == 1

    await eventually(parked)
    [letter] = await probe.parked()
    refused = await probe.http.post(f"/dead-letters/{letter.id}/replay", json={})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "replay_unroutable"
    assert [letter.status for letter in await probe.parked()] == [DeadLetterStatus.parked]


async def test_bodies_their_content_type_misdescribes_and_junk_attempt_headers_are_parked_not_left_unsettled(
    probe: Service,
) -> None:
    """Found by fuzzing (tests/test_fuzz_consumers.py): FastStream decoded a body by its content type before the
    handler ran, and a junk x-attempt header failed before the handler's own error handling; either way the message
    was never settled and held a prefetch slot until the channel closed."""
    malformed = [
        (b"{not json", "application/json", {}),
        (b"\xff\xfe\x00", "text/plain", {}),
        (b"{}", None, {"x-attempt": "first"}),
        (b"{}", None, {"x-attempt": None}),
        (b"[]", None, {"x-attempt": -3}),
    ]
    for body, content_type, headers in malformed:
        await probe.broker.publish(
            body,
            exchange=EVENTS_EXCHANGE,
            routing_key="request.cancelled.v1",
            persist=True,
            content_type=content_type,
            headers=headers,
        )
    behind = RequestCancelled(request_id=uuid.uuid4())
    await probe.publish(behind)

    async def all_parked_and_the_next_one_done() -> bool:
        return len(await probe.parked()) == len(malformed) and str(behind.request_id) in await probe.effects()

    await eventually(all_parked_and_the_next_one_done)
    letters = await probe.parked()
    assert sorted(letter.body for letter in letters) == sorted(body for body, _type, _headers in malformed)
    assert all(letter.error.startswith("malformed: ") and letter.attempts == 1 for letter in letters)
    assert {letter.content_type for letter in letters} >= {"application/json", "text/plain"}


async def test_a_malformed_message_with_oversized_or_nul_attributes_is_parked_on_every_database(probe: Service) -> None:
    """The letter's columns are bounded (and PostgreSQL's text takes no NUL): what does not fit is cut, never a
    parking that fails again and again while the message waits on the broker."""
    envelope = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "/t",
        "type": "request.\u0000" + "x" * 400,
        "time": datetime.now(UTC).isoformat(),
        "subject": "s\u0000" + "y" * 300,
        "data": {},
    }
    body = json.dumps(envelope).encode()
    await probe.broker.publish(
        body,
        exchange=EVENTS_EXCHANGE,
        routing_key="request.cancelled.v1",
        persist=True,
        message_id="m" * 250,
        correlation_id="c\x00" * 100,
        content_type="application/" + "z" * 200,
        headers={"note": "a\x00b", "x-original-routing-key": "r\x00" * 150},
    )

    async def parked() -> bool:
        return len(await probe.parked()) == 1

    await eventually(parked)
    [letter] = await probe.parked()
    assert letter.body == body and letter.error.startswith("malformed: ")
    assert letter.message_id == "m" * 100 and letter.content_type == ("application/" + "z" * 200)[:100]
    assert len(letter.routing_key) == 200 and "\x00" not in letter.routing_key
    assert letter.subject is not None and len(letter.subject) <= 100 and "\x00" not in letter.subject
    assert "\x00" not in letter.error
    assert letter.headers["note"] == "a\x00b", "the headers are kept whole"


async def test_a_message_the_broker_dead_letters_at_the_delivery_limit_is_parked_with_why(engine, vhost) -> None:  # type: ignore[no-untyped-def]
    service = Service(engine, vhost, delivery_limit=1)
    # Declare the subscription queue without starting its consumer: a crashing consumer is played by hand.
    await service.broker.connect()
    await service.topology.declare(service.broker, {"crashing": ["request.rejected.v1"]}, [])
    parking_only = RabbitBroker(vhost, graceful_timeout=5)
    router = RabbitRouter()
    DeadLetterParking(topology=service.topology, unit_of_work=lambda: ops_unit_of_work(engine)).attach(router)
    parking_only.include_router(router)
    await parking_only.start()

    connection = await aio_pika.connect_robust(vhost)
    channel = await connection.channel()
    await channel.set_qos(prefetch_count=1)
    queue = await channel.get_queue(service.topology.subscription_queue("crashing").name, ensure=False)
    request_id = uuid.uuid4()
    envelope = Envelope.wrap(RequestCancelled(request_id=request_id), source="/t")
    exchange = await channel.get_exchange(EVENTS_EXCHANGE.name, ensure=False)
    await exchange.publish(
        aio_pika.Message(envelope.to_json(), message_id=str(envelope.id), correlation_id=str(request_id)),
        routing_key="request.rejected.v1",
    )
    for _ in range(5):  # each delivery "crashes": returned to the queue until the broker gives up on it
        message = await queue.get(fail=False, timeout=2)
        if message is None:
            break
        await message.nack(requeue=True)

    async def parked() -> bool:
        async with ops_unit_of_work(engine) as uow:
            return len(await uow.dead_letters.list(DeadLetterQuery())) == 1

    await eventually(parked)
    async with ops_unit_of_work(engine) as uow:
        [letter] = await uow.dead_letters.list(DeadLetterQuery())
    assert letter.original_queue == service.topology.subscription_queue("crashing").name
    assert "delivery limit" in letter.error and letter.subject == str(request_id)
    assert letter.headers["x-death"][0]["reason"] == "delivery_limit"
    await connection.close()
    await parking_only.stop()
    await service.stop()


async def test_a_dead_letter_stays_on_the_broker_while_the_database_is_away_and_is_parked_once_after(  # type: ignore[no-untyped-def]
    engine, vhost
) -> None:
    outage = {"attempts_left": 3}

    def database_away_at_first() -> SqlOpsUnitOfWork:
        if outage["attempts_left"]:
            outage["attempts_left"] -= 1
            raise ConnectionRefusedError("the database is away")
        return ops_unit_of_work(engine)

    topology = ServiceTopology(f"probe{uuid.uuid4().hex[:6]}")
    broker = RabbitBroker(vhost, graceful_timeout=5)
    router = RabbitRouter()
    DeadLetterParking(topology=topology, unit_of_work=database_away_at_first, retry_pauses=(0.05, 0.1)).attach(router)
    broker.include_router(router)
    await broker.connect()
    await topology.declare(broker, {}, [])
    await broker.start()
    envelope = Envelope.wrap(RequestCancelled(request_id=uuid.uuid4()), source="/t")
    await broker.publish(
        envelope.to_json(),
        exchange=topology.dead_letter_exchange,
        persist=True,
        headers={"x-error": "permanent: test", "x-dead-letter-id": str(uuid.uuid4())},
        message_id=str(envelope.id),
    )

    async def parked() -> bool:
        async with ops_unit_of_work(engine) as uow:
            return len(await uow.dead_letters.list(DeadLetterQuery())) == 1

    await eventually(parked)
    assert outage["attempts_left"] == 0
    await broker.stop()


async def test_a_replay_while_the_broker_is_unreachable_fails_without_waiting_long() -> None:
    unreachable = RabbitBroker("amqp://guest:guest@127.0.0.1:1/")
    republisher = BrokerRepublisher(broker=unreachable, topology=ServiceTopology("probe"), timeout=1, user=None)
    letter = parse_dead_letter(
        body=b"{}",
        headers={"x-original-queue": "dukcapil.probe.x"},
        message_id="m",
        correlation_id=None,
        content_type=None,
        message_type=None,
        routing_key=None,
        now=datetime.now(UTC),
    )
    started = time.monotonic()
    with pytest.raises(ReplayFailed):
        await republisher.republish(letter)
    assert time.monotonic() - started < 2


# --- the repository ---


def letter(**changes: object) -> DeadLetter:
    now = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
    values: dict[str, object] = {
        "id": uuid.uuid4(),
        "message_id": str(uuid.uuid4()),
        "original_queue": "dukcapil.review.requests",
        "routing_key": "request.submitted.v1",
        "subject": str(uuid.uuid4()),
        "body": b'{"id": "x"}',
        "content_type": "application/cloudevents+json",
        "headers": {"x-attempts": 6, "x-death": [{"reason": "delivery_limit", "count": 1}]},
        "error": "attempts exhausted: RuntimeError: boom",
        "attempts": 6,
        "first_failure_at": now - timedelta(minutes=12),
        "last_failure_at": now - timedelta(minutes=1),
        "parked_at": now,
    }
    return DeadLetter(**(values | changes))  # type: ignore[arg-type]


async def test_the_repository_parks_once_filters_and_resolves_once(engine) -> None:  # type: ignore[no-untyped-def]
    first = letter()
    second = letter(original_queue="dukcapil.review.other", parked_at=first.parked_at + timedelta(seconds=1))
    binary = letter(body=b"\xff\x00\xfe", parked_at=first.parked_at + timedelta(seconds=2))
    nul = letter(body=b'{"a": "\x00"}', parked_at=first.parked_at + timedelta(seconds=3))
    async with ops_unit_of_work(engine) as uow:
        for item in (first, second, binary, nul):
            assert await uow.dead_letters.add(item)
        assert not await uow.dead_letters.add(first), "the same letter again is not parked twice"
        await uow.commit()

    async with ops_unit_of_work(engine) as uow:
        assert await uow.dead_letters.get(first.id) == first
        assert (await uow.dead_letters.get(binary.id)).body == b"\xff\x00\xfe"  # type: ignore[union-attr]
        assert (await uow.dead_letters.get(nul.id)).body == b'{"a": "\x00"}'  # type: ignore[union-attr]
        everything = await uow.dead_letters.list(DeadLetterQuery())
        assert [x.id for x in everything] == [first.id, second.id, binary.id, nul.id]
        other = DeadLetterQuery(original_queue="dukcapil.review.other")
        assert [x.id for x in await uow.dead_letters.list(other)] == [second.id]
        by_subject = DeadLetterQuery(subject=first.subject)
        assert [x.id for x in await uow.dead_letters.list(by_subject)] == [first.id]
        assert [x.id for x in await uow.dead_letters.list(DeadLetterQuery(limit=1, offset=1))] == [second.id]

        resolved = await uow.dead_letters.get(first.id)
        assert resolved is not None
        resolved.resolve(DeadLetterStatus.discarded, by="rina", reason="test", at=first.parked_at)
        await uow.dead_letters.save_resolution(resolved)
        await uow.commit()

    async with ops_unit_of_work(engine) as uow:
        stale = letter(id=first.id)
        stale.resolve(DeadLetterStatus.replayed, by="budi", reason=None, at=first.parked_at)
        with pytest.raises(LetterAlreadyResolved) as refused:
            await uow.dead_letters.save_resolution(stale)
        assert refused.value.letter.resolved_by == "rina"
    async with ops_unit_of_work(engine) as uow:
        assert [x.id for x in await uow.dead_letters.list(DeadLetterQuery(status=DeadLetterStatus.discarded))] == [
            first.id
        ]
        count = await uow._connection.execute(select(func.count()).select_from(dead_letters))  # type: ignore[union-attr]
        assert count.scalar_one() == 4
