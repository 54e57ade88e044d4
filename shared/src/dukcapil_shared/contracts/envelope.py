"""The CloudEvents 1.0 envelope every event travels in (structured content mode, JSON)."""

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from dukcapil_shared.contracts.events import Event
from dukcapil_shared.contracts.registry import event_class

CONTENT_TYPE = "application/cloudevents+json"


class UnknownEventType(ValueError):
    pass


class Envelope(BaseModel):
    """CloudEvents 1.0 attributes, the W3C trace context extension, and the event itself in `data`."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    specversion: Literal["1.0"] = Field(default="1.0", description="CloudEvents specification version")
    id: uuid.UUID = Field(description="Unique event id; the AMQP message id, and the consumers' inbox key")
    source: str = Field(description="The producing service, e.g. /dukcapil/lebak/intake")
    type: str = Field(description="Event type with version, equal to the routing key, e.g. request.submitted.v1")
    time: datetime = Field(description="When the event happened (UTC)")
    subject: str = Field(description="The service request the event is about (its id); the AMQP correlation id")
    datacontenttype: Literal["application/json"] = "application/json"
    traceparent: str | None = Field(default=None, description="W3C trace context: traceparent")
    tracestate: str | None = Field(default=None, description="W3C trace context: tracestate")
    data: dict[str, Any] = Field(description="The event payload, as documented by its event type")

    @classmethod
    def wrap(
        cls,
        event: Event,
        *,
        source: str,
        traceparent: str | None = None,
        tracestate: str | None = None,
        time: datetime | None = None,
        id: uuid.UUID | None = None,
    ) -> "Envelope":
        return cls(
            id=id or uuid.uuid4(),
            source=source,
            type=event.routing_key(),
            time=time or datetime.now(UTC),
            subject=event.subject,
            traceparent=traceparent,
            tracestate=tracestate,
            data=event.model_dump(mode="json"),
        )

    def event(self) -> Event:
        """The typed event in `data`; raises UnknownEventType or pydantic.ValidationError."""
        model = event_class(self.type)
        if model is None:
            raise UnknownEventType(f"unknown event type {self.type!r}")
        return model.model_validate(self.data)

    def to_json(self) -> bytes:
        return self.model_dump_json().encode()
