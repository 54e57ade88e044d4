import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Row, and_, bindparam, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from dukcapil_intake.adapters import tables
from dukcapil_intake.adapters.statistics import SqlStatisticsRepository
from dukcapil_intake.domain.agencies import Agency
from dukcapil_intake.domain.incidents import Incident, IncidentStatus, RequestState, StallPolicy
from dukcapil_intake.domain.model import Attachment, HistoryEntry, RecordingBooking, RequestStatus, ServiceRequest
from dukcapil_intake.domain.notifications import Channel, Notification, NotificationStatus
from dukcapil_intake.domain.public_events import LoggedPublicEvent, PublicEventRecord
from dukcapil_intake.service_layer.unit_of_work import (
    AgencyExists,
    AgencyRepository,
    BookingRepository,
    ConcurrentUpdate,
    IdempotentSubmission,
    IncidentRepository,
    IntakeUnitOfWork,
    NotificationRepository,
    PublicEventLog,
    RequestFilter,
    RequestRepository,
)
from dukcapil_shared.db import as_utc, next_in_sequence
from dukcapil_shared.messaging import SqlUnitOfWork


class SqlRequestRepository(RequestRepository):
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, request: ServiceRequest) -> None:
        await self._connection.execute(
            insert(tables.requests).values(
                id=str(request.id),
                number=request.number,
                type=request.type,
                applicant=request.applicant,
                delivery=request.delivery,
                kecamatan_code=request.kecamatan_code,
                channel=request.channel,
                operator=request.operator,
                office=request.office,
                submitted_at=request.submitted_at,
                **_changing(request),
            )
        )
        await self._insert_new_children(request)

    async def get(self, request_id: uuid.UUID) -> ServiceRequest | None:
        return await self._one(tables.requests.c.id == str(request_id))

    async def get_by_number(self, number: str) -> ServiceRequest | None:
        return await self._one(tables.requests.c.number == number)

    async def save(self, request: ServiceRequest) -> None:
        result = await self._connection.execute(
            update(tables.requests)
            .where(tables.requests.c.id == str(request.id), tables.requests.c.version == request.version)
            .values(**_changing(request) | {"version": request.version + 1})
        )
        if result.rowcount != 1:
            raise ConcurrentUpdate(f"request {request.id} changed since it was loaded")
        request.version += 1
        await self._insert_new_children(request)

    async def list(self, where: RequestFilter, *, limit: int, offset: int) -> list[ServiceRequest]:
        columns = tables.requests.c
        query = select(tables.requests).order_by(columns.submitted_at, columns.id).limit(limit).offset(offset)
        if where.status is not None:
            query = query.where(columns.status == where.status.value)
        if where.request_type is not None:
            query = query.where(columns.type == where.request_type)
        if where.kecamatan_code is not None:
            query = query.where(columns.kecamatan_code == where.kecamatan_code)
        if where.submitted_from is not None:
            query = query.where(columns.submitted_at >= datetime.combine(where.submitted_from, time(), UTC))
        if where.submitted_to is not None:
            end = datetime.combine(where.submitted_to + timedelta(days=1), time(), UTC)
            query = query.where(columns.submitted_at < end)
        return [_to_request(row) for row in await self._connection.execute(query)]

    async def next_sequence(self, kecamatan_code: str, day: date) -> int:
        return await next_in_sequence(self._connection, tables.request_counters, kecamatan_code=kecamatan_code, day=day)

    async def find_submission(self, idempotency_key: str) -> IdempotentSubmission | None:
        row = (
            await self._connection.execute(
                select(tables.idempotency_keys).where(tables.idempotency_keys.c.key == idempotency_key)
            )
        ).one_or_none()
        return IdempotentSubmission(row.fingerprint, uuid.UUID(row.request_id)) if row is not None else None

    async def remember_submission(self, idempotency_key: str, submission: IdempotentSubmission) -> None:
        try:
            async with self._connection.begin_nested():
                await self._connection.execute(
                    insert(tables.idempotency_keys).values(
                        key=idempotency_key,
                        fingerprint=submission.fingerprint,
                        request_id=str(submission.request_id),
                        created_at=datetime.now(UTC),
                    )
                )
        except IntegrityError as error:
            raise ConcurrentUpdate(f"idempotency key {idempotency_key!r} was just used") from error

    async def _one(self, condition: ColumnElement[bool]) -> ServiceRequest | None:
        row = (await self._connection.execute(select(tables.requests).where(condition))).one_or_none()
        if row is None:
            return None
        request = _to_request(row)
        history = await self._connection.execute(
            select(tables.request_history)
            .where(tables.request_history.c.request_id == row.id)
            .order_by(tables.request_history.c.occurred_at, tables.request_history.c.id)
        )
        request.history = [
            HistoryEntry(
                event_id=entry.event_id,
                event_type=entry.event_type,
                stage=entry.stage,
                occurred_at=as_utc(entry.occurred_at),
                note=entry.note,
                status=RequestStatus(entry.status) if entry.status else None,
            )
            for entry in history
        ]
        attachments = await self._connection.execute(
            select(tables.attachments)
            .where(tables.attachments.c.request_id == row.id)
            .order_by(tables.attachments.c.uploaded_at)
        )
        request.attachments = [
            Attachment(
                id=uuid.UUID(item.id),
                kind=item.kind,
                filename=item.filename,
                content_type=item.content_type,
                size=item.size,
                sha256=item.sha256,
                uploaded_at=as_utc(item.uploaded_at),
            )
            for item in attachments
        ]
        return request

    async def _insert_new_children(self, request: ServiceRequest) -> None:
        if request.new_history:
            await self._connection.execute(
                insert(tables.request_history),
                [
                    {
                        "request_id": str(request.id),
                        "event_id": entry.event_id,
                        "event_type": entry.event_type,
                        "stage": entry.stage,
                        "status": entry.status.value if entry.status else None,
                        "occurred_at": entry.occurred_at,
                        "note": entry.note,
                    }
                    for entry in request.new_history
                ],
            )
            request.new_history = []
        if request.new_attachments:
            await self._connection.execute(
                insert(tables.attachments),
                [
                    {
                        "id": str(item.id),
                        "request_id": str(request.id),
                        "kind": item.kind,
                        "filename": item.filename,
                        "content_type": item.content_type,
                        "size": item.size,
                        "sha256": item.sha256,
                        "uploaded_at": item.uploaded_at,
                    }
                    for item in request.new_attachments
                ],
            )
            request.new_attachments = []


