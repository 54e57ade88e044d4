import functools
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import Insert, Row, Table, delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from dukcapil_intake.agencies.adapters import tables
from dukcapil_intake.agencies.domain.agencies import Agency
from dukcapil_intake.agencies.domain.public_events import LoggedPublicEvent, PublicEventRecord
from dukcapil_intake.agencies.service_layer.repository import AgencyExists, AgencyRepository, PublicEventLog
from dukcapil_shared.db import as_utc


class SqlPublicEventLog(PublicEventLog):
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, record: PublicEventRecord) -> None:
        """Log the event in both variants; an event derived from the same lifecycle event before (the same id) is
        logged already, and its insert does nothing (one round trip each, with no savepoint around them)."""
        now = datetime.now(UTC)
        for table, identified in ((tables.public_events, False), (tables.identified_public_events, True)):
            envelope = record.event.envelope(event_id=record.id, time=record.occurred_at, identified=identified)
            await self._connection.execute(
                _logging(table, self._connection.dialect.name),
                {
                    "id": str(record.id),
                    "routing_key": record.event.routing_key(),
                    "subject": record.event.document_number,
                    "body": envelope.model_dump_json(),
                    "event_type": record.event.type_name(),
                    "region_code": record.event.region_code,
                    "request_id": str(record.request_id),
                    # SQLite keeps the wall time only: everything is stored in UTC.
                    "occurred_at": record.occurred_at.astimezone(UTC),
                    "created_at": now,
                    "attempts": 0,
                    "next_attempt_at": now,
                },
            )

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


def _to_agency(row: Row) -> Agency:
    return Agency(
        name=row.name,
        event_types=tuple(row.event_types),
        region_prefixes=tuple(row.region_prefixes),
        identified=row.identified,
        onboarded_at=as_utc(row.onboarded_at),
        onboarded_by=row.onboarded_by,
    )


@functools.cache
def _logging(table: Table, dialect_name: str) -> Insert:
    """Built once per table and dialect, executed with parameters (see dukcapil_shared.messaging.unit_of_work)."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing(index_elements=[table.c.id])
