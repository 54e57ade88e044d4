import copy
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime

from dukcapil_intake.agencies.domain.agencies import Agency
from dukcapil_intake.agencies.domain.public_events import LoggedPublicEvent, PublicEventRecord
from dukcapil_intake.agencies.service_layer.repository import AgencyExists, AgencyRepository, PublicEventLog
from dukcapil_intake.agencies.service_layer.unit_of_work import AgenciesUnitOfWork
from dukcapil_intake.dispatch import follow_requests
from dukcapil_intake.incidents.service_layer.unit_of_work import IncidentsUnitOfWork
from dukcapil_intake.notifications.domain.notifications import Notification, NotificationStatus
from dukcapil_intake.notifications.service_layer.repository import NotificationRepository
from dukcapil_intake.notifications.service_layer.unit_of_work import NotificationsUnitOfWork
from dukcapil_intake.requests.domain.events import RequestEvent
from dukcapil_intake.requests.domain.model import RecordingBooking, RequestStatus, ServiceRequest
from dukcapil_intake.requests.domain.scans import Finding, ScanLimits, ScanReport, claimed_type
from dukcapil_intake.requests.service_layer.repository import (
    BookingRepository,
    ConcurrentUpdate,
    IdempotentSubmission,
    RequestFilter,
    RequestRepository,
)
from dukcapil_intake.requests.service_layer.scans import ScanInspector
from dukcapil_intake.requests.service_layer.unit_of_work import RequestsUnitOfWork
from dukcapil_intake.statistics.domain.statistics import (
    Dimension,
    GroupCount,
    Month,
    RequestMilestones,
    StatisticsFilter,
)
from dukcapil_intake.statistics.service_layer.repository import StatisticsRepository
from dukcapil_intake.statistics.service_layer.unit_of_work import StatisticsUnitOfWork
from dukcapil_shared.contracts.public import PublicEvent
from dukcapil_shared.files import FileStore
from dukcapil_testing import FakeUnitOfWork


class FakeRequestRepository(RequestRepository):
    def __init__(self) -> None:
        self.committed: dict[uuid.UUID, ServiceRequest] = {}
        self.pending: dict[uuid.UUID, ServiceRequest] = {}
        self.counters: dict[tuple[str, date], int] = {}
        self.submissions: dict[str, IdempotentSubmission] = {}
        self.pending_submissions: dict[str, IdempotentSubmission] = {}

    async def add(self, request: ServiceRequest) -> None:
        request.new_history = []
        request.new_attachments = []
        self.pending[request.id] = copy.deepcopy(request)

    async def get(self, request_id: uuid.UUID) -> ServiceRequest | None:
        return copy.deepcopy(self.pending.get(request_id) or self.committed.get(request_id))

    async def get_by_number(self, number: str) -> ServiceRequest | None:
        found = [r for r in [*self.committed.values(), *self.pending.values()] if r.number == number]
        return copy.deepcopy(found[-1]) if found else None

    async def save(self, request: ServiceRequest) -> None:
        current = self.pending.get(request.id) or self.committed[request.id]
        if current.version != request.version:
            raise ConcurrentUpdate(str(request.id))
        request.version += 1
        await self.add(request)

    async def list(self, where: RequestFilter, *, limit: int, offset: int) -> list[ServiceRequest]:
        found = [
            r
            for r in sorted(self.committed.values(), key=lambda r: r.submitted_at)
            if (where.status is None or r.status == where.status)
            and (where.request_type is None or r.type == where.request_type)
            and (where.kecamatan_code is None or r.kecamatan_code == where.kecamatan_code)
        ]
        return found[offset : offset + limit]

    async def next_sequence(self, kecamatan_code: str, day: date) -> int:
        self.counters[(kecamatan_code, day)] = self.counters.get((kecamatan_code, day), 0) + 1
        return self.counters[(kecamatan_code, day)]

    async def find_submission(self, idempotency_key: str) -> IdempotentSubmission | None:
        return self.submissions.get(idempotency_key)

    async def remember_submission(self, idempotency_key: str, submission: IdempotentSubmission) -> None:
        if idempotency_key in self.submissions:
            raise ConcurrentUpdate(idempotency_key)
        self.pending_submissions[idempotency_key] = submission


class FakeBookingRepository(BookingRepository):
    def __init__(self) -> None:
        self.committed: dict[uuid.UUID, RecordingBooking] = {}
        self.pending: dict[uuid.UUID, RecordingBooking] = {}
        self.queues: dict[tuple[str, date], int] = {}

    async def add(self, booking: RecordingBooking) -> None:
        self.pending[booking.id] = booking

    async def get(self, booking_id: uuid.UUID) -> RecordingBooking | None:
        return self.committed.get(booking_id)

    async def upcoming_for(self, nik: str, today: date) -> RecordingBooking | None:
        found = [b for b in self.committed.values() if b.nik == nik and b.appointment_date >= today]
        return min(found, key=lambda b: b.appointment_date) if found else None

    async def next_queue_number(self, kecamatan_code: str, day: date) -> int:
        self.queues[(kecamatan_code, day)] = self.queues.get((kecamatan_code, day), 0) + 1
        return self.queues[(kecamatan_code, day)]


