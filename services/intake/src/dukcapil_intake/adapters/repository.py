import uuid
from datetime import date

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from dukcapil_intake.adapters import tables
from dukcapil_intake.domain.model import HistoryEntry, RequestStatus, ServiceRequest
from dukcapil_intake.service_layer.unit_of_work import ConcurrentUpdate, IntakeUnitOfWork, RequestRepository
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
                status=request.status.value,
                applicant=request.applicant,
                details=request.details,
                delivery=request.delivery,
                kecamatan_code=request.kecamatan_code,
                channel=request.channel,
                submitted_at=request.submitted_at,
                updated_at=request.updated_at,
                version=request.version,
            )
        )
        await self._insert_new_history(request)

    async def get(self, request_id: uuid.UUID) -> ServiceRequest | None:
        row = (
            await self._connection.execute(select(tables.requests).where(tables.requests.c.id == str(request_id)))
        ).one_or_none()
        if row is None:
            return None
        history = (
            await self._connection.execute(
                select(tables.request_history)
                .where(tables.request_history.c.request_id == str(request_id))
                .order_by(tables.request_history.c.occurred_at, tables.request_history.c.id)
            )
        ).all()
        request = _to_request(row)
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
        return request

    async def save(self, request: ServiceRequest) -> None:
        result = await self._connection.execute(
            update(tables.requests)
            .where(tables.requests.c.id == str(request.id), tables.requests.c.version == request.version)
            .values(
                status=request.status.value,
                details=request.details,
                updated_at=request.updated_at,
                version=request.version + 1,
            )
        )
        if result.rowcount != 1:
            raise ConcurrentUpdate(f"request {request.id} changed since it was loaded")
        request.version += 1
        await self._insert_new_history(request)

    async def list(
        self, *, status: RequestStatus | None, request_type: str | None, limit: int, offset: int
    ) -> list[ServiceRequest]:
        query = select(tables.requests).order_by(tables.requests.c.submitted_at).limit(limit).offset(offset)
        if status is not None:
            query = query.where(tables.requests.c.status == status.value)
        if request_type is not None:
            query = query.where(tables.requests.c.type == request_type)
        return [_to_request(row) for row in await self._connection.execute(query)]

    async def next_sequence(self, kecamatan_code: str, day: date) -> int:
        return await next_in_sequence(self._connection, tables.request_counters, kecamatan_code=kecamatan_code, day=day)

    async def _insert_new_history(self, request: ServiceRequest) -> None:
        if not request.new_history:
            return
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


class SqlIntakeUnitOfWork(SqlUnitOfWork, IntakeUnitOfWork):
    def bind(self, connection: AsyncConnection) -> None:
        self.requests = SqlRequestRepository(connection)


def _to_request(row) -> ServiceRequest:  # type: ignore[no-untyped-def]
    return ServiceRequest(
        id=uuid.UUID(row.id),
        number=row.number,
        type=row.type,
        applicant=row.applicant,
        details=row.details,
        delivery=row.delivery,
        kecamatan_code=row.kecamatan_code,
        channel=row.channel,
        status=RequestStatus(row.status),
        submitted_at=as_utc(row.submitted_at),
        updated_at=as_utc(row.updated_at),
        version=row.version,
    )
