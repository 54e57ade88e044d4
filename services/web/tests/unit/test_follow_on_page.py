"""The page behind a follow-on link: the token leaves the address bar at once and travels in the body of intake's
calls; the prefilled request is shown with a confirm button (a CSRF-protected form); an expired offer says so in both
languages."""

import json
import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from dukcapil_web.bootstrap import build_app
from dukcapil_web.settings import WebSettings

from ..fakes import ACCESS_CODE, FakeDocuments, FakeIntake, error

TOKEN = "K7QM-2XDP-9WBT-H4RZ-V"


class IntakeWithDrafts(FakeIntake):
    def __init__(self) -> None:
        super().__init__()
        self.draft_id = str(uuid.uuid4())
        self.status = "offered"
        self.confirmations = 0

    def draft(self) -> dict[str, Any]:
        confirmed = self.status == "confirmed"
        return {
            "id": self.draft_id,
            "kind": "kk_remove_deceased",
            "title": "Perubahan Kartu Keluarga: almarhum/almarhumah dikeluarkan dari KK",
            "title_en": "Family card change: the deceased removed from the card",
            "status": self.status,
            "request_type": "kartu_keluarga",
            "kecamatan_code": "36.02.14",
            "office": "Kantor Kecamatan Rangkasbitung",
            "applicant_name": "Ahmad Fauzi",
            "details": {"reason": "remove_member", "kk_number": "3602140101100001", "members": []},
            "family": [
                {"nik": "360214******0001", "name": "SANUSI", "relation": "KEPALA KELUARGA", "removed": True},
                {"nik": "360214******0002", "name": "ROHAYATI", "relation": "ISTRI", "removed": False},
            ],
            "follows": {"id": str(uuid.uuid4()), "number": "360214-20261201-0001", "type": "akta_kematian"},
            "origin_document_number": "AKM/3602/2026/000001",
            "note": None,
            "created_at": "2026-12-01T02:00:00Z",
            "expires_at": "2026-12-31T02:00:00Z",
            "confirmed_at": "2026-12-02T02:00:00Z" if confirmed else None,
            "confirmed_by": "citizen" if confirmed else None,
            "led_to": (
                {
                    "id": "7f0c2d6e-1111-4a4a-9a9a-000000000001",
                    "number": "360214-20261202-0001",
                    "type": "kartu_keluarga",
                }
                if confirmed
                else None
            ),
        }

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.startswith("/follow-ons/"):
            self.calls.append(request)
            if json.loads(request.content).get("token") != TOKEN or self.draft_id not in path:
                return error(404, "not_found", "No follow-on request with that link.")
            if path.endswith("/confirm"):
                if self.status == "expired":
                    return error(409, "follow_on_expired", "This offer has expired.")
                self.confirmations += 1
                self.status = "confirmed"
                return httpx.Response(200, json={**self.draft(), "access_code": ACCESS_CODE})
            return httpx.Response(200, json=self.draft())
        return super().handle(request)


@pytest.fixture
def intake() -> IntakeWithDrafts:
    return IntakeWithDrafts()


@pytest.fixture
def client(intake: IntakeWithDrafts) -> Iterator[TestClient]:
    settings = WebSettings(environment="development", log_json=False)  # type: ignore[call-arg]
    app = build_app(settings, intake_transport=intake.transport(), documents_transport=FakeDocuments().transport())
    with TestClient(app, base_url="http://portal.test", follow_redirects=False) as client:
        yield client


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found.group(1)


def test_the_link_shows_the_prefilled_request_and_confirming_submits_it_once(
    client: TestClient, intake: IntakeWithDrafts
) -> None:
    arrived = client.get(f"/lanjutan/{intake.draft_id}?kode={TOKEN}")
    assert arrived.status_code == 303 and arrived.headers["location"] == f"/lanjutan/{intake.draft_id}"
    page = client.get(f"/lanjutan/{intake.draft_id}")
    assert page.status_code == 200
    assert "SANUSI" in page.text and "ROHAYATI" in page.text and "3602140101100001" in page.text
    assert 'id="konfirmasi"' in page.text
    assert all(TOKEN not in str(call.url) for call in intake.calls), "the token goes in the body, never a URL"

    done = client.post(f"/lanjutan/{intake.draft_id}", data={"csrf_token": csrf(page.text)})
    assert done.status_code == 200
    assert "360214-20261202-0001" in done.text and ACCESS_CODE in done.text
    # The new request is followed on this device like one submitted here.
    assert client.get("/permohonan").status_code in (200, 303)
    again = client.post(f"/lanjutan/{intake.draft_id}", data={"csrf_token": csrf(page.text)})
    assert "360214-20261202-0001" in again.text


def test_confirming_needs_the_forms_csrf_token(client: TestClient, intake: IntakeWithDrafts) -> None:
    client.get(f"/lanjutan/{intake.draft_id}?kode={TOKEN}")
    refused = client.post(f"/lanjutan/{intake.draft_id}", data={})
    assert refused.status_code == 403 and intake.confirmations == 0


def test_an_expired_offer_says_so_in_both_languages(client: TestClient, intake: IntakeWithDrafts) -> None:
    intake.status = "expired"
    client.get(f"/lanjutan/{intake.draft_id}?kode={TOKEN}")
    page = client.get(f"/lanjutan/{intake.draft_id}")
    assert page.status_code == 410
    assert "sudah kedaluwarsa" in page.text and "This offer has expired" in page.text
    assert 'id="konfirmasi"' not in page.text


def test_a_link_without_its_token_or_with_a_wrong_one_opens_nothing(
    client: TestClient, intake: IntakeWithDrafts
) -> None:
    assert client.get(f"/lanjutan/{intake.draft_id}").status_code == 404
    client.get(f"/lanjutan/{intake.draft_id}?kode=AAAA-BBBB-CCCC-DDDD-E")
    page = client.get(f"/lanjutan/{intake.draft_id}")
    assert page.status_code == 404 and "SANUSI" not in page.text
