import abc
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import ClassVar

from dukcapil_intake.domain.agencies import Agency
from dukcapil_intake.domain.incidents import Incident, RequestState, StallPolicy
from dukcapil_intake.domain.model import RecordingBooking, RequestStatus, ServiceRequest
from dukcapil_intake.domain.notifications import Notification
from dukcapil_intake.domain.public_events import LoggedPublicEvent, PublicEventRecord
from dukcapil_intake.domain.statistics import Dimension, GroupCount, RequestMilestones, StatisticsFilter
from dukcapil_shared.contracts import (
    AttachmentAdded,
    Event,
    RecordingBooked,
    RequestCancelled,
    RequestResubmitted,
    RequestSubmitted,
)
from dukcapil_shared.messaging import ConcurrentChange, UnitOfWork


class ConcurrentUpdate(ConcurrentChange):
    """Someone else changed the request since it was loaded."""


@dataclass(frozen=True)
class RequestFilter:
    status: RequestStatus | None = None
    request_type: str | None = None
    kecamatan_code: str | None = None
    submitted_from: date | None = None
    submitted_to: date | None = None
    """Inclusive: requests submitted on this day are found."""


@dataclass(frozen=True)
class IdempotentSubmission:
    fingerprint: str
    request_id: uuid.UUID


class RequestRepository(abc.ABC):
    @abc.abstractmethod
    async def add(self, request: ServiceRequest) -> None: ...

    @abc.abstractmethod
    async def get(self, request_id: uuid.UUID) -> ServiceRequest | None: ...

    @abc.abstractmethod
    async def get_by_number(self, number: str) -> ServiceRequest | None: ...

    @abc.abstractmethod
    async def save(self, request: ServiceRequest) -> None:
        """Store the changes and the new history entries and attachments if nobody changed the request since it
        was loaded, else raise ConcurrentUpdate."""

    @abc.abstractmethod
    async def list(self, where: RequestFilter, *, limit: int, offset: int) -> list[ServiceRequest]:
        """Oldest first."""

    @abc.abstractmethod
    async def next_sequence(self, kecamatan_code: str, day: date) -> int:
        """The next number in the kecamatan's sequence for the day, never handed out twice."""

    @abc.abstractmethod
    async def find_submission(self, idempotency_key: str) -> IdempotentSubmission | None: ...

    @abc.abstractmethod
    async def remember_submission(self, idempotency_key: str, submission: IdempotentSubmission) -> None:
        """Raises ConcurrentUpdate if another submission with the same key got in first."""


class BookingRepository(abc.ABC):
    @abc.abstractmethod
    async def add(self, booking: RecordingBooking) -> None: ...

    @abc.abstractmethod
    async def get(self, booking_id: uuid.UUID) -> RecordingBooking | None: ...

    @abc.abstractmethod
    async def upcoming_for(self, nik: str, today: date) -> RecordingBooking | None: ...

    @abc.abstractmethod
    async def next_queue_number(self, kecamatan_code: str, day: date) -> int: ...


class NotificationRepository(abc.ABC):
    @abc.abstractmethod
    async def add(self, notifications: Sequence[Notification]) -> None: ...

    @abc.abstractmethod
    async def claim_due(self, *, now: datetime, until: datetime, limit: int) -> list[Notification]:
        """Pending notifications due at `now`, oldest first, each with its attempt started and leased `until`."""

    @abc.abstractmethod
    async def record(self, notifications: Sequence[Notification]) -> None:
        """Store the outcome of the attempts; a row another replica claimed since is left alone."""

    @abc.abstractmethod
    async def about(self, request_id: uuid.UUID) -> list[Notification]:
        """The notifications of a request or a booking, oldest first."""


class IncidentRepository(abc.ABC):
    @abc.abstractmethod
    async def add(self, incident: Incident) -> None: ...

    @abc.abstractmethod
    async def get(self, incident_id: uuid.UUID) -> Incident | None: ...

    @abc.abstractmethod
    async def save(self, incident: Incident) -> None: ...

    @abc.abstractmethod
    async def about(self, request_id: uuid.UUID) -> list[Incident]:
        """A request's incidents, open or resolved, oldest first."""

    @abc.abstractmethod
    async def request_states(self, request_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, RequestState]:
        """The status of each of these requests that intake knows."""

    @abc.abstractmethod
    async def stalled(self, policy: StallPolicy, *, now: datetime, limit: int) -> list[RequestState]:
        """Requests whose status is older than the policy allows, longest unchanged first."""

    @abc.abstractmethod
    async def list(self, *, open: bool, limit: int) -> list[Incident]:
        """Open (or resolved) incidents, oldest first."""


class PublicEventLog(abc.ABC):
    """The retained log of events for agencies, in both variants; the relay publishes what it adds."""

    @abc.abstractmethod
    async def add(self, record: PublicEventRecord) -> None:
        """Log the event masked and identified, each to be published to its exchange; an id already logged is
        left as it is."""

    @abc.abstractmethod
    async def between(
        self, *, since: datetime, until: datetime, event_types: Sequence[str], identified: bool
    ) -> list[LoggedPublicEvent]:
        """The logged events of these types that occurred in [since, until), oldest first, in one variant."""


class AgencyRepository(abc.ABC):
    @abc.abstractmethod
    async def add(self, agency: Agency) -> None:
        """Raises AgencyExists if an agency of that name is already there."""

    @abc.abstractmethod
    async def get(self, name: str) -> Agency | None: ...

    @abc.abstractmethod
    async def remove(self, name: str) -> None: ...

    @abc.abstractmethod
    async def list(self) -> list[Agency]:
        """By name."""


class AgencyExists(Exception):
    pass


class StatisticsRepository(abc.ABC):
    """Read only: figures over the requests and their histories, never a person's data."""

    @abc.abstractmethod
    async def count_requests(self, where: StatisticsFilter, group_by: Sequence[Dimension]) -> list[GroupCount]:
        """One count per combination of the dimensions' values that occurs, in no particular order; with no
        dimensions, one count of every request the filter admits."""

    @abc.abstractmethod
    async def milestones(self, where: StatisticsFilter) -> list[RequestMilestones]:
        """For each request the filter admits, when it reached each milestone."""


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
