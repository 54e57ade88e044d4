import dataclasses
import functools
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Insert, Row, Select, Table, bindparam, delete, exists, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.expression import Exists

from dukcapil_shared.contracts import Address
from dukcapil_shared.db import (
    as_utc,
    children_as_json,
    from_json_time,
    new_values,
    parameter_rows,
    row_parameters,
)
from dukcapil_shared.messaging import SqlUnitOfWork
from dukcapil_shared.messaging.unit_of_work import (
    NOTHING_PENDING,
    Pending,
    SqlInbox,
    SqlOutbox,
    claiming_with,
    take_pending,
    with_pending,
)
from dukcapil_shipping.adapters import tables
from dukcapil_shipping.domain.model import (
    TRACKED_STATUSES,
    Parcel,
    RequestedDelivery,
    Shipment,
    ShipmentFlag,
    ShipmentStatus,
    ShippingMethod,
    TrackingEntry,
)
from dukcapil_shipping.service_layer.unit_of_work import (
    ConcurrentUpdate,
    RequestedDeliveryRepository,
    ShipmentRepository,
    ShippingUnitOfWork,
)


class SqlShipmentRepository(ShipmentRepository):
    def __init__(self, connection: AsyncConnection, outbox: SqlOutbox | None = None) -> None:
        """`outbox`: the unit of work's; on PostgreSQL the events added to it before a shipment is stored are
        written in the statement that stores it."""
        self._connection = connection
        self._outbox = outbox

    async def add(self, shipment: Shipment) -> None:
        values: dict[str, object] = {f"new_{name}": value for name, value in _shipment_row(shipment).items()}
        if self._connection.dialect.name == "postgresql":
            # The shipment, its first steps and the events it announces in one statement (SQLite has no INSERT
            # inside WITH).
            steps = [_tracking_row(entry) for entry in shipment.new_tracking]
            values |= row_parameters("step", steps)
            pending = take_pending(self._outbox, values)
            await self._connection.execute(_adding_with_tracking(len(steps), pending), values)
            shipment.new_tracking = []
        else:
            await self._connection.execute(_ADDING_SHIPMENT, values)
            await self._insert_new_tracking(shipment)
        await self._insert_new_flags(shipment)

    async def get(self, shipment_id: uuid.UUID) -> Shipment | None:
        found = await self._many(_SHIPMENT_BY_ID, {"wanted_shipment_id": str(shipment_id)})
        return found[0] if found else None

    async def get_by_request(self, request_id: uuid.UUID) -> Shipment | None:
        shipments = await self.for_request(request_id)
        return shipments[-1] if shipments else None

    async def for_request(self, request_id: uuid.UUID) -> list[Shipment]:
        return await self._many(_SHIPMENTS_FOR_REQUEST, {"wanted_request_id": str(request_id)})

    async def save(self, shipment: Shipment) -> None:
        # The columns to set are the parameters named after them.
        result = await self._connection.execute(
            _SAVING_SHIPMENT,
            {
                "saved_id": str(shipment.id),
                "expected_version": shipment.version,
                "status": shipment.status.value,
                "courier": shipment.courier,
                "service": shipment.service,
                "airway_bill": shipment.airway_bill,
                "updated_at": shipment.updated_at,
                "last_polled_at": shipment.last_polled_at,
                "booking_attempts": shipment.booking_attempts,
                "next_booking_at": shipment.next_booking_at,
                "last_booking_error": shipment.last_booking_error,
                "last_moved_at": shipment.last_moved_at,
                "version": shipment.version + 1,
            },
        )
        if result.rowcount != 1:
            raise ConcurrentUpdate(f"shipment {shipment.id}")
        shipment.version += 1
        await self._insert_new_tracking(shipment)
        await self._delete_cleared_flags(shipment)
        await self._insert_new_flags(shipment)

    async def find(
        self,
        *,
        request_id: uuid.UUID | None,
        status: ShipmentStatus | None,
        limit: int,
        offset: int,
        flag: str | None = None,
        kecamatan_code: str | None = None,
    ) -> list[Shipment]:
        table = tables.shipments
        query = _WHOLE_SHIPMENTS.order_by(table.c.created_at, table.c.id).limit(limit).offset(offset)
        if request_id is not None:
            query = query.where(table.c.request_id == str(request_id))
        if status is not None:
            query = query.where(table.c.status == status.value)
        if flag is not None:
            query = query.where(_flagged(flag))
        if kecamatan_code is not None:
            query = query.where(table.c.kecamatan_code == kecamatan_code)
        return await self._many(query)

    async def tracked(self, *, limit: int) -> list[Shipment]:
        table = tables.shipments
        return await self._many(
            _WHOLE_SHIPMENTS.where(
                table.c.method == ShippingMethod.courier.value,
                table.c.status.in_([status.value for status in TRACKED_STATUSES]),
            )
            .order_by(table.c.last_polled_at.asc().nulls_first(), table.c.created_at)
            .limit(limit)
        )

    async def claim_for_booking(self, *, now: datetime, until: datetime, limit: int) -> list[Shipment]:
        table = tables.shipments
        due = (
            _WHOLE_SHIPMENTS.where(table.c.status == ShipmentStatus.booking.value, table.c.next_booking_at <= now)
            .order_by(table.c.next_booking_at)
            .limit(limit)
        )
        if self._connection.dialect.name == "postgresql":
            # Rows another replica is claiming right now are skipped; SQLite has one writer at a time anyway.
            due = due.with_for_update(skip_locked=True)
        shipments = await self._many(due)
        if shipments:
            await self._connection.execute(
                update(table).where(table.c.id.in_([str(s.id) for s in shipments])).values(next_booking_at=until)
            )
        for shipment in shipments:
            shipment.next_booking_at = until
        return shipments

    async def mark_polled(self, shipment_ids: Sequence[uuid.UUID], at: datetime) -> None:
        table = tables.shipments
        await self._connection.execute(
            update(table).where(table.c.id.in_([str(i) for i in shipment_ids])).values(last_polled_at=at)
        )

    async def quiet(self, *, since: datetime, unflagged: str, limit: int) -> list[Shipment]:
        table = tables.shipments
        return await self._many(
            _WHOLE_SHIPMENTS.where(
                table.c.method == ShippingMethod.courier.value,
                table.c.status.in_([status.value for status in TRACKED_STATUSES]),
                table.c.last_moved_at < since,
                ~_flagged(unflagged),
            )
            .order_by(table.c.last_moved_at, table.c.id)
            .limit(limit)
        )

    async def _many(self, query: Select[Any], parameters: dict[str, str] | None = None) -> list[Shipment]:
        """The shipments `query` (built on `_WHOLE_SHIPMENTS`) finds, with their tracking and flags, in one round
        trip."""
        return [_to_shipment(row) for row in await self._connection.execute(query, parameters)]

    async def _insert_new_tracking(self, shipment: Shipment) -> None:
        if not shipment.new_tracking:
            return
        await self._connection.execute(
            insert(tables.tracking),
            [{"shipment_id": str(shipment.id), **_tracking_row(entry)} for entry in shipment.new_tracking],
        )
        shipment.new_tracking = []

    async def _delete_cleared_flags(self, shipment: Shipment) -> None:
        if not shipment.cleared_flags:
            return
        flags = tables.shipment_flags
        await self._connection.execute(
            delete(flags).where(flags.c.shipment_id == str(shipment.id), flags.c.reason.in_(shipment.cleared_flags))
        )
        shipment.cleared_flags = []

    async def _insert_new_flags(self, shipment: Shipment) -> None:
        if not shipment.new_flags:
            return
        await self._connection.execute(
            insert(tables.shipment_flags),
            [
                {
                    "shipment_id": str(shipment.id),
                    "reason": flag.reason,
                    "detail": flag.detail,
                    "raised_at": flag.raised_at.astimezone(UTC),
                }
                for flag in shipment.new_flags
            ],
        )
        shipment.new_flags = []


