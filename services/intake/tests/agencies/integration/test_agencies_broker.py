"""Agencies against the real RabbitMQ: onboarded through the management API, an agency's user consumes exactly its
entitled events in its variant and can read, bind, declare or publish nothing else; offboarding cuts it off;
a replay delivers a time range again; the README's example subscriber records each event once; and intake
itself announces an issued document to an entitled agency."""

import asyncio
import importlib.util
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import aio_pika
import aio_pika.abc
import aio_pika.exceptions
import aiormq.exceptions
import httpx
import pytest
from faststream.rabbit import RabbitBroker

from dukcapil_intake import bootstrap
from dukcapil_intake.accounts.service_layer.accounts import DEVELOPMENT_PASSWORD
from dukcapil_intake.agencies.adapters import tables
from dukcapil_intake.agencies.adapters.rabbitmq_admin import REPLAY_HEADER
from dukcapil_intake.agencies.domain.public_events import PublicEventRecord
from dukcapil_intake.agencies.service_layer import agencies
from dukcapil_intake.bootstrap import AgencyDesk, build_agency_desk, build_app
from dukcapil_intake.settings import IntakeSettings
from dukcapil_shared.contracts import DocumentIssued, Envelope
from dukcapil_shared.contracts.public import DeathRegistered, FamilyCardIssued, ResidenceMoved
from dukcapil_shared.messaging import (
    EVENTS_EXCHANGE,
    IDENTIFIED_PUBLIC_EXCHANGE,
    PUBLIC_EXCHANGE,
    OutboxRelay,
    declare_public_exchanges,
)

from ...requests.unit.test_validation import SITI, death

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[5]
SIXTEEN_DIGITS = re.compile(r"(?<!\d)\d{16}(?!\d)")
T0 = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
DECEASED = "3602140101500002"


@pytest.fixture(autouse=True)
def _leave_logging_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bootstrap, "configure_logging", lambda *args, **kwargs: None)


class Office:
    """Intake's side for one test: its database, the agencies' desk on a vhost of the test's own, and the relays
    of the public logs. Broker users are cluster-wide, so every agency onboarded here is removed at the end."""

    def __init__(self, settings: IntakeSettings) -> None:
        self.settings = settings
        self.amqp_url = settings.amqp_url
        self.desk: AgencyDesk = build_agency_desk(settings)
        self.suffix = uuid.uuid4().hex[:6]
        self.onboarded: list[str] = []
        self.connections: list[aio_pika.abc.AbstractConnection] = []
        self.documents_url = self.documents_user = ""

    def name(self, agency: str) -> str:
        return f"{agency}-{self.suffix}"

    async def onboard(self, agency: str, event_types: list[str], regions: list[str], identified: bool = False):  # type: ignore[no-untyped-def]
        command = agencies.OnboardAgency(
            name=self.name(agency), event_types=event_types, region_prefixes=regions, identified=identified, by="test"
        )
        self.onboarded.append(self.name(agency))
        return await agencies.onboard_agency(command, uow=self.desk.unit_of_work(), broker=self.desk.broker)

    async def connect_as(self, onboarded: agencies.Onboarded) -> aio_pika.abc.AbstractConnection:
        url = self.desk.connection_url(onboarded.agency.broker_user, onboarded.password)
        connection = await aio_pika.connect(url)
        self.connections.append(connection)
        return connection

    async def log(self, *events: tuple[datetime, Any]) -> list[PublicEventRecord]:
        records = [PublicEventRecord(uuid.uuid4(), event, moment, uuid.uuid4()) for moment, event in events]
        async with self.desk.unit_of_work() as uow:
            for record in records:
                await uow.public_events.add(record)
            await uow.commit()
        return records

    async def publish_logged(self) -> int:
        broker = RabbitBroker(self.amqp_url)
        await broker.connect()
        try:
            await declare_public_exchanges(broker)
            published = 0
            for log_table, exchange in (
                (tables.public_events, PUBLIC_EXCHANGE),
                (tables.identified_public_events, IDENTIFIED_PUBLIC_EXCHANGE),
            ):
                relay = OutboxRelay(
                    engine=self.desk.engine,
                    outbox=log_table,
                    broker=broker,
                    source="/dukcapil/lebak",
                    exchange=exchange,
                )
                try:
                    published += await relay.publish_pending()
                finally:
                    await relay.close()
        finally:
            await broker.stop()
        return published

    async def close(self) -> None:
        for connection in self.connections:
            if not connection.is_closed:
                await connection.close()
        for name in self.onboarded:
            await self.desk.broker.delete_user(f"agency-{name}")
        await self.desk.close()