class SqlBookingRepository(BookingRepository):
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, booking: RecordingBooking) -> None:
        await self._connection.execute(
            insert(tables.recording_bookings).values(
                id=str(booking.id),
                number=booking.number,
                nik=booking.nik,
                name=booking.name,
                kecamatan_code=booking.kecamatan_code,
                appointment_date=booking.appointment_date,
                queue_number=booking.queue_number,
                created_at=booking.created_at,
            )
        )

    async def get(self, booking_id: uuid.UUID) -> RecordingBooking | None:
        row = (
            await self._connection.execute(
                select(tables.recording_bookings).where(tables.recording_bookings.c.id == str(booking_id))
            )
        ).one_or_none()
        return _to_booking(row) if row is not None else None

    async def upcoming_for(self, nik: str, today: date) -> RecordingBooking | None:
        bookings = tables.recording_bookings.c
        row = (
            await self._connection.execute(
                select(tables.recording_bookings)
                .where(bookings.nik == nik, bookings.appointment_date >= today)
                .order_by(bookings.appointment_date)
                .limit(1)
            )
        ).one_or_none()
        return _to_booking(row) if row is not None else None

    async def next_queue_number(self, kecamatan_code: str, day: date) -> int:
        return await next_in_sequence(
            self._connection, tables.recording_counters, kecamatan_code=kecamatan_code, day=day
        )