class FakeNotificationRepository(NotificationRepository):
    def __init__(self) -> None:
        self.committed: dict[uuid.UUID, Notification] = {}
        self.pending: dict[uuid.UUID, Notification] = {}

    async def add(self, notifications: Sequence[Notification]) -> None:
        taken = {(n.event_id, n.channel) for n in [*self.committed.values(), *self.pending.values()]}
        for notification in notifications:
            assert (notification.event_id, notification.channel) not in taken, "one notice per event and channel"
            self.pending[notification.id] = copy.deepcopy(notification)

    async def claim_due(self, *, now: datetime, until: datetime, limit: int) -> list[Notification]:
        due = sorted(
            (n for n in self.committed.values() if n.status == NotificationStatus.pending and n.next_attempt_at <= now),
            key=lambda n: n.next_attempt_at,
        )[:limit]
        claimed = [copy.deepcopy(n) for n in due]
        for notification in claimed:
            notification.start_attempt(until)
            self.pending[notification.id] = copy.deepcopy(notification)
        return claimed

    async def record(self, notifications: Sequence[Notification]) -> None:
        for notification in notifications:
            current = self.pending.get(notification.id) or self.committed[notification.id]
            if current.attempts == notification.attempts:
                self.pending[notification.id] = copy.deepcopy(notification)

    async def about(self, request_id: uuid.UUID) -> list[Notification]:
        found = [n for n in self.committed.values() if n.request_id == request_id]
        return sorted(found, key=lambda n: (n.created_at, n.channel.value))

    def of_kind(self, kind: str) -> list[Notification]:
        return [n for n in self.committed.values() if n.kind == kind]


class FakePublicEventLog(PublicEventLog):
    def __init__(self) -> None:
        self.committed: dict[uuid.UUID, PublicEventRecord] = {}
        self.pending: dict[uuid.UUID, PublicEventRecord] = {}

    async def add(self, record: PublicEventRecord) -> None:
        if record.id not in self.committed:
            self.pending[record.id] = record

    async def between(
        self, *, since: datetime, until: datetime, event_types: Sequence[str], identified: bool
    ) -> list[LoggedPublicEvent]:
        found = sorted(
            (
                r
                for r in self.committed.values()
                if since <= r.occurred_at < until and r.event.type_name() in event_types
            ),
            key=lambda r: (r.occurred_at, str(r.id)),
        )
        return [
            LoggedPublicEvent(
                id=str(r.id),
                event_type=r.event.type_name(),
                region_code=r.event.region_code,
                document_number=r.event.document_number,
                occurred_at=r.occurred_at,
                body=r.event.envelope(event_id=r.id, time=r.occurred_at, identified=identified).model_dump_json(),
            )
            for r in found
        ]

    @property
    def events(self) -> list[PublicEvent]:
        return [record.event for record in self.committed.values()]


class FakeAgencyRepository(AgencyRepository):
    def __init__(self) -> None:
        self.committed: dict[str, Agency] = {}
        self.pending: dict[str, Agency | None] = {}

    def _current(self) -> dict[str, Agency]:
        merged = {**self.committed, **self.pending}
        return {name: agency for name, agency in merged.items() if agency is not None}

    async def add(self, agency: Agency) -> None:
        if agency.name in self._current():
            raise AgencyExists(
                f"an agency named {agency.name} exists already; offboard it first to change what it gets"
            )
        self.pending[agency.name] = agency

    async def get(self, name: str) -> Agency | None:
        return self._current().get(name)

    async def remove(self, name: str) -> None:
        self.pending[name] = None

    async def list(self) -> list[Agency]:
        return sorted(self._current().values(), key=lambda agency: agency.name)

    def commit(self) -> None:
        self.committed = {**self.committed, **self.pending}
        self.committed = {name: agency for name, agency in self.committed.items() if agency is not None}
        self.pending = {}


