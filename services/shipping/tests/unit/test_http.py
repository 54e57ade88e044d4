import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from fastapi import FastAPI

from dukcapil_shared.auth.access import MemoryAccessLog
from dukcapil_shared.auth.roles import Role
from dukcapil_shared.web import install_error_handlers
from dukcapil_shipping.entrypoints import http
from dukcapil_shipping.service_layer.courier import CourierRefused
from dukcapil_testing import install_test_auth, staff_headers
from dukcapil_testing.fakes import FixedClock

from ..fakes import ADDRESS, COURIER, PICKUP, FakeCourier, FakeShippingUnitOfWork, deliver, issued, ship

COLLECTOR = {"collector_name": "Ahmad", "collector_nik": "3602141203850002"}
# The shipping office: reads every shipment (with a reason) and hands documents over.
STAFF = staff_headers(Role.SHIPPING_OFFICER, username="dewi")
# PICKUP waits at the Malingping office (36.02.01); the courier address is in Rangkasbitung (36.02.14).
MALINGPING = staff_headers(Role.KECAMATAN_OPERATOR, kecamatan="36.02.01", username="op-malingping")
RANGKASBITUNG = staff_headers(Role.KECAMATAN_OPERATOR, kecamatan="36.02.14", username="op-rangkas")


@pytest.fixture
def uow() -> FakeShippingUnitOfWork:
    return FakeShippingUnitOfWork()


@pytest.fixture
def app(uow: FakeShippingUnitOfWork) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.state.access_log = install_test_auth(app)
    http.install(app)
    app.state.unit_of_work = lambda: uow
    app.state.clock = FixedClock(datetime.now(UTC))
    return app


@pytest.fixture
def access_log(app: FastAPI) -> MemoryAccessLog:
    return app.state.access_log


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://shipping") as client:
        yield client


async def test_a_requests_shipment_is_found_with_its_tracking(
    client: httpx.AsyncClient, uow: FakeShippingUnitOfWork
) -> None:
    event = issued()
    await ship(uow, FakeCourier(), event)
    await ship(uow, FakeCourier(), issued())

    response = await client.get("/shipments", params={"request_id": str(event.request_id)}, headers=STAFF)
    assert response.status_code == 200
    [shipment] = response.json()
    assert shipment["request_id"] == str(event.request_id)
    assert (shipment["method"], shipment["status"], shipment["courier"]) == ("courier", "created", "JNE")
    assert len(shipment["airway_bill"]) == 16
    [created] = shipment["tracking"]
    assert set(created) == {"status", "description", "courier_code", "occurred_at"}
    assert (await client.get(f"/shipments/{shipment['id']}", headers=STAFF)).json() == shipment


async def test_shipments_waiting_for_the_courier_or_refused_by_it_are_listed(
    client: httpx.AsyncClient, uow: FakeShippingUnitOfWork
) -> None:
    waiting, refused = issued(), issued()
    courier = FakeCourier()
    courier.failures = [CourierRefused("HTTP 400: invalid OLSHOP_RECEIVER_ZIP")]
    await ship(uow, courier, refused)
    await deliver(uow, waiting)

    [booking] = (await client.get("/shipments", params={"status": "booking"}, headers=STAFF)).json()
    assert (booking["request_id"], booking["airway_bill"], booking["tracking"]) == (str(waiting.request_id), None, [])
    assert booking["booking_attempts"] == 0 and booking["next_booking_at"] is not None
    [failed] = (await client.get("/shipments", params={"status": "booking_failed"}, headers=STAFF)).json()
    assert (failed["request_id"], failed["booking_attempts"]) == (str(refused.request_id), 1)
    assert failed["last_booking_error"] == "CourierRefused: HTTP 400: invalid OLSHOP_RECEIVER_ZIP"
    assert "parcel" not in failed