class SqlNotificationRepository(NotificationRepository):
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, notifications: Sequence[Notification]) -> None:
        if notifications:
            await self._connection.execute(
                insert(tables.notifications),
                [
                    {
                        "id": str(item.id),
                        "request_id": str(item.request_id),
                        "event_id": item.event_id,
                        "kind": item.kind,
                        "channel": item.channel.value,
                        "recipient": item.recipient,
                        "subject": item.subject,
                        "body": item.body,
                        "status": item.status.value,
                        "attempts": item.attempts,
                        "created_at": item.created_at,
                        "next_attempt_at": item.next_attempt_at,
                        "last_error": item.last_error,
                        "sent_at": item.sent_at,
                    }
                    for item in notifications
                ],
            )

    async def claim_due(self, *, now: datetime, until: datetime, limit: int) -> list[Notification]:
        table = tables.notifications
        due = (
            select(table)
            .where(table.c.status == NotificationStatus.pending.value, table.c.next_attempt_at <= now)
            .order_by(table.c.next_attempt_at, table.c.id)
            .limit(limit)
        )
        if self._connection.dialect.name == "postgresql":
            # Rows another replica is claiming right now are skipped; SQLite has one writer at a time anyway.
            due = due.with_for_update(skip_locked=True)
        claimed = [_to_notification(row) for row in await self._connection.execute(due)]
        if claimed:
            await self._connection.execute(
                update(table)
                .where(table.c.id.in_([str(item.id) for item in claimed]))
                .values(attempts=table.c.attempts + 1, next_attempt_at=until)
            )
        for item in claimed:
            item.start_attempt(until)
        return claimed

    async def record(self, notifications: Sequence[Notification]) -> None:
        if not notifications:
            return
        table = tables.notifications
        # The attempt count identifies this claim: a row claimed again after its lease ran out is not overwritten.
        statement = (
            update(table)
            .where(table.c.id == bindparam("claimed_id"), table.c.attempts == bindparam("claimed_attempts"))
            .values(
                status=bindparam("new_status"),
                next_attempt_at=bindparam("new_next_attempt_at"),
                last_error=bindparam("new_last_error"),
                sent_at=bindparam("new_sent_at"),
            )
        )
        await self._connection.execute(
            statement,
            [
                {
                    "claimed_id": str(item.id),
                    "claimed_attempts": item.attempts,
                    "new_status": item.status.value,
                    "new_next_attempt_at": item.next_attempt_at,
                    "new_last_error": item.last_error,
                    "new_sent_at": item.sent_at,
                }
                for item in notifications
            ],
        )

    async def about(self, request_id: uuid.UUID) -> list[Notification]:
        table = tables.notifications
        rows = await self._connection.execute(
            select(table)
            .where(table.c.request_id == str(request_id))
            .order_by(table.c.created_at, table.c.channel, table.c.id)
        )
        return [_to_notification(row) for row in rows]


class SqlIncidentRepository(IncidentRepository):
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, incident: Incident) -> None:
        await self._connection.execute(insert(tables.incidents).values(id=str(incident.id), **_incident_row(incident)))

    async def get(self, incident_id: uuid.UUID) -> Incident | None:
        table = tables.incidents
        row = (await self._connection.execute(select(table).where(table.c.id == str(incident_id)))).one_or_none()
        return _to_incident(row) if row is not None else None

    async def save(self, incident: Incident) -> None:
        table = tables.incidents
        await self._connection.execute(
            update(table).where(table.c.id == str(incident.id)).values(**_incident_row(incident))
        )

    async def about(self, request_id: uuid.UUID) -> list[Incident]:
        table = tables.incidents
        rows = await self._connection.execute(
            select(table).where(table.c.request_id == str(request_id)).order_by(table.c.opened_at, table.c.id)
        )
        return [_to_incident(row) for row in rows]

    async def request_states(self, request_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, RequestState]:
        if not request_ids:
            return {}
        columns = tables.requests.c
        rows = await self._connection.execute(
            select(columns.id, columns.number, columns.status, columns.updated_at).where(
                columns.id.in_(sorted({str(request_id) for request_id in request_ids}))
            )
        )
        return {uuid.UUID(row.id): _to_state(row) for row in rows}

    async def stalled(self, policy: StallPolicy, *, now: datetime, limit: int) -> list[RequestState]:
        if not policy.after:
            return []
        columns = tables.requests.c
        overdue = [
            and_(columns.status == status.value, columns.updated_at < now - threshold)
            for status, threshold in policy.after.items()
        ]
        rows = await self._connection.execute(
            select(columns.id, columns.number, columns.status, columns.updated_at)
            .where(or_(*overdue))
            .order_by(columns.updated_at, columns.id)
            .limit(limit)
        )
        return [_to_state(row) for row in rows]

    async def list(self, *, open: bool, limit: int) -> list[Incident]:
        table = tables.incidents
        status = IncidentStatus.open if open else IncidentStatus.resolved
        rows = await self._connection.execute(
            select(table).where(table.c.status == status.value).order_by(table.c.opened_at, table.c.id).limit(limit)
        )
        return [_to_incident(row) for row in rows]


