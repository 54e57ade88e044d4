"""The log of events for agencies and the agencies' records, on real SQLite and PostgreSQL databases migrated by
intake's own Alembic scripts."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, func, select

from dukcapil_intake import tables
from dukcapil_intake.agencies.adapters import tables as agencies_tables
from dukcapil_intake.agencies.adapters.unit_of_work import SqlAgenciesUnitOfWork
from dukcapil_intake.agencies.domain.agencies import Agency
from dukcapil_intake.agencies.domain.public_events import PublicEventRecord
from dukcapil_intake.agencies.service_layer.repository import AgencyExists
from dukcapil_shared.contracts.public import DeathRegistered, FamilyCardIssued
from dukcapil_shared.contracts.regions import WIB

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 2, 9, 0, tzinfo=WIB)


def uow(engine) -> SqlAgenciesUnitOfWork:  # type: ignore[no-untyped-def]
    return SqlAgenciesUnitOfWork(engine, outbox_table=tables.outbox, inbox_table=tables.inbox, source="/test")


def a_death(number: int, region: str = "36.02.14") -> DeathRegistered:
    return DeathRegistered(
        document_number=f"AKM/3602/2026/{number:06d}",
        region_code=region,
        deceased_nik="3602140101500002",
        date_of_death="2026-11-01",
    )


async def test_on_postgresql_both_variants_are_logged_in_one_statement(engine) -> None:  # type: ignore[no-untyped-def]
    record = PublicEventRecord(uuid.uuid4(), a_death(1), T0, uuid.uuid4())
    statements: list[str] = []
    async with uow(engine) as unit:
        connection = unit.public_events._connection.sync_connection  # type: ignore[attr-defined]
        event.listen(connection, "before_cursor_execute", lambda *call: statements.append(call[2]))
        await unit.public_events.add(record)
        await unit.commit()
    assert len(statements) == (1 if engine.dialect.name == "postgresql" else 2)
    async with engine.connect() as connection:
        bodies = [
            (await connection.execute(select(table.c.body).where(table.c.id == str(record.id)))).scalar_one()
            for table in (agencies_tables.public_events, agencies_tables.identified_public_events)
        ]
    assert "3602140101500002" not in bodies[0] and "3602140101500002" in bodies[1], "each variant in its own log"


async def test_both_variants_are_logged_once_and_read_back_by_time_range_in_either_zone(engine) -> None:  # type: ignore[no-untyped-def]
    records = [
        PublicEventRecord(uuid.uuid4(), a_death(hour), T0 + timedelta(hours=hour), uuid.uuid4()) for hour in range(4)
    ]
    family = PublicEventRecord(
        uuid.uuid4(),
        FamilyCardIssued(document_number="KK/3602/2026/000001", region_code="36.02.03", reason="data_change"),
        T0 + timedelta(hours=1, minutes=30),
        uuid.uuid4(),
    )
    async with uow(engine) as unit:
        for record in [*records, family]:
            await unit.public_events.add(record)
        await unit.public_events.add(records[0])  # derived again: already logged
        await unit.commit()

    async with engine.connect() as connection:
        for table in (agencies_tables.public_events, agencies_tables.identified_public_events):
            assert (await connection.execute(select(func.count()).select_from(table))).scalar_one() == 5
            pending = await connection.execute(select(func.count()).where(table.c.published_at.is_(None)))
            assert pending.scalar_one() == 5, "both logs wait for their relays"

    # The range is given in UTC here, the events were logged in WIB: the same instants.
    since, until = (T0 + timedelta(hours=1)).astimezone(UTC), (T0 + timedelta(hours=3)).astimezone(UTC)
    async with uow(engine) as unit:
        masked = await unit.public_events.between(
            since=since, until=until, event_types=["death.registered.v1"], identified=False
        )
        identified = await unit.public_events.between(
            since=since, until=until, event_types=["death.registered.v1", "family_card.issued.v1"], identified=True
        )
    assert [event.id for event in masked] == [str(records[1].id), str(records[2].id)]
    assert [event.document_number for event in identified] == [
        "AKM/3602/2026/000001",
        "KK/3602/2026/000001",
        "AKM/3602/2026/000002",
    ]
    assert masked[0].occurred_at == T0 + timedelta(hours=1)
    assert "360214******0002" in masked[0].body and "3602140101500002" not in masked[0].body
    assert "3602140101500002" in identified[-1].body
    assert (masked[0].event_type, masked[0].region_code) == ("death.registered.v1", "36.02.14")


async def test_agencies_are_recorded_once_listed_by_name_and_removed(engine) -> None:  # type: ignore[no-untyped-def]
    agencies = [
        Agency(
            name=name,
            event_types=("death.registered.v1",),
            region_prefixes=("36.02",),
            identified=name == "kpu",
            onboarded_at=T0,
            onboarded_by="rina",
        )
        for name in ("kpu", "bpjs")
    ]
    async with uow(engine) as unit:
        for agency in agencies:
            await unit.agencies.add(agency)
        await unit.commit()
    async with uow(engine) as unit:
        with pytest.raises(AgencyExists, match="an agency named bpjs exists already"):
            await unit.agencies.add(agencies[1])
        assert [agency.name for agency in await unit.agencies.list()] == ["bpjs", "kpu"]
        assert await unit.agencies.get("kpu") == agencies[0]
        await unit.agencies.remove("kpu")
        await unit.commit()
    async with uow(engine) as unit:
        assert await unit.agencies.get("kpu") is None
        assert [agency.name for agency in await unit.agencies.list()] == ["bpjs"]
