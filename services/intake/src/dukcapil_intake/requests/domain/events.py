"""What happened to a request or a booking, as the requests' aggregates record it (`ServiceRequest.events`).

The requests' service layer puts the contract events intake announces in the outbox, then hands these to the
features that follow the requests (the citizen's notices, the agencies' public events) through the dispatcher the
composition root builds, in the same transaction: the step and its consequences are stored together or not at all.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from dukcapil_shared.contracts import Envelope, Event, RecordingBooked

if TYPE_CHECKING:
    from dukcapil_intake.requests.domain.model import ServiceRequest


@dataclass(frozen=True)
class StepRecorded:
    """A step entered the request's history: one intake took (announced in `envelope`) or another stage's event."""

    request: "ServiceRequest"
    event: Event
    envelope: Envelope


@dataclass(frozen=True)
class AccessCodeIssued:
    """The request's access code is to go to the phone and e-mail address on file: asked for again, or renewed."""

    request: "ServiceRequest"
    id: str
    at: datetime


@dataclass(frozen=True)
class BookingConfirmed:
    """An e-KTP recording was booked: its confirmation goes where the citizen asked."""

    event: RecordingBooked
    envelope: Envelope
    email: str | None
    phone: str | None


RequestEvent = StepRecorded | AccessCodeIssued | BookingConfirmed
