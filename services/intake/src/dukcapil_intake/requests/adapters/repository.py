import functools
import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import CTE, Insert, Row, Select, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from dukcapil_intake.requests.adapters import tables
from dukcapil_intake.requests.domain.model import (
    Attachment,
    HistoryEntry,
    RecordingBooking,
    RequestLink,
    RequestStatus,
    ServiceRequest,
)
from dukcapil_intake.requests.service_layer.repository import (
    BookingRepository,
    ConcurrentUpdate,
    IdempotentSubmission,
    RequestFilter,
    RequestRepository,
)
from dukcapil_shared.contracts import Delivery, Person
from dukcapil_shared.contracts.details import details_json, typed_details
from dukcapil_shared.db import (
    as_utc,
    children_as_json,
    from_json_time,
    new_values,
    next_in_sequence,
    parameter_rows,
    row_parameters,
)
from dukcapil_shared.messaging.unit_of_work import NOTHING_PENDING, Pending, SqlOutbox, take_pending, with_pending


class SqlRequestRepository(RequestRepository):
    def __init__(self, connection: AsyncConnection, outbox: SqlOutbox | None = None) -> None:
        """`outbox`: the unit of work's; on PostgreSQL the events added to it before a request is stored are
        written in the statement that stores it."""
        self._connection = connection
        self._outbox = outbox
        self._known: dict[uuid.UUID, ServiceRequest] = {}
        """The requests this unit of work has loaded or added, by id (an identity map): loading one again costs no
        round trip, and every handler in the transaction changes the same object. A consumer's batch may hold several
        events of one request (a shipment's steps seen in one tracking round)."""

    async def add(self, request: ServiceRequest) -> None:
        values = (
            {
                "id": str(request.id),
                "number": request.number,
                "type": request.type,
                "applicant": request.applicant.model_dump(mode="json", exclude_none=True),
                "delivery": request.delivery.model_dump(mode="json", exclude_none=True),
                "kecamatan_code": request.kecamatan_code,
                "channel": request.channel,
                "operator": request.operator,
                "office": request.office,
                "submitted_at": request.submitted_at,
            }
            | _changing(request)
            | _follows(request)
        )
        self._known[request.id] = request
        if request.new_history and self._connection.dialect.name == "postgresql":
            # The request, its history and its scans in one statement, as `save` does.
            parameters = {f"new_{name}": value for name, value in values.items()}
            history = [_history_row(None, entry) for entry in request.new_history]
            parameters |= row_parameters("history", history) | row_parameters("attachment", _attachment_rows(request))
            pending = take_pending(self._outbox, parameters)
            statement = _adding_with_history(len(history), len(request.new_attachments), pending)
            await self._connection.execute(statement, parameters)
            request.new_history, request.new_attachments = [], []
            return
        await self._connection.execute(_ADDING, values)
        await self._insert_new_children(request)

    async def get(self, request_id: uuid.UUID) -> ServiceRequest | None:
        if (known := self._known.get(request_id)) is not None:
            return known
        return await self._one(_WHOLE_REQUEST_BY_ID, {"whole_request_id": str(request_id)})

    async def get_by_number(self, number: str) -> ServiceRequest | None:
        return await self._one(_WHOLE_REQUEST_BY_NUMBER, {"whole_request_number": number})

    async def save(self, request: ServiceRequest) -> None:
        values = {f"new_{name}": value for name, value in (_changing(request) | _follows(request)).items()}
        parameters = values | {"saved_id": str(request.id), "expected_version": request.version}
        parameters["new_version"] = request.version + 1
        if request.new_history and self._connection.dialect.name == "postgresql":
            history = [_history_row(None, entry) for entry in request.new_history]
            parameters |= row_parameters("history", history) | row_parameters("attachment", _attachment_rows(request))
            pending = take_pending(self._outbox, parameters)
            statement = _saving_with_history(len(history), len(request.new_attachments), pending)
            applied = (await self._connection.execute(statement, parameters)).rowcount == len(history)
            if applied:
                request.new_history, request.new_attachments = [], []
        else:
            applied = (await self._connection.execute(_SAVING, parameters)).rowcount == 1
        if not applied:
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

    async def _one(self, statement: Select[Any], parameters: dict[str, str]) -> ServiceRequest | None:
        """The request with its history, the requests that followed it and its scans, in one round trip; the object
        this unit of work has already, if it has one."""
        row = (await self._connection.execute(statement, parameters)).one_or_none()
        if row is None:
            return None
        request_id = uuid.UUID(row.id)
        if (known := self._known.get(request_id)) is not None:
            return known
        request = self._known[request_id] = _to_request(row)
        request.history = [
            HistoryEntry(
                event_id=event_id,
                event_type=event_type,
                stage=stage,
                occurred_at=occurred_at,
                note=note,
                status=RequestStatus(status) if status else None,
            )
            for occurred_at, _, event_id, event_type, stage, note, status in sorted(
                (from_json_time(occurred_at), entry_id, *rest) for occurred_at, entry_id, *rest in row.history or []
            )
        ]
        request.led_to = [
            RequestLink(uuid.UUID(follower_id), number, request_type)
            for _, follower_id, number, request_type in sorted(
                (from_json_time(submitted_at), *rest) for submitted_at, *rest in row.followers or []
            )
        ]
        request.attachments = [
            Attachment(
                id=uuid.UUID(attachment_id),
                kind=kind,
                filename=filename,
                content_type=content_type,
                size=size,
                sha256=sha256,
                uploaded_at=uploaded_at,
            )
            for uploaded_at, attachment_id, kind, filename, content_type, size, sha256 in sorted(
                (from_json_time(uploaded_at), *rest) for uploaded_at, *rest in row.attachments or []
            )
        ]
        return request

    async def _insert_new_children(self, request: ServiceRequest) -> None:
        if request.new_history:
            await self._connection.execute(
                insert(tables.request_history), [_history_row(request.id, entry) for entry in request.new_history]
            )
            request.new_history = []
        if request.new_attachments:
            rows = [{"request_id": str(request.id)} | row for row in _attachment_rows(request)]
            await self._connection.execute(insert(tables.attachments), rows)
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


