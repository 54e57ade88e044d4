"""Events about the messaging itself, for operators: a message parked as a dead letter, and its resolution.

They are not steps of a request's lifecycle (see events.py), so they are not in ALL_EVENTS; any service
publishes them, through its outbox, about the request the parked message concerned, and only about its own
dead letters: the `service` they name is their producer.
"""

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from dukcapil_shared.contracts.events import Event


class MessageParked(Event):
    """A service gave up on a message about the request and parked it as a dead letter for an operator."""

    event_type = "operations.message_parked"
    stage = "operations"

    service: str = Field(description="The service that parked it: intake, review, documents or shipping")
    queue: str = Field(description="The queue the message failed in, e.g. dukcapil.review.requests")
    message_routing_key: str = Field(
        description="The parked message's routing key (its event type), e.g. request.submitted.v1"
    )
    error: str = Field(description="Why it failed, NIKs, phone numbers and e-mail addresses masked")
    attempts: int = Field(description="How often the service tried before it gave up")
    dead_letter_id: uuid.UUID = Field(description="The dead letter's id at that service (GET /dead-letters/{id})")
    message_id: str | None = Field(default=None, description="The parked message's id (the event id)")
    first_failure_at: datetime | None = Field(default=None, description="When the first attempt failed")
    last_failure_at: datetime | None = Field(default=None, description="When the last attempt failed")

    @property
    def producer(self) -> str:
        return self.service


class MessageResolved(Event):
    """An operator replayed or discarded a parked message about the request."""

    event_type = "operations.message_resolved"
    stage = "operations"

    service: str = Field(description="The service that had parked it")
    dead_letter_id: uuid.UUID = Field(description="The dead letter's id at that service")
    resolution: Literal["replayed", "discarded"] = Field(
        description="replayed: sent back to its queue, attempts counted afresh; discarded: dropped on purpose"
    )
    resolved_by: str = Field(description="The operator who did it")
    reason: str | None = Field(default=None, description="Why it was discarded (or a note on the replay)")
    queue: str = Field(description="The queue the message had failed in")
    message_routing_key: str = Field(description="The parked message's routing key (its event type)")

    @property
    def producer(self) -> str:
        return self.service


OPERATIONS_EVENTS: tuple[type[Event], ...] = (MessageParked, MessageResolved)
