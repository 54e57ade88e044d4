"""Every event has a verified producer: each service's broker user may publish and bind only what its code
declares, the broker vouches for every publisher (AMQP user_id), and a consumer applies an event only from the
producer its contract names. Anything else is parked as `untrusted_producer`, counted, shown as an incident and
never applied: the attack of issue 12 (a hand-made request.approved.v1 from the broker's administrator issuing a
genuine document for a made-up name) fails."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aio_pika
import aiormq
import pytest

from dukcapil_shared.auth.roles import Role
from dukcapil_shared.contracts import (
    ALL_EVENTS,
    OPERATIONS_EVENTS,
    DocumentIssued,
    Envelope,
    Event,
    MessageParked,
    Person,
    RequestApproved,
    RequestSubmitted,
)
from dukcapil_shared.contracts.common import Delivery
from dukcapil_shared.messaging.access import SERVICES, AccessPlan

from ..e2e.requests import KARTU_KELUARGA, PICKUP, variant
from ..e2e.system import Client, System, as_staff

pytestmark = [pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]
PLAN = AccessPlan.parse((ROOT / "deploy" / "rabbitmq" / "access.json").read_text(encoding="utf-8"))
EVERY_ROUTING_KEY = sorted({event.routing_key() for event in (*ALL_EVENTS, *OPERATIONS_EVENTS)})
PICKUP_HERE = Delivery(method="pickup", pickup_kecamatan_code="36.02.14")
MADE_UP = Person(nik="3602141205850003", name="Orang Karangan", birth_date="1985-05-12", sex="male")
ADMIN = as_staff(Role.ADMIN, "security.admin")
SUPERVISOR = as_staff(Role.SUPERVISOR, "security.supervisor")
DOCUMENT_OFFICER = as_staff(Role.DOCUMENT_OFFICER, "security.officer")


def _owned(service: str, direction: str) -> set[str]:
    import re

    [topic] = [topic for topic in PLAN.of(service).topics if topic.exchange == "dukcapil.events"]
    pattern = re.compile(getattr(topic, direction))
    return {key for key in EVERY_ROUTING_KEY if pattern.fullmatch(key)}


# --- what the broker enforces ---


async def _publish(url: str, routing_key: str, *, user_id: str | None, exchange: str = "dukcapil.events") -> None:
    """One persistent publish with a confirm on a channel of its own; raises what the broker answered."""
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        target = await channel.get_exchange(exchange, ensure=False)
        message = aio_pika.Message(b"{}", user_id=user_id, delivery_mode=aio_pika.DeliveryMode.PERSISTENT)
        await asyncio.wait_for(target.publish(message, routing_key=routing_key), timeout=15)


@pytest.mark.parametrize("service", SERVICES)
async def test_each_services_user_publishes_only_the_routing_keys_its_code_declares(
    rabbitmq, amqp_url, service
) -> None:  # type: ignore[no-untyped-def]
    url = rabbitmq.url_as(amqp_url, service)
    user = f"{rabbitmq.prefix}{service}"
    owned = _owned(service, "write")
    assert owned, f"{service} publishes nothing?"
    for routing_key in EVERY_ROUTING_KEY:
        if routing_key in owned:
            await _publish(url, routing_key, user_id=user)
        else:
            with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
                await _publish(url, routing_key, user_id=user)
    # Nobody may publish under another's name, nor onto the agencies' exchanges but intake.
    other = next(name for name in SERVICES if name != service)
    with pytest.raises(aiormq.exceptions.ChannelPreconditionFailed):
        await _publish(url, next(iter(owned)), user_id=f"{rabbitmq.prefix}{other}")
    if service != "intake":
        with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
            await _publish(url, "death.registered.v1.36.02.14", user_id=user, exchange="dukcapil.public")


@pytest.mark.parametrize("service", SERVICES)
async def test_each_services_user_touches_only_its_own_queues_and_binds_only_what_it_consumes(  # type: ignore[no-untyped-def]
    rabbitmq, amqp_url, service
) -> None:
    url = rabbitmq.url_as(amqp_url, service)
    other = next(name for name in SERVICES if name != service)
    consumed, not_consumed = _owned(service, "read"), set(EVERY_ROUTING_KEY) - _owned(service, "read")

    async def attempt(action: Any) -> None:
        connection = await aio_pika.connect(url)
        async with connection:
            channel = await connection.channel()
            await action(channel)

    async def own_queue_bound_to(key: str) -> Any:
        async def action(channel: aio_pika.abc.AbstractChannel) -> None:
            queue = await channel.declare_queue(f"dukcapil.{service}.probe-{uuid.uuid4().hex[:6]}", auto_delete=True)
            await queue.bind("dukcapil.events", routing_key=key)

        return action

    if consumed:
        await attempt(await own_queue_bound_to(next(iter(consumed))))
    with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
        await attempt(await own_queue_bound_to(next(iter(not_consumed))))

    async def another_services_queue(channel: aio_pika.abc.AbstractChannel) -> None:
        await channel.declare_queue(f"dukcapil.{other}.probe", auto_delete=True)

    with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
        await attempt(another_services_queue)

    async def the_shared_exchange(channel: aio_pika.abc.AbstractChannel) -> None:
        await channel.declare_exchange("dukcapil.events", aio_pika.ExchangeType.TOPIC, durable=True)

    with pytest.raises(aiormq.exceptions.ChannelAccessRefused):
        await attempt(the_shared_exchange)


# --- what the consumers refuse ---


@pytest.fixture(scope="module")
async def system(rabbitmq, tmp_path_factory) -> AsyncIterator[System]:  # type: ignore[no-untyped-def]
    workdir: Path = tmp_path_factory.mktemp("trust")
    system = System(
        workdir=workdir,
        amqp_url=rabbitmq.create(),
        database_urls={name: f"sqlite+aiosqlite:///{workdir}/var/{name}.db" for name in SERVICES},
        extra_env=rabbitmq.service_env() | {"INTAKE_NOTIFICATIONS_ENABLED": "false"},
    )
    try:
        await system.start_all()
        yield system
    finally:
        system.stop_all()
        rabbitmq.delete(system.amqp_url)


@pytest.fixture
async def client(system: System) -> AsyncIterator[Client]:
    client = Client(system)
    yield client
    await client.close()


async def _forge(url: str, event: Event, *, user_id: str | None, source: str) -> str:
    envelope = Envelope.wrap(event, source=source)
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.get_exchange("dukcapil.events", ensure=False)
        message = aio_pika.Message(
            envelope.to_json(),
            message_id=str(envelope.id),
            correlation_id=str(event.request_id),
            type=event.routing_key(),
            content_type="application/cloudevents+json",
            user_id=user_id,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        )
        await exchange.publish(message, routing_key=event.routing_key())
    return str(envelope.id)


async def _parked(client: Client, service: str, message_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        response = await client.call("GET", service, "/dead-letters", params={"limit": 1000}, headers=ADMIN)
        assert response.status_code == 200, response.text
        found = [letter for letter in response.json() if letter["message_id"] == message_id]
        if found:
            return found[0]
        assert time.monotonic() < deadline, f"{message_id} was not parked at {service}"
        await asyncio.sleep(0.2)


def _approval(request_id: uuid.UUID) -> RequestApproved:
    return RequestApproved(
        request_id=request_id,
        request_number="360214-20261203-9999",
        request_type="kartu_keluarga",
        applicant=MADE_UP,
        details={"reason": "split"},
        delivery=PICKUP_HERE,
        kecamatan_code="36.02.14",
        reviewer="rina",
    )


async def _documents_of(client: Client, request_id: object) -> list[dict[str, Any]]:
    params = {"request_id": str(request_id)}
    response = await client.call("GET", "documents", "/documents", params=params, headers=DOCUMENT_OFFICER)
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_hand_made_approval_from_the_brokers_administrator_is_parked_and_never_applied(
    rabbitmq, system: System, client: Client
) -> None:  # type: ignore[no-untyped-def]
    """The attack as an outside tester made it: the default account publishes an approval for a real request with a
    made-up name, once without a user_id and once with its own. Documents issues nothing, intake does not move the
    request on, each service parks the forgery with the publisher it claimed and the one it was, counts it, and
    intake shows the request's incident."""
    request = await client.submit(variant(KARTU_KELUARGA, delivery=PICKUP))
    await client.wait_review(request["id"])
    request_id = uuid.UUID(request["id"])
    forged = [
        await _forge(system.amqp_url, _approval(request_id), user_id=None, source="/dukcapil/lebak/review"),
        await _forge(system.amqp_url, _approval(request_id), user_id="guest", source="/dukcapil/lebak/review"),
    ]
    for message_id in forged:
        for service in ("documents", "intake"):
            letter = await _parked(client, service, message_id)
            assert "untrusted producer" in letter["error"] and "/dukcapil/lebak/review" in letter["error"], letter
    assert "published by guest" in (await _parked(client, "documents", forged[1]))["error"]

    documents = await client.call(
        "GET", "documents", "/documents", params={"request_id": request["id"]}, headers=DOCUMENT_OFFICER
    )
    assert documents.json() == [], "a document was issued for a forged approval"
    followed = await client.request(request["id"])
    assert followed["status"] == "in_review"
    assert "request.approved.v1" not in [entry["event_type"] for entry in followed["history"]]
    review = await client.wait_review(request["id"])
    assert review["status"] == "pending"

    metrics = (await client.call("GET", "documents", "/metrics")).text
    assert 'reason="untrusted_producer"' in metrics
    deadline = time.monotonic() + 30
    while True:
        incidents = (
            await client.call("GET", "intake", f"/requests/{request['id']}/incident", headers=SUPERVISOR)
        ).json()
        if incidents.get("stuck"):
            break
        assert time.monotonic() < deadline, f"no incident for the forgery: {incidents}"
        await asyncio.sleep(0.2)
    assert "untrusted producer" in incidents["last_error"]