async def test_collection_is_recorded_once_and_then_conflicts(
    client: httpx.AsyncClient, uow: FakeShippingUnitOfWork
) -> None:
    await deliver(uow, issued(PICKUP))
    shipment_id = uow.only_shipment().id

    response = await client.post(f"/shipments/{shipment_id}/collected", json=COLLECTOR, headers=STAFF)
    assert response.status_code == 200
    assert response.json()["status"] == "collected"

    again = await client.post(f"/shipments/{shipment_id}/collected", json=COLLECTOR, headers=STAFF)
    assert again.status_code == 409
    error = again.json()["error"]
    assert (error["code"], error["shipment_status"]) == ("not_ready_for_pickup", "collected")


async def test_bad_input_and_unknown_ids_get_the_common_error_body(
    client: httpx.AsyncClient, uow: FakeShippingUnitOfWork
) -> None:
    await deliver(uow, issued(PICKUP))
    shipment_id = uow.only_shipment().id
    bad_nik = await client.post(
        f"/shipments/{shipment_id}/collected", json={**COLLECTOR, "collector_nik": "123"}, headers=STAFF
    )
    assert bad_nik.status_code == 422
    assert bad_nik.json()["error"]["details"][0]["field"] == "body.collector_nik"

    missing = await client.get("/shipments/6a3c1f0e-0000-4000-8000-000000000000", headers=STAFF)
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "shipment_not_found")


async def test_flagged_shipments_are_listed_by_reason_with_their_flags(
    client: httpx.AsyncClient, uow: FakeShippingUnitOfWork
) -> None:
    unserviceable = issued({**COURIER, "address": {**ADDRESS, "village_code": "36.02.14.1001"}})
    await deliver(uow, unserviceable)
    await ship(uow, FakeCourier(), issued())

    assert len((await client.get("/shipments", headers=STAFF)).json()) == 2
    [flagged] = (await client.get("/shipments", params={"flag": "address_unserviceable"}, headers=STAFF)).json()
    assert flagged["request_id"] == str(unserviceable.request_id)
    [flag] = flagged["flags"]
    assert set(flag) == {"reason", "detail", "raised_at"}
    assert flag["reason"] == "address_unserviceable" and "36.02.14.1001" in flag["detail"]
    assert (await client.get("/shipments", params={"flag": "stuck_in_transit"}, headers=STAFF)).json() == []
    booked = (await client.get("/shipments", params={"status": "created"}, headers=STAFF)).json()
    assert [(s["flags"], s["destination_code"]) for s in booked] == [([], "RKB10014")]
    assert booked[0]["last_moved_at"] is not None


