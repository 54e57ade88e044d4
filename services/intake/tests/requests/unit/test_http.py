"""Intake's HTTP API over fakes: the catalogue, refusals, scans, idempotency, following, e-KTP bookings."""

import datetime as dt
import re
import uuid

import httpx
import pytest
from fastapi import FastAPI

from dukcapil_intake.requests.adapters.scans import DecodingScanInspector
from dukcapil_intake.requests.domain.access_codes import AccessCodes
from dukcapil_intake.requests.entrypoints import http
from dukcapil_intake.settings import IntakeSettings
from dukcapil_shared.auth.roles import Role
from dukcapil_shared.auth.tokens import InvalidToken
from dukcapil_shared.clock import SystemClock
from dukcapil_shared.contracts import AttachmentAdded, BiodataWniDetails, RecordingBooked, RequestSubmitted
from dukcapil_shared.web import install_error_handlers
from dukcapil_testing import (
    download_grants_for_tests,
    grant_verifier_for_tests,
    install_test_auth,
    minimal_pdf,
    staff_headers,
)
from dukcapil_testing.fakes import FixedClock

from ...fakes import FakeFileStore, FakeRequestsUnitOfWork
from .scan_files import encrypted_pdf, image, png_claiming

MAX_SCAN_BYTES = 20_000
BIG = MAX_SCAN_BYTES + 1
PDF = minimal_pdf()
PNG = image("PNG")
SITI = {"nik": "3602144107900001", "name": "Siti Aminah", "birth_date": "1990-07-01", "sex": "female"}
BIODATA = {
    "type": "biodata_wni",
    "applicant": SITI,
    "details": {},
    "delivery": {"method": "pickup", "pickup_kecamatan_code": "36.02.14"},
}
STAFF = staff_headers(Role.REVIEWER)
CODES = AccessCodes(b"access-code-key-for-the-tests")


def holder(request: dict) -> dict[str, str]:  # type: ignore[type-arg]
    """What the citizen sends to act on their request: its access code."""
    return {"X-Access-Code": request["access_code"]}


OPERATOR = staff_headers(Role.KECAMATAN_OPERATOR, kecamatan="36.02.14", username="op-rkb")


