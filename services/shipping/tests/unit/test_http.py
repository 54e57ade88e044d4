from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from dukcapil_shared.web import install_error_handlers
from dukcapil_shipping.entrypoints import http
from dukcapil_shipping.service_layer.courier import CourierRefused

from ..fakes import ADDRESS, COURIER, PICKUP, FakeCourier, FakeShippingUnitOfWork, deliver, issued, ship

COLLECTOR = {"collector_name": "Ahmad", "collector_nik": "3602141203850002", "operator": "dewi"}


@pytest.fixture
def uow() -> FakeShippingUnitOfWork:
    return FakeShippingUnitOfWork()


@pytest.fixture
async def client(uow: FakeShippingUnitOfWork) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    install_error_handlers(app)
    http.install(app)
    app.state.unit_of_work = lambda: uow
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://shipping") as client:
        yield client


async def test_a_requests_shipment_is_found_with_its_tracking(
    client: httpx.AsyncClient, uow: FakeShippingUnitOfWork
) -> None:
    event = issued()
    await ship(uow, FakeCourier(), event)
    await ship(uow, FakeCourier(), issued())

    response = await client.get("/shipments", params={"request_id": str(event.request_id)})
    assert response.status_code == 200
    [shipment] = response.json()
    assert shipment["request_id"] == str(event.request_id)
    assert (shipment["method"], shipment["status"], shipment["courier"]) == ("courier", "created", "JNE")
    assert len(shipment["airway_bill"]) == 16
    [created] = shipment["tracking"]
    assert set(created) == {"status", "description", "courier_code", "occurred_at"}
    assert (await client.get(f"/shipments/{shipment['id']}")).json() == shipment


async def test_shipments_waiting_for_the_courier_or_refused_by_it_are_listed(
    client: httpx.AsyncClient, uow: FakeShippingUnitOfWork
) -> None:
    waiting, refused = issued(), issued()
    courier = FakeCourier()
    courier.failures = [CourierRefused("HTTP 400: invalid OLSHOP_RECEIVER_ZIP")]
    await ship(uow, courier, refused)
    await deliver(uow, waiting)

    [booking] = (await client.get("/shipments", params={"status": "booking"})).json()
    assert (booking["request_id"], booking["airway_bill"], booking["tracking"]) == (str(waiting.request_id), None, [])
    assert booking["booking_attempts"] == 0 and booking["next_booking_at"] is not None
    [failed] = (await client.get("/shipments", params={"status": "booking_failed"})).json()
    assert (failed["request_id"], failed["booking_attempts"]) == (str(refused.request_id), 1)
    assert failed["last_booking_error"] == "CourierRefused: HTTP 400: invalid OLSHOP_RECEIVER_ZIP"
    assert "parcel" not in failed


async def test_collection_is_recorded_once_and_then_conflicts(
    client: httpx.AsyncClient, uow: FakeShippingUnitOfWork
) -> None:
    await deliver(uow, issued(PICKUP))
    shipment_id = uow.only_shipment().id

    response = await client.post(f"/shipments/{shipment_id}/collected", json=COLLECTOR)
    assert response.status_code == 200
    assert response.json()["status"] == "collected"

    again = await client.post(f"/shipments/{shipment_id}/collected", json=COLLECTOR)
    assert again.status_code == 409
    error = again.json()["error"]
    assert (error["code"], error["shipment_status"]) == ("not_ready_for_pickup", "collected")


async def test_bad_input_and_unknown_ids_get_the_common_error_body(
    client: httpx.AsyncClient, uow: FakeShippingUnitOfWork
) -> None:
    await deliver(uow, issued(PICKUP))
    shipment_id = uow.only_shipment().id
    bad_nik = await client.post(f"/shipments/{shipment_id}/collected", json={**COLLECTOR, "collector_nik": "123"})
    assert bad_nik.status_code == 422
    assert bad_nik.json()["error"]["details"][0]["field"] == "body.collector_nik"

    missing = await client.get("/shipments/6a3c1f0e-0000-4000-8000-000000000000")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "shipment_not_found")


async def test_flagged_shipments_are_listed_by_reason_with_their_flags(
    client: httpx.AsyncClient, uow: FakeShippingUnitOfWork
) -> None:
    unserviceable = issued({**COURIER, "address": {**ADDRESS, "village_code": "36.02.14.1001"}})
    await deliver(uow, unserviceable)
    await ship(uow, FakeCourier(), issued())

    assert len((await client.get("/shipments")).json()) == 2
    [flagged] = (await client.get("/shipments", params={"flag": "address_unserviceable"})).json()
    assert flagged["request_id"] == str(unserviceable.request_id)
    [flag] = flagged["flags"]
    assert set(flag) == {"reason", "detail", "raised_at"}
    assert flag["reason"] == "address_unserviceable" and "36.02.14.1001" in flag["detail"]
    assert (await client.get("/shipments", params={"flag": "stuck_in_transit"})).json() == []
    booked = (await client.get("/shipments", params={"status": "created"})).json()
    assert [(s["flags"], s["destination_code"]) for s in booked] == [([], "RKB10014")]
    assert booked[0]["last_moved_at"] is not None


async def test_a_collector_nik_that_is_no_real_nik_is_refused(
    client: httpx.AsyncClient, uow: FakeShippingUnitOfWork
) -> None:
    await deliver(uow, issued(PICKUP))
    shipment_id = uow.only_shipment().id
    response = await client.post(
        f"/shipments/{shipment_id}/collected", json={**COLLECTOR, "collector_nik": "3602141213850002"}
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["code"], error["nik_problem"]) == ("invalid_nik", "nik_birth_date")
    assert uow.only_shipment().status == "ready_for_pickup"
