"""The portal's pages through HTTP, against intake and documents answering with recorded shapes: the forms post
and redirect, errors come back beside their fields, the access code stays in the server-side session, every form
needs its CSRF token, and no page runs inline script."""

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from dukcapil_web.bootstrap import build_app
from dukcapil_web.settings import WebSettings

from ..fakes import ACCESS_CODE, FakeDocuments, FakeIntake, error

STATIC = Path(__file__).parents[2] / "src" / "dukcapil_web" / "static"


@pytest.fixture
def intake() -> FakeIntake:
    return FakeIntake()


@pytest.fixture
def documents() -> FakeDocuments:
    return FakeDocuments()


def settings(**overrides: object) -> WebSettings:
    return WebSettings(environment="development", log_json=False, **overrides)  # type: ignore[arg-type]


@pytest.fixture
def client(intake: FakeIntake, documents: FakeDocuments) -> Iterator[TestClient]:
    app = build_app(settings(), intake_transport=intake.transport(), documents_transport=documents.transport())
    with TestClient(app, base_url="http://portal.test", follow_redirects=False) as client:
        yield client


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has a form with its CSRF token"
    return found.group(1)


KK = {
    "applicant.nik": "3602141205850003",
    "applicant.name": "Ahmad Fauzi",
    "applicant.birth_date": "1985-05-12",
    "applicant.sex": "male",
    "details.reason": "add_member",
    "details.kk_number": "3602141202100005",
    "details.members.0.nik": "3602145003240001",
    "details.members.0.name": "Nur Aisyah",
    "details.members.0.relation": "anak",
    "delivery.method": "pickup",
    "delivery.pickup_kecamatan_code": "36.02.14",
}


def submit_kk(client: TestClient, **changes: str):  # type: ignore[no-untyped-def]
    page = client.get("/layanan/kartu_keluarga")
    return client.post("/layanan/kartu_keluarga", data={**KK, **changes, "csrf_token": csrf(page.text)})