@pytest.fixture
async def api():  # type: ignore[no-untyped-def]
    uow, files = FakeRequestsUnitOfWork(), FakeFileStore()
    app = FastAPI()
    install_error_handlers(app)
    app.state.files = files
    app.state.clock = SystemClock()
    app.state.scans = DecodingScanInspector()
    app.state.settings = IntakeSettings(
        max_attachment_bytes=MAX_SCAN_BYTES, max_scan_pages=3, max_scan_pixels=1_000_000, recording_capacity=2
    )
    access_log = install_test_auth(app)
    http.install(
        app,
        unit_of_work=lambda: uow,
        notifications=lambda: uow.notices,
        access_codes=CODES,
        download_grants=download_grants_for_tests(),
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        client.uow, client.files, client.settings = uow, files, app.state.settings  # type: ignore[attr-defined]
        client.access_log = access_log  # type: ignore[attr-defined]
        client.state = app.state  # type: ignore[attr-defined]
        yield client


async def test_the_catalogue_lists_every_type_and_marks_e_ktp_in_person(api) -> None:  # type: ignore[no-untyped-def]
    services = {service["code"]: service for service in (await api.get("/services")).json()}
    assert set(services) == {"kartu_keluarga", "akta_kematian", "surat_pindah", "biodata_wni", "ktp_el"}
    assert services["ktp_el"]["online"] is False and "perekaman" in services["ktp_el"]["in_person_reason"].lower()
    reason = next(a for a in services["kartu_keluarga"]["attributes"] if a["code"] == "reason")
    assert reason["required"] and "split" in reason["values"]
    assert [k["code"] for k in services["kartu_keluarga"]["attachments"]["lost_or_damaged"]] == ["surat_kehilangan"]
    assert (await api.get("/services/akta_kematian")).json()["form"] == "F-2.01"
    assert (await api.get("/services/paspor")).json()["error"]["code"] == "service_not_found"


async def test_e_ktp_is_refused_with_the_office_what_to_bring_and_a_booking_offer(api) -> None:  # type: ignore[no-untyped-def]
    response = await api.post("/requests", json=BIODATA | {"type": "ktp_el"})
    error = response.json()["error"]
    assert response.status_code == 422 and error["code"] == "in_person_only"
    assert error["office"] == "Kantor Kecamatan Rangkasbitung"
    assert error["booking"]["href"] == "/perekaman-bookings" and error["booking"]["what_to_bring"]


async def test_every_problem_comes_back_at_once_with_both_languages(api) -> None:  # type: ignore[no-untyped-def]
    body = BIODATA | {"applicant": SITI | {"sex": "male"}, "details": {"person_nik": "3602144107900000"}}
    error = (await api.post("/requests", json=body)).json()["error"]
    assert error["code"] == "invalid_request"
    assert {(d["field"], d["code"]) for d in error["details"]} == {
        ("body.applicant.sex", "nik_sex_mismatch"),
        ("body.details.person_nik", "nik_serial"),
    }
    assert all(d["message"] and d["message_id"] for d in error["details"])


async def test_details_may_say_their_type_which_must_be_the_requests(api) -> None:  # type: ignore[no-untyped-def]
    typed = await api.post("/requests", json=BIODATA | {"details": {"type": "biodata_wni"}})
    assert typed.status_code == 201, typed.text
    other = await api.post("/requests", json=BIODATA | {"details": {"type": "kartu_keluarga"}})
    assert other.status_code == 422
    assert [(d["field"], d["code"]) for d in other.json()["error"]["details"]] == [
        ("body.details.type", "details_type_mismatch")
    ]
    [event] = api.uow.outbox.events
    assert isinstance(event, RequestSubmitted) and event.details == BiodataWniDetails()


async def test_an_assisted_request_records_the_signed_in_operator_and_office(api) -> None:  # type: ignore[no-untyped-def]
    refused = await api.post("/requests", json=BIODATA | {"channel": "assisted"})
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "not_authenticated"
    accepted = await api.post("/requests", json=BIODATA, headers=OPERATOR)
    assert accepted.status_code == 201
    [event] = api.uow.outbox.events
    assert isinstance(event, RequestSubmitted) and (event.channel, event.operator) == ("assisted", "op-rkb")
    [listed] = (await api.get("/requests", params={"kecamatan": "36.02.14"}, headers=STAFF)).json()
    assert listed["operator"] == "op-rkb" and listed["office"] == "Kantor Kecamatan Rangkasbitung"
    at_desa = await api.post("/requests", json=BIODATA | {"office": "Kantor Desa Jatimulya"}, headers=OPERATOR)
    assert at_desa.json()["channel"] == "assisted"
    assert (await api.get("/requests", headers=STAFF)).json()[-1]["office"] == "Kantor Desa Jatimulya"


async def test_an_operator_submits_and_sees_only_for_their_own_kecamatan(api) -> None:  # type: ignore[no-untyped-def]
    elsewhere = BIODATA | {"delivery": {"method": "pickup", "pickup_kecamatan_code": "36.02.03"}}
    refused = await api.post("/requests", json=elsewhere, headers=OPERATOR)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "outside_your_kecamatan"
    citizens = (await api.post("/requests", json=elsewhere)).json()  # the citizen may still apply online
    own = (await api.post("/requests", json=BIODATA, headers=OPERATOR)).json()
    reading = OPERATOR | {"X-Access-Reason": "counter enquiry"}
    assert [r["id"] for r in (await api.get("/requests", headers=reading)).json()] == [own["id"]]
    other = await api.get("/requests", params={"kecamatan": "36.02.03"}, headers=reading)
    assert other.status_code == 403 and other.json()["error"]["code"] == "outside_your_kecamatan"
    assert (await api.get(f"/requests/{citizens['id']}", headers=reading)).status_code == 404
    assert (await api.get(f"/requests/{own['id']}", headers=reading)).status_code == 200
    cancel = await api.post(f"/requests/{citizens['id']}/cancel", json={}, headers=OPERATOR)
    assert cancel.status_code == 404, "an operator cannot touch another kecamatan's request"
    assert len((await api.get("/requests", headers=STAFF)).json()) == 2, "a reviewer sees the whole regency"


async def test_reading_a_request_needs_a_reason_and_is_recorded(api) -> None:  # type: ignore[no-untyped-def]
    request = (await api.post("/requests", json=BIODATA)).json()
    path = f"/requests/{request['id']}"
    assert (await api.get(path)).json()["error"]["code"] == "not_authenticated"
    no_reason = await api.get(path, headers=staff_headers(Role.REVIEWER, reason=None))
    assert no_reason.status_code == 400 and no_reason.json()["error"]["code"] == "access_reason_required"
    assert api.access_log.records == []
    wrong_role = await api.get(path, headers=staff_headers(Role.ADMIN))
    assert wrong_role.status_code == 403 and wrong_role.json()["error"]["code"] == "insufficient_scope"
    forged = await api.get(path, headers={"Authorization": "Bearer not.a.token", "X-Access-Reason": "curious"})
    assert forged.status_code == 401 and forged.json()["error"]["code"] == "invalid_token"
    read = await api.get(path, headers=staff_headers(Role.REVIEWER, username="rina", reason="review of the KK"))
    assert read.status_code == 200
    [record] = api.access_log.records
    assert (record.username, record.role, record.path, record.reason) == ("rina", "reviewer", path, "review of the KK")


async def test_a_retried_submission_with_the_same_key_returns_the_first_request(api) -> None:  # type: ignore[no-untyped-def]
    headers = {"Idempotency-Key": "kiosk-7-0001"}
    first = await api.post("/requests", json=BIODATA, headers=headers)
    again = await api.post("/requests", json=BIODATA, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"] and again.json()["number"] == first.json()["number"]
    assert len(api.uow.requests.committed) == 1 and len(api.uow.outbox.events) == 1
    other = await api.post("/requests", json=BIODATA | {"details": {"person_nik": SITI["nik"]}}, headers=headers)
    assert other.status_code == 422 and other.json()["error"]["code"] == "idempotency_key_reused"


async def test_a_citizen_follows_a_request_with_its_number_and_access_code(api) -> None:  # type: ignore[no-untyped-def]
    request = (await api.post("/requests", json=BIODATA)).json()
    code = request["access_code"]
    assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}-[0-9A-HJKMNP-TV-Z]", code)
    typed_loosely = code.replace("-", " ").lower()
    found = await api.post("/requests/follow", json={"number": request["number"], "access_code": typed_loosely})
    assert found.status_code == 200 and found.json()["id"] == request["id"]
    assert found.json()["document"] is None and "access_code" not in found.json(), "shown once, at submission"
    by_nik = await api.post("/requests/follow", json={"number": request["number"], "nik": SITI["nik"]})
    assert by_nik.status_code == 422, "a NIK opens nothing"
    other = (await api.post("/requests", json=BIODATA)).json()
    wrong = await api.post("/requests/follow", json={"number": request["number"], "access_code": other["access_code"]})
    assert wrong.status_code == 404 and wrong.json()["error"]["code"] == "not_found"
    mistyped = code[:-1] + ("0" if code[-1] != "0" else "1")
    slip = await api.post("/requests/follow", json={"number": request["number"], "access_code": mistyped})
    assert slip.status_code == 422 and slip.json()["error"]["code"] == "access_code_mistyped", "the check symbol"


async def test_wrong_codes_lock_the_request_whoever_sends_them(api) -> None:  # type: ignore[no-untyped-def]
    request = (await api.post("/requests", json=BIODATA)).json()
    guesses = [str(CODES.of(uuid.uuid4(), 1)) for _ in range(5)]
    for guess in guesses:
        answer = await api.post("/requests/follow", json={"number": request["number"], "access_code": guess})
        assert answer.status_code == 404
    locked = await api.post(
        "/requests/follow", json={"number": request["number"], "access_code": request["access_code"]}
    )
    assert locked.status_code == 429 and locked.json()["error"]["code"] == "access_code_locked"
    assert int(locked.headers["retry-after"]) > 0
    other = (await api.post("/requests", json=BIODATA)).json()
    opened = await api.post("/requests/follow", json={"number": other["number"], "access_code": other["access_code"]})
    assert opened.status_code == 200, "only the request guessed at is locked"


async def test_the_id_alone_opens_nothing(api) -> None:  # type: ignore[no-untyped-def]
    request = (await api.post("/requests", json=BIODATA)).json()
    other = (await api.post("/requests", json=BIODATA)).json()
    path = f"/requests/{request['id']}"
    for action, body in (("cancel", {}), ("resubmit", {"note": "Sudah saya lengkapi"})):
        bare = await api.post(f"{path}/{action}", json=body)
        assert bare.status_code == 401 and bare.json()["error"]["code"] == "access_code_required"
        assert bare.headers["www-authenticate"] == "X-Access-Code"
        someone_elses = await api.post(f"{path}/{action}", json=body, headers=holder(other))
        assert someone_elses.status_code == 404
    upload = await api.post(
        f"{path}/attachments",
        data={"kind": "surat_pengantar_rt_rw"},
        files={"file": ("p.pdf", PDF, "application/pdf")},
    )
    assert upload.status_code == 401 and api.files.files == {}
    assert (await api.post(f"{path}/cancel", json={}, headers=holder(request))).status_code == 200


async def test_the_document_in_force_comes_with_a_short_lived_link_for_it_alone(api) -> None:  # type: ignore[no-untyped-def]
    request = (await api.post("/requests", json=BIODATA)).json()
    document_id = uuid.uuid4()
    stored = api.uow.requests.committed[uuid.UUID(request["id"])]
    stored.document_issued(document_id, "BIO/3602/2026/000001")
    found = (
        await api.post("/requests/follow", json={"number": request["number"], "access_code": request["access_code"]})
    ).json()
    document = found["document"]
    assert (document["id"], document["number"]) == (str(document_id), "BIO/3602/2026/000001")
    link = httpx.URL(document["pdf_url"])
    assert str(link.copy_with(query=None)) == f"http://127.0.0.1:8003/documents/{document_id}/pdf"
    verifier = grant_verifier_for_tests()
    verifier.verify(link.params["grant"], document_id)
    with pytest.raises(InvalidToken):
        verifier.verify(link.params["grant"], uuid.uuid4())
    expires = dt.datetime.fromisoformat(document["url_expires_at"])
    assert dt.timedelta(0) < expires - dt.datetime.now(dt.UTC) <= dt.timedelta(minutes=10)


async def test_a_lost_code_goes_again_to_the_contacts_on_file_only(api) -> None:  # type: ignore[no-untyped-def]
    contact = {"phone": "081234567890"}
    request = (await api.post("/requests", json=BIODATA | {"delivery": BIODATA["delivery"] | contact})).json()
    asked = await api.post("/requests/access-code", json={"number": request["number"]})
    unknown = await api.post("/requests/access-code", json={"number": "360214-20260101-9999"})
    assert asked.status_code == unknown.status_code == 202 and asked.json() == unknown.json()
    notices = [n for n in api.uow.notices.notifications.committed.values() if n.kind == "access_code"]
    assert [(n.channel.value, n.recipient) for n in notices] == [("sms", "6281234567890")]
    assert request["access_code"] not in notices[0].body, "the stored notice holds a placeholder, not the code"
    assert CODES.fill(notices[0].body, notices[0].request_id).count(request["access_code"]) == 1
    for _ in range(2):
        assert (await api.post("/requests/access-code", json={"number": request["number"]})).status_code == 202
    too_often = await api.post("/requests/access-code", json={"number": request["number"]})
    assert too_often.status_code == 429, "three a day"


async def test_scans_complete_the_checklist_and_are_announced(api) -> None:  # type: ignore[no-untyped-def]
    request = (await api.post("/requests", json=BIODATA)).json()
    assert request["checklist"] == {"required": ["surat_pengantar_rt_rw"], "missing": ["surat_pengantar_rt_rw"],
                                    "complete": False}  # fmt: skip
    uploaded = await api.post(
        f"/requests/{request['id']}/attachments",
        data={"kind": "surat_pengantar_rt_rw"},
        files={"file": ("pengantar.pdf", PDF, "application/pdf")},
        headers=holder(request),
    )
    assert uploaded.status_code == 201, uploaded.text
    attachment = uploaded.json()
    assert attachment["content_type"] == "application/pdf" and attachment["size"] == len(PDF)
    after = (await api.get(f"/requests/{request['id']}", headers=STAFF)).json()
    assert after["checklist"]["complete"] and after["history"][-1]["event_type"] == "request.attachment_added.v1"
    event = api.uow.outbox.events[-1]
    assert isinstance(event, AttachmentAdded) and event.attachment.sha256 == attachment["sha256"]
    assert "content" not in event.attachment.model_dump(), "scans never travel in events"


@pytest.mark.parametrize(
    ("kind", "name", "content", "declared", "status", "code"),
    [
        ("surat_pengantar_rt_rw", "x.exe", b"MZ\x90\x00", "application/pdf", 422, "attachment_type"),
        ("surat_pengantar_rt_rw", "x.png", PNG, "application/pdf", 422, "attachment_type_mismatch"),
        ("surat_pengantar_rt_rw", "big.pdf", minimal_pdf(size=BIG), "application/pdf", 413, "attachment_too_large"),
        ("surat_pengantar_rt_rw", "empty.pdf", b"", "application/pdf", 422, "attachment_empty"),
        ("akta_cerai", "x.pdf", PDF, "application/pdf", 422, "attachment_kind_unknown"),
    ],
)
async def test_scans_are_checked_by_content_and_size(api, kind, name, content, declared, status, code) -> None:  # type: ignore[no-untyped-def]
    request = (await api.post("/requests", json=BIODATA)).json()
    response = await api.post(
        f"/requests/{request['id']}/attachments",
        data={"kind": kind},
        files={"file": (name, content, declared)},
        headers=holder(request),
    )
    assert response.status_code == status and response.json()["error"]["code"] == code
    assert api.files.files == {}


async def test_scans_are_served_to_staff_only(api) -> None:  # type: ignore[no-untyped-def]
    request = (await api.post("/requests", json=BIODATA)).json()
    attachment = (
        await api.post(
            f"/requests/{request['id']}/attachments",
            data={"kind": "surat_pengantar_rt_rw"},
            files={"file": ("p.png", PNG, "image/png")},
            headers=holder(request),
        )
    ).json()
    path = f"/requests/{request['id']}/attachments/{attachment['id']}"
    assert (await api.get(path)).status_code == 401
    guessed = await api.get(path, headers={"Authorization": "Bearer guess", "X-Access-Reason": "x-ray"})
    assert guessed.json()["error"]["code"] == "invalid_token"
    shipping = await api.get(path, headers=staff_headers(Role.SHIPPING_OFFICER))
    assert shipping.status_code == 403, "a shipping officer has no business with scans"
    served = await api.get(path, headers=STAFF)
    assert served.status_code == 200 and served.content == PNG and served.headers["content-type"] == "image/png"
    assert (await api.get(f"/requests/{request['id']}/attachments/{uuid.uuid4()}", headers=STAFF)).status_code == 404


@pytest.mark.parametrize(
    ("content", "declared", "code"),
    [
        (b"%PDF-1.4\n<html><script>alert(document.cookie)</script></html>\n", "application/pdf", "scan_unreadable"),
        (PNG[: len(PNG) // 2], "image/png", "scan_unreadable"),
        (image("JPEG")[:-200], "image/jpeg", "scan_unreadable"),
        (png_claiming(60_000, 60_000), "image/png", "scan_too_many_pixels"),
        (image("PNG", (1001, 1000)), "image/png", "scan_too_many_pixels"),
        (minimal_pdf(pages=4), "application/pdf", "scan_too_many_pages"),
        (encrypted_pdf(), "application/pdf", "scan_encrypted"),
    ],
)
async def test_a_scan_that_is_not_what_it_claims_or_too_large_to_decode_is_refused(  # type: ignore[no-untyped-def]
    api, content, declared, code
) -> None:
    request = (await api.post("/requests", json=BIODATA)).json()
    response = await api.post(
        f"/requests/{request['id']}/attachments",
        data={"kind": "surat_pengantar_rt_rw"},
        files={"file": ("scan", content, declared)},
        headers=holder(request),
    )
    error = response.json()["error"]
    assert response.status_code == 422 and error["code"] == code, response.text
    [detail] = error["details"]
    assert detail["field"] == "file" and detail["message"] and detail["message_id"], "what to fix, in both languages"
    assert api.files.files == {} and not api.uow.outbox.events[1:], "nothing kept, nothing announced"


async def test_a_hostile_file_name_is_kept_as_a_harmless_one(api) -> None:  # type: ignore[no-untyped-def]
    request = (await api.post("/requests", json=BIODATA)).json()
    uploaded = await api.post(
        f"/requests/{request['id']}/attachments",
        data={"kind": "surat_pengantar_rt_rw"},
        files={"file": ("../../../etc/passwd<script>.html", PDF, "application/pdf")},
        headers=holder(request),
    )
    attachment = uploaded.json()
    assert uploaded.status_code == 201 and attachment["filename"] == "passwd_script.pdf"
    assert list(api.files.files) == [attachment["id"]], "kept under its id, never under a name the client chose"


async def test_a_scan_is_served_as_a_download_of_its_recorded_type_that_no_browser_runs(api) -> None:  # type: ignore[no-untyped-def]
    request = (await api.post("/requests", json=BIODATA)).json()
    attachment = (
        await api.post(
            f"/requests/{request['id']}/attachments",
            data={"kind": "surat_pengantar_rt_rw"},
            files={"file": ("Kartu Keluarga – Śiti.pdf", PDF, "application/octet-stream")},
            headers=holder(request),
        )
    ).json()
    assert attachment["filename"] == "Kartu_Keluarga_Śiti.pdf" and attachment["content_type"] == "application/pdf"
    served = await api.get(f"/requests/{request['id']}/attachments/{attachment['id']}", headers=STAFF)
    assert served.status_code == 200 and served.content == PDF
    assert served.headers["content-type"] == "application/pdf"
    assert served.headers["content-disposition"] == (
        "attachment; filename=\"Kartu_Keluarga__iti.pdf\"; filename*=UTF-8''Kartu_Keluarga_%C5%9Aiti.pdf"
    )
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["content-security-policy"] == "default-src 'none'; sandbox"
    assert served.headers["cache-control"] == "no-store"


async def test_e_ktp_recording_is_booked_on_working_days_within_the_offices_capacity(api) -> None:  # type: ignore[no-untyped-def]
    friday = dt.date(2026, 12, 4)
    api.state.clock = FixedClock(dt.datetime(2026, 12, 2, 2, 0, tzinfo=dt.UTC))  # the Wednesday before
    booked = []
    for nik in ("3602144107900001", "3602141205850003", "3602031503920007"):
        response = await api.post(
            "/perekaman-bookings",
            json={"applicant": {"nik": nik, "name": "X"}, "kecamatan_code": "36.02.14", "preferred_date": str(friday)},
        )
        assert response.status_code == 201, response.text
        booked.append(response.json())
    assert [(b["appointment_date"], b["queue_number"]) for b in booked] == [
        ("2026-12-04", 1),
        ("2026-12-04", 2),
        ("2026-12-07", 1),  # Friday is full (capacity 2 here); the next working day is Monday
    ]
    assert booked[0]["office"] == "Kantor Kecamatan Rangkasbitung" and booked[0]["bring"]
    event = next(e for e in api.uow.outbox.events if isinstance(e, RecordingBooked))
    assert event.queue_number == 1 and event.request_id == uuid.UUID(booked[0]["id"])
    again = await api.post(
        "/perekaman-bookings",
        json={"applicant": {"nik": "3602144107900001", "name": "X"}, "kecamatan_code": "36.02.14"},
    )
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_booked", "one per person"
    assert booked[0]["id"] not in again.text, "a NIK alone never tells where and when its holder will be"
    assert (await api.get(f"/perekaman-bookings/{booked[2]['id']}")).json()["queue_number"] == 1


async def test_staff_see_what_the_citizen_was_told_with_the_recipient_masked_and_no_message(api) -> None:  # type: ignore[no-untyped-def]
    contact = {"phone": "081234567890", "email": "siti@example.com"}
    request = (await api.post("/requests", json=BIODATA | {"delivery": BIODATA["delivery"] | contact})).json()
    path = f"/requests/{request['id']}/notifications"
    assert (await api.get(path)).json()["error"]["code"] == "not_authenticated"
    listed = await api.get(path, headers=STAFF)
    assert listed.status_code == 200
    assert [(n["kind"], n["channel"], n["recipient"], n["status"], n["attempts"]) for n in listed.json()] == [
        ("received", "email", "s***@example.com", "pending", 0),
        ("received", "sms", "62812*****890", "pending", 0),
    ]
    assert all(n["sent_at"] is None and n["next_attempt_at"] for n in listed.json())
    assert "body" not in listed.text and "Permohonan" not in listed.text and "siti@" not in listed.text
    assert (await api.get(f"/requests/{uuid.uuid4()}/notifications", headers=STAFF)).status_code == 404


async def test_a_malformed_e_mail_address_is_refused_rather_than_losing_every_notice(api) -> None:  # type: ignore[no-untyped-def]
    response = await api.post("/requests", json=BIODATA | {"delivery": BIODATA["delivery"] | {"email": "siti@"}})
    assert response.status_code == 422 and response.json()["error"]["code"] == "invalid_email"
    booking = await api.post(
        "/perekaman-bookings",
        json={"applicant": SITI, "kecamatan_code": "36.02.14", "email": "nope"},
    )
    assert booking.status_code == 422 and booking.json()["error"]["details"][0]["field"] == "email"


async def test_an_e_ktp_booking_is_confirmed_by_sms(api) -> None:  # type: ignore[no-untyped-def]
    booked = await api.post(
        "/perekaman-bookings", json={"applicant": SITI, "kecamatan_code": "36.02.14", "phone": "0812 3456 7890"}
    )
    assert booked.status_code == 201, booked.text
    listed = (await api.get(f"/perekaman-bookings/{booked.json()['id']}/notifications", headers=STAFF)).json()
    assert [(n["kind"], n["channel"]) for n in listed] == [("recording_booked", "sms")]
    [sms] = api.uow.notices.notifications.committed.values()
    assert booked.json()["number"] in sms.body and "Kantor Kecamatan Rangkasbitung" in sms.body


async def test_with_notifications_switched_off_nothing_is_queued(api) -> None:  # type: ignore[no-untyped-def]
    api.uow.notify = False  # as INTAKE_NOTIFICATIONS_ENABLED=false composes it
    response = await api.post("/requests", json=BIODATA | {"delivery": BIODATA["delivery"] | {"phone": "081234567890"}})
    assert response.status_code == 201 and api.uow.notices.notifications.committed == {}


async def test_hostile_text_is_refused_field_by_field_in_both_languages(api) -> None:  # type: ignore[no-untyped-def]
    body = BIODATA | {
        "applicant": SITI | {"name": "Siti\u202eAminah"},
        "delivery": {
            "method": "courier",
            "recipient_name": "Siti\x07",
            "phone": "0812\n3456",
            "address": {"street": "Jl.\u2066 Multatuli", "kecamatan_code": "36.02.14"},
        },
        "office": "a" * 101,
    }
    error = (await api.post("/requests", json=body)).json()["error"]
    assert error["code"] == "invalid_request"
    assert {(d["field"], d["code"]) for d in error["details"]} == {
        ("body.applicant.name", "text_bidi_control"),
        ("body.delivery.recipient_name", "text_control_character"),
        ("body.delivery.phone", "string_pattern_mismatch"),
        ("body.delivery.address.street", "text_bidi_control"),
        ("body.office", "text_too_long"),
    }
    assert all(d["message"] and d["message_id"] for d in error["details"])
    in_details = BIODATA | {"type": "akta_kematian", "details": {"place_of_death": "a" * 100_000}}
    error = (await api.post("/requests", json=in_details)).json()["error"]
    place = next(d for d in error["details"] if d["field"] == "body.details.place_of_death")
    assert place["code"] == "text_too_long" and "150" in place["message"] and place["message_id"]


async def test_a_cancellation_reason_says_something(api) -> None:  # type: ignore[no-untyped-def]
    request = (await api.post("/requests", json=BIODATA)).json()
    short = await api.post(f"/requests/{request['id']}/cancel", json={"reason": "no"}, headers=holder(request))
    assert short.status_code == 422 and short.json()["error"]["details"][0]["code"] == "text_too_short"
    cancelled = await api.post(
        f"/requests/{request['id']}/cancel", json={"reason": " Sudah tidak perlu\r\n "}, headers=holder(request)
    )
    assert cancelled.status_code == 200 and api.uow.outbox.events[-1].reason == "Sudah tidak perlu"


async def test_text_is_stored_normalised(api) -> None:  # type: ignore[no-untyped-def]
    body = BIODATA | {"applicant": SITI | {"name": "  Siti Ami\u0301nah "}}
    assert (await api.post("/requests", json=body)).status_code == 201
    assert api.uow.outbox.events[-1].applicant.name == "Siti Amínah"


async def test_an_operator_replaces_a_leaked_code_and_the_old_one_stops_working(api) -> None:  # type: ignore[no-untyped-def]
    contact = {"phone": "081234567890"}
    request = (await api.post("/requests", json=BIODATA | {"delivery": BIODATA["delivery"] | contact})).json()
    path = f"/requests/{request['id']}/access-code/renew"
    assert (await api.post(path)).status_code == 401, "a citizen cannot"
    assert (await api.post(path, headers=STAFF)).status_code == 403, "a reviewer has no counter"
    elsewhere = staff_headers(Role.KECAMATAN_OPERATOR, kecamatan="36.02.03", username="op-bayah")
    assert (await api.post(path, headers=elsewhere)).status_code == 404, "nor another kecamatan's operator"
    renewed = await api.post(path, headers=OPERATOR)
    assert renewed.status_code == 200 and renewed.json()["number"] == request["number"]
    new_code = renewed.json()["access_code"]
    assert new_code != request["access_code"] and new_code == str(CODES.of(uuid.UUID(request["id"]), 2))
    follow = {"number": request["number"]}
    old = await api.post("/requests/follow", json=follow | {"access_code": request["access_code"]})
    assert old.status_code == 404, "the leaked code opens nothing any more"
    assert (await api.post("/requests/follow", json=follow | {"access_code": new_code})).status_code == 200
    [notice] = [n for n in api.uow.notices.notifications.committed.values() if n.kind == "access_code"]
    assert CODES.fill(notice.body, notice.request_id).count(new_code) == 1, "the new code goes to the phone on file"
