from collections.abc import AsyncIterator

import httpx
import pytest

from dukcapil_shipping.simulator.app import SimulatorSettings, create_app
from dukcapil_shipping.simulator.model import CNOTE_FIELDS

from ..fakes import FakeClock

CREDENTIALS = {"username": "courier-test", "api_key": "courier-test-key"}


def order(order_id: str = "7f0c2a4e-0000-4000-8000-000000000001", **changes: str) -> dict[str, str]:
    form = {name: "x" for name in CNOTE_FIELDS}
    form.update(
        OLSHOP_ORDERID=order_id,
        OLSHOP_RECEIVER_NAME="Siti Aminah",
        OLSHOP_SHIPPER_CITY="Lebak",
        OLSHOP_RECEIVER_CITY="Kabupaten Lebak",
        **changes,
    )
    return {**CREDENTIALS, **form}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


async def a_courier(clock: FakeClock, **settings: object) -> httpx.AsyncClient:
    app = create_app(SimulatorSettings(**CREDENTIALS, seed=7, **settings), clock=clock)  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://courier")


@pytest.fixture
async def courier(clock: FakeClock) -> AsyncIterator[httpx.AsyncClient]:
    async with await a_courier(clock) as client:
        yield client


async def cnote_for(courier: httpx.AsyncClient, form: dict[str, str]) -> str:
    response = await courier.post("/tracing/api/generatecnote", data=form)
    assert response.status_code == 200, response.text
    [detail] = response.json()["detail"]
    assert detail["status"] == "sukses"
    return detail["cnote_no"]


async def tracking(courier: httpx.AsyncClient, cnote: str) -> dict:
    response = await courier.post(f"/tracing/api/list/v1/cnote/{cnote}", data=CREDENTIALS)
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_same_order_id_always_gets_the_same_airway_bill(courier: httpx.AsyncClient) -> None:
    first = await cnote_for(courier, order("order-1"))
    assert len(first) == 16 and first.isdigit()
    assert await cnote_for(courier, order("order-1")) == first
    assert await cnote_for(courier, order("order-2")) != first


async def test_missing_fields_are_refused_with_their_names(courier: httpx.AsyncClient) -> None:
    form = order()
    del form["OLSHOP_RECEIVER_NAME"]
    form["OLSHOP_DEST"] = " "
    response = await courier.post("/tracing/api/generatecnote", data=form)
    assert response.status_code == 400
    [detail] = response.json()["detail"]
    assert detail["status"] == "gagal"
    assert "OLSHOP_RECEIVER_NAME" in detail["reason"] and "OLSHOP_DEST" in detail["reason"]


async def test_wrong_credentials_are_refused(courier: httpx.AsyncClient) -> None:
    wrong = {**order(), "api_key": "guess"}
    assert (await courier.post("/tracing/api/generatecnote", data=wrong)).status_code == 401
    cnote = await cnote_for(courier, order())
    response = await courier.post(f"/tracing/api/list/v1/cnote/{cnote}", data={"username": "courier-test"})
    assert response.status_code == 401
    assert response.json()["status"] is False


async def test_an_unknown_airway_bill_is_not_found(courier: httpx.AsyncClient) -> None:
    response = await courier.post("/tracing/api/list/v1/cnote/0000000000000000", data=CREDENTIALS)
    assert response.status_code == 404


async def test_a_parcel_moves_one_milestone_per_step_until_delivered(
    courier: httpx.AsyncClient, clock: FakeClock
) -> None:
    cnote = await cnote_for(courier, order())
    seen = []
    for _ in range(4):
        answer = await tracking(courier, cnote)
        seen.append((answer["cnote"]["pod_status"], [step["code"] for step in answer["history"]]))
        clock.advance(2.0)
    assert seen == [
        ("ON PROCESS", ["MNF"]),
        ("ON PROCESS", ["MNF", "PU1"]),
        ("ON PROCESS", ["MNF", "PU1", "IT1"]),
        ("DELIVERED", ["MNF", "PU1", "IT1", "D01"]),
    ]
    clock.advance(60)
    answer = await tracking(courier, cnote)
    assert len(answer["history"]) == 4
    pod = answer["cnote"]
    assert (pod["cnote_no"], pod["cnote_receiver_name"], pod["cnote_pod_receiver"]) == (
        cnote,
        "Siti Aminah",
        "Siti Aminah",
    )
    assert pod["cnote_pod_date"] == "28-11-2026 10:00"  # 03:00 UTC + 6 s, in WIB
    assert answer["history"][-1]["desc"] == "DELIVERED TO [SITI AMINAH | 28-11-2026 10:00 | KABUPATEN LEBAK]"


async def test_a_scripted_order_fails_its_delivery(courier: httpx.AsyncClient, clock: FakeClock) -> None:
    await courier.post("/simulator/scripts", json={"order_id": "order-9", "outcome": "failed"})
    cnote = await cnote_for(courier, order("order-9"))
    clock.advance(6)
    answer = await tracking(courier, cnote)
    assert answer["cnote"]["pod_status"] == "UNDELIVERED"
    assert answer["cnote"]["keterangan"] == "ALAMAT TIDAK DITEMUKAN"
    assert answer["cnote"]["cnote_pod_receiver"] is None
    assert answer["history"][-1]["desc"] == "UNDELIVERED [ALAMAT TIDAK DITEMUKAN]"


async def test_a_script_can_name_who_signs_for_the_parcel(courier: httpx.AsyncClient, clock: FakeClock) -> None:
    cnote = await cnote_for(courier, order("order-3"))
    await courier.post("/simulator/scripts", json={"order_id": "order-3", "receiver_name": "Ujang (adik)"})
    clock.advance(6)
    assert (await tracking(courier, cnote))["cnote"]["cnote_pod_receiver"] == "Ujang (adik)"


async def test_scripted_unavailability_answers_the_next_calls_with_503(courier: httpx.AsyncClient) -> None:
    response = await courier.post("/simulator/scripts", json={"order_id": "order-5", "fail_next_requests": 2})
    assert response.status_code == 201
    statuses = [(await courier.post("/tracing/api/generatecnote", data=order("order-5"))).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]


async def test_the_failure_rate_makes_unscripted_deliveries_fail(clock: FakeClock) -> None:
    async with await a_courier(clock, failure_rate=1.0) as courier:
        cnote = await cnote_for(courier, order())
        clock.advance(6)
        assert (await tracking(courier, cnote))["cnote"]["pod_status"] == "UNDELIVERED"
