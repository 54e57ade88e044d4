import abc
from collections.abc import Sequence
from typing import ClassVar

from dukcapil_intake.requests.domain.events import RequestEvent
from dukcapil_intake.requests.service_layer.repository import BookingRepository, RequestRepository
from dukcapil_shared.contracts import (
    AttachmentAdded,
    Event,
    RecordingBooked,
    RequestCancelled,
    RequestResubmitted,
    RequestSubmitted,
)
from dukcapil_shared.messaging import UnitOfWork


class RequestsUnitOfWork(UnitOfWork):
    """The requests and the e-KTP bookings, with intake's outbox and inbox."""

    requests: RequestRepository
    bookings: BookingRepository
    publishes: ClassVar[tuple[type[Event], ...] | None] = (
        RequestSubmitted,
        AttachmentAdded,
        RequestResubmitted,
        RequestCancelled,
        RecordingBooked,
    )

    @abc.abstractmethod
    async def hand_on(self, happened: Sequence[RequestEvent]) -> None:
        """Give what happened to the features that follow the requests (the citizen's notices, the agencies'
        public events), each working in this unit of work's transaction: committed with it, or not at all."""