@pytest.fixture
async def office(tmp_path: Path, rabbitmq, rabbitmq_management: str) -> AsyncIterator[Office]:  # type: ignore[no-untyped-def]
    settings = IntakeSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/intake.db",
        AMQP_URL=rabbitmq.create(),
        rabbitmq_management_url=rabbitmq_management,
        attachments_dir=str(tmp_path / "attachments"),
        notifications_enabled=False,
        outbox_poll_interval=0.1,
        graceful_timeout=5,
        log_json=False,
        **rabbitmq.service_settings("intake"),
    )
    office = Office(settings)
    office.documents_url = rabbitmq.url_as(settings.amqp_url, "documents")
    office.documents_user = rabbitmq.user("documents")
    await office.desk.open()
    yield office
    await office.close()


def a_death(region: str, document: int, nik: str = DECEASED) -> DeathRegistered:
    return DeathRegistered(
        document_number=f"AKM/3602/2026/{document:06d}", region_code=region, deceased_nik=nik, date_of_death=T0.date()
    )


async def drain(
    connection: aio_pika.abc.AbstractConnection, queue_name: str, expected: int, settle: float = 0.5
) -> list[aio_pika.abc.AbstractIncomingMessage]:
    """The messages in the queue, acknowledged: waits for `expected`, then a little longer for any extra."""
    channel = await connection.channel()
    queue = await channel.get_queue(queue_name, ensure=True)
    messages: list[aio_pika.abc.AbstractIncomingMessage] = []
    deadline = time.monotonic() + 10
    quiet_until = None
    while time.monotonic() < deadline:
        message = await queue.get(no_ack=False, fail=False)
        if message is not None:
            await message.ack()
            messages.append(message)
            continue
        if len(messages) >= expected:
            quiet_until = quiet_until or time.monotonic() + settle
            if time.monotonic() >= quiet_until:
                break
        await asyncio.sleep(0.05)
    await channel.close()
    return messages


async def test_each_agency_consumes_exactly_its_entitled_events_in_its_variant(office: Office) -> None:
    bpjs = await office.onboard("bpjs", ["death.registered.v1"], ["36.02.14"])
    kpu = await office.onboard("kpu", ["death.registered.v1", "residence.moved.v1"], ["36.02"], identified=True)
    death_here, death_there, family, moved = await office.log(
        (T0, a_death("36.02.14", 1)),
        (T0, a_death("36.02.03", 2, nik="3602034107900001")),
        (T0, FamilyCardIssued(document_number="KK/3602/2026/000001", region_code="36.02.14", reason="data_change")),
        (
            T0,
            ResidenceMoved(
                document_number="SKPWNI/3602/2026/000001",
                region_code="36.02.14",
                origin_kecamatan_code="36.02.14",
                destination_kecamatan_code="36.04.05",
                people_count=1,
                mover_niks=["3602141205850003"],
            ),
        ),
    )
    assert await office.publish_logged() == 8, "each event once on each exchange"

    [received] = await drain(await office.connect_as(bpjs), bpjs.agency.queue, expected=1)
    assert received.message_id == str(death_here.id)
    assert received.correlation_id == "AKM/3602/2026/000001"
    assert received.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
    envelope = json.loads(received.body)
    assert (envelope["type"], envelope["subject"], envelope["source"]) == (
        "death.registered.v1",
        "AKM/3602/2026/000001",
        "/dukcapil/lebak",
    )
    assert envelope["data"]["deceased_nik"] == "360214******0002"
    assert not SIXTEEN_DIGITS.search(received.body.decode())

    identified = await drain(await office.connect_as(kpu), kpu.agency.queue, expected=3)
    assert sorted(m.message_id for m in identified) == sorted(str(r.id) for r in (death_here, death_there, moved))
    bodies = {m.message_id: json.loads(m.body)["data"] for m in identified}
    assert bodies[str(death_there.id)]["deceased_nik"] == "3602034107900001"
    assert bodies[str(moved.id)]["mover_niks"] == ["3602141205850003"]
    assert str(family.id) not in bodies


