"""The SQL repository and the migration on a real (embedded) SQLite database."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from dukcapil_shared.db import create_engine, migrate
from dukcapil_shipping.adapters import tables
from dukcapil_shipping.adapters.repository import SqlShippingUnitOfWork
from dukcapil_shipping.domain.kecamatan import find_kecamatan
from dukcapil_shipping.domain.model import CourierReport, Shipment, TrackingEntry
from dukcapil_shipping.service_layer import handlers

from ..fakes import T0, FakeCourier, deliver, issued


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/shipping.db")
    await migrate(engine, "dukcapil_shipping:migrations")
    yield engine
    await engine.dispose()


def unit_of_work(engine: AsyncEngine) -> SqlShippingUnitOfWork:
    return SqlShippingUnitOfWork(engine, outbox_table=tables.outbox, inbox_table=tables.inbox, source="/test")


async def test_a_shipment_is_stored_tracked_and_found_with_its_history(engine: AsyncEngine) -> None:
    courier = FakeCourier()
    event = issued()
    await deliver(unit_of_work(engine), courier, event)
    [airway_bill] = courier.airway_bills.values()
    courier.reports[airway_bill] = CourierReport(entries=(TrackingEntry("manifested", "MANIFESTED", T0, "MNF"),))

    moved = await handlers.track_shipments(
        unit_of_work=lambda: unit_of_work(engine), courier=courier, find_office=find_kecamatan
    )
    assert moved == 1
    [shipment] = await handlers.list_shipments(
        request_id=event.request_id, status=None, limit=10, offset=0, uow=unit_of_work(engine)
    )
    assert (shipment.status, shipment.version, shipment.airway_bill) == ("created", 1, airway_bill)
    assert [(e.status, e.courier_code, e.occurred_at) for e in shipment.tracking] == [
        ("created", None, shipment.created_at),
        ("manifested", "MNF", T0),
    ]
    async with engine.connect() as connection:
        routing_keys = (await connection.execute(select(tables.outbox.c.routing_key))).scalars().all()
    assert sorted(routing_keys) == ["shipment.created.v1", "shipment.status_changed.v1"]


async def test_a_stale_copy_is_not_saved(engine: AsyncEngine) -> None:
    await deliver(unit_of_work(engine), FakeCourier(), issued())
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
    await deliver(unit_of_work(engine), FakeCourier(), event)
    async with unit_of_work(engine) as uow:
        shipment = await uow.shipments.get_by_request(event.request_id)
        assert shipment is not None
        copy = Shipment(**{**shipment.__dict__, "id": shipment.id.__class__(int=shipment.id.int + 1)})
        with pytest.raises(IntegrityError):
            await uow.shipments.add(copy)