def _whole_request() -> Select[Any]:
    """The request's row with its children as JSON (`json_rows`), each ordered by its first column in Python."""
    history, scans = tables.request_history.c, tables.attachments.c
    follower = tables.requests.alias("follower").c
    request_id = tables.requests.c.id
    return select(
        tables.requests,
        children_as_json(
            "history",
            request_id,
            history.request_id,
            history.occurred_at,
            history.id,
            history.event_id,
            history.event_type,
            history.stage,
            history.note,
            history.status,
        ),
        children_as_json(
            "followers",
            request_id,
            follower.follows_request_id,
            follower.submitted_at,
            follower.id,
            follower.number,
            follower.type,
        ),
        children_as_json(
            "attachments",
            request_id,
            scans.request_id,
            scans.uploaded_at,
            scans.id,
            scans.kind,
            scans.filename,
            scans.content_type,
            scans.size,
            scans.sha256,
        ),
    )


# The statements run for every request are built once and executed with parameters: SQLAlchemy then neither
# builds them nor works out their cache keys each time (see dukcapil_shared.messaging.unit_of_work).
_WHOLE_REQUEST = _whole_request()
_WHOLE_REQUEST_BY_ID = _WHOLE_REQUEST.where(tables.requests.c.id == bindparam("whole_request_id"))
_WHOLE_REQUEST_BY_NUMBER = _WHOLE_REQUEST.where(tables.requests.c.number == bindparam("whole_request_number"))
_ADDING = insert(tables.requests)
_ADDING_EVERY_COLUMN = insert(tables.requests).values(new_values(tables.requests))

_SET_AT_SUBMISSION = frozenset(
    ("id", "number", "type", "applicant", "delivery", "kecamatan_code", "channel", "operator", "office", "submitted_at")
)
_CHANGING_COLUMNS = [column.name for column in tables.requests.c if column.name not in _SET_AT_SUBMISSION]
"""What `save` sets (`_changing` and `_follows` give their values: a column missing there is a missing parameter)."""
_SAVING = (
    update(tables.requests)
    .where(tables.requests.c.id == bindparam("saved_id"), tables.requests.c.version == bindparam("expected_version"))
    .values(new_values(tables.requests, _CHANGING_COLUMNS))
)


