"""Intake and documents as the portal sees them: their public HTTP APIs, answering with recorded shapes."""

import json
import uuid
from pathlib import Path
from typing import Any

import httpx

RECORDED = Path(__file__).parent / "unit" / "recorded"
CATALOGUE: list[dict[str, Any]] = json.loads((RECORDED / "services.json").read_text(encoding="utf-8"))
ACCESS_CODE = "K7QM-2XDP-9WBT-H4RZ-V"


def error(status: int, code: str, message: str, details: list[dict[str, Any]] | None = None) -> httpx.Response:
    return httpx.Response(status, json={"error": {"code": code, "message": message, "details": details or []}})


class FakeIntake:
    """Records what the portal sent; answers like intake."""

    def __init__(self) -> None:
        self.calls: list[httpx.Request] = []
        self.requests: dict[str, dict[str, Any]] = {}
        self.next_submit: httpx.Response | None = None
        self.next_booking: httpx.Response | None = None

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def view(self, request_id: str) -> dict[str, Any]:
        return self.requests[request_id]

    def add_request(self, *, status: str = "submitted", type_: str = "kartu_keluarga", **more: Any) -> dict[str, Any]:
        request_id = str(uuid.uuid4())
        view = {
            "id": request_id,
            "number": f"360214-20261128-{len(self.requests) + 1:04d}",
            "type": type_,
            "status": status,
            "kecamatan_code": "36.02.14",
            "delivery_method": "pickup",
            "channel": "online",
            "flags": [],
            "checklist": {
                "required": ["kk_lama", "akta_kelahiran"],
                "missing": ["kk_lama", "akta_kelahiran"],
                "complete": False,
            },
            "attachments": [],
            "submitted_at": "2026-11-28T07:00:00Z",
            "updated_at": "2026-11-28T07:00:00Z",
            "history": [
                {
                    "event_type": "request.submitted.v1",
                    "time": "2026-11-28T07:00:00Z",
                    "stage": "intake",
                    "note": "Permohonan diterima dengan nomor 360214-20261128-0001.",
                    "status": "submitted",
                }
            ],
            "document": None,
            **more,
        }
        self.requests[request_id] = view
        return view

    def _by_number(self, number: str) -> dict[str, Any] | None:
        return next((view for view in self.requests.values() if view["number"] == number), None)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        path, method = request.url.path, request.method
        if path == "/healthz":
            return httpx.Response(200, json={"status": "ok"})
        if method == "GET" and path == "/services":
            return httpx.Response(200, json=CATALOGUE)
        if method == "POST" and path == "/requests":
            if self.next_submit is not None:
                answer, self.next_submit = self.next_submit, None
                return answer
            view = self.add_request()
            return httpx.Response(201, json={**view, "access_code": ACCESS_CODE})
        if method == "POST" and path == "/requests/follow":
            body = json.loads(request.content)
            view = self._by_number(body["number"])
            if view is None or body["access_code"] != ACCESS_CODE:
                return error(
                    404,
                    "not_found",
                    "No request has that number and access code: check both. / Tidak ada "
                    "permohonan dengan nomor dan kode akses tersebut: periksa keduanya.",
                )
            return httpx.Response(200, json=view)
        if method == "POST" and path == "/perekaman-bookings":
            if self.next_booking is not None:
                answer, self.next_booking = self.next_booking, None
                return answer
            return httpx.Response(
                201,
                json={
                    "id": str(uuid.uuid4()),
                    "number": "REK-360214-20261207-001",
                    "kecamatan_code": "36.02.14",
                    "office": "Kantor Kecamatan Rangkasbitung",
                    "appointment_date": "2026-12-07",
                    "queue_number": 1,
                    "bring": ["Kartu Keluarga (asli atau fotokopi) / the family card"],
                },
            )
        parts = path.strip("/").split("/")
        if len(parts) == 3 and parts[0] == "requests" and parts[1] in self.requests:
            view = self.requests[parts[1]]
            if request.headers.get("X-Access-Code") != ACCESS_CODE:
                return error(404, "not_found", "No request. / Tidak ada.")
            if parts[2] == "attachments":
                kind = _form_field(request, "kind")
                view["attachments"].append({"id": str(uuid.uuid4()), "kind": kind})
                view["checklist"]["missing"] = [k for k in view["checklist"]["missing"] if k != kind]
                return httpx.Response(201, json={"id": "a", "kind": kind})
            if parts[2] == "cancel":
                view["status"] = "cancelled"
                return httpx.Response(200, json=view)
            if parts[2] == "resubmit":
                view["status"] = "submitted"
                return httpx.Response(200, json=view)
        return error(404, "not_found", "Not found.")


def _form_field(request: httpx.Request, name: str) -> str:
    content = request.content.decode("latin-1")
    marker = f'name="{name}"\r\n\r\n'
    return content.split(marker, 1)[1].split("\r\n", 1)[0]


class FakeDocuments:
    def __init__(self) -> None:
        self.calls: list[httpx.Request] = []

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        if request.url.path == "/verify/known":
            return httpx.Response(200, json=VERIFICATION)
        if request.url.path.startswith("/verify/"):
            return error(404, "unknown_document", "Unknown document.")
        if request.url.path == "/verify":
            return httpx.Response(200, json={**VERIFICATION, "reason": None, "signature": {}})
        if request.url.path.endswith("/pdf") and request.url.params.get("grant") == "g":
            return httpx.Response(200, content=b"%PDF-1.7 fake", headers={"Content-Type": "application/pdf"})
        return error(404, "not_found", "Not found.")


VERIFICATION = {
    "genuine": True,
    "status": "valid",
    "signature_valid": True,
    "message": "This document was issued by Disdukcapil Kabupaten Lebak and is in force.",
    "message_id": "Dokumen ini diterbitkan oleh Disdukcapil Kabupaten Lebak dan masih berlaku.",
    "document_number": "KK/3602/2026/000001",
    "document_type": "kartu_keluarga",
    "document_title": "Kartu Keluarga",
    "issued_at": "2026-11-28T08:00:00Z",
    "holder_name_masked": "A***** F****",
    "nik_masked": "360214******0003",
    "superseded_by_number": None,
    "revoked_at": None,
    "verification_count": 3,
    "signing_key_id": "k1",
    "checksum_sha256": "0" * 64,
}
