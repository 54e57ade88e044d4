"""The staff console through HTTP against fakes of the services' staff APIs: the token stays in the server-side
session, the menu follows the scopes, the access reason is asked once per task and sent with every read, the
review screen shows the data beside the scans, and the services' errors land beside their fields."""

import json
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from dukcapil_web.bootstrap import build_app
from dukcapil_web.settings import WebSettings

from ..fakes import PASSWORD, FakeDocuments, FakeReview, FakeShipping, FakeStaffIntake


@pytest.fixture
def intake() -> FakeStaffIntake:
    return FakeStaffIntake()


@pytest.fixture
def review() -> FakeReview:
    return FakeReview()


@pytest.fixture
def documents() -> FakeDocuments:
    return FakeDocuments()


@pytest.fixture
def shipping() -> FakeShipping:
    return FakeShipping()


@pytest.fixture
def client(
    intake: FakeStaffIntake, review: FakeReview, shipping: FakeShipping, documents: FakeDocuments
) -> Iterator[TestClient]:
    app = build_app(
        WebSettings(environment="development", log_json=False),  # type: ignore[call-arg]
        intake_transport=intake.transport(),
        documents_transport=documents.transport(),
        review_transport=review.transport(),
        shipping_transport=shipping.transport(),
    )
    with TestClient(app, base_url="http://portal.test", follow_redirects=False) as client:
        yield client


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found.group(1)


def sign_in(client: TestClient, username: str = "reviewer", password: str = PASSWORD):  # type: ignore[no-untyped-def]
    page = client.get("/staff")
    return client.post("/staff/masuk", data={"username": username, "password": password, "csrf_token": csrf(page.text)})


def give_reason(client: TestClient, task: str, reason: str = "verifikasi antrean harian") -> None:
    page = client.get(f"/staff/alasan?tugas={task}&kembali=/staff/antrean")
    answer = client.post(
        "/staff/alasan",
        data={"tugas": task, "alasan": reason, "kembali": "/staff/antrean", "csrf_token": csrf(page.text)},
    )
    assert answer.status_code == 303


def test_a_wrong_password_is_told_beside_the_password(client: TestClient) -> None:
    answer = sign_in(client, password="salah-sekali-ini")
    assert answer.status_code == 422
    assert 'id="s-password-error"' in answer.text and "kata sandi salah" in answer.text
    assert 'aria-invalid="true"' in answer.text


def test_the_token_stays_on_the_server_and_the_menu_follows_the_scopes(
    client: TestClient, intake: FakeStaffIntake
) -> None:
    answer = sign_in(client)
    assert answer.status_code == 303 and answer.headers["location"] == "/staff"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite" in cookie and "staff-token" not in cookie
    home = client.get("/staff")
    assert "staff-token" not in home.text
    assert "Antrean verifikasi" in home.text and "Akun staf" not in home.text and "Pesan gagal" not in home.text


def test_a_page_outside_the_roles_scopes_is_refused_before_anything_is_called(
    client: TestClient, review: FakeReview
) -> None:
    sign_in(client, "document_officer")
    assert "Antrean verifikasi" not in client.get("/staff").text
    assert client.get("/staff/antrean").status_code == 403
    assert review.calls == []


def test_sign_out_ends_the_session_at_intake_too(client: TestClient, intake: FakeStaffIntake) -> None:
    sign_in(client)
    home = client.get("/staff")
    answer = client.post("/staff/keluar", data={"csrf_token": csrf(home.text)})
    assert answer.status_code == 303
    assert len(intake.signed_out) == 1
    assert client.get("/staff/antrean").headers["location"].startswith("/staff")
    assert "Masuk sebagai petugas" in client.get("/staff").text


def test_the_reason_is_asked_once_per_task_and_sent_with_every_read(
    client: TestClient, intake: FakeStaffIntake, review: FakeReview
) -> None:
    review.add(intake.add_request())
    sign_in(client)
    first = client.get("/staff/antrean")
    assert first.status_code == 303 and first.headers["location"].startswith("/staff/alasan?tugas=verifikasi")
    page = client.get(first.headers["location"])
    short = client.post(
        "/staff/alasan", data={"tugas": "verifikasi", "alasan": "x", "kembali": "/", "csrf_token": csrf(page.text)}
    )
    assert short.status_code == 422 and 'id="s-alasan-error"' in short.text
    give_reason(client, "verifikasi")
    queue = client.get("/staff/antrean")
    assert queue.status_code == 200 and "360214-20261128-0001" in queue.text and "lewat tenggat" in queue.text
    assert client.get("/staff/antrean?status=pending&terlambat=1").status_code == 200
    assert all(call.headers["X-Access-Reason"] == "verifikasi antrean harian" for call in review.calls)


