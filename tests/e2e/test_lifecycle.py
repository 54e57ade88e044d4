"""Requests of every type walk from submission to delivery through the four services as real processes."""

import asyncio
from pathlib import Path

import pytest

from dukcapil_testing import minimal_pdf

from .requests import BIODATA_WNI, EVERY_TYPE, KARTU_KELUARGA, PICKUP, variant
from .system import BUDI, DOCUMENT_OFFICER, RINA, SERVICES, SHIPPING_OFFICER, Client, System, holder

pytestmark = pytest.mark.e2e

COURIER_PATH = [
    "request.submitted.v1",
    "review.started.v1",
    "request.approved.v1",
    "document.issued.v1",
    "shipment.created.v1",
]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def system(request, rabbitmq, postgres, tmp_path_factory):  # type: ignore[no-untyped-def]
    workdir: Path = tmp_path_factory.mktemp(f"system-{request.param}")
    if request.param == "sqlite":
        databases = {name: f"sqlite+aiosqlite:///{workdir}/var/{name}.db" for name in SERVICES}
    else:
        databases = {name: await postgres.create() for name in SERVICES}
    # An hour between booking rounds: every courier parcel here is booked because its shipment, once stored, wakes
    # the booking loop, not because a round came.
    system = System(
        workdir=workdir,
        amqp_url=rabbitmq.create(),
        database_urls=databases,
        extra_env=rabbitmq.service_env() | {"SHIPPING_BOOKING_INTERVAL": "3600"},
    )
    try:
        await system.start_all()
        yield system
    finally:
        system.stop_all()
        rabbitmq.delete(system.amqp_url)


@pytest.fixture
async def client(system: System):  # type: ignore[no-untyped-def]
    client = Client(system)
    yield client
    await client.close()


async def collect(client: Client, request_id: str) -> None:
    [shipment] = (
        await client.call("GET", "shipping", "/shipments", params={"request_id": request_id}, headers=SHIPPING_OFFICER)
    ).json()
    response = await client.call(
        "POST",
        "shipping",
        f"/shipments/{shipment['id']}/collected",
        json={"collector_name": "Yusuf Maulana", "collector_nik": "3602031503920007"},
        headers=SHIPPING_OFFICER,
    )
    assert response.status_code == 200, response.text


async def test_every_request_type_travels_from_submission_to_the_citizen(client: Client) -> None:
    submitted = {kind: await client.submit(body) for kind, body in EVERY_TYPE.items()}
    for request in submitted.values():
        assert request["status"] == "submitted"
        await client.approve(request["id"])

    for kind, request in submitted.items():
        if EVERY_TYPE[kind]["delivery"]["method"] == "courier":
            await client.wait_status(request["id"], "delivered")
            for event_type in COURIER_PATH:
                final = await client.wait_event(request["id"], event_type)
            events = [entry["event_type"] for entry in final["history"]]
            assert events[: len(COURIER_PATH)] == COURIER_PATH
            assert "shipment.status_changed.v1" in events and events[-1] == "shipment.delivered.v1"
        else:
            await client.wait_status(request["id"], "ready_for_pickup")
            await collect(client, request["id"])
            await client.wait_status(request["id"], "collected")
            final = await client.wait_event(request["id"], "shipment.ready_for_pickup.v1")
            assert [entry["event_type"] for entry in final["history"]][-2:] == [
                "shipment.ready_for_pickup.v1",
                "shipment.collected.v1",
            ]
        assert all(entry["note"] for entry in final["history"])

        [document] = (
            await client.call(
                "GET", "documents", "/documents", params={"request_id": request["id"]}, headers=DOCUMENT_OFFICER
            )
        ).json()
        followed = await client.follow(request)
        assert (followed["document"]["id"], followed["document"]["number"]) == (document["id"], document["number"])
        pdf = await client.http.get(followed["document"]["pdf_url"])
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        assert pdf.headers["content-type"] == "application/pdf"


async def test_the_courier_timeline_is_visible_at_shipping(client: Client) -> None:
    request = await client.submit(BIODATA_WNI)
    await client.approve(request["id"])
    await client.wait_status(request["id"], "delivered")
    [shipment] = (
        await client.call(
            "GET", "shipping", "/shipments", params={"request_id": request["id"]}, headers=SHIPPING_OFFICER
        )
    ).json()
    assert shipment["airway_bill"] and shipment["status"] == "delivered"
    statuses = [step["status"] for step in shipment["tracking"]]
    assert statuses[-1] == "delivered" and len(statuses) >= 3


async def test_a_failed_delivery_is_held_for_pickup_at_the_kecamatan(client: Client) -> None:
    request = await client.submit(KARTU_KELUARGA)
    script = await client.call(
        "POST", "simulator", "/simulator/scripts", json={"order_id": request["id"], "outcome": "failed"}
    )
    assert script.status_code in (200, 201), script.text
    await client.approve(request["id"])
    await client.wait_status(request["id"], "ready_for_pickup")
    held = await client.wait_event(request["id"], "shipment.delivery_failed.v1")
    assert held["status"] == "ready_for_pickup", "a late delivery_failed does not move the status back"
    events = [entry["event_type"] for entry in held["history"]]
    assert "shipment.delivery_failed.v1" in events
    assert events.index("shipment.delivery_failed.v1") < events.index("shipment.ready_for_pickup.v1")


async def test_ktp_el_is_refused_with_the_in_person_step(client: Client) -> None:
    response = await client.call("POST", "intake", "/requests", json=variant(BIODATA_WNI, type="ktp_el"))
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "in_person_only"
    assert "Kantor Kecamatan Rangkasbitung" in error["message"] and "perekaman" in error["message"]