class SqlRequestedDeliveryRepository(RequestedDeliveryRepository):
    def __init__(self, connection: AsyncConnection, inbox: SqlInbox | None = None) -> None:
        """`inbox`: the unit of work's; on PostgreSQL the claim a consumer deferred (the submitted request's) goes
        into the statement that stores a new delivery."""
        self._connection = connection
        self._inbox = inbox

    async def add(self, requested: RequestedDelivery) -> None:
        await self._connection.execute(_ADDING_REQUESTED_DELIVERY, _requested_delivery_row(requested))

    async def add_unless_known(self, requested: RequestedDelivery) -> bool:
        # A concurrent insert of the same request's delivery (its document's shipment) is waited for, then found.
        parameters = _requested_delivery_row(requested)
        claims = self._inbox.take_deferred(parameters) if self._inbox is not None else None
        statement = _adding_requested_delivery_unless_known(self._connection.dialect.name, claims)
        return (await self._connection.execute(statement, parameters)).rowcount == 1

    async def get(self, request_id: uuid.UUID) -> RequestedDelivery | None:
        row = (await self._connection.execute(_REQUESTED_DELIVERY, {"wanted_request_id": str(request_id)})).first()
        if row is None:
            return None
        return RequestedDelivery(
            request_id=uuid.UUID(row.request_id),
            applicant_name=row.applicant_name,
            applicant_nik=row.applicant_nik,
            method=ShippingMethod(row.method),
            created_at=as_utc(row.created_at),
            updated_at=as_utc(row.updated_at),
            household=list(row.household),
            submitted=row.submitted,
            destination_code=row.destination_code,
            postal_code=row.postal_code,
            address_problem=row.address_problem,
            address_flagged=row.address_flagged,
            version=row.version,
        )

    async def save(self, requested: RequestedDelivery) -> None:
        # The columns to set are the parameters named after them.
        parameters = _changeable(requested) | {"version": requested.version + 1}
        parameters |= {"saved_request_id": str(requested.request_id), "expected_version": requested.version}
        result = await self._connection.execute(_SAVING_REQUESTED_DELIVERY, parameters)
        if result.rowcount != 1:
            raise ConcurrentUpdate(f"requested delivery {requested.request_id}")
        requested.version += 1