_HISTORY_FIELDS = ("event_id", "event_type", "stage", "status", "occurred_at", "note")


_ATTACHMENT_FIELDS = ("id", "kind", "filename", "content_type", "size", "sha256", "uploaded_at")


@functools.cache
def _saving_with_history(entries: int, attachments: int = 0, pending: Pending = NOTHING_PENDING) -> Insert:
    """PostgreSQL: the change, its history, its new scans and the events it announces in one statement. They are
    inserted only if the update found the version it expected, so the history rows inserted say whether it did.
    One statement per number of entries, of scans and of events."""
    return _with_children(_SAVING.returning(tables.requests.c.id).cte("saved"), entries, attachments, pending)


@functools.cache
def _adding_with_history(entries: int, attachments: int = 0, pending: Pending = NOTHING_PENDING) -> Insert:
    """PostgreSQL: a new request (every column a parameter `new_<name>`), its history, its scans and the events it
    announces in one statement; one statement per number of entries, of scans and of events."""
    written = _ADDING_EVERY_COLUMN.returning(tables.requests.c.id).cte("added")
    return _with_children(written, entries, attachments, pending)


def _with_children(written: CTE, entries: int, attachments: int, pending: Pending) -> Insert:
    """The history entries and scans of the request `written` returns, and what the unit of work writes with it
    (`SqlOutbox.take_pending`), inserted in its statement."""
    history = parameter_rows(written.c.id, tables.request_history, _HISTORY_FIELDS, entries, "history")
    statement = insert(tables.request_history).from_select(["request_id", *_HISTORY_FIELDS], history)
    statement = statement.add_cte(written)
    if attachments:
        attached = (
            insert(tables.attachments)
            .from_select(
                ["request_id", *_ATTACHMENT_FIELDS],
                parameter_rows(written.c.id, tables.attachments, _ATTACHMENT_FIELDS, attachments, "attachment"),
            )
            .cte("attached")
        )
        statement = statement.add_cte(attached)
    return with_pending(statement, written, pending)


def _attachment_rows(request: ServiceRequest) -> list[dict[str, Any]]:
    return [
        {
            "id": str(item.id),
            "kind": item.kind,
            "filename": item.filename,
            "content_type": item.content_type,
            "size": item.size,
            "sha256": item.sha256,
            "uploaded_at": item.uploaded_at,
        }
        for item in request.new_attachments
    ]


def _history_row(request_id: uuid.UUID | None, entry: HistoryEntry) -> dict[str, Any]:
    """An entry's columns (request_id first, when given; a one-statement save takes it from the updated row)."""
    values = (
        entry.event_id,
        entry.event_type,
        entry.stage,
        entry.status.value if entry.status else None,
        entry.occurred_at,
        entry.note,
    )
    row = {"request_id": str(request_id)} if request_id is not None else {}
    return row | dict(zip(_HISTORY_FIELDS, values, strict=True))


def _changing(request: ServiceRequest) -> dict[str, Any]:
    """The columns that change over a request's life."""
    return {
        "status": request.status.value,
        "details": details_json(request.details),
        "flags": request.flags,
        "required_attachments": request.required_attachments,
        "updated_at": request.updated_at,
        "version": request.version,
        "access_code_version": request.access_code_version,
        "document_id": str(request.document_id) if request.document_id else None,
        "document_number": request.document_number,
    }


def _follows(request: ServiceRequest) -> dict[str, Any]:
    link = request.follows
    return {
        "follows_request_id": str(link.id) if link else None,
        "follows_number": link.number if link else None,
        "follows_type": link.type if link else None,
    }


def _to_request(row: Row) -> ServiceRequest:
    return ServiceRequest(
        id=uuid.UUID(row.id),
        number=row.number,
        type=row.type,
        applicant=Person.model_validate(row.applicant),
        details=typed_details(row.details, row.type),  # rows written before details were typed have no `type`
        delivery=Delivery.model_validate(row.delivery),
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
        follows=(
            RequestLink(uuid.UUID(row.follows_request_id), row.follows_number, row.follows_type)
            if row.follows_request_id
            else None
        ),
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
