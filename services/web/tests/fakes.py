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
        self.documents: dict[str, dict[str, Any]] = {}

    def add(self, request_id: str) -> dict[str, Any]:
        document = {
            "id": str(uuid.uuid4()),
            "request_id": request_id,
            "number": "BIO/3602/2026/000001",
            "type": "biodata_wni",
            "title": "BIODATA PENDUDUK",
            "status": "valid",
            "issued_at": "2026-11-28T08:00:00Z",
            "verification_count": 0,
            "revocation": None,
        }
        self.documents[document["id"]] = document
        return document

    def staff(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "GET" and path == "/documents":
            wanted = request.url.params.get("request_id")
            return httpx.Response(200, json=[d for d in self.documents.values() if d["request_id"] == wanted])
        document = self.documents.get(path.split("/")[2])
        if document is None:
            return error(404, "not_found", "No document.")
        body = json.loads(request.content or b"{}")
        if len(body.get("reason", "")) < 5:
            return error(
                422,
                "invalid_request",
                "Invalid.",
                [
                    {
                        "field": "body.reason",
                        "message": "At least 5 characters.",
                        "message_id": "Paling sedikit 5 karakter.",
                    }
                ],
            )
        if path.endswith("/revoke"):
            document["status"] = "revoked"
            return httpx.Response(200, json=document)
        document["status"] = "superseded"
        return httpx.Response(201, json={"superseded": document, "issued": {**document, "status": "valid"}})

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        if request.headers.get("Authorization") and request.url.path.startswith("/documents"):
            return self.staff(request)
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


STAFF_TOKEN = "staff-token"
PASSWORD = "kopi-tubruk-pagi-hari"
SCOPES = {
    "reviewer": ["attachments:read", "documents:read", "requests:read", "reviews:decide", "reviews:read"],
    "kecamatan_operator": [
        "attachments:read",
        "requests:read",
        "requests:submit",
        "shipments:handover",
        "shipments:read",
        "statistics:read",
    ],
    "supervisor": [
        "attachments:read",
        "documents:read",
        "incidents:read",
        "operations",
        "requests:read",
        "reviews:decide",
        "reviews:read",
        "reviews:supervise",
        "shipments:read",
        "statistics:read",
    ],
    "admin": ["accounts:manage", "agencies:manage", "incidents:read", "operations", "statistics:read"],
    "document_officer": ["documents:manage", "documents:read", "requests:read"],
}
PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00\x90wS\xde\x00\x00"
    b"\x00\x0cIDATx\x9cc\xf8\x0f\x00\x00\x01\x01\x00\x05\x18\xd8N\x00\x00\x00\x00IEND\xaeB`\x82"
)


class FakeStaffIntake(FakeIntake):
    """Intake with its staff side: sign-in (any role by user name), a request's staff view and its scans."""

    def __init__(self) -> None:
        super().__init__()
        self.signed_out: list[str] = []
        self.tokens: dict[str, str] = {}
        self.agency_calls: list[httpx.Request] = []

    def handle(self, request: httpx.Request) -> httpx.Response:
        path, method = request.url.path, request.method
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if method == "POST" and path == "/auth/token":
            form = dict(part.split("=", 1) for part in request.content.decode().split("&"))
            if form.get("password") != PASSWORD or form.get("username") not in SCOPES:
                return error(400, "invalid_grant", "Wrong user name or password, or the account is deactivated.")
            issued = f"{STAFF_TOKEN}-{uuid.uuid4().hex[:6]}"
            self.tokens[issued] = form["username"]
            return httpx.Response(200, json={"access_token": issued, "token_type": "bearer", "expires_in": 3600})
        if path.startswith(("/statistics/", "/incidents", "/dead-letters", "/accounts", "/agencies")) and token:
            self.calls.append(request)
            if self.tokens.get(token) is None:
                return error(401, "invalid_token", "The token is not valid.")
            return self.staff_figures(request)
        if method == "GET" and path == "/requests" and token:
            self.calls.append(request)
            return httpx.Response(
                200, json=[{**view, "operator": None, "office": None} for view in self.requests.values()]
            )
        if path.startswith(("/auth/", "/requests/")) and path != "/requests/follow" and token:
            self.calls.append(request)
            role = self.tokens.get(token)
            if role is None or token in self.signed_out:
                return error(401, "invalid_token", "The token is not valid.")
            if path == "/auth/me":
                kecamatan = "36.02.14" if role == "kecamatan_operator" else None
                return httpx.Response(
                    200, json={"username": role, "role": role, "kecamatan_code": kecamatan, "scopes": SCOPES[role]}
                )
            if path == "/auth/sign-out":
                self.signed_out.append(token)
                return httpx.Response(204)
            if "/attachments/" in path:
                return httpx.Response(200, content=PNG, headers={"Content-Type": "image/png"})
            if path.endswith("/access-code/renew"):
                renewed = self.requests[path.split("/")[2]]
                return httpx.Response(200, json={"number": renewed["number"], "access_code": "N3WC-0DE0-AAAA-BBBB-C"})
            request_id = path.split("/")[2]
            if request_id in self.requests:
                return httpx.Response(200, json=self.requests[request_id])
            return error(404, "not_found", "No request.")
        return super().handle(request)


