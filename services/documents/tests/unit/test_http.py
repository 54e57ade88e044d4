import datetime as dt
import uuid
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI

from dukcapil_documents.domain.model import Document
from dukcapil_documents.entrypoints import http
from dukcapil_documents.service_layer.handlers import Press
from dukcapil_shared.auth.grants import DownloadGrants
from dukcapil_shared.auth.keys import SigningKey
from dukcapil_shared.auth.roles import Role
from dukcapil_shared.clock import SystemClock
from dukcapil_shared.web import install_error_handlers
from dukcapil_testing import (
    download_grants_for_tests,
    grant_verifier_for_tests,
    install_test_auth,
    staff_headers,
)

from ..fakes import BASE_URL, FakeDocumentsUnitOfWork, FakeStorage, a_press
from .test_handlers import APPLICANT, DEATH, approval, deliver

STAFF = staff_headers(Role.REVIEWER)  # reads documents (documents:read), may not revoke or correct them
OFFICER = staff_headers(Role.DOCUMENT_OFFICER, username="dewi")  # documents:manage
GRANTS = download_grants_for_tests()


def holder_link(document_id: uuid.UUID | str) -> str:
    """The link intake gives the holder who opened the request with its access code."""
    return f"/documents/{document_id}/pdf?grant={GRANTS.issue(uuid.UUID(str(document_id))).token}"


class Service:
    def __init__(
        self,
        uow: FakeDocumentsUnitOfWork,
        press: Press,
        document: Document,
        citizen_rate: str = "1000/minute",
        verify_max_bytes: int = 10 * 1024 * 1024,
        downloads_per_document: str = "1000/hour",
    ) -> None:
        self.uow, self.press, self.document = uow, press, document
        app = FastAPI()
        install_error_handlers(app)
        app.state.unit_of_work = lambda: uow
        app.state.press = press
        app.state.clock = SystemClock()
        self.access_log = install_test_auth(app, citizen_rate=citizen_rate)
        http.install(
            app,
            verify_max_bytes=verify_max_bytes,
            grants=grant_verifier_for_tests(),
            downloads_per_document=downloads_per_document,
        )
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")

    @property
    def files(self) -> dict[str, bytes]:
        assert isinstance(self.press.storage, FakeStorage)
        return self.press.storage.files


@pytest.fixture
async def service() -> Any:
    uow, press = FakeDocumentsUnitOfWork(), a_press()
    await deliver(uow, approval("akta_kematian", details=DEATH), press)
    [document] = uow.issued
    service = Service(uow, press, document)
    async with service.client:
        yield service


async def test_documents_are_found_by_request_and_by_id(service: Service) -> None:
    document, client = service.document, service.client
    listed = (await client.get("/documents", params={"request_id": str(document.request_id)}, headers=STAFF)).json()
    shown = (await client.get(f"/documents/{document.id}", headers=STAFF)).json()
    none = (await client.get("/documents", params={"request_id": str(uuid.uuid4())}, headers=STAFF)).json()

    assert listed == [shown] and none == []
    assert shown["number"] == document.number and shown["type"] == "akta_kematian"
    assert (shown["title"], shown["status"], shown["verification_count"]) == ("AKTA KEMATIAN", "valid", 0)
    assert shown["verification_url"] == f"{BASE_URL}/verify/{document.verification_token}"
    assert (shown["signing_key_id"], shown["signature"]) == (document.signing_key_id, document.signature)
    assert shown["revocation"] is None and shown["supersedes"] is None and shown["superseded_by"] is None


async def test_the_pdf_is_served_to_staff_and_to_the_holder(service: Service) -> None:
    document = service.document
    plain = f"/documents/{document.id}/pdf"
    for path, headers in ((plain, STAFF), (holder_link(document.id), {}), (holder_link(document.id), STAFF)):
        pdf = await service.client.get(path, headers=headers)
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        assert pdf.content == service.files[document.storage_key]
        assert document.number.replace("/", "-") in pdf.headers["content-disposition"]
        assert pdf.headers["cache-control"] == "private, no-store" and pdf.headers["x-document-status"] == "valid"