class SqlPublicEventLog(PublicEventLog):
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, record: PublicEventRecord) -> None:
        now = datetime.now(UTC)
        try:
            async with self._connection.begin_nested():
                for table, identified in ((tables.public_events, False), (tables.identified_public_events, True)):
                    envelope = record.event.envelope(event_id=record.id, time=record.occurred_at, identified=identified)
                    await self._connection.execute(
                        insert(table).values(
                            id=str(record.id),
                            routing_key=record.event.routing_key(),
                            subject=record.event.document_number,
                            body=envelope.model_dump_json(),
                            event_type=record.event.type_name(),
                            region_code=record.event.region_code,
                            request_id=str(record.request_id),
                            # SQLite keeps the wall time only: everything is stored in UTC.
                            occurred_at=record.occurred_at.astimezone(UTC),
                            created_at=now,
                            attempts=0,
                            next_attempt_at=now,
                        )
                    )
        except IntegrityError:
            return  # derived from the same lifecycle event before: logged already

    async def between(
        self, *, since: datetime, until: datetime, event_types: Sequence[str], identified: bool
    ) -> list[LoggedPublicEvent]:
        table = tables.identified_public_events if identified else tables.public_events
        rows = await self._connection.execute(
            select(table)
            .where(
                table.c.occurred_at >= since.astimezone(UTC),
                table.c.occurred_at < until.astimezone(UTC),
                table.c.event_type.in_(list(event_types)),
            )
            .order_by(table.c.occurred_at, table.c.id)
        )
        return [
            LoggedPublicEvent(
                id=row.id,
                event_type=row.event_type,
                region_code=row.region_code,
                document_number=row.subject,
                occurred_at=as_utc(row.occurred_at),
                body=row.body,
            )
            for row in rows
        ]


class SqlAgencyRepository(AgencyRepository):
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, agency: Agency) -> None:
        try:
            async with self._connection.begin_nested():
                await self._connection.execute(
                    insert(tables.agencies).values(
                        name=agency.name,
                        event_types=list(agency.event_types),
                        region_prefixes=list(agency.region_prefixes),
                        identified=agency.identified,
                        onboarded_at=agency.onboarded_at.astimezone(UTC),
                        onboarded_by=agency.onboarded_by,
                    )
                )
        except IntegrityError as error:
            raise AgencyExists(
                f"an agency named {agency.name} exists already; offboard it first to change what it gets"
            ) from error

    async def get(self, name: str) -> Agency | None:
        row = (
            await self._connection.execute(select(tables.agencies).where(tables.agencies.c.name == name))
        ).one_or_none()
        return _to_agency(row) if row is not None else None

    async def remove(self, name: str) -> None:
        await self._connection.execute(delete(tables.agencies).where(tables.agencies.c.name == name))

    async def list(self) -> list[Agency]:
        rows = await self._connection.execute(select(tables.agencies).order_by(tables.agencies.c.name))
        return [_to_agency(row) for row in rows]


class SqlIntakeUnitOfWork(SqlUnitOfWork, IntakeUnitOfWork):
    def bind(self, connection: AsyncConnection) -> None:
        self.requests = SqlRequestRepository(connection)
        self.bookings = SqlBookingRepository(connection)
        self.notifications = SqlNotificationRepository(connection)
        self.incidents = SqlIncidentRepository(connection)
        self.public_events = SqlPublicEventLog(connection)
        self.agencies = SqlAgencyRepository(connection)
        self.statistics = SqlStatisticsRepository(connection)


