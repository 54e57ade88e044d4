import dataclasses
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import Row, Select, delete, exists, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql.expression import Exists

from dukcapil_shared.contracts import Address
from dukcapil_shared.db import as_utc
from dukcapil_shared.messaging import SqlUnitOfWork
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
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, shipment: Shipment) -> None:
        await self._connection.execute(
            insert(tables.shipments).values(
                id=str(shipment.id),
                request_id=str(shipment.request_id),
                document_number=shipment.document_number,
                replaces_document_number=shipment.replaces_document_number,
                method=shipment.method.value,
                status=shipment.status.value,
                courier=shipment.courier,
                service=shipment.service,
                airway_bill=shipment.airway_bill,
                recipient=shipment.recipient,
                address=shipment.address.model_dump(mode="json", exclude_none=True) if shipment.address else None,
                kecamatan_code=shipment.kecamatan_code,
                version=shipment.version,
                created_at=shipment.created_at,
                updated_at=shipment.updated_at,
                last_polled_at=shipment.last_polled_at,
                parcel=dataclasses.asdict(shipment.parcel) if shipment.parcel else None,
                booking_attempts=shipment.booking_attempts,
                next_booking_at=shipment.next_booking_at,
                last_booking_error=shipment.last_booking_error,
                traceparent=shipment.traceparent,
                last_moved_at=shipment.last_moved_at,
            )
        )
        await self._insert_new_tracking(shipment)
        await self._insert_new_flags(shipment)

    async def get(self, shipment_id: uuid.UUID) -> Shipment | None:
        return await self._one(select(tables.shipments).where(tables.shipments.c.id == str(shipment_id)))

    async def get_by_request(self, request_id: uuid.UUID) -> Shipment | None:
        shipments = await self.for_request(request_id)
        return shipments[-1] if shipments else None

    async def for_request(self, request_id: uuid.UUID) -> list[Shipment]:
        table = tables.shipments
        return await self._many(
            select(table).where(table.c.request_id == str(request_id)).order_by(table.c.created_at, table.c.id)
        )

    async def save(self, shipment: Shipment) -> None:
        table = tables.shipments
        result = await self._connection.execute(
            update(table)
            .where(table.c.id == str(shipment.id), table.c.version == shipment.version)
            .values(
                status=shipment.status.value,
                courier=shipment.courier,
                service=shipment.service,
                airway_bill=shipment.airway_bill,
                updated_at=shipment.updated_at,
                last_polled_at=shipment.last_polled_at,
                booking_attempts=shipment.booking_attempts,
                next_booking_at=shipment.next_booking_at,
                last_booking_error=shipment.last_booking_error,
                last_moved_at=shipment.last_moved_at,
                version=shipment.version + 1,
            )
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
        query = select(table).order_by(table.c.created_at, table.c.id).limit(limit).offset(offset)
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
            select(table)
            .where(
                table.c.method == ShippingMethod.courier.value,
                table.c.status.in_([status.value for status in TRACKED_STATUSES]),
            )
            .order_by(table.c.last_polled_at.asc().nulls_first(), table.c.created_at)
            .limit(limit)
        )

    async def claim_for_booking(self, *, now: datetime, until: datetime, limit: int) -> list[Shipment]:
        table = tables.shipments
        due = (
            select(table)
            .where(table.c.status == ShipmentStatus.booking.value, table.c.next_booking_at <= now)
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
            select(table)
            .where(
                table.c.method == ShippingMethod.courier.value,
                table.c.status.in_([status.value for status in TRACKED_STATUSES]),
                table.c.last_moved_at < since,
                ~_flagged(unflagged),
            )
            .order_by(table.c.last_moved_at, table.c.id)
            .limit(limit)
        )

    async def _one(self, query: Select) -> Shipment | None:
        found = await self._many(query)
        return found[0] if found else None

    async def _many(self, query: Select) -> list[Shipment]:
        rows = (await self._connection.execute(query)).all()
        if not rows:
            return []
        history = (
            await self._connection.execute(
                select(tables.tracking)
                .where(tables.tracking.c.shipment_id.in_([row.id for row in rows]))
                .order_by(tables.tracking.c.id)
            )
        ).all()
        flags = (
            await self._connection.execute(
                select(tables.shipment_flags)
                .where(tables.shipment_flags.c.shipment_id.in_([row.id for row in rows]))
                .order_by(tables.shipment_flags.c.id)
            )
        ).all()
        shipments = {row.id: _to_shipment(row) for row in rows}
        for flag in flags:
            shipments[flag.shipment_id].flags.append(
                ShipmentFlag(reason=flag.reason, detail=flag.detail, raised_at=as_utc(flag.raised_at))
            )
        for entry in history:
            shipments[entry.shipment_id].tracking.append(
                TrackingEntry(
                    status=entry.status,
                    description=entry.description,
                    occurred_at=as_utc(entry.occurred_at),
                    courier_code=entry.courier_code,
                )
            )
        return list(shipments.values())

    async def _insert_new_tracking(self, shipment: Shipment) -> None:
        if not shipment.new_tracking:
            return
        await self._connection.execute(
            insert(tables.tracking),
            [
                {
                    "shipment_id": str(shipment.id),
                    "status": entry.status,
                    "description": entry.description,
                    "courier_code": entry.courier_code,
                    # SQLite keeps no offset: everything is stored in UTC.
                    "occurred_at": entry.occurred_at.astimezone(UTC),
                }
                for entry in shipment.new_tracking
            ],
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
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, requested: RequestedDelivery) -> None:
        await self._connection.execute(
            insert(tables.requested_deliveries).values(
                request_id=str(requested.request_id),
                applicant_name=requested.applicant_name,
                applicant_nik=requested.applicant_nik,
                method=requested.method.value,
                created_at=requested.created_at,
                **_changeable(requested),
                version=requested.version,
            )
        )

    async def get(self, request_id: uuid.UUID) -> RequestedDelivery | None:
        table = tables.requested_deliveries
        row = (await self._connection.execute(select(table).where(table.c.request_id == str(request_id)))).first()
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
        table = tables.requested_deliveries
        result = await self._connection.execute(
            update(table)
            .where(table.c.request_id == str(requested.request_id), table.c.version == requested.version)
            .values(**_changeable(requested), version=requested.version + 1)
        )
        if result.rowcount != 1:
            raise ConcurrentUpdate(f"requested delivery {requested.request_id}")
        requested.version += 1


class SqlShippingUnitOfWork(SqlUnitOfWork, ShippingUnitOfWork):
    def bind(self, connection: AsyncConnection) -> None:
        self.shipments = SqlShipmentRepository(connection)
        self.deliveries = SqlRequestedDeliveryRepository(connection)


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
    )
