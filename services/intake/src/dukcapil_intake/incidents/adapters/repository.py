import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Row, and_, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from dukcapil_intake.incidents.adapters import tables
from dukcapil_intake.incidents.domain.incidents import (
    Incident,
    IncidentKind,
    IncidentStatus,
    RequestState,
    StallPolicy,
)
from dukcapil_intake.incidents.service_layer.repository import IncidentRepository
from dukcapil_intake.requests.adapters import tables as requests_tables
from dukcapil_intake.requests.domain.model import RequestStatus
from dukcapil_shared.db import as_utc


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
        columns = requests_tables.requests.c
        rows = await self._connection.execute(
            select(columns.id, columns.number, columns.status, columns.updated_at).where(
                columns.id.in_(sorted({str(request_id) for request_id in request_ids}))
            )
        )
        return {uuid.UUID(row.id): _to_state(row) for row in rows}

    async def stalled(self, policy: StallPolicy, *, now: datetime, limit: int) -> list[RequestState]:
        if not policy.after:
            return []
        columns = requests_tables.requests.c
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
    # A flag on a shipment parked no message: its row has no queue, which tells the two kinds apart.
    kind = IncidentKind.dead_letter if row.queue else IncidentKind.shipment_flagged
    return Incident(
        kind=kind,
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