def _grant(document_id: uuid.UUID | None = None, *, grants: DownloadGrants = GRANTS, **issue: Any) -> dict[str, str]:
    return {"grant": grants.issue(document_id or uuid.uuid4(), **issue).token}


ANOTHER_KEY = DownloadGrants(key=SigningKey(Ed25519PrivateKey.generate()), issuer="dukcapil-lebak")
LONG_AGO = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("headers", "params", "status", "code"),
    [
        ({}, {}, 401, "authentication_required"),
        ({"X-Applicant-NIK": APPLICANT["nik"]}, {}, 401, "authentication_required"),
        ({"Authorization": "Bearer guess", "X-Access-Reason": "reissue"}, {}, 401, "invalid_token"),
        ({"Authorization": "Bearer guess"}, "grant", 401, "invalid_token"),
        (staff_headers(Role.REVIEWER, reason=None), {}, 400, "access_reason_required"),
        (staff_headers(Role.SHIPPING_OFFICER), {}, 403, "insufficient_scope"),
        (staff_headers(Role.ADMIN), "grant", 403, "insufficient_scope"),
        ({}, {"grant": "guess"}, 401, "download_link_invalid"),
        ({}, "another document's", 401, "download_link_invalid"),
        ({}, "expired", 401, "download_link_invalid"),
        ({}, "another key's", 401, "download_link_invalid"),
        ({}, "a staff token as a grant", 401, "download_link_invalid"),
    ],
)
async def test_the_pdf_is_refused_to_anyone_else(  # type: ignore[no-untyped-def]
    service: Service, headers: dict, params, status: int, code: str
) -> None:
    document_id = service.document.id
    links = {
        "grant": _grant(document_id),
        "another document's": _grant(),
        "expired": _grant(document_id, now=LONG_AGO),
        "another key's": _grant(document_id, grants=ANOTHER_KEY),
        "a staff token as a grant": {"grant": STAFF["Authorization"].removeprefix("Bearer ")},
    }
    params = links[params] if isinstance(params, str) else params
    response = await service.client.get(f"/documents/{document_id}/pdf", headers=headers, params=params)
    assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    assert b"%PDF" not in response.content
    assert service.access_log.records == []


async def test_unknown_documents_and_codes_get_a_machine_readable_404(service: Service) -> None:
    client = service.client
    missing = await client.get(f"/documents/{uuid.uuid4()}", headers=STAFF)
    missing_pdf = await client.get(f"/documents/{uuid.uuid4()}/pdf", headers=STAFF)
    forged = await client.get("/verify/forged-token")
    assert (missing.status_code, missing.json()["error"]["code"]) == (404, "document_not_found")
    assert (missing_pdf.status_code, missing_pdf.json()["error"]["code"]) == (404, "document_not_found")
    assert (forged.status_code, forged.json()["error"]["code"]) == (404, "unknown_document")


async def test_a_tampered_file_is_not_handed_out(service: Service) -> None:
    service.files[service.document.storage_key] += b"%% edited"
    response = await service.client.get(f"/documents/{service.document.id}/pdf", headers=STAFF)
    assert (response.status_code, response.json()["error"]["code"]) == (500, "document_file_unavailable")


async def test_the_public_verification_shows_the_document_masked_and_counts(service: Service) -> None:
    document, client = service.document, service.client
    first = await client.get(f"/verify/{document.verification_token}")
    body = (await client.get(f"/verify/{document.verification_token}")).json()

    assert first.headers["cache-control"] == "no-store"
    assert body == {
        "genuine": True,
        "status": "valid",
        "signature_valid": True,
        "message": "Genuine and in force.",
        "message_id": "Dokumen asli dan berlaku.",
        "document_number": document.number,
        "document_type": "akta_kematian",
        "document_title": "AKTA KEMATIAN",
        "issued_at": body["issued_at"],
        "holder_name_masked": "S******",
        "nik_masked": "360214******0002",
        "superseded_by_number": None,
        "revoked_at": None,
        "verification_count": 2,
        "signing_key_id": document.signing_key_id,
        "checksum_sha256": document.checksum_sha256,
    }
    assert "3602140101500002" not in first.text and "Sarmadi" not in first.text and "Rangkasbitung" not in first.text
    shown = (await client.get(f"/documents/{document.id}", headers=STAFF)).json()
    assert shown["verification_count"] == 2