def _changing(request: ServiceRequest) -> dict[str, Any]:
    """The columns that change over a request's life."""
    return {
        "status": request.status.value,
        "details": request.details,
        "flags": request.flags,
        "required_attachments": request.required_attachments,
        "updated_at": request.updated_at,
        "version": request.version,
        "access_code_version": request.access_code_version,
        "document_id": str(request.document_id) if request.document_id else None,
        "document_number": request.document_number,
    }


def _to_request(row: Row) -> ServiceRequest:
    return ServiceRequest(
        id=uuid.UUID(row.id),
        number=row.number,
        type=row.type,
        applicant=row.applicant,
        details=row.details,
        delivery=row.delivery,
        kecamatan_code=row.kecamatan_code,
        channel=row.channel,
        operator=row.operator,
        office=row.office,
        flags=list(row.flags),
        required_attachments=list(row.required_attachments),
        status=RequestStatus(row.status),
        submitted_at=as_utc(row.submitted_at),
        updated_at=as_utc(row.updated_at),
        version=row.version,
        access_code_version=row.access_code_version,
        document_id=uuid.UUID(row.document_id) if row.document_id else None,
        document_number=row.document_number,
    )


def _to_booking(row: Row) -> RecordingBooking:
    return RecordingBooking(
        id=uuid.UUID(row.id),
        number=row.number,
        nik=row.nik,
        name=row.name,
        kecamatan_code=row.kecamatan_code,
        appointment_date=row.appointment_date,
        queue_number=row.queue_number,
        created_at=as_utc(row.created_at),
    )


def _to_notification(row: Row) -> Notification:
    return Notification(
        id=uuid.UUID(row.id),
        request_id=uuid.UUID(row.request_id),
        event_id=row.event_id,
        kind=row.kind,
        channel=Channel(row.channel),
        recipient=row.recipient,
        subject=row.subject,
        body=row.body,
        created_at=as_utc(row.created_at),
        next_attempt_at=as_utc(row.next_attempt_at),
        status=NotificationStatus(row.status),
        attempts=row.attempts,
        last_error=row.last_error,
        sent_at=as_utc(row.sent_at) if row.sent_at else None,
    )


def _incident_row(incident: Incident) -> dict[str, Any]:
    return {
        "request_id": str(incident.request_id),
        "service": incident.service,
        "queue": incident.queue,
        "event_type": incident.event_type,
        "error": incident.error,
        "attempts": incident.attempts,
        "first_failure_at": incident.first_failure_at,
        "last_failure_at": incident.last_failure_at,
        "opened_at": incident.opened_at,
        "status": incident.status.value,
        "resolution": incident.resolution,
        "resolved_by": incident.resolved_by,
        "resolved_at": incident.resolved_at,
        "resolution_reason": incident.resolution_reason,
    }


def _to_incident(row: Row) -> Incident:
    return Incident(
        id=uuid.UUID(row.id),
        request_id=uuid.UUID(row.request_id),
        service=row.service,
        queue=row.queue,
        event_type=row.event_type,
        error=row.error,
        attempts=row.attempts,
        opened_at=as_utc(row.opened_at),
        first_failure_at=as_utc(row.first_failure_at) if row.first_failure_at else None,
        last_failure_at=as_utc(row.last_failure_at) if row.last_failure_at else None,
        status=IncidentStatus(row.status),
        resolution=row.resolution,
        resolved_by=row.resolved_by,
        resolved_at=as_utc(row.resolved_at) if row.resolved_at else None,
        resolution_reason=row.resolution_reason,
    )


def _to_state(row: Row) -> RequestState:
    return RequestState(
        id=uuid.UUID(row.id), number=row.number, status=RequestStatus(row.status), updated_at=as_utc(row.updated_at)
    )


def _to_agency(row: Row) -> Agency:
    return Agency(
        name=row.name,
        event_types=tuple(row.event_types),
        region_prefixes=tuple(row.region_prefixes),
        identified=row.identified,
        onboarded_at=as_utc(row.onboarded_at),
        onboarded_by=row.onboarded_by,
    )
