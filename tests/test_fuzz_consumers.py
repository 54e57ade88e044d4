"""Fuzzing every service's event consumers with malformed messages, against the real RabbitMQ.

Each service runs in-process as its composition root builds it (SQLite in a scratch directory, a RabbitMQ vhost
of its own). Hypothesis makes messages no contract accepts: random bytes, text that is not JSON, JSON that is
not an envelope, envelopes missing an attribute or with a wrong one, unknown event types, data that does not fit
the type, huge strings, odd content types, no message id, junk in the headers the consumer reads. Each is
published to one of the service's subscriptions and must come out parked as a dead letter, with its reason,
exactly once; afterwards nothing is left on the broker and the service still processes a valid event.
"""

import asyncio
import importlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aio_pika
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy import and_, func, select

from dukcapil_shared.contracts import (
    ALL_EVENTS,
    CONTENT_TYPE,
    OPERATIONS_EVENTS,
    Delivery,
    Envelope,
    Event,
    MessageParked,
    Person,
    RequestApproved,
    RequestSubmitted,
    UnknownEventType,
)
from dukcapil_shared.messaging import EVENTS_EXCHANGE
from dukcapil_shared.ops.dead_letters import DeadLetter
from dukcapil_shared.ops.store import DeadLetterQuery

pytestmark = pytest.mark.integration

EXAMPLES_PER_SERVICE = 60
SOME_REQUEST = uuid.UUID("6f1c1a52-8d1e-4c55-9d0b-2d5c3f4e5a61")
SITI = Person(nik="3602144107900001", name="Siti Aminah")
PICKUP = Delivery(method="pickup", pickup_kecamatan_code="36.02.14")


def settings_for(service: str, scratch: Path, amqp_url: str, broker: dict[str, object]) -> Any:
    common: dict[str, Any] = {
        "AMQP_URL": amqp_url,
        **broker,
        "database_url": f"sqlite+aiosqlite:///{scratch}/{service}.db",
        "retry_delays_ms": [100, 200],
        "log_json": False,
    }
    extra: dict[str, dict[str, Any]] = {
        "intake": {"attachments_dir": str(scratch / "attachments"), "notifications_enabled": False},
        "review": {},
        "documents": {"storage_dir": str(scratch / "documents"), "signing_key_file": str(scratch / "key.pem")},
        "shipping": {
            "courier_url": "http://127.0.0.1:9",
            "booking_interval": 3600,
            "tracking_interval": 3600,
            "stuck_check_interval": 3600,
        },
    }
    module = importlib.import_module(f"dukcapil_{service}.settings")
    settings_class = next(
        value for name, value in vars(module).items() if name.endswith("Settings") and name != "ServiceSettings"
    )
    return settings_class(**common, **extra[service])


def valid_event(service: str) -> Event:
    """An event the service's handlers process with nothing before it."""
    if service == "intake":
        return MessageParked(
            request_id=uuid.uuid4(),
            service="review",
            queue="dukcapil.review.requests",
            message_routing_key="request.submitted.v1",
            error="attempts exhausted: RuntimeError: boom",
            attempts=3,
            dead_letter_id=uuid.uuid4(),
        )
    common: dict[str, Any] = {
        "request_id": uuid.uuid4(),
        "request_number": "LBK-3602.14-20261128-0007",
        "request_type": "kartu_keluarga",
        "applicant": SITI,
        "details": {"reason": "split"},
        "delivery": PICKUP,
        "kecamatan_code": "36.02.14",
    }
    if service == "documents":
        return RequestApproved(**common, reviewer="rina")
    return RequestSubmitted(**common, channel="online")