async def test_a_tampered_file_verifies_as_not_genuine(service: Service) -> None:
    service.files[service.document.storage_key] = service.files[service.document.storage_key].replace(b"AKM", b"AKX")
    body = (await service.client.get(f"/verify/{service.document.verification_token}")).json()
    assert (body["genuine"], body["signature_valid"], body["status"]) == (False, False, "valid")


async def test_staff_revoke_a_document_which_then_verifies_as_revoked(service: Service) -> None:
    document, client = service.document, service.client
    body = {"reason": "Diterbitkan atas data yang keliru", "approved_by": "Kabid Capil"}
    refused = await client.post(f"/documents/{document.id}/revoke", json=body)
    reviewer = await client.post(f"/documents/{document.id}/revoke", json=body, headers=STAFF)
    revoked = await client.post(f"/documents/{document.id}/revoke", json=body, headers=OFFICER)
    again = await client.post(f"/documents/{document.id}/revoke", json=body, headers=OFFICER)
    verification = await client.get(f"/verify/{document.verification_token}")
    anonymous = await client.get(f"/documents/{document.id}")
    shown = (await client.get(f"/documents/{document.id}", headers=STAFF)).json()
    pdf = await client.get(holder_link(document.id))

    assert (refused.status_code, refused.json()["error"]["code"]) == (401, "not_authenticated")
    assert (reviewer.status_code, reviewer.json()["error"]["code"]) == (403, "insufficient_scope")
    assert reviewer.json()["error"]["required_scope"] == "documents:manage"
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    assert revoked.json()["revocation"] == {
        "revoked_at": revoked.json()["revocation"]["revoked_at"],
        "approved_by": "Kabid Capil",
        "recorded_by": "dewi",
        "reason": "Diterbitkan atas data yang keliru",
    }
    assert (again.status_code, again.json()["error"]["code"], again.json()["error"]["document_status"]) == (
        409, "document_not_current", "revoked",
    )  # fmt: skip
    assert (verification.json()["genuine"], verification.json()["status"]) == (True, "revoked")
    assert verification.json()["revoked_at"] and "keliru" not in verification.text, "why is for staff only"
    assert (anonymous.status_code, anonymous.json()["error"]["code"]) == (401, "not_authenticated")
    assert shown["status"] == "revoked" and shown["revocation"] == revoked.json()["revocation"]
    assert pdf.status_code == 200 and pdf.headers["x-document-status"] == "revoked"


async def test_staff_correct_a_document_which_is_reissued_with_a_new_number(service: Service) -> None:
    old, client = service.document, service.client
    body = {
        "details": {"place_of_death": "Rumah duka, Kp. Cibeureum"},
        "reason": "Tempat kematian salah tulis",
        "approved_by": "Kabid Capil",
    }
    refused = await client.post(f"/documents/{old.id}/corrections", json=body, headers={"Authorization": "Bearer x"})
    reviewer = await client.post(f"/documents/{old.id}/corrections", json=body, headers=STAFF)
    response = await client.post(f"/documents/{old.id}/corrections", json=body, headers=OFFICER)

    assert (refused.status_code, refused.json()["error"]["code"]) == (401, "invalid_token")
    assert (reviewer.status_code, reviewer.json()["error"]["code"]) == (403, "insufficient_scope")
    assert response.status_code == 201
    superseded, issued = response.json()["superseded"], response.json()["issued"]
    assert response.headers["location"] == f"/documents/{issued['id']}"
    assert (superseded["id"], superseded["status"], superseded["superseded_by"]) == (
        str(old.id),
        "superseded",
        issued["id"],
    )
    assert (issued["status"], issued["supersedes"], issued["request_id"]) == ("valid", str(old.id), str(old.request_id))
    assert issued["number"] != old.number and issued["number"].startswith("AKM/3602/")
    listed = (await client.get("/documents", params={"request_id": str(old.request_id)}, headers=STAFF)).json()
    assert [d["number"] for d in listed] == [old.number, issued["number"]]

    verification = (await client.get(f"/verify/{old.verification_token}")).json()
    assert (verification["status"], verification["superseded_by_number"]) == ("superseded", issued["number"])
    pdf = await client.get(holder_link(issued["id"]))
    assert pdf.status_code == 200 and b"Rumah duka" in pdf.content