LETTER = {
    "id": "0b3c1d5e-5a0c-4d57-9a55-0d1f2a3b4c5d",
    "message_id": "m1",
    "status": "parked",
    "original_queue": "dukcapil.intake.events",
    "routing_key": "review.started.v1",
    "subject": None,
    "error": "LookupError: unknown request",
    "attempts": 6,
    "first_failure_at": "2026-11-28T07:00:00Z",
    "last_failure_at": "2026-11-28T07:01:00Z",
    "parked_at": "2026-11-28T07:01:00Z",
    "resolved_at": None,
    "resolved_by": None,
    "resolution_reason": None,
}


def _staff_figures(self: FakeStaffIntake, request: httpx.Request) -> httpx.Response:
    path = request.url.path
    if path == "/statistics/requests":
        by = request.url.params.get("group_by")
        groups = {
            "status": [{"count": 3, "status": "in_review"}, {"count": 1, "status": "delivered"}],
            "month": [{"count": 4, "month": "2026-11"}],
            "kecamatan": [{"count": 4, "kecamatan": "36.02.14", "kecamatan_name": "Rangkasbitung"}],
        }[by]
        full = [
            {"type": None, "status": None, "kecamatan": None, "kecamatan_name": None, "month": None, **g}
            for g in groups
        ]
        return httpx.Response(200, json={"total": 4, "group_by": [by], "groups": full})
    if path == "/statistics/lead-times":
        stage = {
            "stage": "review",
            "starts": "a",
            "ends": "b",
            "description": "",
            "count": 2,
            "mean_hours": 5.0,
            "p50_hours": 4.0,
            "p90_hours": 9.5,
        }
        return httpx.Response(200, json={"requests": 4, "stages": [stage]})
    if path == "/incidents":
        incident = {
            "kind": "stalled",
            "request_id": "9f0c3a52-54a4-4f39-9d3e-2f4f0a6f1c11",
            "request_number": "360214-20261128-0042",
            "request_status": "in_review",
            "stage": "review",
            "event_type": None,
            "error": "No change for 3 days",
            "attempts": 0,
            "since": "2026-11-25T07:00:00Z",
            "open": True,
            "resolution": None,
            "resolved_by": None,
        }
        return httpx.Response(200, json=[incident])
    if path.startswith("/accounts"):
        account = {
            "username": "rina",
            "full_name": "Rina",
            "role": "reviewer",
            "kecamatan_code": None,
            "active": True,
            "created_at": "2026-11-28T07:00:00Z",
            "password_changed_at": "2026-11-28T07:00:00Z",
        }
        if request.method == "GET":
            return httpx.Response(200, json=[account])
        body = json.loads(request.content)
        if len(body.get("password") or "x" * 12) < 12:
            return error(422, "weak_password", "At least 12 characters. / Paling sedikit 12 karakter.")
        return httpx.Response(201 if request.method == "POST" else 200, json={**account, **body})
    if path.startswith("/agencies"):
        return _agencies(self, request)
    if path == "/dead-letters":
        return httpx.Response(200, json=[LETTER] if request.url.params.get("status") == "parked" else [])
    if path.endswith("/replay"):
        return httpx.Response(200, json={**LETTER, "status": "replayed"})
    if path.endswith("/discard"):
        return httpx.Response(200, json={**LETTER, "status": "discarded"})
    return error(404, "not_found", "Not found.")


