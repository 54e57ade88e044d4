"""The event catalogue: an AsyncAPI 3.0 document of what a service consumes and publishes, made from its code.

FastStream's own generator writes it, from a broker made for the purpose and never connected. The running
broker cannot be described as it is: its subscribers read raw messages (so that a malformed one is
dead-lettered rather than lost) and each of its queues is bound by several routing keys, neither of which
FastStream can see. So each (subscription, event type) is documented as one subscriber whose payload is that
event's CloudEvents envelope, and each event the service's outbox may carry as one publisher, for the document
only: events leave through the outbox relay.
"""

import functools
from collections.abc import Sequence
from typing import Any, Literal

from faststream.rabbit import QueueType, RabbitBroker, RabbitQueue
from faststream.specification import AsyncAPI
from pydantic import Field, create_model

from dukcapil_shared.contracts import CONTENT_TYPE, Envelope, Event
from dukcapil_shared.contracts.public import PUBLIC_EVENTS, PublicEvent
from dukcapil_shared.messaging.consumer import Subscription
from dukcapil_shared.messaging.topology import (
    EVENTS_EXCHANGE,
    IDENTIFIED_PUBLIC_EXCHANGE,
    PUBLIC_EXCHANGE,
    ServiceTopology,
)

ASYNCAPI_PATH = "/asyncapi.json"

# The broker as the compose file names it; each deployment points AMQP_URL at its own, which the document
# does not reveal.
DOCUMENTED_BROKER = "amqp://rabbitmq:5672/"

_CONVENTIONS = """

Every message is a CloudEvents 1.0 envelope (structured mode, content type `application/cloudevents+json`) with
the event in `data`, published persistently to the durable topic exchange `dukcapil.events` with the event type
as routing key. AMQP `message_id` is the event id, `correlation_id` the request id (the envelope's `subject`),
`type` the event type. Within a version fields are only added; consumers ignore fields they do not know.

Each subscription is a durable quorum queue `dukcapil.{service}.<subscription>`. A failed message is retried
through the delay queues `dukcapil.{service}.delay.<ms>ms`; when the attempts run out, or the message is
malformed, or its handler says it can never succeed, it is parked in `dukcapil.{service}.dead-letter` with the
headers `x-error`, `x-attempts`, `x-original-queue`, `x-first-failure-at` and `x-last-failure-at`, and
`operations.message_parked.v1` announces it."""


@functools.cache
def typed_envelope(event: type[Event]) -> type[Envelope]:
    """The envelope of one event type: `type` fixed to its routing key and `data` its documented model."""
    routing_key = event.routing_key()
    return create_model(
        f"{event.__name__}V{event.version}Envelope",
        __base__=Envelope,
        __doc__=f"The CloudEvents envelope of {routing_key}.",
        type=(Literal[routing_key], Field(description=f"The event type, equal to the routing key: {routing_key}")),
        data=(event, Field(description=_summary(event))),
    )


@functools.cache
def typed_public_envelope(event: type[PublicEvent]) -> type[Envelope]:
    """The envelope an agency receives: `type` fixed to the public event type, `data` its minimised model."""
    type_name = event.type_name()
    return create_model(
        f"Public{event.__name__}V{event.version}Envelope",
        __base__=Envelope,
        __doc__=f"The CloudEvents envelope of {type_name}, as agencies receive it.",
        type=(Literal[type_name], Field(description=f"The public event type: {type_name}")),
        source=(Literal["/dukcapil/lebak"], Field(description="The office")),
        subject=(str, Field(description="The document number (also the AMQP correlation id)")),
        data=(event, Field(description=_summary(event))),
    )


BROKER_USER = {
    "type": "userPassword",
    "description": "Every connection signs in as its own broker user: each service as dukcapil-<service>, allowed "
    "to publish exactly the routing keys this document lists and to read only its own queues; each agency as its "
    "own user, reading only its queue. Every message a service publishes carries its user as the AMQP user_id "
    "(which RabbitMQ checks), and a consumer parks an event whose user_id is not the producer its contract names "
    "(untrusted_producer, never applied).",
}


def asyncapi_document(
    *,
    service: str,
    title: str,
    description: str,
    version: str,
    subscriptions: Sequence[Subscription[Any]],
    publishes: Sequence[type[Event]],
    publishes_for_agencies: bool = False,
) -> dict[str, Any]:
    """The service's AsyncAPI 3.0 document: a channel per (subscription queue, routing key) it receives, and a
    channel per event type it sends; with `publishes_for_agencies`, also a channel per public event type on each
    of the two public exchanges."""
    topology = ServiceTopology(service)
    broker = RabbitBroker(DOCUMENTED_BROKER, description="The office's RabbitMQ (AMQP_URL)")
    for subscription in subscriptions:
        queue = topology.subscription_queue(subscription.name)
        for event in subscription.handlers:
            broker.subscriber(
                RabbitQueue(queue.name, queue_type=QueueType.QUORUM, durable=True, routing_key=event.routing_key()),
                exchange=EVENTS_EXCHANGE,
                title=f"{queue.name}/{event.routing_key()}",
                description=subscription.description or None,
            )(_documented_handler(event))
    for event in publishes:
        broker.publisher(
            exchange=EVENTS_EXCHANGE,
            routing_key=event.routing_key(),
            title=event.routing_key(),
            description=_summary(event),
            schema=typed_envelope(event),
            persist=True,
            mandatory=False,
            content_type=CONTENT_TYPE,
            message_type=event.routing_key(),
        )
    if publishes_for_agencies:
        for exchange, variant in (
            (PUBLIC_EXCHANGE, "NIK and KK numbers masked"),
            (IDENTIFIED_PUBLIC_EXCHANGE, "in full"),
        ):
            for public in PUBLIC_EVENTS:
                # The routing key ends with the kecamatan's code (three dotted parts): agencies bind by pattern.
                routing_key = f"{public.type_name()}.*.*.*"
                broker.publisher(
                    exchange=exchange,
                    routing_key=routing_key,
                    title=f"{exchange.name}/{public.type_name()}",
                    description=f"For agencies, identity numbers {variant}: {_summary(public)}",
                    schema=typed_public_envelope(public),
                    persist=True,
                    mandatory=False,
                    content_type=CONTENT_TYPE,
                    message_type=public.type_name(),
                )
    specification = AsyncAPI(
        broker,
        title=title,
        version=version,
        description=description + _CONVENTIONS.format(service=service),
        identifier=f"urn:dukcapil-lebak:{service}",
        schema_version="3.0.0",
    ).to_specification()
    document: dict[str, Any] = specification.to_jsonable()
    document["defaultContentType"] = CONTENT_TYPE
    # Who may publish what is part of the contract: every connection signs in, and consumers check the publisher.
    document["components"]["securitySchemes"] = {"brokerUser": BROKER_USER}
    for server in document["servers"].values():
        server["security"] = [{"$ref": "#/components/securitySchemes/brokerUser"}]
    # FastStream keeps subscribers in a WeakSet, whose order follows memory addresses: sort, so that the same code
    # always gives the same document.
    for section in (document, document["components"]):
        for name in ("channels", "operations", "messages", "schemas"):
            if name in section:
                section[name] = dict(sorted(section[name].items()))
    return document


def _documented_handler(event: type[Event]) -> Any:
    envelope = typed_envelope(event)

    async def receives(message: envelope) -> None:  # type: ignore[valid-type]
        """Never called: the broker it is registered on is never connected."""

    return receives


def _summary(event: type[Event]) -> str:
    return " ".join((event.__doc__ or event.routing_key()).split())