async def test_a_correction_must_correct_something(service: Service) -> None:
    response = await service.client.post(
        f"/documents/{service.document.id}/corrections", json={"reason": "r" * 5, "approved_by": "k"}, headers=OFFICER
    )
    assert (response.status_code, response.json()["error"]["code"]) == (422, "invalid_request")
    assert "nothing to correct" in response.text
    bad_holder = await service.client.post(
        f"/documents/{service.document.id}/corrections",
        json={"holder": {"nik": "123", "name": "x"}, "reason": "salah", "approved_by": "k"},
        headers=OFFICER,
    )
    assert bad_holder.status_code == 422


async def test_the_signing_keys_are_public(service: Service) -> None:
    [key] = (await service.client.get("/signing-keys")).json()
    assert (key["key_id"], key["current"]) == (service.document.signing_key_id, True)


async def test_searching_and_reading_documents_is_for_staff_holding_documents_read(service: Service) -> None:
    document, client = service.document, service.client
    search = {"request_id": str(document.request_id)}
    anonymous = [await client.get("/documents", params=search), await client.get(f"/documents/{document.id}")]
    operator = await client.get(f"/documents/{document.id}", headers=staff_headers(Role.KECAMATAN_OPERATOR))
    officer = await client.get("/documents", params=search, headers=staff_headers(Role.DOCUMENT_OFFICER, reason=None))

    for response in anonymous:
        assert (response.status_code, response.json()["error"]["code"]) == (401, "not_authenticated")
        assert response.headers["www-authenticate"] == "Bearer"
    assert (operator.status_code, operator.json()["error"]["code"]) == (403, "insufficient_scope")
    assert operator.json()["error"]["required_scope"] == "documents:read"
    assert officer.status_code == 200, "the metadata names nobody: no reason asked, nothing logged"
    assert service.access_log.records == []


async def test_staff_opening_a_pdf_is_recorded_with_their_name_and_reason(service: Service) -> None:
    document, client = service.document, service.client
    path = f"/documents/{document.id}/pdf"
    holder = await client.get(holder_link(document.id))
    assert holder.status_code == 200 and service.access_log.records == [], "the holder's own copy is not logged"
    staff = await client.get(path, headers=staff_headers(Role.DOCUMENT_OFFICER, username="dewi", reason="reprint"))
    assert staff.status_code == 200 and staff.content == service.files[document.storage_key]
    [record] = service.access_log.records
    assert (record.username, record.role, record.scope, record.method, record.path, record.reason) == (
        "dewi",
        "document_officer",
        "documents:read",
        "GET",
        path,
        "reprint",
    )


async def test_the_public_verification_is_rate_limited_per_address(service: Service) -> None:
    limited = Service(service.uow, service.press, service.document, citizen_rate="2/minute")
    async with limited.client as client:
        path = f"/verify/{service.document.verification_token}"
        answers = [await client.get(path) for _ in range(3)]
        keys = await client.get("/signing-keys")
    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert answers[-1].json()["error"]["code"] == "too_many_requests" and int(answers[-1].headers["retry-after"]) > 0
    assert service.uow.documents.committed[service.document.id].verification_count == 2, (
        "the refused one is not counted"
    )
    assert keys.status_code == 200, "the signing keys are not limited"


def upload(content: bytes, name: str = "dokumen.pdf") -> dict[str, Any]:
    return {"files": {"file": (name, content, "application/pdf")}}