@pytest.mark.parametrize(
    ("consumer", "impostor"),
    [("documents", "intake"), ("review", "shipping"), ("shipping", "review"), ("intake", "documents")],
)
async def test_an_event_under_another_services_name_is_parked_and_never_applied(  # type: ignore[no-untyped-def]
    rabbitmq, system: System, client: Client, consumer: str, impostor: str
) -> None:
    """A user allowed to set any user_id (RabbitMQ's impersonator tag: nothing in a deployment has it) publishes an
    event a service consumes under the name of a service that does not produce it."""
    request_id = uuid.uuid4()
    event: Event = {
        "documents": _approval(request_id),
        "review": RequestSubmitted(
            request_id=request_id,
            request_number="360214-20261203-9998",
            request_type="biodata_wni",
            applicant=MADE_UP,
            details={},
            delivery=Delivery(method="pickup", pickup_kecamatan_code="36.02.14"),
            kecamatan_code="36.02.14",
            channel="online",
        ),
        "shipping": DocumentIssued(
            request_id=request_id,
            document_id=uuid.uuid4(),
            document_number="BIO/3602/2026/999999",
            request_type="biodata_wni",
            checksum_sha256="0" * 64,
            applicant=MADE_UP,
            delivery=Delivery(method="pickup", pickup_kecamatan_code="36.02.14"),
            kecamatan_code="36.02.14",
        ),
        "intake": MessageParked(
            request_id=request_id,
            service="review",
            queue="dukcapil.review.requests",
            message_routing_key="request.submitted.v1",
            error="made up",
            attempts=1,
            dead_letter_id=uuid.uuid4(),
        ),
    }[consumer]
    message_id = await _forge(
        rabbitmq.impersonator_url(system.amqp_url),
        event,
        user_id=f"{rabbitmq.prefix}{impostor}",
        source=f"/dukcapil/lebak/{event.producer}",
    )
    letter = await _parked(client, consumer, message_id)
    assert f"published by {rabbitmq.prefix}{impostor}" in letter["error"], letter
    if consumer == "review":
        assert (await client.call("GET", "review", f"/reviews/{request_id}", headers=SUPERVISOR)).status_code == 404
    if consumer == "shipping":
        shipments = await client.call(
            "GET", "shipping", "/shipments", params={"request_id": str(request_id)}, headers=SUPERVISOR
        )
        assert shipments.json() == []
    if consumer == "documents":
        documents = await client.call(
            "GET", "documents", "/documents", params={"request_id": str(request_id)}, headers=DOCUMENT_OFFICER
        )
        assert documents.json() == []


