from typing import ClassVar

from dukcapil_intake.agencies.service_layer.repository import AgencyRepository, PublicEventLog
from dukcapil_intake.incidents.service_layer.repository import IncidentRepository
from dukcapil_intake.notifications.service_layer.repository import NotificationRepository
from dukcapil_intake.requests.service_layer.repository import BookingRepository, RequestRepository
from dukcapil_intake.statistics.service_layer.repository import StatisticsRepository
from dukcapil_shared.contracts import (
    AttachmentAdded,
    Event,
    RecordingBooked,
    RequestCancelled,
    RequestResubmitted,
    RequestSubmitted,
)
from dukcapil_shared.messaging import UnitOfWork


class IntakeUnitOfWork(UnitOfWork):
    requests: RequestRepository
    bookings: BookingRepository
    notifications: NotificationRepository
    incidents: IncidentRepository
    public_events: PublicEventLog
    agencies: AgencyRepository
    publishes: ClassVar[tuple[type[Event], ...] | None] = (
        RequestSubmitted,
        AttachmentAdded,
        RequestResubmitted,
        RequestCancelled,
        RecordingBooked,
    )
    statistics: StatisticsRepository