async def test_a_genuine_file_in_hand_verifies_with_its_document_masked(service: Service) -> None:
    document = service.document
    response = await service.client.post("/verify", **upload(service.files[document.storage_key]))

    assert response.status_code == 200 and response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body == {
        "genuine": True,
        "reason": None,
        "message": "Genuine and in force.",
        "message_id": "Dokumen asli dan berlaku.",
        "checksum_sha256": document.checksum_sha256,
        "signature": {
            "present": True,
            "intact": True,
            "covers_whole_file": True,
            "trusted": True,
            "signer": "CN=Fake office certificate",
            "signed_at": None,
        },
        "status": "valid",
        "document_number": document.number,
        "document_type": "akta_kematian",
        "document_title": "AKTA KEMATIAN",
        "issued_at": body["issued_at"],
        "holder_name_masked": "S******",
        "nik_masked": "360214******0002",
        "superseded_by_number": None,
        "revoked_at": None,
        "verification_count": 1,
        "signing_key_id": document.signing_key_id,
    }
    assert "Sarmadi" not in response.text and "3602140101500002" not in response.text
    by_token = (await service.client.get(f"/verify/{document.verification_token}")).json()
    assert by_token["checksum_sha256"] == document.checksum_sha256 and by_token["verification_count"] == 2


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda content: content.replace(b"Sarmadi", b"Sarmado"), "signature_invalid"),
        (lambda content: content + b"% added after signing\n", "signature_invalid"),
        (lambda content: b"%PDF-1.7\n% someone else's document\n", "unknown_file"),
    ],
    ids=["edited", "appended", "unknown"],
)
async def test_an_edited_or_unknown_file_is_not_a_document_of_the_office(
    service: Service, edit: Any, reason: str
) -> None:
    response = await service.client.post("/verify", **upload(edit(service.files[service.document.storage_key])))

    assert response.status_code == 200
    body = response.json()
    assert (body["genuine"], body["reason"], body["status"], body["document_number"]) == (False, reason, None, None)
    assert "not a document issued by" in body["message"] and "bukan dokumen yang diterbitkan" in body["message_id"]
    assert service.uow.documents.committed[service.document.id].verification_count == 0


async def test_a_file_that_is_not_a_pdf_is_refused(service: Service) -> None:
    png = await service.client.post("/verify", **upload(b"\x89PNG\r\n\x1a\n...", "scan.png"))
    empty = await service.client.post("/verify", **upload(b""))
    missing = await service.client.post("/verify", data={"note": "no file"})

    for response in (png, empty):
        assert (response.status_code, response.json()["error"]["code"]) == (422, "not_a_pdf")
        assert "not a PDF" in response.json()["error"]["message"]
    assert (missing.status_code, missing.json()["error"]["code"]) == (422, "invalid_request")


async def test_a_file_over_the_limit_is_refused_unread(service: Service) -> None:
    small = Service(service.uow, service.press, service.document, verify_max_bytes=1000)
    async with small.client as client:
        too_large = await client.post("/verify", **upload(b"%PDF-1.7\n" + b"0" * 1000))
        at_limit = await client.post("/verify", **upload(b"%PDF-1.7\n" + b"0" * 991))
    assert (too_large.status_code, too_large.json()["error"]["code"]) == (413, "request_too_large")
    assert too_large.json()["error"]["max_bytes"] == 1000
    assert (at_limit.status_code, at_limit.json()["reason"]) == (200, "unknown_file")


async def test_checking_files_shares_the_verification_rate_limit(service: Service) -> None:
    limited = Service(service.uow, service.press, service.document, citizen_rate="2/minute")
    content = service.files[service.document.storage_key]
    async with limited.client as client:
        answers = [
            await client.get(f"/verify/{service.document.verification_token}"),
            await client.post("/verify", **upload(content)),
            await client.post("/verify", **upload(content)),
        ]
    assert [answer.status_code for answer in answers] == [200, 200, 429]
    assert answers[-1].json()["error"]["code"] == "too_many_requests"


async def test_a_holders_link_downloads_the_document_a_few_times_an_hour_whoever_uses_it() -> None:
    uow, press = FakeDocumentsUnitOfWork(), a_press()
    await deliver(uow, approval("akta_kematian", details=DEATH), press)
    [document] = uow.issued
    service = Service(uow, press, document, downloads_per_document="2/hour")
    async with service.client as client:
        link = holder_link(document.id)
        assert [(await client.get(link)).status_code for _ in range(2)] == [200, 200]
        third = await client.get(holder_link(document.id))
        assert third.status_code == 429 and int(third.headers["retry-after"]) > 0
        assert "of this document" in third.json()["error"]["message"]
        staff = await client.get(f"/documents/{document.id}/pdf", headers=STAFF)
        assert staff.status_code == 200, "staff are not counted"
