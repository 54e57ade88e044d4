"""The services' public HTTP APIs, as the portal calls them: for citizens, intake (catalogue, requests, e-KTP
bookings) and documents (verification, the holder's download); for the staff console, every service's staff API
with the signed-in member of staff's token and the reason they gave for looking (X-Access-Reason).

The portal calls on behalf of a citizen, so it says who the citizen is: their address in X-Forwarded-For (believed
only by a service told to trust the portal, as compose's are) and the request id, so one id follows a click through
every log. An access code goes in the header intake reads it from, never in a URL.
"""

import time
import unicodedata
from dataclasses import dataclass
from typing import Any

import httpx
import structlog

log = structlog.get_logger(__name__)


class ServiceUnavailable(Exception):
    """A service did not answer, or answered 5xx: the citizen is asked to try again shortly."""

    def __init__(self, service: str, reason: str) -> None:
        super().__init__(f"{service}: {reason}")
        self.service = service


class ServiceRefused(Exception):
    """A 4xx answer, with the service's error body (`{"error": {"code", "message", "details"}}`)."""

    def __init__(self, status: int, body: dict[str, Any], retry_after: str | None = None) -> None:
        error = body.get("error") or {}
        super().__init__(f"{status} {error.get('code')}")
        self.status = status
        self.body = body
        self.code: str = error.get("code") or "http_error"
        self.message: str = error.get("message") or ""
        self.retry_after = retry_after


@dataclass(frozen=True)
class Caller:
    """Who the portal calls for: the citizen's (or the member of staff's) address and the id of the HTTP request of
    their click (passed on as X-Request-ID); for staff, their token and why they look at a person's data."""

    address: str | None = None
    http_request_id: str | None = None
    token: str | None = None
    reason: str | None = None

    def headers(self) -> dict[str, str]:
        headers = {}
        if self.address:
            headers["X-Forwarded-For"] = self.address
        if self.http_request_id:
            headers["X-Request-ID"] = self.http_request_id
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        if self.reason:
            headers["X-Access-Reason"] = header_text(self.reason)
        return headers


def header_text(text: str) -> str:
    """A reason typed by a person as an HTTP header value: one line of printable ASCII (accents dropped)."""
    flat = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return " ".join("".join(c if c.isprintable() else " " for c in flat).split())[:300]


@dataclass(frozen=True)
class Download:
    content: bytes
    content_type: str
    filename: str


class _Api:
    service = ""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def _call(self, method: str, path: str, caller: Caller, **kwargs: Any) -> httpx.Response:
        headers = {**caller.headers(), **kwargs.pop("headers", {})}
        try:
            response = await self.http.request(method, path, headers=headers, **kwargs)
        except httpx.HTTPError as error:
            log.warning("service_unreachable", service=self.service, error=type(error).__name__)
            raise ServiceUnavailable(self.service, type(error).__name__) from None
        if response.status_code >= 500:
            log.warning("service_failed", service=self.service, status=response.status_code)
            raise ServiceUnavailable(self.service, f"HTTP {response.status_code}")
        if response.status_code >= 400:
            try:
                body = response.json()
            except ValueError:
                body = {}
            raise ServiceRefused(
                response.status_code, body if isinstance(body, dict) else {}, response.headers.get("Retry-After")
            )
        return response

    async def ready(self) -> bool:
        try:
            return (await self.http.get("/healthz", timeout=2.0)).status_code == 200
        except httpx.HTTPError:
            return False