async def refused(connection: aio_pika.abc.AbstractConnection, action: Callable[[Any], Awaitable[Any]]) -> str:
    """Run `action` on a fresh channel; the broker must refuse it with 403 ACCESS_REFUSED."""
    channel = await connection.channel()
    with pytest.raises(aiormq.exceptions.ChannelAccessRefused) as refusal:
        await asyncio.wait_for(action(channel), timeout=10)
    return str(refusal.value)


async def test_an_agency_user_can_read_nothing_else_and_bind_declare_or_publish_nothing(office: Office) -> None:
    bpjs = await office.onboard("bpjs", ["death.registered.v1"], ["36.02.14"])
    kpu = await office.onboard("kpu", ["death.registered.v1"], ["36.02"], identified=True)
    # A service's queue, with an internal event in it.
    async with await aio_pika.connect(office.amqp_url) as admin:
        channel = await admin.channel()
        events = await channel.declare_exchange(EVENTS_EXCHANGE.name, aio_pika.ExchangeType.TOPIC, durable=True)
        service_queue = await channel.declare_queue("dukcapil.review.requests", durable=True)
        await service_queue.bind(events, "request.submitted.v1")
        await events.publish(aio_pika.Message(b'{"secret": true}'), routing_key="request.submitted.v1")
    agency = await office.connect_as(bpjs)
    own_queue = bpjs.agency.queue

    def get(queue_name: str) -> Callable[[Any], Awaitable[Any]]:
        async def action(channel: aio_pika.abc.AbstractChannel) -> Any:
            queue = await channel.get_queue(queue_name, ensure=False)
            return await queue.get(fail=False)

        return action

    # Reading: only its own queues.
    assert "dukcapil.review.requests" in await refused(agency, get("dukcapil.review.requests"))
    assert kpu.agency.queue in await refused(agency, get(kpu.agency.queue))
    assert kpu.agency.dead_letter_queue in await refused(agency, get(kpu.agency.dead_letter_queue))
    channel = await agency.channel()
    assert await (await channel.get_queue(own_queue, ensure=True)).get(fail=False) is None, "its own queue: allowed"
    assert await (await channel.get_queue(bpjs.agency.dead_letter_queue)).get(fail=False) is None

    # Binding: not its own queue to anything, not even to its own entitlement; the internal exchange least of all.
    def bind(exchange: str, key: str) -> Callable[[Any], Awaitable[Any]]:
        async def action(channel: aio_pika.abc.AbstractChannel) -> Any:
            queue = await channel.get_queue(own_queue, ensure=False)
            return await queue.bind(exchange, routing_key=key)

        return action

    for exchange, key in (
        (EVENTS_EXCHANGE.name, "#"),
        (PUBLIC_EXCHANGE.name, "#"),
        (PUBLIC_EXCHANGE.name, "family_card.issued.v1.36.02.14.#"),
        (PUBLIC_EXCHANGE.name, "death.registered.v1.36.02.14.#"),
        (IDENTIFIED_PUBLIC_EXCHANGE.name, "death.registered.v1.36.02.14.#"),
    ):
        await refused(agency, bind(exchange, key))

    # Declaring or deleting: nothing, not even a private server-named queue.
    await refused(agency, lambda channel: channel.declare_queue(f"agency.{bpjs.agency.name}.extra", durable=True))
    await refused(agency, lambda channel: channel.declare_queue(exclusive=True))
    await refused(agency, lambda channel: channel.declare_exchange("mine", aio_pika.ExchangeType.FANOUT))
    await refused(agency, lambda channel: channel.queue_delete(own_queue))

    # Publishing: nowhere, the default exchange (straight into a queue) included.
    def publish(exchange: str, key: str) -> Callable[[Any], Awaitable[Any]]:
        async def action(channel: aio_pika.abc.AbstractChannel) -> Any:
            target = channel.default_exchange if exchange == "" else await channel.get_exchange(exchange, ensure=False)
            return await target.publish(aio_pika.Message(b"{}"), routing_key=key)

        return action

    for exchange, key in (
        (EVENTS_EXCHANGE.name, "document.issued.v1"),
        (PUBLIC_EXCHANGE.name, "death.registered.v1.36.02.14"),
        (IDENTIFIED_PUBLIC_EXCHANGE.name, "death.registered.v1.36.02.14"),
        ("", own_queue),
        ("", kpu.agency.queue),
        ("", "dukcapil.review.requests"),
    ):
        await refused(agency, publish(exchange, key))

    # The management API is closed to it too, and the service queue still holds its message, unread.
    async with httpx.AsyncClient(auth=(bpjs.agency.broker_user, bpjs.password)) as client:
        answer = await client.get(f"{office.settings.rabbitmq_management_url}/api/queues")
    assert answer.status_code == 401
    state = await office.desk.broker.queue_state("dukcapil.review.requests")
    assert state is not None
    assert not agency.is_closed, "refusals close channels, not the connection"


