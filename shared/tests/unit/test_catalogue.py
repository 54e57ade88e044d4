"""The AsyncAPI document made from a service's subscriptions and declared events, and the declaration's guard."""

import uuid
from typing import ClassVar

import pytest
from sqlalchemy import MetaData

from dukcapil_shared.auth.access import add_access_log_table
from dukcapil_shared.catalogue import asyncapi_document, typed_envelope
from dukcapil_shared.contracts import (
    CONTENT_TYPE,
    AttachmentAdded,
    Envelope,
    Event,
    RequestCancelled,
    RequestSubmitted,
    ReviewStarted,
)
from dukcapil_shared.db import create_engine
from dukcapil_shared.messaging import SqlUnitOfWork, Subscription, add_dead_letter_table, add_messaging_tables
from dukcapil_shared.runtime import ServiceRuntime
from dukcapil_shared.settings import ServiceSettings
from dukcapil_testing import FakeUnitOfWork, UndeclaredEvent


async def _ignore(*_args: object) -> None:
    pass


def probe_document(publishes: tuple[type[Event], ...] = (ReviewStarted,)) -> dict:  # type: ignore[type-arg]
    return asyncapi_document(
        service="probe",
        title="Probe",
        description="A service for the test.",
        version="9.9.9",
        subscriptions=[
            Subscription(
                name="requests",
                description="What the probe reviews",
                handlers={RequestSubmitted: _ignore, AttachmentAdded: _ignore},
            ),
            Subscription(name="cancellations", handlers={RequestCancelled: _ignore}),
        ],
        publishes=publishes,
    )


def test_each_subscribed_routing_key_is_a_receive_operation_on_the_subscription_queue() -> None:
    document = probe_document()
    received = {
        operation["bindings"]["amqp"]["cc"][0]: document["channels"][operation["channel"]["$ref"].split("/")[-1]]
        for operation in document["operations"].values()
        if operation["action"] == "receive"
    }
    assert set(received) == {"request.submitted.v1", "request.attachment_added.v1", "request.cancelled.v1"}
    submitted = received["request.submitted.v1"]
    assert submitted["address"] == "request.submitted.v1"
    assert submitted["bindings"]["amqp"]["queue"]["name"] == "dukcapil.probe.requests"
    assert submitted["description"] == "What the probe reviews"
    assert received["request.cancelled.v1"]["bindings"]["amqp"]["queue"]["name"] == "dukcapil.probe.cancellations"


def test_each_published_event_is_a_persistent_send_to_the_events_exchange() -> None:
    document = probe_document(publishes=(ReviewStarted,))
    [sent] = [operation for operation in document["operations"].values() if operation["action"] == "send"]
    assert sent["bindings"]["amqp"]["cc"] == ["review.started.v1"] and sent["bindings"]["amqp"]["deliveryMode"] == 2
    channel = document["channels"][sent["channel"]["$ref"].split("/")[-1]]
    assert channel["bindings"]["amqp"]["exchange"]["name"] == "dukcapil.events"
    assert channel["bindings"]["amqp"]["exchange"]["type"] == "topic"
    assert channel["description"] == "The request entered a reviewer's work queue."
    assert document["defaultContentType"] == CONTENT_TYPE == "application/cloudevents+json"
    assert document["info"]["version"] == "9.9.9" and "dukcapil.probe.dead-letter" in document["info"]["description"]


def test_payloads_are_the_typed_envelope_with_the_contracts_field_descriptions() -> None:
    schemas = probe_document()["components"]["schemas"]
    envelope = schemas["RequestSubmittedV1Envelope"]
    assert envelope["properties"]["type"]["const"] == "request.submitted.v1"
    assert set(envelope["required"]) >= {"id", "source", "type", "time", "subject", "data"}
    assert envelope["properties"]["data"]["$ref"] == "#/components/schemas/RequestSubmitted"
    submitted = schemas["RequestSubmitted"]["properties"]
    assert submitted["request_number"]["description"].startswith("Human-friendly request number")
    assert schemas["Person"]["properties"]["nik"]["description"].startswith("NIK")


def test_the_document_does_not_depend_on_the_order_things_were_registered_in() -> None:
    assert probe_document(publishes=(ReviewStarted, RequestCancelled)) == probe_document(
        publishes=(ReviewStarted, RequestCancelled)
    )
    forward, backward = (
        list(probe_document(publishes=order)["channels"])
        for order in ((ReviewStarted, RequestCancelled), (RequestCancelled, ReviewStarted))
    )
    assert forward == backward


def test_the_typed_envelope_accepts_its_event_only() -> None:
    event = ReviewStarted(request_id=uuid.uuid4(), automatic=True)
    envelope = Envelope.wrap(event, source="/t")
    model = typed_envelope(ReviewStarted)
    assert model.model_validate_json(envelope.to_json()).data == event  # type: ignore[attr-defined]
    other = Envelope.wrap(RequestCancelled(request_id=uuid.uuid4()), source="/t")
    with pytest.raises(ValueError, match=r"review\.started\.v1"):
        model.model_validate_json(other.to_json())


class DeclaringUnitOfWork(FakeUnitOfWork):
    publishes: ClassVar[tuple[type[Event], ...] | None] = (ReviewStarted,)


async def test_a_fake_unit_of_work_refuses_an_event_it_does_not_declare() -> None:
    uow = DeclaringUnitOfWork()
    await uow.outbox.add(ReviewStarted(request_id=uuid.uuid4()))
    with pytest.raises(UndeclaredEvent, match=r"RequestCancelled \(request.cancelled.v1\).*make asyncapi"):
        await uow.outbox.add(RequestCancelled(request_id=uuid.uuid4()))


class ProbeSettings(ServiceSettings):
    database_url: str = "sqlite+aiosqlite:///:memory:"
    port: int = 8999


def probe_runtime() -> ServiceRuntime:
    metadata = MetaData()
    outbox, inbox = add_messaging_tables(metadata)
    return ServiceRuntime(
        service="probe",
        settings=ProbeSettings(),
        engine=create_engine("sqlite+aiosqlite:///:memory:"),
        outbox_table=outbox,
        inbox_table=inbox,
        dead_letter_table=add_dead_letter_table(metadata),
        access_log_table=add_access_log_table(metadata),
        migrations="unused:migrations",
    )


class Undeclared(SqlUnitOfWork):
    pass


class Declared(SqlUnitOfWork):
    publishes: ClassVar[tuple[type[Event], ...] | None] = (RequestCancelled,)


def test_the_runtime_wants_every_unit_of_work_to_declare_what_it_publishes() -> None:
    runtime = probe_runtime()
    with pytest.raises(TypeError, match="Undeclared must declare"):
        runtime.unit_of_work_factory(Undeclared)
    runtime.unit_of_work_factory(Declared)
    runtime.subscribe(
        Subscription(name="requests", handlers={RequestSubmitted: _ignore}), runtime.unit_of_work_factory(Declared)
    )
    document = runtime.event_catalogue()
    sent = [op["bindings"]["amqp"]["cc"][0] for op in document["operations"].values() if op["action"] == "send"]
    # The service's own events, and those of the dead letters it parks and resolves.
    assert sent == ["operations.message_parked.v1", "operations.message_resolved.v1", "request.cancelled.v1"]