async def test_a_collector_nik_that_is_no_real_nik_is_refused(
    client: httpx.AsyncClient, uow: FakeShippingUnitOfWork
) -> None:
    await deliver(uow, issued(PICKUP))
    shipment_id = uow.only_shipment().id
    response = await client.post(
        f"/shipments/{shipment_id}/collected", json={**COLLECTOR, "collector_nik": "3602141213850002"}, headers=STAFF
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert (error["code"], error["nik_problem"]) == ("invalid_nik", "nik_birth_date")
    assert uow.only_shipment().status == "ready_for_pickup"


async def test_staff_must_sign_in_hold_the_scope_and_say_why_they_read(
    client: httpx.AsyncClient, uow: FakeShippingUnitOfWork, access_log: MemoryAccessLog
) -> None:
    await deliver(uow, issued(PICKUP))
    shipment_id = uow.only_shipment().id
    path = f"/shipments/{shipment_id}"
    anonymous = [
        await client.get("/shipments"),
        await client.get(path),
        await client.post(f"{path}/collected", json=COLLECTOR),
    ]
    reviewer = await client.get("/shipments", headers=staff_headers(Role.REVIEWER))
    supervisor = await client.post(f"{path}/collected", json=COLLECTOR, headers=staff_headers(Role.SUPERVISOR))
    unexplained = [
        await client.get("/shipments", headers=staff_headers(Role.SHIPPING_OFFICER, reason=None)),
        await client.get(path, headers=staff_headers(Role.SUPERVISOR, reason=None)),
    ]

    for response in anonymous:
        assert (response.status_code, response.json()["error"]["code"]) == (401, "not_authenticated")
    assert (reviewer.status_code, reviewer.json()["error"]["code"]) == (403, "insufficient_scope")
    assert reviewer.json()["error"]["required_scope"] == "shipments:read"
    assert (supervisor.status_code, supervisor.json()["error"]["code"]) == (403, "insufficient_scope")
    assert supervisor.json()["error"]["required_scope"] == "shipments:handover"
    for response in unexplained:
        assert (response.status_code, response.json()["error"]["code"]) == (400, "access_reason_required")
    assert access_log.records == [] and uow.only_shipment().status == "ready_for_pickup"

    reason = "collection at the counter"
    followed = await client.get(path, headers=staff_headers(Role.SUPERVISOR, username="sari", reason=reason))
    assert followed.status_code == 200
    [record] = access_log.records
    assert (record.username, record.role, record.scope, record.path, record.reason) == (
        "sari",
        "supervisor",
        "shipments:read",
        path,
        reason,
    )


async def test_the_collection_names_the_signed_in_operator_not_one_in_the_body(
    client: httpx.AsyncClient, uow: FakeShippingUnitOfWork
) -> None:
    await deliver(uow, issued(PICKUP))
    shipment_id = uow.only_shipment().id
    handing_over = staff_headers(Role.KECAMATAN_OPERATOR, kecamatan="36.02.01", username="op-malingping", reason=None)
    response = await client.post(
        f"/shipments/{shipment_id}/collected", json={**COLLECTOR, "operator": "someone-else"}, headers=handing_over
    )
    assert response.status_code == 200, "a handover needs no reason"
    collected = response.json()["tracking"][-1]
    assert collected["status"] == "collected"
    assert collected["description"].endswith("diserahkan oleh op-malingping.")
    assert "someone-else" not in response.text
    assert uow.only_shipment().tracking[-1].description == collected["description"]


async def test_a_kecamatan_operator_sees_and_hands_over_only_their_own_kecamatans_shipments(
    client: httpx.AsyncClient, uow: FakeShippingUnitOfWork
) -> None:
    malingping, rangkasbitung = issued(PICKUP), issued(COURIER)
    await deliver(uow, malingping)
    await deliver(uow, rangkasbitung)
    ours = (await client.get("/shipments", params={"request_id": str(malingping.request_id)}, headers=STAFF)).json()
    theirs = await client.get("/shipments", params={"request_id": str(rangkasbitung.request_id)}, headers=STAFF)
    [ours], [theirs] = ours, theirs.json()
    assert (ours["kecamatan_code"], theirs["kecamatan_code"]) == ("36.02.01", "36.02.14")

    listed = await client.get("/shipments", headers=MALINGPING)
    asked_for_theirs = await client.get(
        "/shipments", params={"request_id": str(rangkasbitung.request_id)}, headers=MALINGPING
    )
    followed_ours = await client.get(f"/shipments/{ours['id']}", headers=MALINGPING)
    followed_theirs = await client.get(f"/shipments/{theirs['id']}", headers=MALINGPING)
    assert [s["id"] for s in listed.json()] == [ours["id"]]
    assert asked_for_theirs.json() == []
    assert followed_ours.status_code == 200
    assert (followed_theirs.status_code, followed_theirs.json()["error"]["code"]) == (404, "shipment_not_found")
    assert [s["id"] for s in (await client.get("/shipments", headers=RANGKASBITUNG)).json()] == [theirs["id"]]
    assert len((await client.get("/shipments", headers=STAFF)).json()) == 2, "the shipping office sees all"

    elsewhere = await client.post(f"/shipments/{ours['id']}/collected", json=COLLECTOR, headers=RANGKASBITUNG)
    assert (elsewhere.status_code, elsewhere.json()["error"]["code"]) == (404, "shipment_not_found")
    assert uow.status_of(uuid.UUID(ours["id"])) == "ready_for_pickup"
    at_home = await client.post(f"/shipments/{ours['id']}/collected", json=COLLECTOR, headers=MALINGPING)
    assert at_home.status_code == 200 and at_home.json()["status"] == "collected"