async def test_topic_permissions_hold_the_agency_to_its_entitlements_even_if_it_could_bind(office: Office) -> None:
    bpjs = await office.onboard("bpjs", ["death.registered.v1"], ["36.02.14"])
    await office.desk.broker.declare_topic_exchange(EVENTS_EXCHANGE.name)  # as the services declare it
    name = re.escape(bpjs.agency.name)
    # An operator's mistake: the agency may now bind its queue and read every exchange.
    await office.desk.broker.set_permissions(
        bpjs.agency.broker_user,
        configure="^$",
        write=rf"^agency\.{name}\.events$",
        read=rf"^(agency\.{name}\.(events|dead)|dukcapil\.(events|public|public\.identified))$",
    )
    agency = await office.connect_as(bpjs)

    def bind(exchange: str, key: str) -> Callable[[Any], Awaitable[Any]]:
        async def action(channel: aio_pika.abc.AbstractChannel) -> Any:
            queue = await channel.get_queue(bpjs.agency.queue, ensure=False)
            return await queue.bind(exchange, routing_key=key)

        return action

    for exchange, key in (
        (PUBLIC_EXCHANGE.name, "death.registered.v1.#"),
        (PUBLIC_EXCHANGE.name, "death.registered.v1.36.02.#"),
        (PUBLIC_EXCHANGE.name, "family_card.issued.v1.36.02.14.#"),
        (PUBLIC_EXCHANGE.name, "#"),
        (IDENTIFIED_PUBLIC_EXCHANGE.name, "death.registered.v1.36.02.14.#"),
        (EVENTS_EXCHANGE.name, "document.issued.v1"),
    ):
        assert "topic" in await refused(agency, bind(exchange, key)), (exchange, key)
    channel = await agency.channel()
    await bind(PUBLIC_EXCHANGE.name, "death.registered.v1.36.02.14")(channel)  # within its entitlement


async def test_offboarding_cuts_the_agency_off_and_removes_its_queues(office: Office) -> None:
    bpjs = await office.onboard("bpjs", ["death.registered.v1"], ["36.02"])
    agency = await office.connect_as(bpjs)
    closed_by_broker: list[BaseException | None] = []
    agency.close_callbacks.add(lambda _connection, error: closed_by_broker.append(error))
    channel = await agency.channel()

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        await message.ack()

    await (await channel.get_queue(bpjs.agency.queue)).consume(on_message)

    async def connected() -> bool:
        # The management API lists a connection a moment after it opens.
        async with httpx.AsyncClient(auth=("guest", "guest")) as client:
            answer = await client.get(f"{office.settings.rabbitmq_management_url}/api/connections")
        return any(item.get("user") == bpjs.agency.broker_user for item in answer.json())

    async def cut_off() -> bool:
        return bool(closed_by_broker)

    await until(connected)
    await agencies.offboard_agency(bpjs.agency.name, uow=office.desk.unit_of_work(), broker=office.desk.broker, by="t")

    await until(cut_off)
    assert "CONNECTION_FORCED" in str(closed_by_broker[0])
    again = aio_pika.Connection(office.desk.connection_url(bpjs.agency.broker_user, bpjs.password))
    with pytest.raises(aio_pika.exceptions.ProbableAuthenticationError):
        await again.connect(timeout=10)
    await again.close()
    assert not await office.desk.broker.user_exists(bpjs.agency.broker_user)
    assert await office.desk.broker.queue_state(bpjs.agency.queue) is None
    assert await office.desk.broker.queue_state(bpjs.agency.dead_letter_queue) is None
    assert await agencies.list_agencies(uow=office.desk.unit_of_work(), broker=office.desk.broker) == []