AGENCY = {
    "name": "bpjs",
    "identified": False,
    "exchange": "dukcapil.public",
    "event_types": ["death.registered.v1"],
    "region_prefixes": ["36.02"],
    "binding_keys": ["death.registered.v1.36.02.#"],
    "user": "agency-bpjs",
    "queue": "agency.bpjs.events",
    "dead_letter_queue": "agency.bpjs.dead",
    "queue_messages": 2,
    "queue_consumers": 1,
    "dead_letters": 0,
    "onboarded_at": "2026-11-28T07:00:00Z",
    "onboarded_by": "admin",
}


def _agencies(self: FakeStaffIntake, request: httpx.Request) -> httpx.Response:
    path, method = request.url.path, request.method
    self.agency_calls.append(request)
    if path == "/agencies/event-types":
        summaries = [("death.registered.v1", "A death registered"), ("family_card.issued.v1", "A family card issued")]
        return httpx.Response(200, json=[{"type": kind, "summary": summary} for kind, summary in summaries])
    if path == "/agencies" and method == "GET":
        return httpx.Response(200, json=[AGENCY])
    if path == "/agencies" and method == "POST":
        body = json.loads(request.content)
        if body["name"] == "bpjs":
            return error(409, "agency_exists", "an agency named bpjs exists already; offboard it first")
        if any(not prefix.startswith("36.02") for prefix in body["region_prefixes"]):
            details = [{"field": "region_prefixes", "code": "agency_refused", "message": "outside Kabupaten Lebak"}]
            return error(422, "agency_refused", "outside Kabupaten Lebak", details)
        made = {**AGENCY, **body, "user": f"agency-{body['name']}", "queue": f"agency.{body['name']}.events"}
        return httpx.Response(201, json={**made, "password": "s3cret-shown-once", "amqp_url": "amqp://x:y@h/v"})
    if method == "DELETE":
        name = path.split("/")[2]
        return httpx.Response(
            200, json={"name": name, "user": f"agency-{name}", "queues": [], "connections_closed": 1, "leftover": False}
        )
    if path.endswith("/replays"):
        return httpx.Response(
            200, json={"name": "bpjs", "queue": "q", "since": "", "until": "", "replayed": 3, "by_event_type": {}}
        )
    return error(404, "not_found", "Not found.")


FakeStaffIntake.staff_figures = _staff_figures  # type: ignore[attr-defined]