class IntakeApi(_Api):
    service = "intake"

    def __init__(self, http: httpx.AsyncClient, *, catalogue_cache_seconds: float = 60.0) -> None:
        super().__init__(http)
        self._catalogue: list[dict[str, Any]] | None = None
        self._catalogue_read_at = 0.0
        self._cache_seconds = catalogue_cache_seconds

    async def catalogue(self, caller: Caller) -> list[dict[str, Any]]:
        """`GET /services`, kept for a minute: it changes with a release, not with a request."""
        if self._catalogue is None or time.monotonic() - self._catalogue_read_at > self._cache_seconds:
            self._catalogue = (await self._call("GET", "/services", caller)).json()
            self._catalogue_read_at = time.monotonic()
        return self._catalogue

    async def submit(self, body: dict[str, Any], caller: Caller, *, idempotency_key: str) -> dict[str, Any]:
        response = await self._call(
            "POST", "/requests", caller, json=body, headers={"Idempotency-Key": idempotency_key}
        )
        return response.json()

    async def follow(self, number: str, access_code: str, caller: Caller) -> dict[str, Any]:
        response = await self._call(
            "POST", "/requests/follow", caller, json={"number": number, "access_code": access_code}
        )
        return response.json()

    async def resend_access_code(self, number: str, caller: Caller) -> None:
        await self._call("POST", "/requests/access-code", caller, json={"number": number})

    async def upload(
        self,
        request_id: str,
        access_code: str,
        *,
        kind: str,
        filename: str,
        content_type: str,
        content: bytes,
        caller: Caller,
    ) -> dict[str, Any]:
        response = await self._call(
            "POST",
            f"/requests/{request_id}/attachments",
            caller,
            headers={"X-Access-Code": access_code},
            data={"kind": kind},
            files={"file": (filename, content, content_type)},
        )
        return response.json()

    async def cancel(self, request_id: str, access_code: str, reason: str | None, caller: Caller) -> dict[str, Any]:
        body = {"reason": reason} if reason else {}
        response = await self._call(
            "POST", f"/requests/{request_id}/cancel", caller, headers={"X-Access-Code": access_code}, json=body
        )
        return response.json()

    async def resubmit(self, request_id: str, access_code: str, note: str | None, caller: Caller) -> dict[str, Any]:
        body = {"note": note} if note else {}
        response = await self._call(
            "POST", f"/requests/{request_id}/resubmit", caller, headers={"X-Access-Code": access_code}, json=body
        )
        return response.json()

    async def book_recording(self, body: dict[str, Any], caller: Caller) -> dict[str, Any]:
        return (await self._call("POST", "/perekaman-bookings", caller, json=body)).json()

    async def open_follow_on(self, draft_id: str, token: str, caller: Caller) -> dict[str, Any]:
        """A follow-on draft its link opens: the token goes in the body, never in a URL."""
        return (await self._call("POST", f"/follow-ons/{draft_id}/open", caller, json={"token": token})).json()

    async def confirm_follow_on(self, draft_id: str, token: str, caller: Caller) -> dict[str, Any]:
        return (await self._call("POST", f"/follow-ons/{draft_id}/confirm", caller, json={"token": token})).json()


class DocumentsApi(_Api):
    service = "documents"

    async def verify_code(self, token: str, caller: Caller) -> dict[str, Any]:
        return (await self._call("GET", f"/verify/{token}", caller)).json()

    async def verify_file(self, filename: str, content: bytes, caller: Caller) -> dict[str, Any]:
        files = {"file": (filename, content, "application/pdf")}
        return (await self._call("POST", "/verify", caller, files=files)).json()

    async def download(self, pdf_url: str, caller: Caller) -> Download:
        """The holder's PDF through the link intake handed out (a short-lived grant for this one document). The link
        names the documents service's public address; the portal asks its own address for the same path."""
        url = httpx.URL(pdf_url)
        response = await self._call("GET", url.raw_path.decode("ascii"), caller)
        number = url.path.rsplit("/", 2)[-2] if url.path.endswith("/pdf") else "dokumen"
        return Download(
            content=response.content,
            content_type=response.headers.get("Content-Type", "application/pdf"),
            filename=f"dokumen-{number[:8]}.pdf",
        )


