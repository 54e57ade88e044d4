import functools
import uuid
from collections.abc import Sequence
from dataclasses import asdict, fields
from datetime import datetime

from sqlalchemy import (
    CTE,
    ColumnElement,
    Insert,
    Table,
    and_,
    bindparam,
    case,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from dukcapil_review.adapters import tables
from dukcapil_review.domain.model import OPEN_STATUSES, AuditEntry, Review, ReviewStatus
from dukcapil_review.domain.prechecks import PreCheck
from dukcapil_review.service_layer.unit_of_work import (
    AuditLog,
    ConcurrentUpdate,
    PendingCount,
    QueueOrder,
    ReviewQuery,
    ReviewRepository,
    ReviewUnitOfWork,
)
from dukcapil_shared.contracts import Delivery, Person
from dukcapil_shared.contracts.details import details_json, typed_details
from dukcapil_shared.db import as_utc, new_values, parameter_rows, row_parameters
from dukcapil_shared.messaging import SqlUnitOfWork
from dukcapil_shared.messaging.unit_of_work import NOTHING_PENDING, Pending, SqlOutbox, take_pending, with_pending

_NOT_STORED = {"new_audit"}
_MOMENTS = ("received_at", "updated_at", "due_at", "claim_expires_at", "decided_at", "register_retry_at")


class SqlAuditLog(AuditLog):
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def append(self, entries: Sequence[AuditEntry]) -> None:
        if entries:
            await self._connection.execute(
                insert(tables.review_audit),
                [
                    {
                        "request_id": str(entry.request_id),
                        "at": entry.at,
                        "actor": entry.actor,
                        "action": entry.action,
                        "details": entry.details,
                    }
                    for entry in entries
                ],
            )

    async def list(self, request_id: uuid.UUID) -> list[AuditEntry]:
        table = tables.review_audit
        rows = await self._connection.execute(
            select(table).where(table.c.request_id == str(request_id)).order_by(table.c.id)
        )
        return [
            AuditEntry(
                request_id=uuid.UUID(row.request_id),
                at=as_utc(row.at),
                actor=row.actor,
                action=row.action,
                details=row.details,
                id=row.id,
            )
            for row in rows
        ]


class SqlReviewRepository(ReviewRepository):
    def __init__(self, connection: AsyncConnection, audit: AuditLog, outbox: SqlOutbox | None = None) -> None:
        """`outbox`: the unit of work's; on PostgreSQL the events added to it before a review is stored are written
        in the statement that stores it."""
        self._connection = connection
        self._audit = audit
        self._outbox = outbox

    async def add(self, review: Review) -> None:
        if review.new_audit and self._connection.dialect.name == "postgresql":
            # The review, its audit entries and the events it announces in one statement.
            parameters = _new_values(review) | _audit_parameters(review.new_audit)
            pending = take_pending(self._outbox, parameters)
            await self._connection.execute(_adding_with_audit(len(review.new_audit), pending), parameters)
            review.new_audit = []
            return
        await self._connection.execute(_ADDING, _row(review))
        await self._append_audit(review)

    async def get(self, request_id: uuid.UUID) -> Review | None:
        row = (await self._connection.execute(_BY_REQUEST, {"wanted_request_id": str(request_id)})).one_or_none()
        return _review(row) if row is not None else None

    async def save(self, review: Review) -> None:
        guard = {"saved_request_id": str(review.request_id), "expected_version": review.version}
        if review.new_audit and self._connection.dialect.name == "postgresql":
            # The change and its audit entries in one statement: the entries are inserted only if the update found
            # the version it expected, so the rows inserted say whether it did.
            parameters = _new_values(review) | {"new_version": review.version + 1} | guard
            parameters |= _audit_parameters(review.new_audit)
            statement = _saving_with_audit(len(review.new_audit), take_pending(self._outbox, parameters))
            applied = (await self._connection.execute(statement, parameters)).rowcount == len(review.new_audit)
            entries, review.new_audit = review.new_audit, []
        else:
            # The columns to set are the parameters named after them (every column of the review's row).
            parameters = _row(review) | {"version": review.version + 1} | guard
            applied = (await self._connection.execute(_SAVING, parameters)).rowcount == 1
            entries = []
        if not applied:
            review.new_audit = entries + review.new_audit
            raise ConcurrentUpdate(f"review {review.request_id} changed since it was loaded")
        review.version += 1
        await self._append_audit(review)

    async def find_duplicates(
        self, *, request_type: str, subject_nik: str, exclude: uuid.UUID, approved_since: datetime
    ) -> list[Review]:
        parameters = {
            "duplicate_type": request_type,
            "duplicate_nik": subject_nik,
            "excluded_request_id": str(exclude),
            "approved_since": approved_since,
        }
        return [_review(row) for row in await self._connection.execute(_DUPLICATES, parameters)]

    async def get_with_duplicates(
        self,
        request_id: uuid.UUID,
        *,
        approved_since: datetime,
        request_type: str | None = None,
        subject_nik: str | None = None,
    ) -> tuple[Review | None, list[Review]]:
        parameters: dict[str, object] = {"wanted_request_id": str(request_id), "approved_since": approved_since}
        if request_type is not None and subject_nik is not None:
            statement = _WITH_DUPLICATES_OF_PERSON
            parameters |= {"duplicate_type": request_type, "duplicate_nik": subject_nik}
        else:
            statement = _WITH_DUPLICATES
        found = [_review(row) for row in await self._connection.execute(statement, parameters)]
        review = next((item for item in found if item.request_id == request_id), None)
        return review, [item for item in found if item.request_id != request_id]

    async def count_pending(
        self, *, now: datetime, request_type: str | None = None, kecamatan_code: str | None = None
    ) -> list[PendingCount]:
        table = tables.reviews
        statement = (
            select(
                table.c.request_type,
                table.c.kecamatan_code,
                func.count().label("pending"),
                func.sum(case((table.c.due_at < now, 1), else_=0)).label("overdue"),
                func.min(table.c.due_at).label("earliest_due_at"),
            )
            .where(table.c.status == ReviewStatus.pending.value)
            .group_by(table.c.request_type, table.c.kecamatan_code)
        )
        if request_type is not None:
            statement = statement.where(table.c.request_type == request_type)
        if kecamatan_code is not None:
            statement = statement.where(table.c.kecamatan_code == kecamatan_code)
        return [
            PendingCount(
                request_type=row.request_type,
                kecamatan_code=row.kecamatan_code,
                pending=row.pending,
                overdue=int(row.overdue),
                earliest_due_at=as_utc(row.earliest_due_at),
            )
            for row in await self._connection.execute(statement)
        ]

    async def list(self, query: ReviewQuery) -> list[Review]:
        table = tables.reviews
        order = (
            (table.c.due_at, table.c.received_at, table.c.request_id)
            if query.order == QueueOrder.due
            else (table.c.received_at, table.c.request_id)
        )
        statement = select(table).order_by(*order).limit(query.limit).offset(query.offset)
        if query.status is not None:
            statement = statement.where(table.c.status == query.status.value)
        if query.request_type is not None:
            statement = statement.where(table.c.request_type == query.request_type)
        if query.kecamatan_code is not None:
            statement = statement.where(table.c.kecamatan_code == query.kecamatan_code)
        if query.overdue_at is not None:
            statement = statement.where(table.c.status == ReviewStatus.pending.value, table.c.due_at < query.overdue_at)
        if query.register_retry_due_at is not None:
            statement = statement.where(
                table.c.status.in_([status.value for status in OPEN_STATUSES]),
                table.c.register_retry_at <= query.register_retry_due_at,
            )
        return [_review(row) for row in await self._connection.execute(statement)]

    async def _append_audit(self, review: Review) -> None:
        await self._audit.append(review.new_audit)
        review.new_audit = []


# The statements run for every review are built once and executed with parameters: SQLAlchemy then neither builds
# them nor works out their cache keys each time (see dukcapil_shared.messaging.unit_of_work).
_ADDING = insert(tables.reviews)
_BY_REQUEST = select(tables.reviews).where(tables.reviews.c.request_id == bindparam("wanted_request_id"))
_SAVING = update(tables.reviews).where(
    tables.reviews.c.request_id == bindparam("saved_request_id"),
    tables.reviews.c.version == bindparam("expected_version"),
)


def _possibly_duplicating(reviews: Table) -> ColumnElement[bool]:
    """Open, or approved since `approved_since` (a parameter)."""
    return or_(
        reviews.c.status.in_([status.value for status in OPEN_STATUSES]),
        and_(reviews.c.status == ReviewStatus.approved.value, reviews.c.decided_at >= bindparam("approved_since")),
    )


_DUPLICATES = (
    select(tables.reviews)
    .where(
        tables.reviews.c.request_type == bindparam("duplicate_type"),
        tables.reviews.c.subject_nik == bindparam("duplicate_nik"),
        tables.reviews.c.request_id != bindparam("excluded_request_id"),
        _possibly_duplicating(tables.reviews),
    )
    .order_by(tables.reviews.c.received_at)
)
_WITH_DUPLICATES_OF_PERSON = (
    select(tables.reviews)
    .where(
        tables.reviews.c.request_type == bindparam("duplicate_type"),
        tables.reviews.c.subject_nik == bindparam("duplicate_nik"),
        or_(tables.reviews.c.request_id == bindparam("wanted_request_id"), _possibly_duplicating(tables.reviews)),
    )
    .order_by(tables.reviews.c.received_at)
)
_WANTED = tables.reviews.alias("wanted")
_WITH_DUPLICATES = (
    select(tables.reviews)
    .join(
        _WANTED,
        and_(
            _WANTED.c.request_type == tables.reviews.c.request_type,
            _WANTED.c.subject_nik == tables.reviews.c.subject_nik,
        ),
    )
    .where(
        _WANTED.c.request_id == bindparam("wanted_request_id"),
        or_(tables.reviews.c.request_id == _WANTED.c.request_id, _possibly_duplicating(tables.reviews)),
    )
    .order_by(tables.reviews.c.received_at)
)

_AUDIT_FIELDS = ("at", "actor", "action", "details")


def _new_values(review: Review) -> dict[str, object]:
    return {f"new_{name}": value for name, value in _row(review).items()}


def _audit_parameters(entries: Sequence[AuditEntry]) -> dict[str, object]:
    return row_parameters(
        "audit",
        ({"at": entry.at, "actor": entry.actor, "action": entry.action, "details": entry.details} for entry in entries),
    )


def _audit_rows(statement: CTE, entries: int, pending: Pending = NOTHING_PENDING) -> Insert:
    """PostgreSQL: `entries` audit entries for the review `statement` (a CTE) returns, and what the unit of work
    writes with it (`SqlOutbox.take_pending`), in the same statement."""
    rows = parameter_rows(statement.c.request_id, tables.review_audit, _AUDIT_FIELDS, entries, "audit")
    audited = insert(tables.review_audit).from_select(["request_id", *_AUDIT_FIELDS], rows).add_cte(statement)
    return with_pending(audited, statement, pending)


@functools.cache
def _adding_with_audit(entries: int, pending: Pending = NOTHING_PENDING) -> Insert:
    values = new_values(tables.reviews)
    added = insert(tables.reviews).values(values).returning(tables.reviews.c.request_id).cte("added")
    return _audit_rows(added, entries, pending)


@functools.cache
def _saving_with_audit(entries: int, pending: Pending = NOTHING_PENDING) -> Insert:
    values = new_values(tables.reviews)
    saved = (
        update(tables.reviews)
        .where(
            tables.reviews.c.request_id == bindparam("saved_request_id"),
            tables.reviews.c.version == bindparam("expected_version"),
        )
        .values(values)
        .returning(tables.reviews.c.request_id)
        .cte("saved")
    )
    return _audit_rows(saved, entries, pending)


class SqlReviewUnitOfWork(SqlUnitOfWork, ReviewUnitOfWork):
    def bind(self, connection: AsyncConnection) -> None:
        self.audit = SqlAuditLog(connection)
        self.reviews = SqlReviewRepository(connection, self.audit, self.outbox)


def _row(review: Review) -> dict[str, object]:
    # Field by field rather than dataclasses.asdict, which deep-copies every value only for most of them to be
    # replaced below: the columns' types serialize the rest as they are.
    row = {field.name: getattr(review, field.name) for field in fields(review) if field.name not in _NOT_STORED}
    row["prechecks"] = [asdict(check) for check in review.prechecks]
    row["request_id"] = str(review.request_id)
    row["status"] = review.status.value
    row["subject_nik"] = review.subject_nik
    row["applicant"] = review.applicant.model_dump(mode="json")
    row["details"] = details_json(review.details)
    row["delivery"] = review.delivery.model_dump(mode="json", exclude_none=True)
    return row


def _review(row) -> Review:  # type: ignore[no-untyped-def]
    values = dict(row._mapping)
    values.pop("subject_nik")
    values["request_id"] = uuid.UUID(values["request_id"])
    values["status"] = ReviewStatus(values["status"])
    values["prechecks"] = [PreCheck(**check) for check in values["prechecks"]]
    values["applicant"] = Person.model_validate(values["applicant"])
    values["details"] = typed_details(values["details"], values["request_type"])
    values["delivery"] = Delivery.model_validate(values["delivery"])
    for name in _MOMENTS:
        if values[name] is not None:
            values[name] = as_utc(values[name])
    return Review(**values)
