"""Whole deliveries against the courier simulator over HTTP, through the real JNE client and shipping's HTTP API.

The courier runs in process (httpx's ASGI transport) on a clock the test moves; one test runs it under a real
uvicorn server on a free port.
"""

import asyncio
import socket
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from dukcapil_devtools.courier_simulator.app import SimulatorSettings, create_app
from dukcapil_shared.auth.roles import Role
from dukcapil_shared.clock import SystemClock
from dukcapil_shared.contracts import (
    DeliveryFailed,
    DocumentCollected,
    ReadyForPickup,
    ShipmentCreated,
    ShipmentDelivered,
    ShipmentFlagged,
    ShipmentStatusChanged,
)
from dukcapil_shared.contracts.regions import find_kecamatan
from dukcapil_shared.web import install_error_handlers
from dukcapil_shipping.adapters.courier import JneAccount, JneCourier, Shipper
from dukcapil_shipping.entrypoints import http as shipping_http
from dukcapil_shipping.service_layer import handlers
from dukcapil_testing import install_test_auth, staff_headers

from ..fakes import ADDRESS, COURIER, FakeClock, FakeShippingUnitOfWork, book, deliver, issued, receive, submitted

ACCOUNT = JneAccount(
    username="courier-test",
    api_key="courier-test-key",
    branch="RKB000",
    customer="80000000",
    origin_code="RKB10000",
    destination_code="RKB10000",
)
SHIPPER = Shipper(
    name="Disdukcapil Kabupaten Lebak", address="Rangkasbitung", city="LEBAK", zip="42311", phone="0252000000"
)
STEP = 2.0
COLLECTOR = {"collector_name": "Siti Aminah", "collector_nik": "3602144107900001"}
# The shipping office follows the parcels; the Rangkasbitung office (the address's kecamatan) hands them over.
STAFF = staff_headers(Role.SHIPPING_OFFICER)
OPERATOR = staff_headers(Role.KECAMATAN_OPERATOR, kecamatan="36.02.14", username="operator-rangkas")


class NoSleep(list[float]):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


class Scenario:
    """The courier simulator, shipping's handlers on fakes, and shipping's HTTP API, wired together."""

    def __init__(self, courier_http: httpx.AsyncClient, shipping_http_client: httpx.AsyncClient, clock: FakeClock):
        self.courier_http = courier_http
        self.api = shipping_http_client
        self.clock = clock
        self.sleeps = NoSleep()
        self.courier = JneCourier(
            courier_http, account=ACCOUNT, shipper=SHIPPER, attempts=3, backoff_seconds=0.5, sleep=self.sleeps
        )
        self.uow: FakeShippingUnitOfWork = shipping_http_client.uow  # type: ignore[attr-defined]

    async def script(self, order_id: Any, **script: Any) -> None:
        response = await self.courier_http.post("/simulator/scripts", json={"order_id": str(order_id), **script})
        assert response.status_code == 201, response.text

    async def track(self) -> int:
        return await handlers.track_shipments(
            unit_of_work=lambda: self.uow, courier=self.courier, find_office=find_kecamatan
        )

    async def follow(self, steps: int) -> list[str]:
        """The shipment's status after each of `steps` tracking rounds, one courier step apart."""
        statuses = []
        for _ in range(steps):
            await self.track()
            statuses.append(self.uow.only_shipment().status.value)
            self.clock.advance(STEP)
        return statuses

    async def shipment(self, **params: str) -> dict[str, Any]:
        [shipment] = (await self.api.get("/shipments", params=params, headers=STAFF)).json()
        return shipment

    def kinds(self) -> list[type]:
        return [type(event) for event in self.uow.outbox.events]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def scenario(clock: FakeClock) -> AsyncIterator[Scenario]:
    simulator = create_app(
        SimulatorSettings(username=ACCOUNT.username, api_key=ACCOUNT.api_key, step_seconds=STEP, seed=5, data_dir=None),
        clock=clock,
    )
    uow = FakeShippingUnitOfWork()
    shipping = FastAPI()
    install_error_handlers(shipping)
    install_test_auth(shipping)
    shipping_http.install(shipping)
    shipping.state.unit_of_work = lambda: uow
    shipping.state.clock = SystemClock()
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=simulator), base_url="http://courier") as courier_http,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=shipping), base_url="http://shipping") as api,
    ):
        api.uow = uow  # type: ignore[attr-defined]
        yield Scenario(courier_http, api, clock)


