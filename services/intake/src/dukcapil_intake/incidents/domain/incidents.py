"""Incidents, in the spirit of Camunda Operate: where a request is stuck, since when, and why.

Three kinds: a stage parked a message about the request as a dead letter (told by the operations events every
service publishes); shipping flagged the request's parcel as lost by the courier or stuck in transit (told by
ShipmentFlagged, closed when the shipment moves on: re-booked, delivered, returned, or held at the office); or the
request's status has not changed for longer than that status should take.
"""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from dukcapil_intake.requests.domain.model import RequestStatus
from dukcapil_shared.contracts import MessageParked, MessageResolved, ShipmentFlagged


class IncidentKind(StrEnum):
    dead_letter = "dead_letter"
    """A stage gave up on a message about the request and parked it for an operator."""
    stalled = "stalled"
    """The request's status has not changed for longer than its threshold, without any recorded failure."""
    shipment_flagged = "shipment_flagged"
    """Shipping flagged the request's parcel: the courier lost it (courier_lost_parcel) or it does not move."""


SHIPMENT_FLAGS_OPENING_INCIDENTS = frozenset({"courier_lost_parcel", "stuck_in_transit"})
"""The ShipmentFlagged reasons that leave a parcel stuck until someone acts; the others (an address the courier
cannot serve, a receiver not entitled) come with the document already at the office or delivered."""

# A shipment carries each flag reason once: its incident's id follows from the two, so that the event that moves
# the shipment on finds it.
_SHIPMENT_FLAG_NAMESPACE = uuid.UUID("5d0c8f0e-5b1f-4c57-9a55-2f7c3a9e1d42")


def shipment_flag_incident_id(shipment_id: uuid.UUID, reason: str) -> uuid.UUID:
    return uuid.uuid5(_SHIPMENT_FLAG_NAMESPACE, f"{shipment_id}/{reason}")


class IncidentStatus(StrEnum):
    open = "open"
    resolved = "resolved"


@dataclass
class Incident:
    """A dead letter about a request, as its stage announced it (`id` is the dead letter's id at that stage), or a
    flag shipping raised on the request's shipment (`id` from the shipment and the flag's reason)."""

    id: uuid.UUID
    request_id: uuid.UUID
    service: str
    queue: str
    event_type: str
    error: str
    attempts: int
    opened_at: datetime
    first_failure_at: datetime | None = None
    last_failure_at: datetime | None = None
    status: IncidentStatus = IncidentStatus.open
    resolution: str | None = None
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    resolution_reason: str | None = None
    kind: IncidentKind = IncidentKind.dead_letter

    @classmethod
    def flagged(cls, event: ShipmentFlagged, at: datetime) -> "Incident":
        """Shipping flagged the shipment (its `shipment_id` is set): nothing was parked, so there is no queue."""
        assert event.shipment_id is not None, "a flag on a shipment names it"
        return cls(
            id=shipment_flag_incident_id(event.shipment_id, event.reason),
            request_id=event.request_id,
            service="shipping",
            queue="",
            event_type=event.routing_key(),
            error=f"{event.reason}: {event.detail}",
            attempts=0,
            opened_at=at,
            kind=IncidentKind.shipment_flagged,
        )

    def flagged_again(self, event: ShipmentFlagged, at: datetime) -> bool:
        """The same flag on the same shipment after the incident was closed (a re-booked parcel lost again): open
        it again. False for a flag older than the closing, which changes nothing."""
        if self.is_open or self.resolved_at is None or at <= self.resolved_at:
            return False
        reopened = Incident.flagged(event, at)
        self.error, self.opened_at, self.status = reopened.error, at, IncidentStatus.open
        self.resolution = self.resolved_by = self.resolved_at = self.resolution_reason = None
        return True

    def moved_on(self, resolution: str, reason: str, at: datetime) -> bool:
        """The flagged shipment moved on after the flag: the incident closes itself. False if it was closed, or if
        the news is older than the flag (an event that came late)."""
        if not self.is_open or at <= self.opened_at:
            return False
        self.status = IncidentStatus.resolved
        self.resolution, self.resolved_by, self.resolution_reason, self.resolved_at = resolution, "shipping", reason, at
        return True

    @classmethod
    def parked(cls, event: MessageParked, at: datetime) -> "Incident":
        return cls(
            id=event.dead_letter_id,
            request_id=event.request_id,
            service=event.service,
            queue=event.queue,
            event_type=event.message_routing_key,
            error=event.error,
            attempts=event.attempts,
            opened_at=at,
            first_failure_at=event.first_failure_at,
            last_failure_at=event.last_failure_at,
        )

    @classmethod
    def resolved_first(cls, event: MessageResolved, at: datetime) -> "Incident":
        """The resolution overtook the announcement of the parking: kept, so the late announcement cannot reopen it."""
        incident = cls(
            id=event.dead_letter_id,
            request_id=event.request_id,
            service=event.service,
            queue=event.queue,
            event_type=event.message_routing_key,
            error="",
            attempts=0,
            opened_at=at,
        )
        incident.resolve(event, at)
        return incident

    def learn(self, event: MessageParked) -> None:
        """The announcement of the parking came after the resolution: fill in what it tells, stay resolved."""
        self.error, self.attempts = event.error, event.attempts
        self.first_failure_at, self.last_failure_at = event.first_failure_at, event.last_failure_at

    def resolve(self, event: MessageResolved, at: datetime) -> None:
        self.status = IncidentStatus.resolved
        self.resolution = event.resolution
        self.resolved_by = event.resolved_by
        self.resolution_reason = event.reason
        self.resolved_at = at

    @property
    def is_open(self) -> bool:
        return self.status == IncidentStatus.open