def test_the_review_screen_shows_the_scans_inline_beside_the_data(
    client: TestClient, intake: FakeStaffIntake, review: FakeReview
) -> None:
    shown = review.add(intake.add_request())
    sign_in(client)
    give_reason(client, "verifikasi")
    page = client.get(f"/staff/verifikasi/{shown['request_id']}")
    assert page.status_code == 200
    image, pdf = shown["attachments"]
    assert f'<img src="/staff/berkas/{shown["request_id"]}/{image["id"]}"' in page.text
    assert f'<iframe src="/staff/berkas/{shown["request_id"]}/{pdf["id"]}"' in page.text
    assert "Ahmad Fauzi" in page.text and "NIK sesuai." in page.text
    assert "frame-src 'self'" in page.headers["content-security-policy"]
    scan = client.get(f"/staff/berkas/{shown['request_id']}/{image['id']}")
    assert scan.status_code == 200 and scan.headers["content-type"] == "image/png"
    assert scan.headers["x-frame-options"] == "SAMEORIGIN"
    assert "frame-ancestors 'self'" in scan.headers["content-security-policy"]
    assert scan.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("bahasa", "shown"),
    [
        ("id", ["Perhatikan", "Nama tidak sesuai", "saksi ke-1", "S*** A*****", "kemiripan 62%", "Belum diperiksa"]),
        ("en", ["Warning", "Names differ", "witness 1", "S*** A*****", "similarity 62%", "Not done"]),
    ],
)
def test_register_checks_show_their_status_and_evidence_in_the_readers_language(
    client: TestClient, intake: FakeStaffIntake, review: FakeReview, bahasa: str, shown: list[str]
) -> None:
    listed = review.add(intake.add_request())
    listed["prechecks"] = [
        {
            "code": "register_name",
            "passed": False,
            "status": "warning",
            "message_id": "Nama tidak sesuai dengan register kependudukan: saksi ke-1 (360214******0004).",
            "message_en": "Names differ from the population register: witness 1 (360214******0004).",
            "evidence": [
                {
                    "subject_id": "saksi ke-1",
                    "subject_en": "witness 1",
                    "nik": "360214******0004",
                    "finding": "name_mismatch",
                    "note_id": "nama tidak sesuai",
                    "note_en": "the name differs",
                    "declared_name": "Sutisna",
                    "register_name": "S*** A*****",
                    "similarity": 62,
                    "died_on": None,
                }
            ],
        },
        {
            "code": "register_known",
            "passed": False,
            "status": "not_done",
            "message_id": "Belum diperiksa dengan register kependudukan: register tidak menjawab.",
            "message_en": "Not checked against the population register yet: the register did not answer.",
            "evidence": [],
        },
    ]
    client.cookies.set("bahasa", bahasa)
    sign_in(client)
    give_reason(client, "verifikasi")
    page = client.get(f"/staff/verifikasi/{listed['request_id']}")
    assert page.status_code == 200
    for text in shown:
        assert text in page.text, text
    assert '<li class="warn" id="cek-register_name">' in page.text
    assert '<li class="pending" id="cek-register_known">' in page.text


def test_claim_then_an_information_request_with_a_reason_too_short_is_told_beside_it(
    client: TestClient, intake: FakeStaffIntake, review: FakeReview
) -> None:
    shown = review.add(intake.add_request())
    request_id = shown["request_id"]
    sign_in(client)
    give_reason(client, "verifikasi")
    page = client.get(f"/staff/verifikasi/{request_id}")
    claimed = client.post(f"/staff/verifikasi/{request_id}/claim", data={"csrf_token": csrf(page.text)})
    assert claimed.status_code == 303 and shown["claimed_by"] == "reviewer"
    page = client.get(f"/staff/verifikasi/{request_id}")
    assert "Minta kelengkapan" in page.text
    empty = client.post(
        f"/staff/verifikasi/{request_id}/request-information",
        data={"request-information.reason": "", "csrf_token": csrf(page.text)},
    )
    assert empty.status_code == 422 and 'id="s-request-information-reason-error"' in empty.text
    short = client.post(
        f"/staff/verifikasi/{request_id}/request-information",
        data={"request-information.reason": "abc", "csrf_token": csrf(page.text)},
    )
    assert short.status_code == 422
    assert re.search(r'id="s-request-information-reason-error">.*Terlalu pendek', short.text)
    asked = client.post(
        f"/staff/verifikasi/{request_id}/request-information",
        data={
            "request-information.reason": "Scan KK lama tidak terbaca.",
            "missing_items": "kk_lama",
            "missing_other": "Surat pengantar RT",
            "csrf_token": csrf(page.text),
        },
    )
    assert asked.status_code == 303 and shown["status"] == "info_requested"
    assert shown["missing_items"] == ["kk_lama", "Surat pengantar RT"]