async def test_replaying_a_parked_forgery_parks_it_again(rabbitmq, system: System, client: Client) -> None:  # type: ignore[no-untyped-def]
    """An operator's replay goes out as the service's own message naming the publisher recorded when it was parked:
    it never launders a forgery into a trusted event."""
    request_id = uuid.uuid4()
    message_id = await _forge(system.amqp_url, _approval(request_id), user_id="guest", source="/dukcapil/lebak/review")
    letter = await _parked(client, "documents", message_id)
    replayed = await client.call(
        "POST", "documents", f"/dead-letters/{letter['id']}/replay", json={"note": "try"}, headers=ADMIN
    )
    assert replayed.status_code == 200, replayed.text
    deadline = time.monotonic() + 60
    while True:
        response = await client.call(
            "GET", "documents", "/dead-letters", params={"status": "parked", "subject": str(request_id)}, headers=ADMIN
        )
        again = [item for item in response.json() if item["message_id"] == message_id]
        if again:
            break
        assert time.monotonic() < deadline, "the replayed forgery was not parked again"
        await asyncio.sleep(0.2)
    assert "published by guest" in again[0]["error"]
    documents = await client.call(
        "GET", "documents", "/documents", params={"request_id": str(request_id)}, headers=DOCUMENT_OFFICER
    )
    assert documents.json() == []
