"""A courier restarted with its records, and one restarted without them: shipping's real JNE client talks HTTP to the
courier simulator under a real server, stopped and started again in between, and records on PostgreSQL through its
migrations.

With its data dir the courier knows the parcel after the restart and its timeline goes on; with a fresh data dir it
answers "Cnote No. Not Found." and the very next tracking round flags the shipment courier_lost_parcel, stops its
polling and puts ShipmentFlagged (which intake opens as an incident) in the outbox.
"""

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from dukcapil_devtools.courier_simulator.app import SimulatorSettings, create_app
from dukcapil_shared.contracts import DocumentIssued
from dukcapil_shared.contracts.regions import find_kecamatan
from dukcapil_shared.db import create_engine, migrate
from dukcapil_shipping.adapters import tables
from dukcapil_shipping.adapters.courier import JneAccount, JneCourier, Shipper
from dukcapil_shipping.adapters.repository import SqlShippingUnitOfWork
from dukcapil_shipping.domain.model import FlagReason, Shipment, ShipmentStatus
from dukcapil_shipping.service_layer import handlers

from ..fakes import deliver, issued

pytestmark = pytest.mark.integration

ACCOUNT = JneAccount(
    username="courier-restart-test",
    api_key="courier-restart-key",
    branch="RKB000",
    customer="80000000",
    origin_code="RKB10000",
    destination_code="RKB10000",
)
SHIPPER = Shipper(
    name="Disdukcapil Kabupaten Lebak", address="Rangkasbitung", city="LEBAK", zip="42311", phone="0252000000"
)
STEP_SECONDS = 0.5
START_TIMEOUT = 20.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class CourierServer:
    """The courier simulator's app under a real uvicorn server on a port of its own, started and stopped by the test.

    A stop runs no shutdown (lifespan off): what the courier kept is what it had written when it stopped, as after
    a crash.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.server: uvicorn.Server | None = None
        self.serving: asyncio.Task[None] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, data_dir: Path) -> None:
        settings = SimulatorSettings(
            username=ACCOUNT.username,
            api_key=ACCOUNT.api_key,
            step_seconds=STEP_SECONDS,
            port=self.port,
            data_dir=data_dir,
        )
        config = uvicorn.Config(create_app(settings), port=self.port, log_level="warning", lifespan="off")
        self.server = uvicorn.Server(config)
        self.serving = asyncio.create_task(self.server.serve())
        deadline = time.monotonic() + START_TIMEOUT
        while not self.server.started:  # uvicorn says it started by a flag, not an event
            assert not self.serving.done(), "the courier server stopped while starting"
            assert time.monotonic() < deadline, f"the courier server did not start within {START_TIMEOUT} s"
            await asyncio.sleep(0.02)

    async def stop(self) -> None:
        assert self.server is not None and self.serving is not None
        self.server.should_exit = True
        await asyncio.wait_for(self.serving, timeout=START_TIMEOUT)
        self.server = self.serving = None


@pytest.fixture
async def courier_server() -> AsyncIterator[CourierServer]:
    courier = CourierServer()
    yield courier
    if courier.server is not None:
        await courier.stop()


@pytest.fixture
async def engine(postgres) -> AsyncIterator[AsyncEngine]:  # type: ignore[no-untyped-def]
    engine = create_engine(await postgres.create())
    await migrate(engine, "dukcapil_shipping:migrations")
    yield engine
    await engine.dispose()


def unit_of_work(engine: AsyncEngine) -> SqlShippingUnitOfWork:
    return SqlShippingUnitOfWork(engine, outbox_table=tables.outbox, inbox_table=tables.inbox, source="/test")


async def flagged_events(engine: AsyncEngine) -> list[dict]:  # type: ignore[type-arg]
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(tables.outbox.c.body).where(tables.outbox.c.routing_key == "shipment.flagged.v1")
        )
        return [json.loads(body)["data"] for (body,) in rows]


async def test_a_courier_restarted_with_its_records_goes_on_and_one_without_them_gets_the_parcel_flagged_lost(
    courier_server: CourierServer, engine: AsyncEngine, tmp_path: Path
) -> None:
    waiting, moving = issued(), issued()  # two parcels, stalled at the courier until the test moves one on
    async with httpx.AsyncClient(base_url=courier_server.url, timeout=5) as courier_http:
        courier = JneCourier(courier_http, account=ACCOUNT, shipper=SHIPPER, backoff_seconds=0.1)

        async def script(event: DocumentIssued, **changes: object) -> None:
            answer = await courier_http.post("/simulator/scripts", json={"order_id": str(event.request_id), **changes})
            assert answer.status_code == 201, answer.text

        async def track() -> None:
            await handlers.track_shipments(
                unit_of_work=lambda: unit_of_work(engine), courier=courier, find_office=find_kecamatan
            )

        async def shipment(event: DocumentIssued) -> Shipment:
            async with unit_of_work(engine) as uow:
                found = await uow.shipments.get_by_request(event.request_id)
            assert found is not None
            return found

        await courier_server.start(tmp_path / "courier-records")
        for event in (waiting, moving):
            await script(event, stall=True)
            await deliver(unit_of_work(engine), event)
        assert await handlers.book_shipments(unit_of_work=lambda: unit_of_work(engine), courier=courier) == 2
        await track()
        before = await shipment(moving)
        assert [entry.courier_code for entry in before.tracking if entry.courier_code] == ["MNF"]

        # Stopped mid-delivery and started again on its own records: both parcels are known, and the one moved on
        # keeps the steps it made and goes on from there.
        await courier_server.stop()
        await courier_server.start(tmp_path / "courier-records")
        await script(moving, stall=False)
        deadline = time.monotonic() + 20 * STEP_SECONDS
        while (await shipment(moving)).status == ShipmentStatus.created:
            assert time.monotonic() < deadline, "the parcel did not move on after the courier's restart"
            await track()
        moved = await shipment(moving)
        assert moved.tracking[: len(before.tracking)] == before.tracking and moved.airway_bill == before.airway_bill
        kept = await shipment(waiting)
        assert kept.status == ShipmentStatus.created and kept.is_tracked
        assert moved.flags == kept.flags == [] and await flagged_events(engine) == []

        # Stopped again and started on an empty data dir: the courier forgot. The next round tells.
        await courier_server.stop()
        await courier_server.start(tmp_path / "courier-forgot")
        await track()
        lost = await shipment(waiting)
        assert lost.status == ShipmentStatus.lost_by_courier and not lost.is_tracked
        assert [flag.reason for flag in lost.flags] == [FlagReason.courier_lost_parcel]
        flagged = {event["shipment_id"]: event for event in await flagged_events(engine)}
        assert flagged[str(lost.id)]["reason"] == "courier_lost_parcel"
        assert lost.airway_bill is not None and lost.airway_bill in flagged[str(lost.id)]["detail"]
        assert set(flagged) <= {str(lost.id), str(moved.id)}, "only parcels still on their way can be lost"