async def test_delivered_to_the_applicant(scenario: Scenario) -> None:
    request = submitted({**COURIER, "address": {**ADDRESS, "village_code": "36.02.14.1002", "postal_code": "42312"}})
    await receive(scenario.uow, request)
    await deliver(scenario.uow, issued(request.delivery.model_dump(mode="json"), request.request_id))
    assert await book(scenario.uow, scenario.courier) == 1

    assert await scenario.follow(5) == ["created", "picked_up", "in_transit", "delivered", "delivered"]
    assert scenario.kinds() == [ShipmentCreated, *[ShipmentStatusChanged] * 4, ShipmentDelivered]
    shipment = await scenario.shipment(request_id=str(request.request_id))
    assert (shipment["status"], shipment["flags"], shipment["destination_code"]) == ("delivered", [], "RKB10014")
    order = (await scenario.courier_http.get(f"/simulator/orders/{request.request_id}")).json()
    assert order["parcel"]["cnote"]["cnote_destination"] == "RKB10014", "booked with the table's destination code"


async def test_failed_once_then_delivered(scenario: Scenario) -> None:
    event = issued()
    await scenario.script(event.request_id, outcome="failed_once_then_delivered")
    await deliver(scenario.uow, event)
    await book(scenario.uow, scenario.courier)

    statuses = await scenario.follow(7)
    assert statuses == ["created", "picked_up", "in_transit", "attempt_failed", "in_transit", "delivered", "delivered"]
    changes = [e.status for e in scenario.uow.outbox.events if isinstance(e, ShipmentStatusChanged)]
    assert changes == ["manifested", "picked_up", "in_transit", "failed", "in_transit", "delivered"]
    assert DeliveryFailed not in scenario.kinds() and ReadyForPickup not in scenario.kinds()
    assert scenario.kinds()[-1] is ShipmentDelivered


async def test_returned_to_sender_is_held_for_pickup_and_collected(scenario: Scenario) -> None:
    event = issued()
    await scenario.script(event.request_id, outcome="returned")
    await deliver(scenario.uow, event)
    await book(scenario.uow, scenario.courier)

    statuses = await scenario.follow(8)
    assert statuses == [
        "created",
        "picked_up",
        "in_transit",
        "attempt_failed",
        "in_transit",
        "attempt_failed",
        "ready_for_pickup",
        "ready_for_pickup",
    ]
    assert scenario.kinds()[-3:] == [ShipmentStatusChanged, DeliveryFailed, ReadyForPickup]
    failed, ready = scenario.uow.outbox.events[-2:]
    assert isinstance(failed, DeliveryFailed) and failed.reason == "ALAMAT TIDAK DITEMUKAN"
    assert isinstance(ready, ReadyForPickup) and ready.reason == "delivery_failed"

    shipment = await scenario.shipment(status="ready_for_pickup")
    bad = await scenario.api.post(
        f"/shipments/{shipment['id']}/collected",
        json={**COLLECTOR, "collector_nik": "3602144107900000"},
        headers=OPERATOR,
    )
    assert (bad.status_code, bad.json()["error"]["code"]) == (422, "invalid_nik")
    collected = await scenario.api.post(f"/shipments/{shipment['id']}/collected", json=COLLECTOR, headers=OPERATOR)
    assert collected.status_code == 200 and collected.json()["status"] == "collected"
    handed_over = collected.json()["tracking"][-1]["description"]
    assert "360214******0001" in handed_over and handed_over.endswith("diserahkan oleh operator-rangkas.")
    assert scenario.kinds()[-1] is DocumentCollected


async def test_transient_503s_are_retried_for_booking_and_tracking(scenario: Scenario) -> None:
    event = issued()
    await scenario.script(event.request_id, fail_next_requests=2)
    await deliver(scenario.uow, event)
    assert await book(scenario.uow, scenario.courier) == 1
    assert scenario.sleeps == [0.5, 1.0]

    await scenario.script(event.request_id, fail_next_requests=3)
    assert await scenario.track() == 0, "three 503s in a row: asked again next round"
    assert await scenario.track() == 1
    assert scenario.uow.only_shipment().status == "created"
    assert scenario.kinds() == [ShipmentCreated, ShipmentStatusChanged]


async def test_a_receiver_outside_the_family_is_delivered_and_flagged(scenario: Scenario) -> None:
    entitled, stranger = submitted(), submitted()
    await scenario.script(entitled.request_id, receiver_name="nur  AISYAH")
    await scenario.script(stranger.request_id, receiver_name="Ujang (tetangga)")
    for request in (entitled, stranger):
        await receive(scenario.uow, request)
        await deliver(scenario.uow, issued(request.delivery.model_dump(mode="json"), request.request_id))
    assert await book(scenario.uow, scenario.courier) == 2
    scenario.clock.advance(4 * STEP)
    await scenario.track()

    [flagged] = (await scenario.api.get("/shipments", params={"flag": "receiver_not_entitled"}, headers=STAFF)).json()
    assert (flagged["request_id"], flagged["status"]) == (str(stranger.request_id), "delivered")
    [flag] = flagged["flags"]
    assert flag["reason"] == "receiver_not_entitled" and "Ujang (tetangga)" in flag["detail"]
    fine = await scenario.shipment(request_id=str(entitled.request_id))
    assert (fine["status"], fine["flags"]) == ("delivered", [])
    delivered = {e.request_id: e for e in scenario.uow.outbox.events if isinstance(e, ShipmentDelivered)}
    assert delivered[stranger.request_id].receiver_name == "Ujang (tetangga)"
    [event] = [e for e in scenario.uow.outbox.events if isinstance(e, ShipmentFlagged)]
    assert event.request_id == stranger.request_id


