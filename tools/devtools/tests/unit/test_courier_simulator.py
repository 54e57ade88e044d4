from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from dukcapil_devtools.courier_simulator.app import SimulatorSettings, create_app
from dukcapil_devtools.courier_simulator.model import CNOTE_FIELDS

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
    """A courier in memory unless the test gives it a data_dir."""
    settings = {"data_dir": None, **settings}
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


async def timeline(courier: httpx.AsyncClient, clock: FakeClock, cnote: str, steps: int) -> list[tuple[str, str]]:
    """(pod_status, last code) at each of `steps` steps."""
    seen = []
    for _ in range(steps):
        answer = await tracking(courier, cnote)
        seen.append((answer["cnote"]["pod_status"], answer["history"][-1]["code"]))
        clock.advance(2.0)
    return seen


async def test_a_parcel_failing_once_is_delivered_on_the_second_attempt(
    courier: httpx.AsyncClient, clock: FakeClock
) -> None:
    await courier.post("/simulator/scripts", json={"order_id": "order-2", "outcome": "failed_once_then_delivered"})
    cnote = await cnote_for(courier, order("order-2"))
    seen = await timeline(courier, clock, cnote, 7)
    assert seen == [
        ("ON PROCESS", "MNF"),
        ("ON PROCESS", "PU1"),
        ("ON PROCESS", "IT1"),
        ("UNDELIVERED", "U05"),
        ("ON PROCESS", "IT1"),
        ("DELIVERED", "D01"),
        ("DELIVERED", "D01"),
    ]
    answer = await tracking(courier, cnote)
    descriptions = [step["desc"] for step in answer["history"]]
    assert descriptions[3:5] == [
        "UNDELIVERED [PENERIMA TIDAK DI TEMPAT] ATTEMPT 1",
        "WITH DELIVERY COURIER [KABUPATEN LEBAK] ATTEMPT 2",
    ]
    assert answer["cnote"]["cnote_pod_receiver"] == "Siti Aminah"
    assert answer["cnote"]["cnote_pod_date"] == "28-11-2026 10:00"


@pytest.mark.parametrize("outcome", ["returned", "failed"])
async def test_a_parcel_failing_twice_is_returned_to_the_sender(
    courier: httpx.AsyncClient, clock: FakeClock, outcome: str
) -> None:
    await courier.post("/simulator/scripts", json={"order_id": "order-9", "outcome": outcome})
    cnote = await cnote_for(courier, order("order-9"))
    seen = await timeline(courier, clock, cnote, 8)
    assert [code for _, code in seen] == ["MNF", "PU1", "IT1", "U05", "IT1", "U05", "RTS", "RTS"]
    assert [status for status, _ in seen][-3:] == ["UNDELIVERED", "RETURN TO SHIPPER", "RETURN TO SHIPPER"]
    answer = await tracking(courier, cnote)
    assert answer["cnote"]["keterangan"] == "ALAMAT TIDAK DITEMUKAN"
    assert answer["cnote"]["cnote_pod_receiver"] is None
    assert answer["history"][-1]["desc"] == "RETURN TO SHIPPER [ALAMAT TIDAK DITEMUKAN]"
    assert answer["history"][-2]["desc"] == "UNDELIVERED [ALAMAT TIDAK DITEMUKAN] ATTEMPT 2"


async def test_the_reason_of_the_failures_can_be_scripted(courier: httpx.AsyncClient, clock: FakeClock) -> None:
    await courier.post(
        "/simulator/scripts", json={"order_id": "order-4", "outcome": "returned", "failure_reason": "Rumah kosong"}
    )
    cnote = await cnote_for(courier, order("order-4"))
    clock.advance(60)
    answer = await tracking(courier, cnote)
    assert (answer["cnote"]["keterangan"], answer["history"][-1]["desc"]) == (
        "RUMAH KOSONG",
        "RETURN TO SHIPPER [RUMAH KOSONG]",
    )