async def _true(value: bool) -> bool:
    return value


async def until(condition: Callable[[], Awaitable[bool]], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def test_a_replay_delivers_exactly_the_time_range_again_with_the_original_ids(office: Office) -> None:
    kpu = await office.onboard("kpu", ["death.registered.v1"], ["36.02"], identified=True)
    bpjs = await office.onboard("bpjs", ["death.registered.v1"], ["36.02.14"])
    records = await office.log(
        *((T0 + timedelta(hours=hour), a_death("36.02.14", hour + 1)) for hour in range(4)),
        (T0 + timedelta(hours=1, minutes=30), a_death("36.02.03", 9, nik="3602034107900001")),
    )
    await office.publish_logged()
    kpu_connection, bpjs_connection = await office.connect_as(kpu), await office.connect_as(bpjs)
    assert len(await drain(kpu_connection, kpu.agency.queue, expected=5)) == 5
    assert len(await drain(bpjs_connection, bpjs.agency.queue, expected=4)) == 4

    since, until_ = T0 + timedelta(hours=1), T0 + timedelta(hours=3)
    replayed = await agencies.replay_to_agency(
        kpu.agency.name, since=since, until=until_, uow=office.desk.unit_of_work(), delivery=office.desk.delivery
    )
    assert len(replayed.events) == 3
    again = await drain(kpu_connection, kpu.agency.queue, expected=3)
    assert [m.message_id for m in again] == [str(records[1].id), str(records[4].id), str(records[2].id)]
    assert all(m.headers.get("x-replayed-at") for m in again)
    live_keys = {"death.registered.v1.36.02.14", "death.registered.v1.36.02.03"}
    assert {m.routing_key for m in again} <= live_keys, "a replayed event keeps the routing key it had live"
    assert all("BCC" not in (m.headers or {}) for m in again)
    assert json.loads(again[1].body)["data"]["deceased_nik"] == "3602034107900001", "the identified variant"
    assert again[0].correlation_id == "AKM/3602/2026/000002"

    await agencies.replay_to_agency(
        bpjs.agency.name, since=since, until=until_, uow=office.desk.unit_of_work(), delivery=office.desk.delivery
    )
    masked = await drain(bpjs_connection, bpjs.agency.queue, expected=2)
    assert [m.message_id for m in masked] == [str(records[1].id), str(records[2].id)], "only its kecamatan"
    assert not any(SIXTEEN_DIGITS.search(m.body.decode()) for m in masked)


def load_example() -> Any:
    spec = importlib.util.spec_from_file_location("agency_subscriber", ROOT / "examples" / "agency_subscriber.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_the_example_subscriber_records_each_event_once_through_redeliveries_and_replays(
    office: Office, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    example = load_example()
    bpjs = await office.onboard("bpjs", ["death.registered.v1"], ["36.02"])
    await office.log(*((T0 + timedelta(minutes=minute), a_death("36.02.14", minute + 1)) for minute in range(3)))
    await office.publish_logged()
    url = office.desk.connection_url(bpjs.agency.broker_user, bpjs.password)
    database = example.open_database(str(tmp_path / "agency.db"))
    printed: list[str] = []

    def lines(start: str) -> int:
        printed.extend(capsys.readouterr().out.splitlines())
        return sum(line.startswith(start) for line in printed)

    async def consuming_until(condition: Callable[[], Awaitable[bool]]) -> None:
        stop = asyncio.Event()
        consumer = asyncio.create_task(example.consume(url, bpjs.agency.queue, database, stop))
        try:
            await until(condition)
        finally:
            stop.set()
            await asyncio.wait_for(consumer, timeout=10)

    async def all_recorded() -> bool:
        return lines("recorded death.registered.v1") == 3

    await consuming_until(all_recorded)

    # After an outage the office replays the day: every event arrives again, and nothing is stored twice.
    await agencies.replay_to_agency(
        bpjs.agency.name,
        since=T0 - timedelta(hours=1),
        until=T0 + timedelta(hours=1),
        uow=office.desk.unit_of_work(),
        delivery=office.desk.delivery,
    )
    # And something that is no event, put into the agency's queue by the office's administrator.
    async with await aio_pika.connect(office.amqp_url) as admin:
        channel = await admin.channel()
        await channel.default_exchange.publish(aio_pika.Message(b"not json"), routing_key=bpjs.agency.queue)

    async def duplicates_dropped_and_the_stranger_dead_lettered() -> bool:
        return lines("duplicate death.registered.v1") == 3 and lines("rejected") == 1

    await consuming_until(duplicates_dropped_and_the_stranger_dead_lettered)
    assert sum("(replayed)" in line for line in printed) == 3
    rows = database.execute("SELECT subject, type FROM events ORDER BY subject").fetchall()
    assert rows == [(f"AKM/3602/2026/00000{n}", "death.registered.v1") for n in (1, 2, 3)]
    database.close()
    async with await aio_pika.connect(url) as agency:
        channel = await agency.channel()
        dead = await channel.declare_queue(bpjs.agency.dead_letter_queue, passive=True)
        [stranger] = [await dead.get()]
        assert stranger.body == b"not json"
        await stranger.ack()


async def test_intake_announces_an_issued_death_certificate_to_an_entitled_agency(office: Office) -> None:
    bpjs = await office.onboard("bpjs", ["death.registered.v1"], ["36.02.14"])
    app = build_app(office.settings)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake")
    async with app.router.lifespan_context(app):
        body = {
            "type": "akta_kematian",
            "applicant": SITI.model_dump(mode="json", exclude_none=True),
            "details": death(date_of_death=(date.today() - timedelta(days=2)).isoformat()),
            "delivery": {"method": "pickup", "pickup_kecamatan_code": "36.02.14"},
        }
        submitted = await client.post("/requests", json=body)
        assert submitted.status_code == 201, submitted.text
        request = submitted.json()
        issued = DocumentIssued(
            request_id=uuid.UUID(request["id"]),
            document_id=uuid.uuid4(),
            document_number="AKM/3602/2026/000042",
            request_type="akta_kematian",
            checksum_sha256="0" * 64,
            applicant=SITI,
            delivery={"method": "pickup", "pickup_kecamatan_code": "36.02.14"},
            kecamatan_code="36.02.14",
        )
        envelope = Envelope.wrap(issued, source="/dukcapil/lebak/documents")
        async with await aio_pika.connect(office.documents_url) as connection:  # as documents publishes it
            channel = await connection.channel()
            exchange = await channel.get_exchange(EVENTS_EXCHANGE.name)
            message = aio_pika.Message(
                envelope.to_json(),
                message_id=str(envelope.id),
                correlation_id=envelope.subject,
                user_id=office.documents_user,
            )
            await exchange.publish(message, routing_key=envelope.type)
        [announced] = await drain(await office.connect_as(bpjs), bpjs.agency.queue, expected=1)
    await client.aclose()
    wire = json.loads(announced.body)
    assert (wire["type"], wire["subject"]) == ("death.registered.v1", "AKM/3602/2026/000042")
    assert wire["data"] == {
        "document_number": "AKM/3602/2026/000042",
        "region_code": "36.02.14",
        "deceased_nik": "360214******0002",
        "date_of_death": body["details"]["date_of_death"],
    }
    assert request["id"] not in announced.body.decode() and announced.correlation_id == "AKM/3602/2026/000042"
    assert "Sarmadi" not in announced.body.decode() and SITI.name not in announced.body.decode()


async def test_an_admin_onboards_replays_and_offboards_over_http(office: Office) -> None:
    app = build_app(office.settings)
    name = office.name("bps")
    office.onboarded.append(name)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake") as client,
    ):

        async def token_of(username: str) -> dict[str, str]:
            form = {"grant_type": "password", "username": username, "password": DEVELOPMENT_PASSWORD}
            signed_in = await client.post("/auth/token", data=form)
            assert signed_in.status_code == 200, signed_in.text
            return {"Authorization": f"Bearer {signed_in.json()['access_token']}"}

        admin, supervisor = await token_of("admin"), await token_of("supervisor")
        offer = {"name": name, "event_types": ["death.registered.v1"], "region_prefixes": ["36.02.14"]}
        forbidden = await client.post("/agencies", json=offer, headers=supervisor)
        assert forbidden.status_code == 403 and forbidden.json()["error"]["code"] == "insufficient_scope"
        assert (await client.get("/agencies", headers=supervisor)).status_code == 403

        catalogue = (await client.get("/agencies/event-types", headers=admin)).json()
        assert "death.registered.v1" in [event["type"] for event in catalogue]
        outside = await client.post("/agencies", json={**offer, "region_prefixes": ["32.01"]}, headers=admin)
        assert outside.status_code == 422
        assert outside.json()["error"]["code"] == "agency_refused"
        assert [detail["field"] for detail in outside.json()["error"]["details"]] == ["region_prefixes"]
        assert "outside Kabupaten Lebak" in outside.json()["error"]["message"]

        onboarded = await client.post("/agencies", json=offer, headers=admin)
        assert onboarded.status_code == 201, onboarded.text
        assert onboarded.headers["cache-control"] == "no-store", "the password is answered once and never cached"
        credentials = onboarded.json()
        assert (credentials["queue"], credentials["onboarded_by"]) == (f"agency.{name}.events", "admin")
        again = await client.post("/agencies", json=offer, headers=admin)
        assert again.status_code == 409 and again.json()["error"]["code"] == "agency_exists"
        [listed] = [a for a in (await client.get("/agencies", headers=admin)).json() if a["name"] == name]
        assert listed["event_types"] == ["death.registered.v1"] and "password" not in listed

        # The agency connects with what the answer gave, and a replay from the log reaches it.
        [logged] = await office.log((T0, a_death("36.02.14", 7)))
        window = {"since": (T0 - timedelta(hours=1)).isoformat(), "until": (T0 + timedelta(hours=1)).isoformat()}
        replayed = await client.post(f"/agencies/{name}/replays", json=window, headers=admin)
        assert replayed.status_code == 200, replayed.text
        assert replayed.json()["by_event_type"] == {"death.registered.v1": 1}
        agency = await aio_pika.connect(credentials["amqp_url"])
        office.connections.append(agency)
        cut_off: list[BaseException | None] = []
        agency.close_callbacks.add(lambda _connection, error: cut_off.append(error))
        # Intake's relay publishes the logged event live as well: the agency gets it twice, with the same id.
        received = await drain(agency, credentials["queue"], expected=2)
        assert [message.message_id for message in received] == [str(logged.id)] * 2
        assert [REPLAY_HEADER in (message.headers or {}) for message in received].count(True) == 1
        backwards = await client.post(
            f"/agencies/{name}/replays", json={"since": window["until"], "until": window["since"]}, headers=admin
        )
        assert backwards.status_code == 422 and backwards.json()["error"]["code"] == "invalid_time_range"

        gone = await client.delete(f"/agencies/{name}", headers=admin)
        assert gone.status_code == 200, gone.text
        assert not gone.json()["leftover"]
        await until(lambda: _true(bool(cut_off)))  # deleting its user cut the agency off
        missing = await client.delete(f"/agencies/{name}", headers=admin)
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "agency_not_found"
        assert name not in [a["name"] for a in (await client.get("/agencies", headers=admin)).json()]


async def test_a_management_api_that_does_not_answer_is_a_503_that_says_what_to_do(office: Office) -> None:
    settings = office.settings.model_copy(update={"rabbitmq_management_url": "http://127.0.0.1:9"})
    app = build_app(settings)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake") as client,
    ):
        form = {"grant_type": "password", "username": "admin", "password": DEVELOPMENT_PASSWORD}
        token = (await client.post("/auth/token", data=form)).json()["access_token"]
        offer = {"name": office.name("bps"), "event_types": ["death.registered.v1"], "region_prefixes": ["36.02"]}
        refused = await client.post("/agencies", json=offer, headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 503
    error = refused.json()["error"]
    assert error["code"] == "broker_admin_failed" and "rabbitmq-plugins enable rabbitmq_management" in error["message"]