@dataclass(frozen=True)
class RequestState:
    """What an incident shows of the request: never the applicant's data."""

    id: uuid.UUID
    number: str
    status: RequestStatus
    updated_at: datetime
    """When the status last changed."""


# The stage expected to move a request on from each status (the others wait for a person or are final).
NEXT_STAGE: dict[RequestStatus, str] = {
    RequestStatus.submitted: "review",
    RequestStatus.in_review: "review",
    RequestStatus.approved: "documents",
    RequestStatus.document_issued: "shipping",
    RequestStatus.shipped: "shipping",
    RequestStatus.delivery_failed: "shipping",
}

DEFAULT_STALL_HOURS: dict[str, float] = {
    "submitted": 0.25,  # review queues a request within seconds
    "approved": 0.25,  # documents issues within seconds
    "document_issued": 0.5,  # shipping books the courier or the pickup
    "in_review": 72,  # a reviewer decides within the service level (REVIEW_SLA_HOURS)
    "shipped": 48,  # a REG parcel within Lebak arrives in a day or two; shipping flags one quiet for 24 h first
    "delivery_failed": 24,  # the courier tries again the next day or returns it
}


@dataclass(frozen=True)
class StallPolicy:
    after: Mapping[RequestStatus, timedelta]
    """How long a request may keep each status before it counts as stalled; statuses not named never stall."""

    @classmethod
    def from_hours(cls, hours: Mapping[str, float]) -> "StallPolicy":
        """Raises ValueError for a name that is not a request status."""
        return cls({RequestStatus(status): timedelta(hours=value) for status, value in hours.items()})

    def threshold(self, status: RequestStatus) -> timedelta | None:
        return self.after.get(status)

    def stalled_since(self, state: RequestState, now: datetime) -> datetime | None:
        """When the request crossed its status's threshold, if it did."""
        threshold = self.threshold(state.status)
        if threshold is None or now - state.updated_at <= threshold:
            return None
        return state.updated_at + threshold

    def explain(self, state: RequestState, now: datetime) -> str:
        threshold = self.threshold(state.status) or timedelta()
        stage = NEXT_STAGE.get(state.status, "nobody")
        return (
            f"status {state.status.value} unchanged for {_duration(now - state.updated_at)} "
            f"(expected to move on within {_duration(threshold)}); waiting for {stage}, no failure recorded"
        )


def _duration(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} h" if hours < 48 else f"{hours // 24} d"