async def test_a_stalled_parcel_is_flagged_stuck_once(scenario: Scenario) -> None:
    stalled, moving = issued(), issued()
    await scenario.script(stalled.request_id, stall=True)
    for event in (stalled, moving):
        await deliver(scenario.uow, event)
    shipping_clock = FakeClock(datetime.now(UTC))
    await book(scenario.uow, scenario.courier, shipping_clock)
    stuck_after = timedelta(seconds=30)

    async def a_while_later(seconds: float) -> int:
        """Both clocks move on; shipping tracks the parcels, then looks for stuck ones."""
        scenario.clock.advance(seconds)
        shipping_clock.advance(seconds)
        await handlers.track_shipments(
            unit_of_work=lambda: scenario.uow,
            courier=scenario.courier,
            find_office=find_kecamatan,
            clock=shipping_clock,
        )
        return await handlers.flag_stuck_shipments(
            unit_of_work=lambda: scenario.uow, stuck_after=stuck_after, clock=shipping_clock
        )

    assert [await a_while_later(STEP) for _ in range(3)] == [0, 0, 0]
    assert await a_while_later(30) == 1
    assert await a_while_later(3600) == 0, "flagged once"

    [stuck] = (await scenario.api.get("/shipments", params={"flag": "stuck_in_transit"}, headers=STAFF)).json()
    assert (stuck["request_id"], stuck["status"]) == (str(stalled.request_id), "created")
    assert [flag["reason"] for flag in stuck["flags"]] == ["stuck_in_transit"]
    assert stuck["airway_bill"] in stuck["flags"][0]["detail"]
    flagged = [e for e in scenario.uow.outbox.events if isinstance(e, ShipmentFlagged)]
    assert [(e.request_id, e.reason) for e in flagged] == [(stalled.request_id, "stuck_in_transit")]
    delivered = await scenario.shipment(request_id=str(moving.request_id))
    assert (delivered["status"], delivered["flags"]) == ("delivered", [])
    assert (await scenario.api.get("/shipments", params={"flag": "nonsense"}, headers=STAFF)).status_code == 422

    await scenario.script(stalled.request_id, stall=False)
    assert await a_while_later(STEP) == 0
    assert (await scenario.shipment(request_id=str(stalled.request_id)))["status"] == "picked_up"


async def test_an_address_the_courier_cannot_serve_goes_to_pickup_without_a_booking(scenario: Scenario) -> None:
    delivery = {**COURIER, "address": {**ADDRESS, "postal_code": "42393"}}
    request = submitted(delivery)
    await receive(scenario.uow, request)
    assert scenario.kinds() == [ShipmentFlagged]
    await deliver(scenario.uow, issued(delivery, request.request_id))
    assert await book(scenario.uow, scenario.courier) == 0
    assert (await scenario.courier_http.get(f"/simulator/orders/{request.request_id}")).status_code == 404

    shipment = await scenario.shipment(flag="address_unserviceable")
    assert (shipment["method"], shipment["status"], shipment["airway_bill"]) == ("courier", "ready_for_pickup", None)
    assert scenario.kinds() == [ShipmentFlagged, ReadyForPickup]
    collected = await scenario.api.post(f"/shipments/{shipment['id']}/collected", json=COLLECTOR, headers=STAFF)
    assert collected.json()["status"] == "collected"
    assert collected.json()["tracking"][-1]["description"].endswith("diserahkan oleh test.shipping_officer.")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


async def test_a_delivery_through_a_real_courier_server(clock: FakeClock) -> None:
    settings = SimulatorSettings(
        username=ACCOUNT.username, api_key=ACCOUNT.api_key, step_seconds=STEP, port=free_port(), seed=9, data_dir=None
    )
    server = uvicorn.Server(uvicorn.Config(create_app(settings, clock=clock), port=settings.port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    try:
        for _ in range(500):  # uvicorn says it started by a flag, not an event
            if server.started:
                break
            await asyncio.sleep(0.02)
        else:
            pytest.fail("the courier server did not start within 10 s")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.port}", timeout=5) as courier_http:
            courier = JneCourier(courier_http, account=ACCOUNT, shipper=SHIPPER, sleep=NoSleep())
            uow, event = FakeShippingUnitOfWork(), issued()
            await courier_http.post(
                "/simulator/scripts", json={"order_id": str(event.request_id), "fail_next_requests": 1}
            )
            await deliver(uow, event)
            assert await book(uow, courier) == 1
            clock.advance(4 * STEP)
            await handlers.track_shipments(unit_of_work=lambda: uow, courier=courier, find_office=find_kecamatan)
            assert uow.only_shipment().status == "delivered"
    finally:
        server.should_exit = True
        await serving