async def test_information_requested_resubmitted_then_rejected(client: Client) -> None:
    request = await client.submit(KARTU_KELUARGA)
    await client.wait_review(request["id"])
    asked = await client.call(
        "POST",
        "review",
        f"/reviews/{request['id']}/request-information",
        json={"reason": "Scan akta kelahiran tidak terbaca", "missing_items": ["akta_kelahiran"]},
        headers=RINA,
    )
    assert asked.status_code == 200, asked.text
    await client.wait_status(request["id"], "info_requested")
    resubmitted = await client.call(
        "POST",
        "intake",
        f"/requests/{request['id']}/resubmit",
        json={"note": "Sudah saya unggah ulang"},
        headers=holder(request),
    )
    assert resubmitted.status_code == 200, resubmitted.text
    await client.wait_review(request["id"], "pending")
    rejected = await client.call(
        "POST", "review", f"/reviews/{request['id']}/reject", json={"reason": "Data tidak cocok"}, headers=RINA
    )
    assert rejected.status_code == 200
    await client.wait_status(request["id"], "rejected")
    # The second review.started and the rejection may reach intake in either order: wait for both.
    final = await client.wait_event(request["id"], "request.rejected.v1")
    while sum(entry["event_type"] == "review.started.v1" for entry in final["history"]) < 2:
        await asyncio.sleep(0.2)
        final = await client.request(request["id"])
    assert [entry["event_type"] for entry in final["history"]] == [
        "request.submitted.v1",
        "review.started.v1",
        "review.information_requested.v1",
        "request.resubmitted.v1",
        "review.started.v1",
        "request.rejected.v1",
    ]
    assert final["status"] == "rejected"
    documents = await client.call(
        "GET", "documents", "/documents", params={"request_id": request["id"]}, headers=DOCUMENT_OFFICER
    )
    assert documents.json() == []


async def test_a_request_cancelled_before_the_decision_leaves_the_work_queue(client: Client) -> None:
    request = await client.submit(variant(BIODATA_WNI, delivery=PICKUP))
    await client.wait_review(request["id"])
    cancelled = await client.call(
        "POST", "intake", f"/requests/{request['id']}/cancel", json={"reason": "keliru"}, headers=holder(request)
    )
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    await client.wait_review(request["id"], "cancelled")
    refused = await client.call("POST", "review", f"/reviews/{request['id']}/approve", json={}, headers=RINA)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "not_pending"


async def test_requests_wait_in_the_queue_while_review_is_down(system: System, client: Client) -> None:
    system.stop("review")
    try:
        requests = [await client.submit(variant(BIODATA_WNI, delivery=PICKUP)) for _ in range(20)]
        await asyncio.sleep(1.0)
        for request in requests:
            assert (await client.request(request["id"]))["status"] == "submitted"
    finally:
        system.start("review")
        await system.wait_ready("review")
    for request in requests:
        await client.approve(request["id"])
    for request in requests:
        await client.wait_status(request["id"], "ready_for_pickup")


async def test_a_kk_walks_through_information_requested_resubmission_and_approval(client: Client) -> None:
    """The README's walkthrough: a missing scan is asked for, uploaded, resubmitted, approved, collected."""
    body = variant(KARTU_KELUARGA, delivery={"method": "pickup", "pickup_kecamatan_code": "36.02.14"})
    request = await client.submit(body)
    scan = {"file": ("scan.pdf", minimal_pdf(), "application/pdf")}
    upload = await client.call(
        "POST",
        "intake",
        f"/requests/{request['id']}/attachments",
        data={"kind": "kk_lama"},
        files=scan,
        headers=holder(request),
    )
    assert upload.status_code == 201, upload.text

    def passed(review: dict) -> dict[str, bool]:
        return {check["code"]: check["passed"] for check in review["prechecks"]}

    review = await client.wait_review_until(request["id"], lambda review: len(review["attachments"]) == 1)
    assert passed(review)["attachments_complete"] is False
    claimed = await client.call("POST", "review", f"/reviews/{request['id']}/claim", headers=RINA)
    assert claimed.status_code == 200, claimed.text
    taken = await client.call("POST", "review", f"/reviews/{request['id']}/claim", headers=BUDI)
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "claimed_by_another"
    asked = await client.call(
        "POST",
        "review",
        f"/reviews/{request['id']}/request-information",
        json={"reason": "Akta kelahiran belum diunggah", "missing_items": ["akta_kelahiran"]},
        headers=RINA,
    )
    assert asked.status_code == 200, asked.text
    waiting = await client.wait_status(request["id"], "info_requested")
    assert "Akta kelahiran" in waiting["history"][-1]["note"]

    upload = await client.call(
        "POST",
        "intake",
        f"/requests/{request['id']}/attachments",
        data={"kind": "akta_kelahiran"},
        files=scan,
        headers=holder(request),
    )
    assert upload.status_code == 201, upload.text
    resubmitted = await client.call(
        "POST", "intake", f"/requests/{request['id']}/resubmit", json={"note": "Sudah"}, headers=holder(request)
    )
    assert resubmitted.status_code == 200 and resubmitted.json()["checklist"]["complete"]
    review = await client.wait_review_until(request["id"], lambda review: review["status"] == "pending")
    assert passed(review)["attachments_complete"] is True
    await client.approve(request["id"])
    await client.wait_status(request["id"], "ready_for_pickup")
    audit = (await client.call("GET", "review", f"/reviews/{request['id']}/audit", headers=RINA)).json()
    actions = [(entry["actor"], entry["action"]) for entry in audit]
    assert ("rina", "claimed") in actions and ("rina", "information_requested") in actions
    assert actions[-1] == ("rina", "approved")
    assert (await client.call("DELETE", "review", f"/reviews/{request['id']}/audit")).status_code == 405
