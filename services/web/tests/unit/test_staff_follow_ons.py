"""The operator's follow-on drafts at the counter: listed with the operator's token and the counter's reason, and
confirmed (an assisted request) with a CSRF-protected form."""

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

from ..fakes import PASSWORD, FakeDocuments, FakeReview, FakeShipping, FakeStaffIntake


class StaffIntakeWithDrafts(FakeStaffIntake):
    def __init__(self) -> None:
        super().__init__()
        self.draft_id = str(uuid.uuid4())
        self.confirmed_by: list[str] = []

    def draft(self) -> dict[str, Any]:
        confirmed = bool(self.confirmed_by)
        return {
            "id": self.draft_id,
            "kind": "kk_remove_deceased",
            "title": "Perubahan Kartu Keluarga: almarhum/almarhumah dikeluarkan dari KK",
            "title_en": "Family card change: the deceased removed from the card",
            "status": "confirmed" if confirmed else "offered",
            "applicant_name": "Ahmad Fauzi",
            "follows": {"id": str(uuid.uuid4()), "number": "360214-20261201-0001", "type": "akta_kematian"},
            "expires_at": "2026-12-31T02:00:00Z",
            "note": None,
            "led_to": {"id": str(uuid.uuid4()), "number": "360214-20261203-0002", "type": "kartu_keluarga"}
            if confirmed
            else None,
        }

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/follow-ons"):
            self.calls.append(request)
            token = request.headers.get("Authorization", "").removeprefix("Bearer ")
            if self.tokens.get(token) != "kecamatan_operator" or not request.headers.get("X-Access-Reason"):
                return httpx.Response(403, json={"error": {"code": "insufficient_scope", "message": "No."}})
            if request.url.path.endswith("/confirm-at-counter"):
                self.confirmed_by.append(self.tokens[token])
                return httpx.Response(200, json={**self.draft(), "access_code": "K7QM-2XDP-9WBT-H4RZ-V"})
            return httpx.Response(200, json=[self.draft()])
        return super().handle(request)


@pytest.fixture
def intake() -> StaffIntakeWithDrafts:
    return StaffIntakeWithDrafts()


@pytest.fixture
def client(intake: StaffIntakeWithDrafts) -> Iterator[TestClient]:
    app = build_app(
        WebSettings(environment="development", log_json=False),  # type: ignore[call-arg]
        intake_transport=intake.transport(),
        documents_transport=FakeDocuments().transport(),
        review_transport=FakeReview().transport(),
        shipping_transport=FakeShipping().transport(),
    )
    with TestClient(app, base_url="http://portal.test", follow_redirects=False) as client:
        yield client


def csrf(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found
    return found.group(1)


def test_an_operator_sees_the_offices_drafts_and_confirms_one_at_the_counter(
    client: TestClient, intake: StaffIntakeWithDrafts
) -> None:
    page = client.get("/staff")
    client.post(
        "/staff/masuk", data={"username": "kecamatan_operator", "password": PASSWORD, "csrf_token": csrf(page.text)}
    )
    reason = client.get("/staff/alasan?tugas=loket&kembali=/staff/lanjutan")
    client.post(
        "/staff/alasan",
        data={
            "tugas": "loket",
            "alasan": "pelayanan loket",
            "kembali": "/staff/lanjutan",
            "csrf_token": csrf(reason.text),
        },
    )
    listed = client.get("/staff/lanjutan")
    assert listed.status_code == 200 and "360214-20261201-0001" in listed.text and "Ahmad Fauzi" in listed.text
    done = client.post(f"/staff/lanjutan/{intake.draft_id}/konfirmasi", data={"csrf_token": csrf(listed.text)})
    assert done.status_code == 303 and done.headers["location"] == "/staff/lanjutan"
    assert intake.confirmed_by == ["kecamatan_operator"]
    assert "360214-20261203-0002" in client.get("/staff/lanjutan").text
    asked = [json.loads(c.content or b"{}") for c in intake.calls if c.url.path.endswith("/confirm-at-counter")]
    assert asked == [{}]


def test_a_reviewer_has_no_counter_drafts(client: TestClient) -> None:
    page = client.get("/staff")
    client.post("/staff/masuk", data={"username": "reviewer", "password": PASSWORD, "csrf_token": csrf(page.text)})
    assert client.get("/staff/lanjutan").status_code == 403