class StaffIntakeApi(_Api):
    """Intake's staff side: sign-in, requests, scans, incidents, statistics, accounts and agencies."""

    service = "intake"

    async def sign_in(self, username: str, password: str, caller: Caller) -> dict[str, Any]:
        data = {"username": username, "password": password, "grant_type": "password"}
        return (await self._call("POST", "/auth/token", caller, data=data)).json()

    async def me(self, caller: Caller) -> dict[str, Any]:
        return (await self._call("GET", "/auth/me", caller)).json()

    async def sign_out(self, caller: Caller) -> None:
        await self._call("POST", "/auth/sign-out", caller)

    async def request(self, request_id: str, caller: Caller) -> dict[str, Any]:
        return (await self._call("GET", f"/requests/{request_id}", caller)).json()

    async def requests(self, params: dict[str, Any], caller: Caller) -> list[dict[str, Any]]:
        return (await self._call("GET", "/requests", caller, params=params)).json()

    async def submit(self, body: dict[str, Any], caller: Caller, *, idempotency_key: str) -> dict[str, Any]:
        response = await self._call(
            "POST", "/requests", caller, json=body, headers={"Idempotency-Key": idempotency_key}
        )
        return response.json()

    async def upload(
        self, request_id: str, *, kind: str, filename: str, content_type: str, content: bytes, caller: Caller
    ) -> dict[str, Any]:
        response = await self._call(
            "POST",
            f"/requests/{request_id}/attachments",
            caller,
            data={"kind": kind},
            files={"file": (filename, content, content_type)},
        )
        return response.json()

    async def follow_ons(self, params: dict[str, Any], caller: Caller) -> list[dict[str, Any]]:
        return (await self._call("GET", "/follow-ons", caller, params=params)).json()

    async def confirm_follow_on(self, draft_id: str, caller: Caller) -> dict[str, Any]:
        return (await self._call("POST", f"/follow-ons/{draft_id}/confirm-at-counter", caller, json={})).json()

    async def renew_access_code(self, request_id: str, caller: Caller) -> dict[str, Any]:
        return (await self._call("POST", f"/requests/{request_id}/access-code/renew", caller)).json()

    async def scan(self, request_id: str, attachment_id: str, caller: Caller) -> Download:
        response = await self._call("GET", f"/requests/{request_id}/attachments/{attachment_id}", caller)
        return Download(
            content=response.content,
            content_type=response.headers.get("Content-Type", "application/octet-stream").split(";")[0].strip(),
            filename=f"berkas-{attachment_id[:8]}",
        )

    async def incidents(self, *, open_: bool, caller: Caller) -> list[dict[str, Any]]:
        params = {"open": "true" if open_ else "false"}
        return (await self._call("GET", "/incidents", caller, params=params)).json()

    async def request_counts(self, params: dict[str, Any], caller: Caller) -> dict[str, Any]:
        return (await self._call("GET", "/statistics/requests", caller, params=params)).json()

    async def lead_times(self, params: dict[str, Any], caller: Caller) -> dict[str, Any]:
        return (await self._call("GET", "/statistics/lead-times", caller, params=params)).json()

    async def accounts(self, caller: Caller) -> list[dict[str, Any]]:
        return (await self._call("GET", "/accounts", caller)).json()

    async def create_account(self, body: dict[str, Any], caller: Caller) -> dict[str, Any]:
        return (await self._call("POST", "/accounts", caller, json=body)).json()

    async def change_account(self, username: str, body: dict[str, Any], caller: Caller) -> dict[str, Any]:
        return (await self._call("PATCH", f"/accounts/{username}", caller, json=body)).json()

    async def agency_event_types(self, caller: Caller) -> list[dict[str, Any]]:
        return (await self._call("GET", "/agencies/event-types", caller)).json()

    async def agencies(self, caller: Caller) -> list[dict[str, Any]]:
        return (await self._call("GET", "/agencies", caller)).json()

    async def onboard_agency(self, body: dict[str, Any], caller: Caller) -> dict[str, Any]:
        return (await self._call("POST", "/agencies", caller, json=body)).json()

    async def offboard_agency(self, name: str, caller: Caller) -> dict[str, Any]:
        return (await self._call("DELETE", f"/agencies/{name}", caller)).json()

    async def replay_to_agency(self, name: str, body: dict[str, Any], caller: Caller) -> dict[str, Any]:
        return (await self._call("POST", f"/agencies/{name}/replays", caller, json=body)).json()