async def test_a_stalled_parcel_stops_where_it_is_until_released(courier: httpx.AsyncClient, clock: FakeClock) -> None:
    cnote = await cnote_for(courier, order("order-6"))
    clock.advance(2)
    await courier.post("/simulator/scripts", json={"order_id": "order-6", "stall": True})
    clock.advance(3600)
    stalled = await tracking(courier, cnote)
    assert [step["code"] for step in stalled["history"]] == ["MNF", "PU1"]

    await courier.post("/simulator/scripts", json={"order_id": "order-6", "stall": False})
    assert [step["code"] for step in (await tracking(courier, cnote))["history"]] == ["MNF", "PU1"]
    clock.advance(2)
    resumed = await tracking(courier, cnote)
    assert resumed["history"][:2] == stalled["history"], "the steps made keep their dates"
    assert [step["code"] for step in resumed["history"]] == ["MNF", "PU1", "IT1"]
    assert resumed["history"][2]["date"] == "28-11-2026 11:00"


async def test_a_parcel_scripted_to_stall_before_booking_stays_manifested(
    courier: httpx.AsyncClient, clock: FakeClock
) -> None:
    await courier.post("/simulator/scripts", json={"order_id": "order-7", "stall": True})
    cnote = await cnote_for(courier, order("order-7"))
    clock.advance(3600)
    answer = await tracking(courier, cnote)
    assert [step["code"] for step in answer["history"]] == ["MNF"]
    assert answer["cnote"]["pod_status"] == "ON PROCESS"


async def test_a_script_changes_only_the_fields_given_and_can_be_read_back(courier: httpx.AsyncClient) -> None:
    first = await courier.post(
        "/simulator/scripts", json={"order_id": "order-8", "outcome": "returned", "fail_next_requests": 1}
    )
    assert first.status_code == 201
    second = await courier.post("/simulator/scripts", json={"order_id": "order-8", "receiver_name": "Ujang"})
    assert second.json() == {
        "order_id": "order-8",
        "outcome": "returned",
        "receiver_name": "Ujang",
        "failure_reason": None,
        "stall": False,
        "fail_next_requests": 1,
    }
    read = await courier.get("/simulator/orders/order-8")
    assert read.json() == {"script": second.json(), "parcel": None}
    assert (await courier.post("/tracing/api/generatecnote", data=order("order-8"))).status_code == 503
    cnote = await cnote_for(courier, order("order-8"))
    read = (await courier.get("/simulator/orders/order-8")).json()
    assert read["parcel"]["cnote"]["cnote_no"] == cnote and read["script"]["fail_next_requests"] == 0
    assert (await courier.get("/simulator/orders/unknown")).status_code == 404


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
        clock.advance(60)
        assert (await tracking(courier, cnote))["cnote"]["pod_status"] == "RETURN TO SHIPPER"


async def test_a_restarted_courier_knows_its_airway_bills_and_goes_on_with_their_timelines(
    clock: FakeClock, tmp_path: Path
) -> None:
    async with await a_courier(clock, data_dir=tmp_path) as courier:
        cnote = await cnote_for(courier, order("order-kept"))
        await courier.post("/simulator/scripts", json={"order_id": "order-kept", "outcome": "returned"})
        await courier.post("/simulator/scripts", json={"order_id": "order-503", "fail_next_requests": 2})
        clock.advance(2)
        before = await tracking(courier, cnote)
    assert [step["code"] for step in before["history"]] == ["MNF", "PU1"]

    clock.advance(4)  # two steps while the courier is down
    async with await a_courier(clock, data_dir=tmp_path) as restarted:
        after = await tracking(restarted, cnote)
        assert after["history"][:2] == before["history"], "the steps made keep their dates"
        assert [step["code"] for step in after["history"]] == ["MNF", "PU1", "IT1", "U05"], "the script is kept"
        assert await cnote_for(restarted, order("order-kept")) == cnote
        assert await cnote_for(restarted, order("order-new")) != cnote
        script = (await restarted.get("/simulator/orders/order-503")).json()["script"]
        assert script["fail_next_requests"] == 2


async def test_a_courier_with_a_fresh_data_dir_knows_no_airway_bill(clock: FakeClock, tmp_path: Path) -> None:
    async with await a_courier(clock, data_dir=tmp_path / "first") as courier:
        cnote = await cnote_for(courier, order("order-forgotten"))
    async with await a_courier(clock, data_dir=tmp_path / "second") as forgetful:
        answer = await forgetful.post(f"/tracing/api/list/v1/cnote/{cnote}", data=CREDENTIALS)
    assert answer.status_code == 404
    assert answer.json() == {"status": False, "error": "Cnote No. Not Found."}