def test_the_home_page_lists_the_catalogue_and_sends_a_strict_policy(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert all(name in page.text for name in ("Kartu Keluarga (KK)", "Akta Kematian", "Biodata Penduduk WNI"))
    assert 'lang="id"' in page.text
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy and "default-src 'none'" in policy
    assert page.headers["x-frame-options"] == "DENY" and page.headers["cache-control"] == "no-store"


def test_no_page_has_inline_script_or_style_and_every_script_is_served_from_here(client: TestClient) -> None:
    for path in ("/", "/layanan/kartu_keluarga", "/layanan/akta_kematian", "/lacak", "/ktp-el", "/verifikasi"):
        html = client.get(path).text
        assert not re.search(r"<script(?![^>]*\bsrc=\"/static/)", html), path
        assert " style=" not in html and "<style" not in html, path
        assert re.search(r"\son[a-z]+=", html) is None, path
        assert "http://" not in html.replace('xmlns="http://', "") and "https://" not in html, path


def test_switching_to_english_keeps_the_page(client: TestClient) -> None:
    answer = client.get("/bahasa/en", params={"kembali": "/ktp-el"})
    assert answer.status_code == 303 and answer.headers["location"] == "/ktp-el"
    page = client.get("/ktp-el")
    assert 'lang="en"' in page.text and "Why can it not be done online?" in page.text
    assert client.get("/bahasa/en", params={"kembali": "//evil.example"}).headers["location"] == "/"


def test_a_submission_gives_a_receipt_with_the_number_and_the_code_and_neither_in_a_url(
    client: TestClient, intake: FakeIntake
) -> None:
    answer = submit_kk(client)
    assert answer.status_code == 303 and answer.headers["location"] == "/permohonan/tanda-terima"
    sent = intake.calls[-1]
    assert sent.url.path == "/requests" and sent.headers["Idempotency-Key"]
    assert b'"members":[{"nik":"3602145003240001","name":"Nur Aisyah","relation":"anak"}]' in sent.content
    receipt = client.get("/permohonan/tanda-terima")
    assert ACCESS_CODE in receipt.text and "360214-20261128-0001" in receipt.text
    assert ACCESS_CODE not in (answer.headers.get("location") or "")
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and ACCESS_CODE not in cookie
    saved = client.get("/permohonan/tanda-terima.txt")
    assert saved.headers["content-disposition"].startswith("attachment") and ACCESS_CODE in saved.text


def test_the_session_cookie_is_secure_over_https() -> None:
    app = build_app(settings(), intake_transport=FakeIntake().transport())
    with TestClient(app, base_url="https://portal.test") as client:
        cookie = client.get("/lacak").headers["set-cookie"]
    assert cookie.startswith("__Host-sesi=") and "Secure" in cookie and "Path=/" in cookie


def test_intakes_errors_appear_beside_their_fields_in_indonesian_and_the_form_keeps_its_values(
    client: TestClient, intake: FakeIntake
) -> None:
    intake.next_submit = error(
        422,
        "invalid_request",
        "The request does not pass the office's checks. / Permohonan belum memenuhi syarat.",
        [
            {
                "field": "body.applicant.birth_date",
                "code": "nik_birth_date_mismatch",
                "message": "The NIK encodes the birth date 12-05-1985, not 13-05-1985.",
                "message_id": "Tanggal lahir dalam NIK adalah 12-05-1985, bukan 13-05-1985.",
            },
        ],
    )
    page = submit_kk(client, **{"applicant.birth_date": "1985-05-13"})
    assert page.status_code == 422
    field = re.search(r'<div class="field field--error">(.*?)</div>', page.text, re.S)
    assert field is not None
    assert 'for="f-applicant-birth_date"' in field.group(1)
    assert "Tanggal lahir dalam NIK adalah 12-05-1985, bukan 13-05-1985." in field.group(1)
    assert 'aria-describedby="f-applicant-birth_date-hint f-applicant-birth_date-error-1"' in field.group(1)
    assert 'value="1985-05-13"' in field.group(1) and 'aria-invalid="true"' in field.group(1)
    assert '<a href="#f-applicant-birth_date">' in page.text  # the summary links to it
    assert 'value="Nur Aisyah"' in page.text


def test_adding_a_row_asks_nothing_of_intake(client: TestClient, intake: FakeIntake) -> None:
    page = client.get("/layanan/kartu_keluarga")
    answer = client.post(
        "/layanan/kartu_keluarga", data={**KK, "_tambah": "details.members", "csrf_token": csrf(page.text)}
    )
    assert answer.status_code == 200 and 'name="details.members.1.nik"' in answer.text
    assert not [call for call in intake.calls if call.url.path == "/requests"]


def test_a_form_without_its_csrf_token_or_from_another_site_is_refused(client: TestClient, intake: FakeIntake) -> None:
    client.get("/layanan/kartu_keluarga")
    assert client.post("/layanan/kartu_keluarga", data=KK).status_code == 403
    assert client.post("/layanan/kartu_keluarga", data={**KK, "csrf_token": "forged"}).status_code == 403
    page = client.get("/layanan/kartu_keluarga")
    token = csrf(page.text)
    foreign = client.post(
        "/layanan/kartu_keluarga", data={**KK, "csrf_token": token}, headers={"Origin": "https://evil.example"}
    )
    assert foreign.status_code == 403
    assert not [call for call in intake.calls if call.url.path == "/requests"]


def follow(client: TestClient, number: str, code: str = ACCESS_CODE):  # type: ignore[no-untyped-def]
    page = client.get("/lacak")
    return client.post("/lacak", data={"number": number, "access_code": code, "csrf_token": csrf(page.text)})


def test_following_keeps_the_code_in_the_session_and_acts_on_the_request_with_it(
    client: TestClient, intake: FakeIntake
) -> None:
    request = intake.add_request(status="info_requested")
    request["history"].append(
        {
            "event_type": "review.information_requested.v1",
            "time": "2026-11-28T09:00:00Z",
            "stage": "review",
            "note": "Verifikator meminta kelengkapan: Akta kelahiran anak belum diunggah.",
            "status": "info_requested",
        }
    )
    answer = follow(client, request["number"])
    assert answer.status_code == 303 and answer.headers["location"] == "/permohonan"
    page = client.get("/permohonan")
    assert "Perlu dilengkapi" in page.text and "Akta kelahiran anak belum diunggah" in page.text
    assert ACCESS_CODE not in page.text
    assert "0 dari 2" in page.text

    upload = client.post(
        "/permohonan/unggah",
        data={"kind": "kk_lama", "csrf_token": csrf(page.text)},
        files={"file": ("kk.pdf", b"%PDF-1.4 scan", "application/pdf")},
        headers={"HX-Request": "true"},
    )
    assert upload.status_code == 200 and upload.text.lstrip().startswith('<div id="daftar-berkas">')
    assert "1 dari 2" in upload.text
    sent = intake.calls[-2]
    assert sent.url.path == f"/requests/{request['id']}/attachments" and sent.headers["X-Access-Code"] == ACCESS_CODE

    resubmitted = client.post("/permohonan/kirim-ulang", data={"note": "Sudah", "csrf_token": csrf(page.text)})
    assert resubmitted.status_code == 303 and intake.view(request["id"])["status"] == "submitted"

    refused = client.post("/permohonan/batal", data={"csrf_token": csrf(page.text)})
    assert refused.status_code == 422 and "Centang kotak" in refused.text
    cancelled = client.post("/permohonan/batal", data={"confirm": "ya", "csrf_token": csrf(page.text)})
    assert cancelled.status_code == 303 and intake.view(request["id"])["status"] == "cancelled"
    assert all(ACCESS_CODE not in str(call.url) for call in intake.calls)


def test_a_wrong_code_is_told_beside_the_code_and_opens_nothing(client: TestClient, intake: FakeIntake) -> None:
    request = intake.add_request()
    page = follow(client, request["number"], "AAAA-BBBB-CCCC-DDDD-E")
    assert page.status_code == 422
    assert "Tidak ada permohonan dengan nomor dan kode akses tersebut" in page.text
    assert client.get("/permohonan").headers["location"] == "/lacak"


def test_the_portal_limits_attempts_to_follow_per_address(intake: FakeIntake) -> None:
    app = build_app(settings(follow_rate_limit="2/minute"), intake_transport=intake.transport())
    with TestClient(app, base_url="http://portal.test", follow_redirects=False) as client:
        statuses = [follow(client, "360214-20261128-9999").status_code for _ in range(3)]
    assert statuses == [422, 422, 429]


def test_the_document_is_downloaded_through_the_portal_with_its_grant(
    client: TestClient, intake: FakeIntake, documents: FakeDocuments
) -> None:
    request = intake.add_request(
        status="document_issued",
        document={
            "id": "d1",
            "number": "KK/3602/2026/000001",
            "pdf_url": "http://public.example/documents/d1/pdf?grant=g",
            "url_expires_at": "2026-11-28T10:00:00Z",
        },
    )
    follow(client, request["number"])
    page = client.get("/permohonan")
    assert "KK/3602/2026/000001" in page.text and "/permohonan/dokumen" in page.text
    pdf = client.get("/permohonan/dokumen")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-disposition"] == 'attachment; filename="KK-3602-2026-000001.pdf"'
    assert str(documents.calls[-1].url) == "http://127.0.0.1:8003/documents/d1/pdf?grant=g"


def test_what_to_do_next_names_the_airway_bill(client: TestClient, intake: FakeIntake) -> None:
    request = intake.add_request(status="shipped")
    request["history"].append(
        {
            "event_type": "shipment.created.v1",
            "time": "2026-11-29T09:00:00Z",
            "stage": "shipping",
            "note": "Dokumen dikirim melalui JNE, nomor resi JNE0012345678.",
            "status": "shipped",
        }
    )
    follow(client, request["number"])
    page = client.get("/permohonan")
    assert "Dalam pengiriman" in page.text and "JNE0012345678" in page.text
    assert "Batalkan permohonan" not in page.text


def test_forgetting_drops_the_codes(client: TestClient, intake: FakeIntake) -> None:
    request = intake.add_request()
    follow(client, request["number"])
    page = client.get("/permohonan")
    assert client.post("/permohonan/lupakan", data={"csrf_token": csrf(page.text)}).status_code == 303
    assert client.get("/permohonan").headers["location"] == "/lacak"


def test_an_ektp_booking_and_its_errors(client: TestClient, intake: FakeIntake) -> None:
    page = client.get("/ktp-el")
    assert "Perekaman e-KTP mengambil sidik jari" in page.text
    intake.next_booking = error(
        422,
        "invalid_request",
        "Invalid. / Tidak valid.",
        [
            {
                "field": "body.applicant.nik",
                "code": "nik_serial_zero",
                "message": "The serial is 0000.",
                "message_id": "NIK tidak valid: periksa kembali 16 digitnya.",
            }
        ],
    )
    body = {"applicant.nik": "3602144107900000", "applicant.name": "Siti Aminah", "kecamatan_code": "36.02.14"}
    refused = client.post("/ktp-el", data={**body, "csrf_token": csrf(page.text)})
    assert refused.status_code == 422
    assert re.search(r'id="k-applicant-nik-error-1">.*NIK tidak valid', refused.text)
    booked = client.post("/ktp-el", data={**body, "csrf_token": csrf(page.text)})
    assert booked.status_code == 303
    confirmation = client.get("/ktp-el/jadwal")
    assert "REK-360214-20261207-001" in confirmation.text and "Kantor Kecamatan Rangkasbitung" in confirmation.text
    assert "Kartu Keluarga (asli atau fotokopi)" in confirmation.text


def test_the_page_behind_the_qr_code_and_the_pdf_check(client: TestClient, documents: FakeDocuments) -> None:
    page = client.get("/verify/known")
    assert page.status_code == 200 and "Asli dan berlaku" in page.text and "360214******0003" in page.text
    assert client.get("/verify/forged").status_code == 404
    form = client.get("/verifikasi")
    checked = client.post(
        "/verifikasi", data={"csrf_token": csrf(form.text)}, files={"file": ("kk.pdf", b"%PDF-1.7", "application/pdf")}
    )
    assert checked.status_code == 200 and "Asli" in checked.text
    assert documents.calls[-1].url.path == "/verify"


def test_health_readiness_and_metrics(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"ready": True, "checks": {"intake": True, "sessions": True}}
    assert "http_server_request_duration_seconds" in client.get("/metrics").text


def test_the_vendored_htmx_is_the_one_the_readme_names() -> None:
    digest = hashlib.sha256((STATIC / "vendor" / "htmx" / "htmx.min.js").read_bytes()).hexdigest()
    assert digest in (STATIC / "vendor" / "README.md").read_text(encoding="utf-8")
    assert (STATIC / "vendor" / "htmx" / "LICENSE").is_file()


def test_production_refuses_the_development_secret() -> None:
    with pytest.raises(ValueError, match="WEB_SESSION_SECRET"):
        WebSettings(environment="production")
    WebSettings(environment="production", session_secret="x" * 40)  # type: ignore[arg-type]


def test_the_services_hear_the_citizens_address_and_the_clicks_request_id(
    client: TestClient, intake: FakeIntake
) -> None:
    page = client.get("/", headers={"X-Request-ID": "click-1"})
    assert page.headers["x-request-id"] == "click-1"
    client.get("/layanan/biodata_wni", headers={"X-Request-ID": "click-2"})
    assert intake.calls[0].headers["x-request-id"] == "click-1"
    assert intake.calls[0].headers["x-forwarded-for"] == "testclient"
