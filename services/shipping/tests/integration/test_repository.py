"""The SQL repository and the migrations on real databases: embedded SQLite, and PostgreSQL."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from dukcapil_shared.contracts.regions import find_kecamatan
from dukcapil_shared.db import create_engine, migrate
from dukcapil_shipping.adapters import tables
from dukcapil_shipping.adapters.repository import SqlShippingUnitOfWork
from dukcapil_shipping.domain.model import CourierReport, Parcel, Shipment, ShipmentStatus, TrackingEntry
from dukcapil_shipping.service_layer import handlers
from dukcapil_shipping.service_layer.courier import CourierUnavailable

from ..fakes import T0, FakeCourier, deliver, issued

MIGRATIONS = "dukcapil_shipping:migrations"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path, postgres) -> str:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/shipping.db"
    return await postgres.create()


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    await migrate(engine, MIGRATIONS)
    yield engine
    await engine.dispose()


def unit_of_work(engine: AsyncEngine) -> SqlShippingUnitOfWork:
    return SqlShippingUnitOfWork(engine, outbox_table=tables.outbox, inbox_table=tables.inbox, source="/test")


async def book(engine: AsyncEngine, courier: FakeCourier) -> int:
    return await handlers.book_shipments(unit_of_work=lambda: unit_of_work(engine), courier=courier)


async def routing_keys(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as connection:
        return sorted((await connection.execute(select(tables.outbox.c.routing_key))).scalars().all())


class SlowCourier(FakeCourier):
    async def book(self, parcel: Parcel) -> str:
        await asyncio.sleep(0.05)
        return await super().book(parcel)


async def test_a_shipment_is_stored_booked_tracked_and_found_with_its_history(engine: AsyncEngine) -> None:
    courier = FakeCourier()
    event = issued()
    await deliver(unit_of_work(engine), event)
    async with unit_of_work(engine) as uow:
        waiting = await uow.shipments.get_by_request(event.request_id)
    assert waiting is not None and waiting.status == ShipmentStatus.booking
    assert waiting.parcel is not None and waiting.parcel.order_id == str(event.request_id)
    assert (waiting.booking_attempts, waiting.next_booking_at) == (0, waiting.created_at)
    assert await routing_keys(engine) == []

    assert await book(engine, courier) == 1
    [airway_bill] = courier.airway_bills.values()
    courier.reports[airway_bill] = CourierReport(entries=(TrackingEntry("manifested", "MANIFESTED", T0, "MNF"),))
    moved = await handlers.track_shipments(
        unit_of_work=lambda: unit_of_work(engine), courier=courier, find_office=find_kecamatan
    )
    assert moved == 1
    [shipment] = await handlers.list_shipments(
        request_id=event.request_id, status=None, limit=10, offset=0, uow=unit_of_work(engine)
    )
    assert (shipment.status, shipment.version, shipment.airway_bill) == ("created", 2, airway_bill)
    assert (shipment.courier, shipment.service, shipment.next_booking_at) == ("JNE", "REG", None)
    assert shipment.parcel == waiting.parcel
    assert [(e.status, e.courier_code) for e in shipment.tracking] == [("created", None), ("manifested", "MNF")]
    assert shipment.tracking[1].occurred_at == T0
    assert await routing_keys(engine) == ["shipment.created.v1", "shipment.status_changed.v1"]


async def test_a_postponed_and_a_refused_booking_are_stored(engine: AsyncEngine) -> None:
    postponed, refused = issued(), issued()
    for event in (postponed, refused):
        await deliver(unit_of_work(engine), event)
    async with unit_of_work(engine) as uow:
        now = datetime.now(UTC)
        for event in (postponed, refused):
            shipment = await uow.shipments.get_by_request(event.request_id)
            assert shipment is not None
            if event is postponed:
                shipment.postpone_booking("CourierUnavailable: HTTP 503", now=now)
            else:
                shipment.fail_booking("CourierRefused: HTTP 400", now=now)
            assert await uow.shipments.save(shipment)
        await uow.commit()

    async with unit_of_work(engine) as uow:
        waiting = await uow.shipments.get_by_request(postponed.request_id)
        failed = await uow.shipments.get_by_request(refused.request_id)
        assert await uow.shipments.claim_for_booking(now=now + timedelta(seconds=1), until=now, limit=10) == []
    assert waiting is not None and failed is not None
    assert (waiting.status, waiting.booking_attempts, waiting.last_booking_error) == (
        "booking",
        1,
        "CourierUnavailable: HTTP 503",
    )
    assert waiting.next_booking_at is not None
    assert abs(waiting.next_booking_at - (now + timedelta(seconds=2))) < timedelta(milliseconds=1)
    assert (failed.status, failed.booking_attempts, failed.next_booking_at) == ("booking_failed", 1, None)


async def test_two_replicas_booking_at_once_book_each_shipment_once(engine: AsyncEngine) -> None:
    events = [issued() for _ in range(5)]
    for event in events:
        await deliver(unit_of_work(engine), event)
    courier = SlowCourier()

    assert sum(await asyncio.gather(book(engine, courier), book(engine, courier))) == 5
    assert sorted(parcel.order_id for parcel in courier.bookings) == sorted(str(e.request_id) for e in events)
    assert await routing_keys(engine) == ["shipment.created.v1"] * 5
    assert await book(engine, courier) == 0


async def test_a_booking_postponed_by_the_courier_is_claimed_again_when_due(engine: AsyncEngine) -> None:
    await deliver(unit_of_work(engine), issued())
    courier = FakeCourier()
    courier.failures = [CourierUnavailable("HTTP 503")]
    assert await book(engine, courier) == 0
    assert await book(engine, courier) == 0, "not due for two seconds"
    async with unit_of_work(engine) as uow:
        [due] = await uow.shipments.claim_for_booking(
            now=datetime.now(UTC) + timedelta(seconds=3), until=datetime.now(UTC), limit=10
        )
    assert (due.booking_attempts, due.last_booking_error) == (1, "CourierUnavailable: HTTP 503")


async def test_a_stale_copy_is_not_saved(engine: AsyncEngine) -> None:
    await deliver(unit_of_work(engine), issued())
    await book(engine, FakeCourier())
    async with unit_of_work(engine) as uow:
        [shipment] = await uow.shipments.tracked(limit=10)
    step = TrackingEntry("picked_up", "PICKED UP", T0, "PU1")
    for expected in (True, False):
        async with unit_of_work(engine) as uow:
            stale = Shipment(**{**shipment.__dict__, "tracking": list(shipment.tracking), "new_tracking": []})
            stale.follow(CourierReport(entries=(step,)), now=T0)
            assert await uow.shipments.save(stale) is expected
            await uow.commit()
    async with unit_of_work(engine) as uow:
        stored = await uow.shipments.get(shipment.id)
    assert stored is not None and [e.status for e in stored.tracking] == ["created", "picked_up"]


async def test_one_shipment_per_request(engine: AsyncEngine) -> None:
    event = issued()
    await deliver(unit_of_work(engine), event)
    async with unit_of_work(engine) as uow:
        shipment = await uow.shipments.get_by_request(event.request_id)
        assert shipment is not None
        copy = Shipment(**{**shipment.__dict__, "id": shipment.id.__class__(int=shipment.id.int + 1)})
        with pytest.raises(IntegrityError):
            await uow.shipments.add(copy)


async def test_shipments_stored_before_the_booking_migration_are_kept(database_url: str) -> None:
    engine = create_engine(database_url)
    shipment_id = uuid.uuid4()
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_alembic, "upgrade", "0001")
            await connection.execute(
                insert(tables.shipments).values(
                    id=str(shipment_id),
                    request_id=str(uuid.uuid4()),
                    method="courier",
                    status="in_transit",
                    courier="JNE",
                    service="REG",
                    airway_bill="0000000000000001",
                    recipient="Siti Aminah",
                    kecamatan_code="36.02.14",
                    version=3,
                    created_at=T0,
                    updated_at=T0,
                )
            )
        await migrate(engine, MIGRATIONS)
        async with unit_of_work(engine) as uow:
            shipment = await uow.shipments.get(shipment_id)
            assert [s.id for s in await uow.shipments.tracked(limit=10)] == [shipment_id]
        assert shipment is not None
        assert (shipment.status, shipment.airway_bill, shipment.version) == ("in_transit", "0000000000000001", 3)
        assert (shipment.parcel, shipment.booking_attempts, shipment.next_booking_at) == (None, 0, None)

        async with engine.begin() as connection:
            await connection.run_sync(_alembic, "downgrade", "0001")
            await connection.run_sync(_alembic, "upgrade", "head")
    finally:
        await engine.dispose()


def _alembic(connection: Connection, action: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    config.attributes["connection"] = connection
    getattr(command, action)(config, revision)