def test_a_form_without_its_token_is_refused(client: TestClient) -> None:
    assert client.post("/staff/masuk", data={"username": "reviewer", "password": PASSWORD}).status_code == 403


def test_an_ended_token_sends_back_to_sign_in(client: TestClient, intake: FakeStaffIntake, review: FakeReview) -> None:
    review.add(intake.add_request())
    sign_in(client)
    give_reason(client, "verifikasi")
    intake.signed_out.extend(intake.tokens)
    review.sessions_ended = True
    answer = client.get("/staff/antrean")
    assert answer.status_code == 303 and answer.headers["location"].startswith("/staff")
    assert "Masuk sebagai petugas" in client.get("/staff").text


def test_an_operator_submits_for_a_citizen_with_their_token_and_sees_the_code_to_hand_over(
    client: TestClient, intake: FakeStaffIntake
) -> None:
    sign_in(client, "kecamatan_operator")
    give_reason(client, "loket", "pelayanan loket")
    office = client.get("/staff/loket")
    assert office.status_code == 200 and "Biodata Penduduk WNI" in office.text
    form = client.get("/staff/loket/baru/biodata_wni")
    assert 'value="36.02.14" selected' in form.text  # the operator's own office, chosen already
    answer = client.post(
        "/staff/loket/baru/biodata_wni",
        data={
            "applicant.nik": "3602144107900001",
            "applicant.name": "Siti Aminah",
            "applicant.birth_date": "1990-07-01",
            "applicant.sex": "female",
            "delivery.method": "pickup",
            "delivery.pickup_kecamatan_code": "36.02.14",
            "csrf_token": csrf(form.text),
        },
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/staff/loket/tanda-terima"
    submitted = next(call for call in intake.calls if call.method == "POST" and call.url.path == "/requests")
    assert submitted.headers["Authorization"].startswith("Bearer staff-token")
    receipt = client.get("/staff/loket/tanda-terima")
    assert "K7QM-2XDP-9WBT-H4RZ-V" in receipt.text and 'id="nomor-permohonan"' in receipt.text


def test_a_handover_with_a_wrong_nik_is_refused_beside_the_nik_which_is_never_in_a_url(
    client: TestClient, intake: FakeStaffIntake, shipping: FakeShipping
) -> None:
    view = intake.add_request(status="ready_for_pickup")
    parcel = shipping.add(view["id"])
    sign_in(client, "kecamatan_operator")
    give_reason(client, "loket", "pelayanan loket")
    page = client.get("/staff/serah-terima")
    assert page.status_code == 200 and view["number"] in page.text
    wrong = client.post(
        f"/staff/serah-terima/{parcel['id']}",
        data={"collector_name": "Siti Aminah", "collector_nik": "3602144107900000", "csrf_token": csrf(page.text)},
    )
    assert wrong.status_code == 422
    assert re.search(rf'id="s-{parcel["id"]}-collector_nik-error">.*nomor urut 0000', wrong.text)
    assert "3602144107900000" not in wrong.text
    right = client.post(
        f"/staff/serah-terima/{parcel['id']}",
        data={"collector_name": "Siti Aminah", "collector_nik": "3602144107900001", "csrf_token": csrf(page.text)},
    )
    assert right.status_code == 303 and parcel["status"] == "collected"
    assert all("3602144107900001" not in str(call.url) for call in shipping.calls)


def test_the_handover_of_a_corrected_document_asks_for_the_old_paper(
    client: TestClient, intake: FakeStaffIntake, shipping: FakeShipping
) -> None:
    first = shipping.add(intake.add_request(status="ready_for_pickup")["id"])
    corrected = shipping.add(
        intake.add_request(status="ready_for_pickup")["id"],
        document_number="KK/3602/2026/000007",
        replaces_document_number="KK/3602/2026/000005",
    )
    sign_in(client, "kecamatan_operator")
    give_reason(client, "loket", "pelayanan loket")
    page = client.get("/staff/serah-terima")
    assert page.status_code == 200
    assert "Dokumen perbaikan KK/3602/2026/000007: minta dan simpan dokumen lama KK/3602/2026/000005" in page.text
    assert page.text.count("minta dan simpan dokumen lama") == 1, (first["id"], corrected["id"])


def test_the_figures_are_charts_drawn_on_the_server_with_their_tables(client: TestClient) -> None:
    sign_in(client, "supervisor")
    page = client.get("/staff/statistik")
    assert page.status_code == 200
    assert page.text.count('<svg class="chart"') == 6 and "<script" not in page.text.split("</head>")[1]
    assert "Tersendat per tahap" in page.text and "review 1" in page.text
    incidents = client.get("/staff/insiden")
    assert incidents.status_code == 200 and "360214-20261128-0042" in incidents.text
    assert "Sedang diverifikasi 3" in page.text  # the backlog chart's title names every bar
    assert "<table" in page.text and "Rangkasbitung" in page.text
    assert 'style="' not in page.text  # the policy allows no inline style


def test_the_admin_replays_a_dead_letter_and_a_discard_needs_a_reason(
    client: TestClient, intake: FakeStaffIntake
) -> None:
    sign_in(client, "admin")
    page = client.get("/staff/pesan-gagal")
    assert page.status_code == 200 and "review.started.v1" in page.text
    letter = "0b3c1d5e-5a0c-4d57-9a55-0d1f2a3b4c5d"
    refused = client.post(f"/staff/pesan-gagal/intake/{letter}/discard", data={"csrf_token": csrf(page.text)})
    assert refused.status_code == 422 and f'id="s-{letter}-reason-error"' in refused.text
    replayed = client.post(
        f"/staff/pesan-gagal/intake/{letter}/replay", data={"note": "fixed", "csrf_token": csrf(page.text)}
    )
    assert replayed.status_code == 303
    call = next(call for call in intake.calls if call.url.path.endswith("/replay"))
    assert call.content == b'{"note":"fixed"}' or b'"note": "fixed"' in call.content


def test_a_document_officer_finds_a_document_by_request_number_and_revokes_it(
    client: TestClient, intake: FakeStaffIntake, documents: FakeDocuments
) -> None:
    view = intake.add_request(status="delivered", type_="biodata_wni")
    document = documents.add(view["id"])
    sign_in(client, "document_officer")
    give_reason(client, "dokumen", "koreksi atas permintaan warga")
    page = client.get(f"/staff/dokumen?cari={view['number']}")
    assert page.status_code == 200 and document["number"] in page.text
    search = next(call for call in intake.calls if call.url.path == "/requests")
    assert search.url.params["kecamatan"] == "36.02.14" and search.url.params["submitted_from"] == "2026-11-27"
    short = client.post(
        f"/staff/dokumen/{document['id']}/revoke",
        data={
            "revoke.reason": "abc",
            "revoke.approved_by": "Kadis",
            "cari": view["number"],
            "csrf_token": csrf(page.text),
        },
    )
    assert short.status_code == 422 and re.search(r'id="s-revoke-reason-error">.*Paling sedikit 5', short.text)
    revoked = client.post(
        f"/staff/dokumen/{document['id']}/revoke",
        data={
            "revoke.reason": "Diterbitkan atas data yang salah.",
            "revoke.approved_by": "Kepala Dinas",
            "cari": view["number"],
            "csrf_token": csrf(page.text),
        },
    )
    assert revoked.status_code == 303 and document["status"] == "revoked"


def test_the_admin_makes_an_account_and_a_weak_password_is_told_beside_it(client: TestClient) -> None:
    sign_in(client, "admin")
    page = client.get("/staff/akun")
    assert page.status_code == 200 and "rina" in page.text
    data = {"username": "budi", "full_name": "Budi", "role": "reviewer", "csrf_token": csrf(page.text)}
    weak = client.post("/staff/akun", data={**data, "password": "pendek"})
    assert weak.status_code == 422 and re.search(r'id="s-password-error">.*Paling sedikit 12', weak.text)
    assert "pendek" not in weak.text
    made = client.post("/staff/akun", data={**data, "password": "kopi-tubruk-sore-hari"})
    assert made.status_code == 303
    off = client.post("/staff/akun/rina/deactivate", data={"csrf_token": csrf(page.text)})
    assert off.status_code == 303


def test_the_admin_onboards_an_agency_sees_its_password_once_and_confirms_an_offboarding_by_name(
    client: TestClient, intake: FakeStaffIntake
) -> None:
    sign_in(client, "admin")
    page = client.get("/staff/instansi")
    assert page.status_code == 200 and "agency.bpjs.events" in page.text and "death.registered.v1" in page.text
    token = csrf(page.text)
    nothing_chosen = client.post("/staff/instansi", data={"name": "bps", "csrf_token": token})
    assert nothing_chosen.status_code == 422
    assert re.search(r'id="s-event_types-error">.*Pilih paling sedikit satu jenis', nothing_chosen.text)
    assert re.search(r'id="s-region_prefixes-error">.*wilayah', nothing_chosen.text)
    offer = {"name": "bps", "event_types": ["death.registered.v1"], "csrf_token": token}
    outside = client.post("/staff/instansi", data={**offer, "region_prefixes": ["32.01"]})
    assert outside.status_code == 422 and re.search(
        r'id="s-region_prefixes-error">.*outside Kabupaten Lebak', outside.text
    )
    taken = client.post("/staff/instansi", data={**offer, "name": "bpjs", "region_prefixes": ["36.02"]})
    assert taken.status_code == 422 and re.search(r'id="s-name-error">.*exists already', taken.text)

    made = client.post("/staff/instansi", data={**offer, "region_prefixes": ["36.02", "36.02.14"], "identified": "ya"})
    assert made.status_code == 200 and "s3cret-shown-once" in made.text
    assert made.headers["cache-control"] == "no-store"
    sent = json.loads(intake.agency_calls[-1].content)
    assert sent == {
        "name": "bps",
        "event_types": ["death.registered.v1"],
        "region_prefixes": ["36.02", "36.02.14"],
        "identified": True,
    }
    assert "s3cret-shown-once" not in client.get("/staff/instansi").text, "shown once, never kept"

    wrong = client.post("/staff/instansi/bpjs/offboard", data={"confirm": "bpj", "csrf_token": token})
    assert wrong.status_code == 422 and re.search(r'id="s-bpjs-confirm-error">.*Ketik bpjs', wrong.text)
    assert not [call for call in intake.agency_calls if call.method == "DELETE"]
    gone = client.post("/staff/instansi/bpjs/offboard", data={"confirm": "bpjs", "csrf_token": token})
    assert gone.status_code == 303 and intake.agency_calls[-1].method == "DELETE"
    assert "bpjs dilepas" in client.get("/staff/instansi").text

    unreadable = client.post("/staff/instansi/bpjs/replay", data={"since": "kemarin", "csrf_token": token})
    assert unreadable.status_code == 422 and re.search(r'id="s-bpjs-since-error">.*Isi waktu mulai', unreadable.text)
    replayed = client.post("/staff/instansi/bpjs/replay", data={"since": "2026-11-01T08:00", "csrf_token": token})
    assert replayed.status_code == 303
    assert json.loads(intake.agency_calls[-1].content) == {"since": "2026-11-01T08:00:00+07:00"}, "Lebak's time"


def test_only_an_admin_sees_the_agencies(client: TestClient, intake: FakeStaffIntake) -> None:
    sign_in(client, "supervisor")
    assert "/staff/instansi" not in client.get("/staff").text
    assert client.get("/staff/instansi").status_code == 403
    assert not intake.agency_calls


def test_in_production_staff_sign_in_only_over_https_where_the_cookie_is_secure(intake: FakeStaffIntake) -> None:
    settings = WebSettings(environment="production", log_json=False, session_secret="s" * 40)  # type: ignore[call-arg]
    for base, refused in (("http://portal.test", True), ("https://portal.test", False)):
        app = build_app(settings, intake_transport=intake.transport(), documents_transport=FakeDocuments().transport())
        with TestClient(app, base_url=base, follow_redirects=False) as client:
            answer = sign_in(client)
            assert (answer.status_code == 422 and "hanya lewat HTTPS" in answer.text) is refused
            if not refused:
                cookie = answer.headers["set-cookie"]
                assert cookie.startswith("__Host-sesi=") and "Secure" in cookie and "HttpOnly" in cookie


def test_a_supervisor_may_release_another_reviewers_claim(
    client: TestClient, intake: FakeStaffIntake, review: FakeReview
) -> None:
    shown = review.add(intake.add_request())
    shown["claimed_by"] = "budi"
    sign_in(client, "supervisor")
    give_reason(client, "verifikasi")
    page = client.get(f"/staff/verifikasi/{shown['request_id']}")
    assert "Lepaskan klaim" in page.text and "budi" in page.text and 'id="ambil"' not in page.text


def test_a_correction_sends_the_changed_details_and_the_holder_only_when_ticked(
    client: TestClient, intake: FakeStaffIntake, documents: FakeDocuments
) -> None:
    view = intake.add_request(status="delivered", type_="akta_kematian")
    document = documents.add(view["id"])
    sign_in(client, "document_officer")
    give_reason(client, "dokumen", "koreksi atas permintaan warga")
    page = client.get(f"/staff/dokumen?cari={view['id']}")
    assert page.status_code == 200 and document["number"] in page.text
    data = {
        "correct.details": "place_of_death: RSUD Malingping\ncause: ",
        "correct.holder.nik": "3602144107900001",
        "correct.holder.name": "Siti Aminah",
        "correct.reason": "Tempat kematian salah ketik.",
        "correct.approved_by": "Kepala Dinas",
        "cari": view["id"],
        "csrf_token": csrf(page.text),
    }
    nothing = client.post(f"/staff/dokumen/{document['id']}/correct", data={**data, "correct.details": ""})
    assert nothing.status_code == 422 and 'id="s-correct-details-error"' in nothing.text
    corrected = client.post(f"/staff/dokumen/{document['id']}/correct", data=data)
    assert corrected.status_code == 303 and document["status"] == "superseded"
    sent = next(call for call in documents.calls if call.url.path.endswith("/corrections"))
    body = json.loads(sent.content)
    assert body["details"] == {"place_of_death": "RSUD Malingping", "cause": None} and "holder" not in body


def test_a_leaked_code_is_renewed_at_the_counter_once_the_identity_is_checked_and_shown_once(
    client: TestClient, intake: FakeStaffIntake
) -> None:
    view = intake.add_request(status="in_review")
    sign_in(client, "kecamatan_operator")
    give_reason(client, "loket", "pelayanan loket")
    page = client.get("/staff/loket")
    unchecked = client.post(f"/staff/loket/{view['id']}/kode-baru", data={"csrf_token": csrf(page.text)})
    assert unchecked.status_code == 303
    told = client.get("/staff/loket")
    assert f'id="r-{view["id"]}-error"' in told.text
    renewed = client.post(f"/staff/loket/{view['id']}/kode-baru", data={"checked": "ya", "csrf_token": csrf(page.text)})
    assert renewed.status_code == 303 and "N3WC" not in renewed.headers["location"]
    assert "N3WC-0DE0-AAAA-BBBB-C" in client.get("/staff/loket").text
    assert "N3WC-0DE0-AAAA-BBBB-C" not in client.get("/staff/loket").text


@pytest.mark.parametrize(
    ("role", "paths"),
    [
        ("reviewer", ["/staff", "/staff/antrean", "/staff/antrean?status=approved&jenis=kartu_keluarga&terlambat=1"]),
        (
            "kecamatan_operator",
            ["/staff/loket", "/staff/loket/baru/akta_kematian", "/staff/serah-terima", "/staff/statistik"],
        ),
        ("supervisor", ["/staff/statistik?kecamatan=36.02.14", "/staff/insiden", "/staff/insiden?selesai=1"]),
        ("admin", ["/staff/pesan-gagal", "/staff/pesan-gagal?status=replayed", "/staff/akun", "/staff/instansi"]),
        ("document_officer", ["/staff/dokumen", "/staff/dokumen?cari=360214-20261128-0001"]),
    ],
)
@pytest.mark.parametrize("bahasa", ["id", "en"])
def test_every_page_of_every_role_renders_in_both_languages_without_inline_script_or_style(
    client: TestClient, intake: FakeStaffIntake, review: FakeReview, role: str, paths: list[str], bahasa: str
) -> None:
    review.add(intake.add_request())
    client.cookies.set("bahasa", bahasa)
    sign_in(client, role)
    for task in ("verifikasi", "loket", "dokumen"):
        give_reason(client, task, "pemeriksaan halaman")
    for path in paths:
        page = client.get(path)
        assert page.status_code == 200, (path, page.text[-500:])
        assert f'<html lang="{bahasa}">' in page.text
        body = page.text.split("</head>", 1)[1]
        assert "<script" not in body and 'style="' not in body and " on" + "click=" not in body