class FakeStatisticsRepository(StatisticsRepository):
    """The figures over the committed requests, computed the plain way, for the SQL to be checked against."""

    def __init__(self, requests: FakeRequestRepository) -> None:
        self._requests = requests

    def _admitted(self, where: StatisticsFilter) -> list[ServiceRequest]:
        return [r for r in self._requests.committed.values() if where.admits(r.type, r.kecamatan_code, r.submitted_at)]

    async def count_requests(self, where: StatisticsFilter, group_by: Sequence[Dimension]) -> list[GroupCount]:
        def values(request: ServiceRequest) -> dict[str, str]:
            every = {
                Dimension.type: request.type,
                Dimension.status: request.status.value,
                Dimension.kecamatan: request.kecamatan_code,
                Dimension.month: str(Month.of(request.submitted_at)),
            }
            return {dimension.value: every[dimension] for dimension in group_by}

        admitted = self._admitted(where)
        if not group_by:
            return [GroupCount(count=len(admitted))]
        counted = Counter(tuple(sorted(values(request).items())) for request in admitted)
        return [GroupCount(count=count, **dict(key)) for key, count in counted.items()]

    async def milestones(self, where: StatisticsFilter) -> list[RequestMilestones]:
        return [
            RequestMilestones.of(r.id, r.submitted_at, [(e.event_type, e.occurred_at) for e in r.history])
            for r in self._admitted(where)
        ]


class FakeNotificationsUnitOfWork(FakeUnitOfWork, NotificationsUnitOfWork):
    def __init__(self) -> None:
        super().__init__()
        self.notifications = FakeNotificationRepository()

    async def commit(self) -> None:
        await super().commit()
        self.notifications.committed.update(self.notifications.pending)
        self.notifications.pending = {}

    async def rollback(self) -> None:
        await super().rollback()
        self.notifications.pending = {}


class FakeAgenciesUnitOfWork(FakeUnitOfWork, AgenciesUnitOfWork):
    def __init__(self) -> None:
        super().__init__()
        self.agencies = FakeAgencyRepository()
        self.public_events = FakePublicEventLog()

    async def commit(self) -> None:
        await super().commit()
        self.public_events.committed.update(self.public_events.pending)
        self.public_events.pending = {}
        self.agencies.commit()

    async def rollback(self) -> None:
        await super().rollback()
        self.public_events.pending = {}
        self.agencies.pending = {}


class FakeStatisticsUnitOfWork(FakeUnitOfWork, StatisticsUnitOfWork):
    def __init__(self, requests: FakeRequestRepository) -> None:
        super().__init__()
        self.statistics = FakeStatisticsRepository(requests)


class FakeRequestsUnitOfWork(FakeUnitOfWork, RequestsUnitOfWork):
    """The requests and bookings. What happens to them goes, through the wiring production uses
    (dispatch.follow_requests), to the notifications' and agencies' fake units of work, joined to this one: they
    commit and roll back with it, as one transaction. `notify` as INTAKE_NOTIFICATIONS_ENABLED."""

    def __init__(self, *, notify: bool = True) -> None:
        super().__init__()
        self.requests = FakeRequestRepository()
        self.bookings = FakeBookingRepository()
        self.notices = FakeNotificationsUnitOfWork()
        self.agency_log = FakeAgenciesUnitOfWork()
        self.notify = notify
        self.incidents_side: IncidentsUnitOfWork | None = None
        """The incidents' unit of work, when a test follows them too (tests/incidents)."""

    async def hand_on(self, happened: Sequence[RequestEvent]) -> None:
        incidents_side = self.incidents_side
        followers = follow_requests(
            notifications=lambda _: self.notices,
            agencies=lambda _: self.agency_log,
            notify=self.notify,
            incidents=(lambda _: incidents_side) if incidents_side is not None else None,
        )
        await followers(self, happened)

    async def commit(self) -> None:
        await super().commit()
        self.requests.committed.update(self.requests.pending)
        self.requests.pending = {}
        self.requests.submissions.update(self.requests.pending_submissions)
        self.requests.pending_submissions = {}
        self.bookings.committed.update(self.bookings.pending)
        self.bookings.pending = {}
        await self.notices.commit()
        await self.agency_log.commit()
        if self.incidents_side is not None:
            await self.incidents_side.commit()

    async def rollback(self) -> None:
        await super().rollback()
        self.requests.pending = {}
        self.requests.pending_submissions = {}
        self.bookings.pending = {}
        await self.notices.rollback()
        await self.agency_log.rollback()
        if self.incidents_side is not None:
            await self.incidents_side.rollback()

    def status_of(self, request_id: uuid.UUID) -> RequestStatus:
        return self.requests.committed[request_id].status


class FakeFileStore(FileStore):
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    async def save(self, key: str, content: bytes) -> None:
        self.files[key] = content

    async def load(self, key: str) -> bytes | None:
        return self.files.get(key)

    async def delete(self, key: str) -> None:
        self.files.pop(key, None)


class FakeScanInspector(ScanInspector):
    """Takes every file for what its first bytes claim, unless told what to report."""

    def __init__(self, report: ScanReport | None = None) -> None:
        self.report = report
        self.inspected: list[tuple[bytes, ScanLimits]] = []

    async def inspect(self, content: bytes, limits: ScanLimits) -> ScanReport:
        self.inspected.append((content, limits))
        if self.report is not None:
            return self.report
        claimed = claimed_type(content[:16])
        return ScanReport(Finding.readable if claimed else Finding.not_a_scan, claimed)