@dataclass
class RunningService:
    service: str
    app: Any
    exchange: aio_pika.abc.AbstractExchange
    channel: aio_pika.abc.AbstractChannel
    loop: asyncio.AbstractEventLoop
    handled: dict[str, type[Event]]
    """Routing key -> event type, for every routing key the service's subscriptions are bound by."""
    queues: dict[str, set[str]]
    """Routing key -> the subscription queues it reaches (two features of one service may both read an event)."""
    broker_user: Callable[[str], str]
    """A service's broker user, to publish an event as its producer."""
    published: list[str] = field(default_factory=list)

    @property
    def runtime(self) -> Any:
        return self.app.state.runtime

    async def parked(self) -> list[DeadLetter]:
        async with self.runtime.dead_letters.unit_of_work() as uow:
            return await uow.dead_letters.list(DeadLetterQuery(status=None, limit=10_000))

    async def publish(self, body: bytes, routing_key: str, properties: dict[str, Any]) -> None:
        await self.exchange.publish(
            aio_pika.Message(body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT, **properties),
            routing_key=routing_key,
        )


@pytest.fixture(scope="module", params=["intake", "review", "documents", "shipping"])
async def running(request, rabbitmq, tmp_path_factory) -> AsyncIterator[RunningService]:  # type: ignore[no-untyped-def]
    service: str = request.param
    amqp_url = rabbitmq.create()
    bootstrap = importlib.import_module(f"dukcapil_{service}.bootstrap")
    with pytest.MonkeyPatch.context() as patch:
        # The real configuration binds the loggers to this module's captured output for good.
        patch.setattr(bootstrap, "configure_logging", lambda *args, **kwargs: None)
        scratch = tmp_path_factory.mktemp(service)
        app = bootstrap.build_app(settings_for(service, scratch, amqp_url, rabbitmq.service_settings(service)))
    runtime = app.state.runtime
    handled = {event.routing_key(): event for consumer in runtime.consumers for event in consumer.subscription.handlers}
    queues: dict[str, set[str]] = {}
    for consumer in runtime.consumers:
        for routing_key in consumer.subscription.routing_keys:
            queues.setdefault(routing_key, set()).add(consumer.queue.name)
    async with runtime.lifespan(app):
        # May publish under any user_id: the valid event at the end goes as its producer would send it.
        connection = await aio_pika.connect_robust(rabbitmq.impersonator_url(amqp_url))
        channel = await connection.channel()
        exchange = await channel.get_exchange(EVENTS_EXCHANGE.name, ensure=False)
        yield RunningService(
            service, app, exchange, channel, asyncio.get_running_loop(), handled, queues, rabbitmq.user
        )
        await connection.close()
    rabbitmq.delete(amqp_url)


# --- what hypothesis makes ---

JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
HEADER_VALUES = (
    st.none()
    | st.booleans()
    | st.integers(-(2**31), 2**31 - 1)
    | st.text(max_size=40)
    | st.lists(st.text(max_size=10), max_size=3)
)
# Headers the consumer and the parking read; junk in them must not stop a message from being parked.
READ_HEADERS = ("x-attempt", "x-first-failure-at", "x-original-routing-key", "x-error", "x-dead-letter-id", "x-death")
CONTENT_TYPES = st.sampled_from(
    [None, CONTENT_TYPE, "application/json", "application/json; charset=utf-8", "text/plain", "application/xml"]
) | st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=100)
ENVELOPE_ATTRIBUTES = ("specversion", "id", "source", "type", "time", "subject", "data")
WRONG_ATTRIBUTE_VALUES = {
    "specversion": st.sampled_from(["0.3", "2.0", "", 1.0]),
    "id": st.text(max_size=40).filter(lambda text: not _is_uuid(text)) | st.integers(),
    "source": st.integers() | st.lists(st.text(), max_size=2) | st.none(),
    "type": st.integers() | st.none() | st.lists(st.text(), max_size=2),
    "time": st.text(max_size=30).filter(lambda text: not _is_time(text)) | st.booleans(),
    "subject": st.integers() | st.none() | st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=2),
    "data": st.lists(JSON_SCALARS, max_size=3) | JSON_SCALARS,
}
KNOWN_TYPES = [event.routing_key() for event in (*ALL_EVENTS, *OPERATIONS_EVENTS)]
HUGE = st.integers(50_000, 400_000)


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _is_time(text: str) -> bool:
    try:
        Envelope.model_validate(
            {"id": str(uuid.uuid4()), "source": "s", "type": "t", "time": text, "subject": "s", "data": {}}
        )
    except ValidationError:
        return False
    return True


