import functools
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import Insert, Row, Table, bindparam, delete, insert, select
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
        logged already, and its insert does nothing (no savepoint around them). On PostgreSQL both rows go in one
        statement."""
        now = datetime.now(UTC)
        rows = {
            variant: {
                "id": str(record.id),
                "routing_key": record.event.routing_key(),
                "subject": record.event.document_number,
                "body": record.event.envelope(
                    event_id=record.id, time=record.occurred_at, identified=identified
                ).model_dump_json(),
                "event_type": record.event.type_name(),
                "region_code": record.event.region_code,
                "request_id": str(record.request_id),
                # SQLite keeps the wall time only: everything is stored in UTC.
                "occurred_at": record.occurred_at.astimezone(UTC),
                "created_at": now,
                "attempts": 0,
                "next_attempt_at": now,
            }
            for variant, identified in (("anonymous", False), ("identified", True))
        }
        if self._connection.dialect.name == "postgresql":
            parameters = {f"{variant}_{name}": value for variant, row in rows.items() for name, value in row.items()}
            await self._connection.execute(_LOGGING_BOTH, parameters)
            return
        for table, variant in ((tables.public_events, "anonymous"), (tables.identified_public_events, "identified")):
            await self._connection.execute(_logging(table, self._connection.dialect.name), rows[variant])

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


def _logging_both() -> Insert:
    """PostgreSQL: the anonymous variant's insert as a CTE of the identified one's, each row's values as parameters
    named after its variant."""

    def inserting(table: Table, variant: str) -> Insert:
        values = {
            column.name: bindparam(f"{variant}_{column.name}")
            for column in table.c
            if column.name not in _SET_BY_THE_RELAY
        }
        return postgresql.insert(table).values(values).on_conflict_do_nothing(index_elements=[table.c.id])

    anonymous = inserting(tables.public_events, "anonymous").cte("anonymous")
    return inserting(tables.identified_public_events, "identified").add_cte(anonymous)


_SET_BY_THE_RELAY = frozenset(("last_error", "published_at"))
_LOGGING_BOTH = _logging_both()


@functools.cache
def _logging(table: Table, dialect_name: str) -> Insert:
    """Built once per table and dialect, executed with parameters (see dukcapil_shared.messaging.unit_of_work)."""
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    return dialect.insert(table).on_conflict_do_nothing(index_elements=[table.c.id])
