import uuid
from datetime import timedelta

import httpx
from fastapi import FastAPI

from dukcapil_review.domain.model import ReviewPolicy
from dukcapil_review.entrypoints import http
from dukcapil_shared.web import install_error_handlers

from ..fakes import FakeReviewUnitOfWork
from .test_handlers import T0, Clock, attachment, queue, submitted


def client_for(uow: FakeReviewUnitOfWork, clock: Clock, policy: ReviewPolicy | None = None) -> httpx.AsyncClient:
    app = FastAPI()
    install_error_handlers(app)
    app.state.unit_of_work = lambda: uow
    app.state.policy = policy or ReviewPolicy()
    app.state.clock = clock
    http.install(app)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_a_review_shows_prechecks_attachments_due_date_and_claim() -> None:
    uow, clock = FakeReviewUnitOfWork(), Clock()
    event = submitted(
        channel="assisted",
        operator="operator-bayah",
        office="Kantor Desa Sawarna",
        attachments=[attachment("kk_lama")],
        required_attachments=["kk_lama", "akta_kelahiran"],
        flags=["nik_outside_lebak"],
    )
    await queue(uow, event, clock=clock)
    async with client_for(uow, clock) as client:
        clock.advance(minutes=5)
        claimed = await client.post(f"/reviews/{event.request_id}/claim", json={"reviewer": "rina"})
        shown = (await client.get(f"/reviews/{event.request_id}")).json()

    assert claimed.status_code == 200, claimed.text
    assert shown["claimed_by"] == "rina"
    assert shown["claim_expires_at"].startswith((T0 + timedelta(minutes=35)).isoformat()[:19])
    assert shown["due_at"].startswith((T0 + timedelta(hours=72)).isoformat()[:19]) and shown["overdue"] is False
    assert (shown["channel"], shown["operator"], shown["office"]) == (
        "assisted",
        "operator-bayah",
        "Kantor Desa Sawarna",
    )
    assert shown["attachments"] == [attachment("kk_lama").model_dump(mode="json")]
    assert shown["flags"] == ["nik_outside_lebak"] and shown["prechecks_passed"] is False
    by_code = {check["code"]: check for check in shown["prechecks"]}
    assert by_code["attachments_complete"] == {
        "code": "attachments_complete",
        "passed": False,
        "message_id": "Lampiran wajib belum diunggah: akta_kelahiran.",
        "message_en": "Required attachments not uploaded yet: akta_kelahiran.",
    }
    assert by_code["region_in_lebak"]["passed"] is False


async def test_another_reviewers_live_claim_is_a_409_naming_the_holder() -> None:
    uow, clock = FakeReviewUnitOfWork(), Clock()
    event = submitted()
    await queue(uow, event, clock=clock)
    async with client_for(uow, clock) as client:
        await client.post(f"/reviews/{event.request_id}/claim", json={"reviewer": "rina"})
        taken = await client.post(f"/reviews/{event.request_id}/claim", json={"reviewer": "budi"})
        approve = await client.post(f"/reviews/{event.request_id}/approve", json={"reviewer": "budi"})
        release = await client.post(f"/reviews/{event.request_id}/release", json={"reviewer": "budi"})
        clock.advance(minutes=31)
        expired = (await client.get(f"/reviews/{event.request_id}")).json()
        approved = await client.post(f"/reviews/{event.request_id}/approve", json={"reviewer": "budi"})

    for response in (taken, approve, release):
        assert response.status_code == 409
        error = response.json()["error"]
        assert error["code"] == "claimed_by_another" and error["claimed_by"] == "rina"
        assert error["claim_expires_at"] and "rina" in error["message"]
    assert expired["claimed_by"] is None and expired["claim_expires_at"] is None
    assert approved.status_code == 200 and approved.json()["decided_by"] == "budi"


async def test_decisions_without_a_claim_work_as_before() -> None:
    uow, clock = FakeReviewUnitOfWork(), Clock()
    first, second = submitted(), submitted()
    await queue(uow, first, clock=clock)
    await queue(uow, second, clock=clock)
    async with client_for(uow, clock) as client:
        approved = await client.post(f"/reviews/{first.request_id}/approve", json={"reviewer": "rina"})
        asked = await client.post(
            f"/reviews/{second.request_id}/request-information",
            json={"reviewer": "rina", "reason": "Scan buram", "missing_items": ["kk_lama"]},
        )
        again = await client.post(f"/reviews/{first.request_id}/reject", json={"reviewer": "rina", "reason": "x"})
    assert approved.status_code == 200 and approved.json()["status"] == "approved"
    assert approved.json()["automatic"] is False and approved.json()["claimed_by"] is None
    assert asked.status_code == 200 and asked.json()["claimed_by"] == "rina"
    assert (again.status_code, again.json()["error"]["code"]) == (409, "not_pending")


async def test_the_work_queue_filters_and_orders() -> None:
    uow, clock = FakeReviewUnitOfWork(), Clock()
    bayah = submitted(kecamatan_code="36.02.03")
    biodata = submitted("biodata_wni")
    await queue(uow, bayah, clock=Clock(T0))
    await queue(uow, biodata, clock=Clock(T0 + timedelta(hours=1)))
    clock.advance(hours=30)
    async with client_for(uow, clock) as client:

        async def ids(**params: str) -> list[str]:
            response = await client.get("/reviews", params=params)
            assert response.status_code == 200, response.text
            return [review["request_id"] for review in response.json()]

        everything = await ids()
        by_due = await ids(order="due")
        overdue = await ids(overdue="true")
        rangkasbitung = await ids(kecamatan="36.02.14")
        kk = await ids(type="kartu_keluarga", status="pending")
        page = await ids(limit="1", offset="1")
        listed = (await client.get("/reviews")).json()
        bad = await client.get("/reviews", params={"kecamatan": "3602"})

    assert everything == [str(bayah.request_id), str(biodata.request_id)]
    assert by_due == [str(biodata.request_id), str(bayah.request_id)]
    assert overdue == [str(biodata.request_id)]
    assert rangkasbitung == [str(biodata.request_id)] and kk == [str(bayah.request_id)]
    assert page == [str(biodata.request_id)]
    assert [review["overdue"] for review in listed] == [False, True]
    assert bad.status_code == 422


async def test_the_audit_trail_can_be_read_but_not_changed() -> None:
    uow, clock = FakeReviewUnitOfWork(), Clock()
    event = submitted()
    await queue(uow, event, clock=clock)
    async with client_for(uow, clock) as client:
        await client.post(f"/reviews/{event.request_id}/claim", json={"reviewer": "rina"})
        await client.post(f"/reviews/{event.request_id}/reject", json={"reviewer": "rina", "reason": "Bukan warga"})
        trail = (await client.get(f"/reviews/{event.request_id}/audit")).json()
        attempts = [
            await client.request(method, f"/reviews/{event.request_id}/audit", json={})
            for method in ("POST", "PUT", "PATCH", "DELETE")
        ]
        missing = await client.get(f"/reviews/{uuid.uuid4()}/audit")

    assert [(entry["actor"], entry["action"]) for entry in trail] == [
        ("citizen", "received"),
        ("rina", "claimed"),
        ("rina", "rejected"),
    ]
    assert trail[-1]["details"] == {"reason": "Bukan warga", "implicit_claim": False}
    assert trail[0]["at"].startswith(T0.isoformat()[:19]) and trail[0]["id"] == 1
    assert [response.status_code for response in attempts] == [405, 405, 405, 405]
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "review_not_found")