def an_envelope(event_type: str) -> dict[str, Any]:
    """Every attribute well formed; `data` as each case makes it."""
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "/dukcapil/lebak/fuzz",
        "type": event_type,
        "time": datetime.now(UTC).isoformat(),
        "subject": str(SOME_REQUEST),
        "datacontenttype": "application/json",
        "data": {"request_id": str(SOME_REQUEST)},
    }


def data_not_fitting(draw: Any, event: type[Event]) -> dict[str, Any]:
    """The type's required fields, with one missing or all given random values."""
    required = [name for name, info in event.model_fields.items() if info.is_required()]
    data = {name: draw(JSON_VALUES) for name in required}
    if draw(st.booleans()):
        del data[draw(st.sampled_from(required))]
    return data


def draw_message(draw: Any, running: RunningService) -> tuple[str, bytes, str, dict[str, Any]]:
    """(what kind of wrong, body, routing key, AMQP properties)."""
    routing_key = draw(st.sampled_from(sorted(running.handled)))
    kind = draw(
        st.sampled_from(
            [
                "random bytes",
                "not JSON",
                "JSON, not an envelope",
                "an attribute missing",
                "an attribute wrong",
                "a type the queue does not handle",
                "data not fitting the type",
                "a huge string",
            ]
        )
    )
    envelope = an_envelope(routing_key)
    envelope["data"] = data_not_fitting(draw, running.handled[routing_key])
    if kind == "random bytes":
        body = draw(st.binary(max_size=2_000))
    elif kind == "not JSON":
        body = ("{" + draw(st.text(max_size=200))).encode()
    elif kind == "JSON, not an envelope":
        body = json.dumps(draw(JSON_VALUES)).encode()
    elif kind == "an attribute missing":
        del envelope[draw(st.sampled_from(ENVELOPE_ATTRIBUTES))]
        body = json.dumps(envelope).encode()
    elif kind == "an attribute wrong":
        attribute = draw(st.sampled_from(sorted(WRONG_ATTRIBUTE_VALUES)))
        envelope[attribute] = draw(WRONG_ATTRIBUTE_VALUES[attribute])
        body = json.dumps(envelope).encode()
    elif kind == "a type the queue does not handle":
        envelope["type"] = draw(st.sampled_from([t for t in KNOWN_TYPES if t not in running.handled]) | st.text())
        body = json.dumps(envelope).encode()
    elif kind == "data not fitting the type":
        body = json.dumps(envelope).encode()
    else:
        where = draw(st.sampled_from(["source", "subject", "type", "data"]))
        huge = draw(st.sampled_from("xé\u0000\U0001f600")) * draw(HUGE)
        envelope[where] = {"details": huge} if where == "data" else huge
        body = json.dumps(envelope, ensure_ascii=False).encode()

    properties: dict[str, Any] = {
        "content_type": draw(CONTENT_TYPES),
        "message_id": draw(
            st.none()
            | st.uuids().map(str)
            | st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=255)
        ),
        "correlation_id": draw(
            st.none() | st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=120)
        ),
        "type": draw(
            st.none()
            | st.just(routing_key)
            | st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=50)
        ),
        "headers": draw(
            st.dictionaries(st.sampled_from(READ_HEADERS) | st.text(min_size=1, max_size=20), HEADER_VALUES, max_size=4)
        ),
    }
    return kind, body, routing_key, properties


def is_processable(body: bytes, running: RunningService, routing_key: str) -> bool:
    """True when the generated message happens to be one the service's queue would process."""
    try:
        envelope = Envelope.model_validate_json(body)
        envelope.event()
    except (ValidationError, UnknownEventType, ValueError):
        return False
    return bool(running.queues.get(envelope.type, set()) & running.queues[routing_key])