class FakeReview:
    def __init__(self) -> None:
        self.calls: list[httpx.Request] = []
        self.reviews: dict[str, dict[str, Any]] = {}
        self.sessions_ended = False

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def add(self, view: dict[str, Any]) -> dict[str, Any]:
        review = {
            "request_id": view["id"],
            "request_number": view["number"],
            "request_type": view["type"],
            "status": "pending",
            "kecamatan_code": "36.02.14",
            "channel": "online",
            "operator": None,
            "office": None,
            "applicant": {"nik": "3602141205850003", "name": "Ahmad Fauzi"},
            "details": {"reason": "add_member", "members": [{"nik": "3602145003240001", "name": "Nur Aisyah"}]},
            "delivery": {"method": "pickup", "pickup_kecamatan_code": "36.02.14"},
            "attachments": [
                {"id": str(uuid.uuid4()), "kind": "kk_lama", "content_type": "image/png", "size": 70, "sha256": "0"},
                {
                    "id": str(uuid.uuid4()),
                    "kind": "akta_kelahiran",
                    "content_type": "application/pdf",
                    "size": 900,
                    "sha256": "1",
                },
            ],
            "required_attachments": ["kk_lama", "akta_kelahiran"],
            "flags": [],
            "prechecks": [
                {"code": "nik_consistency", "passed": True, "message_id": "NIK sesuai.", "message_en": "NIK agrees."}
            ],
            "prechecks_passed": True,
            "received_at": "2026-11-28T07:00:00Z",
            "updated_at": "2026-11-28T07:00:00Z",
            "due_at": "2026-11-30T07:00:00Z",
            "overdue": True,
            "claimed_by": None,
            "claim_expires_at": None,
            "decided_by": None,
            "decided_at": None,
            "decision_note": None,
            "automatic": False,
            "missing_items": [],
        }
        self.reviews[view["id"]] = review
        return review

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        path, method = request.url.path, request.method
        if not request.headers.get("Authorization") or self.sessions_ended:
            return error(401, "invalid_token", "Sign in again.")
        if path == "/statistics/overdue":
            group = {
                "type": "kartu_keluarga",
                "kecamatan": "36.02.14",
                "kecamatan_name": "Rangkasbitung",
                "pending": 3,
                "overdue": 1,
                "earliest_due_at": "2026-11-28T07:00:00Z",
                "longest_overdue_hours": 5.0,
            }
            return httpx.Response(200, json={"pending": 3, "overdue": 1, "groups": [group], "sla_hours": {}})
        if path == "/dead-letters":
            return httpx.Response(200, json=[])
        if method == "GET" and path == "/reviews":
            return httpx.Response(200, json=list(self.reviews.values()))
        parts = path.strip("/").split("/")
        review = self.reviews.get(parts[1]) if len(parts) > 1 else None
        if review is None:
            return error(404, "not_found", "No review.")
        if method == "GET" and len(parts) == 2:
            return httpx.Response(200, json=review)
        if method == "GET" and parts[2] == "audit":
            return httpx.Response(
                200,
                json=[
                    {
                        "id": 1,
                        "request_id": parts[1],
                        "at": "2026-11-28T07:00:00Z",
                        "actor": "system",
                        "action": "received",
                        "details": {},
                    }
                ],
            )
        action = parts[2]
        body = json.loads(request.content or b"{}")
        if action == "claim":
            review["claimed_by"] = "reviewer"
        elif action == "release":
            review["claimed_by"] = None
        elif action in ("reject", "request-information"):
            if len(body.get("reason", "")) < 5:
                return error(
                    422,
                    "invalid_request",
                    "Invalid.",
                    [{"field": "body.reason", "message": "Too short.", "message_id": "Terlalu pendek."}],
                )
            review["status"] = "rejected" if action == "reject" else "info_requested"
            review["missing_items"] = body.get("missing_items", [])
        elif action == "approve":
            review["status"] = "approved"
        return httpx.Response(200, json=review)


class FakeShipping:
    """Shipping's staff side: parcels waiting at the office, and the handover (a NIK with serial 0000 refused)."""

    def __init__(self) -> None:
        self.calls: list[httpx.Request] = []
        self.shipments: dict[str, dict[str, Any]] = {}

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def add(self, request_id: str, **more: Any) -> dict[str, Any]:
        shipment = {
            "id": str(uuid.uuid4()),
            "request_id": request_id,
            "document_number": "KK/3602/2026/000001",
            "replaces_document_number": None,
            "method": "pickup",
            "status": "ready_for_pickup",
            "kecamatan_code": "36.02.14",
            "updated_at": "2026-11-28T09:00:00Z",
            "tracking": [],
            "flags": [],
        } | more
        self.shipments[shipment["id"]] = shipment
        return shipment

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls.append(request)
        path = request.url.path
        if request.method == "GET" and path == "/shipments":
            wanted = request.url.params.get("status")
            return httpx.Response(200, json=[s for s in self.shipments.values() if s["status"] == wanted])
        if request.method == "POST" and path.endswith("/collected"):
            shipment = self.shipments[path.split("/")[2]]
            body = json.loads(request.content)
            if body["collector_nik"].endswith("0000"):
                return error(
                    422,
                    "invalid_nik",
                    "collector_nik is not a valid NIK: serial 0000 / collector_nik bukan NIK yang sah: nomor urut 0000",
                )
            shipment["status"] = "collected"
            return httpx.Response(200, json=shipment)
        return error(404, "not_found", "Not found.")
