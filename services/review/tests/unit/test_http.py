import uuid
from datetime import timedelta

import httpx
from fastapi import FastAPI

from dukcapil_review.domain.model import ReviewPolicy
from dukcapil_review.entrypoints import http
from dukcapil_shared.auth.roles import Role
from dukcapil_shared.web import install_error_handlers
from dukcapil_testing import install_test_auth, staff_headers

from ..fakes import FakeReviewUnitOfWork
from .test_handlers import T0, Clock, attachment, queue, submitted

# Who acts is the signed-in reviewer: the token names them, the body no longer does.
RINA = staff_headers(Role.REVIEWER, username="rina")
BUDI = staff_headers(Role.REVIEWER, username="budi")
SARI = staff_headers(Role.SUPERVISOR, username="sari")


def client_for(uow: FakeReviewUnitOfWork, clock: Clock, policy: ReviewPolicy | None = None) -> httpx.AsyncClient:
    app = FastAPI()
    install_error_handlers(app)
    app.state.unit_of_work = lambda: uow
    app.state.policy = policy or ReviewPolicy()
    app.state.clock = clock
    access_log = install_test_auth(app)
    http.install(app)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
    client.access_log = access_log  # type: ignore[attr-defined]
    return client


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
        claimed = await client.post(f"/reviews/{event.request_id}/claim", headers=RINA)
        shown = (await client.get(f"/reviews/{event.request_id}", headers=RINA)).json()

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
        "status": "failed",
        "message_id": "Lampiran wajib belum diunggah: akta_kelahiran.",
        "message_en": "Required attachments not uploaded yet: akta_kelahiran.",
        "evidence": [],
    }
    assert by_code["region_in_lebak"]["passed"] is False


async def test_another_reviewers_live_claim_is_a_409_naming_the_holder() -> None:
    uow, clock = FakeReviewUnitOfWork(), Clock()
    event = submitted()
    await queue(uow, event, clock=clock)
    async with client_for(uow, clock) as client:
        await client.post(f"/reviews/{event.request_id}/claim", headers=RINA)
        taken = await client.post(f"/reviews/{event.request_id}/claim", headers=BUDI)
        approve = await client.post(f"/reviews/{event.request_id}/approve", json={}, headers=BUDI)
        release = await client.post(f"/reviews/{event.request_id}/release", headers=BUDI)
        clock.advance(minutes=31)
        expired = (await client.get(f"/reviews/{event.request_id}", headers=BUDI)).json()
        approved = await client.post(f"/reviews/{event.request_id}/approve", json={}, headers=BUDI)

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
        approved = await client.post(f"/reviews/{first.request_id}/approve", json={}, headers=RINA)
        asked = await client.post(
            f"/reviews/{second.request_id}/request-information",
            json={"reason": "Scan buram", "missing_items": ["kk_lama"]},
            headers=RINA,
        )
        again = await client.post(
            f"/reviews/{first.request_id}/reject", json={"reason": "Data tidak cocok"}, headers=RINA
        )
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
            response = await client.get("/reviews", params=params, headers=RINA)
            assert response.status_code == 200, response.text
            return [review["request_id"] for review in response.json()]

        everything = await ids()
        by_due = await ids(order="due")
        overdue = await ids(overdue="true")
        rangkasbitung = await ids(kecamatan="36.02.14")
        kk = await ids(type="kartu_keluarga", status="pending")
        page = await ids(limit="1", offset="1")
        listed = (await client.get("/reviews", headers=RINA)).json()
        bad = await client.get("/reviews", params={"kecamatan": "3602"}, headers=RINA)

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
        await client.post(f"/reviews/{event.request_id}/claim", headers=RINA)
        await client.post(f"/reviews/{event.request_id}/reject", json={"reason": "Bukan warga"}, headers=RINA)
        trail = (await client.get(f"/reviews/{event.request_id}/audit", headers=BUDI)).json()
        attempts = [
            await client.request(method, f"/reviews/{event.request_id}/audit", json={}, headers=RINA)
            for method in ("POST", "PUT", "PATCH", "DELETE")
        ]
        missing = await client.get(f"/reviews/{uuid.uuid4()}/audit", headers=RINA)

    assert [(entry["actor"], entry["action"]) for entry in trail] == [
        ("citizen", "received"),
        ("rina", "claimed"),
        ("rina", "rejected"),
    ]
    assert trail[-1]["details"] == {"reason": "Bukan warga", "implicit_claim": False}
    assert trail[0]["at"].startswith(T0.isoformat()[:19]) and trail[0]["id"] == 1
    assert [response.status_code for response in attempts] == [405, 405, 405, 405]
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "review_not_found")