async def parked_once_per_queue(
    running: RunningService, case: str, queues: set[str], timeout: float = 10.0
) -> list[DeadLetter]:
    """The message parked once by each queue it reached, never twice by one."""
    deadline = time.monotonic() + timeout
    while True:
        letters = [letter for letter in await running.parked() if letter.headers.get("x-fuzz-case") == case]
        parked_by = sorted(letter.original_queue for letter in letters)
        assert len(parked_by) == len(set(parked_by)), f"parked twice by one queue: {parked_by}"
        if set(parked_by) == queues:
            return letters
        assert set(parked_by) <= queues, f"parked by {parked_by}, reached only {sorted(queues)}"
        assert time.monotonic() < deadline, "not parked: lost, stuck unsettled, or the consumer is down"
        await asyncio.sleep(0.02)


async def test_every_malformed_message_is_parked_with_its_reason_and_the_consumer_goes_on(
    running: RunningService,
) -> None:
    @settings(
        max_examples=EXAMPLES_PER_SERVICE,
        deadline=None,
        database=None,
        print_blob=True,
        # No shrinking: each failing try waits out the parking timeout, and the first failure says enough.
        phases=[Phase.explicit, Phase.reuse, Phase.generate],
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(st.data())
    def one_malformed_message(data: st.DataObject) -> None:
        kind, body, routing_key, properties = draw_message(data.draw, running)
        if is_processable(body, running, routing_key):
            return  # a message the queue would process after all: not part of the property
        case = uuid.uuid4().hex
        properties["headers"] = {**properties["headers"], "x-fuzz-case": case}
        future = asyncio.run_coroutine_threadsafe(check(kind, body, routing_key, properties, case), running.loop)
        future.result(timeout=60)

    async def check(kind: str, body: bytes, routing_key: str, properties: dict[str, Any], case: str) -> None:
        await running.publish(body, routing_key, properties)
        reached = running.queues[routing_key]
        running.published.extend([case] * len(reached))
        for letter in await parked_once_per_queue(running, case, reached):
            assert letter.error.startswith("malformed: "), f"{kind}: parked as {letter.error!r}"
            assert letter.body == body, f"{kind}: the parked body is not the message"
            if properties["message_id"]:
                assert letter.message_id is not None and properties["message_id"].startswith(letter.message_id)

    # Hypothesis drives plain functions: it runs in a thread of its own, and each example's publishing and waiting
    # runs on this loop, where the service is running.
    await asyncio.to_thread(one_malformed_message)

    # Nothing lost, nothing parked twice, nothing left behind on the broker.
    letters = await running.parked()
    assert len(running.published) >= EXAMPLES_PER_SERVICE // 2, "hypothesis made too few malformed messages"
    assert sorted(letter.headers["x-fuzz-case"] for letter in letters) == sorted(running.published)
    topology, retry = running.runtime.topology, running.runtime.retry
    delay_queues = {topology.delay_queue(delay_ms).name for delay_ms in retry.delays_ms}
    for queue in {*set().union(*running.queues.values()), *delay_queues, topology.dead_letter_queue.name}:
        declared = await running.channel.declare_queue(queue, passive=True)
        assert declared.declaration_result.message_count == 0, f"{queue} still holds messages"
    assert (await running.runtime.readiness())["consumers"], "a consumer stopped"

    # And the consumers still do their work.
    event = valid_event(running.service)
    envelope = Envelope.wrap(event, source="/dukcapil/lebak/fuzz")
    await running.publish(
        envelope.to_json(),
        event.routing_key(),
        {
            "message_id": str(envelope.id),
            "correlation_id": envelope.subject,
            "content_type": CONTENT_TYPE,
            "user_id": running.broker_user(event.producer),
        },
    )
    # Intake is laid out by feature: its messaging tables are in its top-level tables module.
    tables = "dukcapil_intake.tables" if running.service == "intake" else f"dukcapil_{running.service}.adapters.tables"
    inbox = importlib.import_module(tables).inbox
    processed = select(func.count()).where(
        and_(inbox.c.consumer.in_(running.queues[event.routing_key()]), inbox.c.event_id == str(envelope.id))
    )
    deadline = time.monotonic() + 20
    while True:
        async with running.runtime.engine.connect() as connection:
            if (await connection.execute(processed)).scalar_one() == 1:
                break
        assert time.monotonic() < deadline, f"{running.service} did not process a valid {event.routing_key()}"
        await asyncio.sleep(0.05)
    assert len(await running.parked()) == len(running.published)