class ReviewApi(_Api):
    service = "review"

    async def queue(self, params: dict[str, Any], caller: Caller) -> list[dict[str, Any]]:
        return (await self._call("GET", "/reviews", caller, params=params)).json()

    async def review(self, request_id: str, caller: Caller) -> dict[str, Any]:
        return (await self._call("GET", f"/reviews/{request_id}", caller)).json()

    async def audit(self, request_id: str, caller: Caller) -> list[dict[str, Any]]:
        return (await self._call("GET", f"/reviews/{request_id}/audit", caller)).json()

    async def act(self, request_id: str, action: str, body: dict[str, Any], caller: Caller) -> dict[str, Any]:
        """claim, release, approve, reject or request-information."""
        return (await self._call("POST", f"/reviews/{request_id}/{action}", caller, json=body)).json()

    async def overdue(self, params: dict[str, Any], caller: Caller) -> dict[str, Any]:
        return (await self._call("GET", "/statistics/overdue", caller, params=params)).json()


class ShippingApi(_Api):
    service = "shipping"

    async def shipments(self, params: dict[str, Any], caller: Caller) -> list[dict[str, Any]]:
        return (await self._call("GET", "/shipments", caller, params=params)).json()

    async def shipment(self, shipment_id: str, caller: Caller) -> dict[str, Any]:
        return (await self._call("GET", f"/shipments/{shipment_id}", caller)).json()

    async def collected(self, shipment_id: str, body: dict[str, Any], caller: Caller) -> dict[str, Any]:
        return (await self._call("POST", f"/shipments/{shipment_id}/collected", caller, json=body)).json()


class StaffDocumentsApi(_Api):
    service = "documents"

    async def for_request(self, request_id: str, caller: Caller) -> list[dict[str, Any]]:
        return (await self._call("GET", "/documents", caller, params={"request_id": request_id})).json()

    async def document(self, document_id: str, caller: Caller) -> dict[str, Any]:
        return (await self._call("GET", f"/documents/{document_id}", caller)).json()

    async def pdf(self, document_id: str, caller: Caller) -> Download:
        response = await self._call("GET", f"/documents/{document_id}/pdf", caller)
        return Download(content=response.content, content_type="application/pdf", filename=f"{document_id}.pdf")

    async def revoke(self, document_id: str, body: dict[str, Any], caller: Caller) -> dict[str, Any]:
        return (await self._call("POST", f"/documents/{document_id}/revoke", caller, json=body)).json()

    async def correct(self, document_id: str, body: dict[str, Any], caller: Caller) -> dict[str, Any]:
        return (await self._call("POST", f"/documents/{document_id}/corrections", caller, json=body)).json()


class DeadLettersApi(_Api):
    """One service's dead letters (every service has the same API)."""

    def __init__(self, http: httpx.AsyncClient, service: str) -> None:
        super().__init__(http)
        self.service = service

    async def letters(self, status: str, caller: Caller) -> list[dict[str, Any]]:
        return (await self._call("GET", "/dead-letters", caller, params={"status": status})).json()

    async def replay(self, letter_id: str, note: str | None, caller: Caller) -> dict[str, Any]:
        body = {"note": note} if note else {}
        return (await self._call("POST", f"/dead-letters/{letter_id}/replay", caller, json=body)).json()

    async def discard(self, letter_id: str, reason: str, caller: Caller) -> dict[str, Any]:
        return (await self._call("POST", f"/dead-letters/{letter_id}/discard", caller, json={"reason": reason})).json()