def _requested_delivery_row(requested: RequestedDelivery) -> dict[str, Any]:
    return {
        "request_id": str(requested.request_id),
        "applicant_name": requested.applicant_name,
        "applicant_nik": requested.applicant_nik,
        "method": requested.method.value,
        "created_at": requested.created_at,
        **_changeable(requested),
        "version": requested.version,
    }


_ADDING_REQUESTED_DELIVERY = insert(tables.requested_deliveries)


@functools.cache
def _adding_requested_delivery_unless_known(dialect_name: str, claims: Table | None = None) -> Insert:
    """Built once per dialect and executed with parameters; on PostgreSQL with the deferred claim (`claims`, the
    inbox: `SqlInbox.take_deferred`) as a CTE."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    statement = dialect.insert(tables.requested_deliveries).on_conflict_do_nothing(
        index_elements=[tables.requested_deliveries.c.request_id]
    )
    return statement.add_cte(claiming_with(claims)) if claims is not None else statement


def _shipment_row(shipment: Shipment) -> dict[str, Any]:
    return {
        "id": str(shipment.id),
        "request_id": str(shipment.request_id),
        "document_number": shipment.document_number,
        "replaces_document_number": shipment.replaces_document_number,
        "method": shipment.method.value,
        "status": shipment.status.value,
        "courier": shipment.courier,
        "service": shipment.service,
        "airway_bill": shipment.airway_bill,
        "recipient": shipment.recipient,
        "address": shipment.address.model_dump(mode="json", exclude_none=True) if shipment.address else None,
        "kecamatan_code": shipment.kecamatan_code,
        "version": shipment.version,
        "created_at": shipment.created_at,
        "updated_at": shipment.updated_at,
        "last_polled_at": shipment.last_polled_at,
        "parcel": dataclasses.asdict(shipment.parcel) if shipment.parcel else None,
        "booking_attempts": shipment.booking_attempts,
        "next_booking_at": shipment.next_booking_at,
        "last_booking_error": shipment.last_booking_error,
        "traceparent": shipment.traceparent,
        "last_moved_at": shipment.last_moved_at,
    }


def _tracking_row(entry: TrackingEntry) -> dict[str, Any]:
    return {
        "status": entry.status,
        "description": entry.description,
        "courier_code": entry.courier_code,
        # SQLite keeps no offset: everything is stored in UTC.
        "occurred_at": entry.occurred_at.astimezone(UTC),
    }


_TRACKING_FIELDS = ("status", "description", "courier_code", "occurred_at")


@functools.cache
def _adding_with_tracking(steps: int, pending: Pending = NOTHING_PENDING) -> Select[Any]:
    """PostgreSQL: a new shipment (`_ADDING_SHIPMENT`'s parameters), its `steps` first tracking entries
    (`step_<n>_<field>`) and what the unit of work writes with it (`SqlOutbox.take_pending`) in one statement; one
    statement per number of steps and of events."""
    added = _ADDING_SHIPMENT.returning(tables.shipments.c.id).cte("added")
    statement = select(func.count()).select_from(added)
    if steps:
        entries = parameter_rows(added.c.id, tables.tracking, _TRACKING_FIELDS, steps, "step")
        tracked = insert(tables.tracking).from_select(["shipment_id", *_TRACKING_FIELDS], entries).cte("tracked")
        statement = statement.add_cte(tracked)
    return with_pending(statement, added, pending)


def _whole_shipments() -> Select[Any]:
    """Shipments with their tracking and flags as JSON (`json_rows`), each ordered by its id in Python."""
    tracking, flags = tables.tracking.c, tables.shipment_flags.c
    shipment_id = tables.shipments.c.id
    return select(
        tables.shipments,
        children_as_json(
            "tracking_entries",
            shipment_id,
            tracking.shipment_id,
            tracking.id,
            tracking.status,
            tracking.description,
            tracking.occurred_at,
            tracking.courier_code,
        ),
        children_as_json(
            "flag_entries", shipment_id, flags.shipment_id, flags.id, flags.reason, flags.detail, flags.raised_at
        ),
    )


# The statements run for every request are built once and executed with parameters: SQLAlchemy then neither builds
# them nor works out their cache keys each time (see dukcapil_shared.messaging.unit_of_work).
_WHOLE_SHIPMENTS = _whole_shipments()
_ADDING_SHIPMENT = insert(tables.shipments).values(new_values(tables.shipments))
"""Built once and executed with parameters (see dukcapil_shared.messaging.unit_of_work): every column, `new_<name>`."""
_SHIPMENT_BY_ID = _WHOLE_SHIPMENTS.where(tables.shipments.c.id == bindparam("wanted_shipment_id"))
_SHIPMENTS_FOR_REQUEST = _WHOLE_SHIPMENTS.where(
    tables.shipments.c.request_id == bindparam("wanted_request_id")
).order_by(tables.shipments.c.created_at, tables.shipments.c.id)
_SAVING_SHIPMENT = update(tables.shipments).where(
    tables.shipments.c.id == bindparam("saved_id"), tables.shipments.c.version == bindparam("expected_version")
)
_REQUESTED_DELIVERY = select(tables.requested_deliveries).where(
    tables.requested_deliveries.c.request_id == bindparam("wanted_request_id")
)
_SAVING_REQUESTED_DELIVERY = update(tables.requested_deliveries).where(
    tables.requested_deliveries.c.request_id == bindparam("saved_request_id"),
    tables.requested_deliveries.c.version == bindparam("expected_version"),
)


class SqlShippingUnitOfWork(SqlUnitOfWork, ShippingUnitOfWork):
    def bind(self, connection: AsyncConnection) -> None:
        self.shipments = SqlShipmentRepository(connection, self.outbox)
        self.deliveries = SqlRequestedDeliveryRepository(connection, self.inbox)


def _flagged(reason: str) -> Exists:
    flags = tables.shipment_flags
    return exists().where(flags.c.shipment_id == tables.shipments.c.id, flags.c.reason == reason)


def _changeable(requested: RequestedDelivery) -> dict[str, object]:
    return {
        "household": requested.household,
        "submitted": requested.submitted,
        "destination_code": requested.destination_code,
        "postal_code": requested.postal_code,
        "address_problem": requested.address_problem,
        "address_flagged": requested.address_flagged,
        "updated_at": requested.updated_at,
    }


def _to_shipment(row: Row) -> Shipment:
    return Shipment(
        id=uuid.UUID(row.id),
        request_id=uuid.UUID(row.request_id),
        method=ShippingMethod(row.method),
        status=ShipmentStatus(row.status),
        recipient=row.recipient,
        kecamatan_code=row.kecamatan_code,
        document_number=row.document_number,
        replaces_document_number=row.replaces_document_number,
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
        address=Address.model_validate(row.address) if row.address else None,
        courier=row.courier,
        service=row.service,
        airway_bill=row.airway_bill,
        last_polled_at=as_utc(row.last_polled_at) if row.last_polled_at else None,
        parcel=Parcel(**row.parcel) if row.parcel else None,
        booking_attempts=row.booking_attempts,
        next_booking_at=as_utc(row.next_booking_at) if row.next_booking_at else None,
        last_booking_error=row.last_booking_error,
        traceparent=row.traceparent,
        last_moved_at=as_utc(row.last_moved_at) if row.last_moved_at else None,
        version=row.version,
        tracking=[
            TrackingEntry(
                status=status,
                description=description,
                occurred_at=from_json_time(occurred_at),
                courier_code=courier_code,
            )
            for _, status, description, occurred_at, courier_code in sorted(row.tracking_entries or [])
        ],
        flags=[
            ShipmentFlag(reason=reason, detail=detail, raised_at=from_json_time(raised_at))
            for _, reason, detail, raised_at in sorted(row.flag_entries or [])
        ],
    )
