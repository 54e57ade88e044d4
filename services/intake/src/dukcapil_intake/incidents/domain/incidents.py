"""Incidents, in the spirit of Camunda Operate: where a request is stuck, since when, and why.

Two kinds: a stage parked a message about the request as a dead letter (told by the operations events every
service publishes), or the request's status has not changed for longer than that status should take.
"""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from dukcapil_intake.requests.domain.model import RequestStatus
from dukcapil_shared.contracts import MessageParked, MessageResolved


class IncidentKind(StrEnum):
    dead_letter = "dead_letter"
    """A stage gave up on a message about the request and parked it for an operator."""
    stalled = "stalled"
    """The request's status has not changed for longer than its threshold, without any recorded failure."""


class IncidentStatus(StrEnum):
    open = "open"
    resolved = "resolved"


@dataclass
class Incident:
    """A dead letter about a request, as its stage announced it; `id` is the dead letter's id at that stage."""

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

DEFAULT_STALL_MINUTES: dict[str, float] = {
    "submitted": 10,  # review queues a request within seconds
    "approved": 10,  # documents issues within seconds
    "document_issued": 30,  # shipping books the courier or the pickup
    "in_review": 3 * 24 * 60,  # a reviewer decides within the service level
    "shipped": 7 * 24 * 60,  # the courier delivers or returns the parcel
    "delivery_failed": 2 * 24 * 60,  # the courier tries again or returns it
}


@dataclass(frozen=True)
class StallPolicy:
    after: Mapping[RequestStatus, timedelta]
    """How long a request may keep each status before it counts as stalled; statuses not named never stall."""

    @classmethod
    def from_minutes(cls, minutes: Mapping[str, float]) -> "StallPolicy":
        """Raises ValueError for a name that is not a request status."""
        return cls({RequestStatus(status): timedelta(minutes=value) for status, value in minutes.items()})

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