async def test_staff_must_sign_in_hold_the_scope_and_say_why_they_read() -> None:
    uow, clock = FakeReviewUnitOfWork(), Clock()
    event = submitted()
    await queue(uow, event, clock=clock)
    path = f"/reviews/{event.request_id}"
    async with client_for(uow, clock) as client:
        anonymous = [await client.get("/reviews"), await client.get(path), await client.post(f"{path}/claim")]
        officer = await client.get(path, headers=staff_headers(Role.DOCUMENT_OFFICER))
        operator = await client.post(f"{path}/approve", json={}, headers=staff_headers(Role.KECAMATAN_OPERATOR))
        unexplained = await client.get(path, headers=staff_headers(Role.REVIEWER, reason=None))
        unexplained_trail = await client.get(f"{path}/audit", headers=staff_headers(Role.REVIEWER, reason="  "))
        nothing_read = list(client.access_log.records)  # type: ignore[attr-defined]
        read = await client.get(path, headers=staff_headers(Role.REVIEWER, username="rina", reason="review of KK"))
        records = client.access_log.records  # type: ignore[attr-defined]

    for response in anonymous:
        assert (response.status_code, response.json()["error"]["code"]) == (401, "not_authenticated")
        assert response.headers["www-authenticate"] == "Bearer"
    assert (officer.status_code, officer.json()["error"]["code"]) == (403, "insufficient_scope")
    assert officer.json()["error"]["required_scope"] == "reviews:read"
    assert (operator.status_code, operator.json()["error"]["required_scope"]) == (403, "reviews:decide")
    assert (unexplained.status_code, unexplained.json()["error"]["code"]) == (400, "access_reason_required")
    assert (unexplained_trail.status_code, unexplained_trail.json()["error"]["code"]) == (400, "access_reason_required")
    assert nothing_read == [] and uow.reviews.committed[event.request_id].status == "pending"
    assert read.status_code == 200
    [record] = records
    assert (record.username, record.role, record.scope, record.path, record.reason) == (
        "rina",
        "reviewer",
        "reviews:read",
        path,
        "review of KK",
    )


async def test_the_audit_trail_names_the_signed_in_reviewer_not_a_name_in_the_body() -> None:
    uow, clock = FakeReviewUnitOfWork(), Clock()
    event = submitted()
    await queue(uow, event, clock=clock)
    path = f"/reviews/{event.request_id}"
    deciding = staff_headers(Role.REVIEWER, username="rina", reason=None)  # a decision needs no reason
    async with client_for(uow, clock) as client:
        claimed = await client.post(f"{path}/claim", json={"reviewer": "budi"}, headers=deciding)
        approved = await client.post(f"{path}/approve", json={"reviewer": "budi", "note": "ok"}, headers=deciding)
        trail = (await client.get(f"{path}/audit", headers=RINA)).json()

    assert claimed.status_code == 200 and claimed.json()["claimed_by"] == "rina"
    assert approved.status_code == 200 and approved.json()["decided_by"] == "rina"
    assert [(entry["actor"], entry["action"]) for entry in trail] == [
        ("citizen", "received"),
        ("rina", "claimed"),
        ("rina", "approved"),
    ]


async def test_a_supervisor_releases_another_reviewers_claim_and_the_audit_says_whose() -> None:
    uow, clock = FakeReviewUnitOfWork(), Clock()
    event = submitted()
    await queue(uow, event, clock=clock)
    path = f"/reviews/{event.request_id}"
    async with client_for(uow, clock) as client:
        await client.post(f"{path}/claim", headers=RINA)
        refused = await client.post(f"{path}/release", headers=BUDI)
        released = await client.post(f"{path}/release", headers=SARI)
        taken = await client.post(f"{path}/claim", headers=BUDI)
        own = await client.post(f"{path}/release", headers=BUDI)
        trail = (await client.get(f"{path}/audit", headers=SARI)).json()

    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "claimed_by_another")
    assert released.status_code == 200 and released.json()["claimed_by"] is None
    assert taken.status_code == 200 and taken.json()["claimed_by"] == "budi"
    assert own.status_code == 200 and own.json()["claimed_by"] is None
    assert [(entry["actor"], entry["action"], entry["details"]) for entry in trail[1:]] == [
        ("rina", "claimed", trail[1]["details"]),
        ("sari", "released", {"claimed_by": "rina"}),
        ("budi", "claimed", trail[3]["details"]),
        ("budi", "released", {}),
    ]
