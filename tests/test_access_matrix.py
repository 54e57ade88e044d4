"""Who may call what: every endpoint of every service against every role, and without a token.

The table below is written out by hand, independently of the roles' scopes in `dukcapil_shared.auth.roles`, so
a change to either shows up here. Each cell calls the real service app (its routes, dependencies and database,
migrated; no broker) with a token of that role and dummy ids, and checks only the door: refused (401 without a
token, 403 with a role that lacks the scope) or let through (any other answer: 200, 404 for the dummy id, 422
for the empty body...). Every route a service has must be in the table, so a new endpoint cannot slip in
unguarded.
"""

import uuid
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from dukcapil_intake.requests.domain.access_codes import AccessCodes
from dukcapil_shared.auth.roles import Role
from dukcapil_shared.db import migrate
from dukcapil_testing import staff_headers

from .service_apps import build_service_app

OP, REV, SUP, DOC, SHIP, ADM = (
    Role.KECAMATAN_OPERATOR,
    Role.REVIEWER,
    Role.SUPERVISOR,
    Role.DOCUMENT_OFFICER,
    Role.SHIPPING_OFFICER,
    Role.ADMIN,
)
STAFF = frozenset(Role)
CITIZEN = "citizen"  # no token; where a request is acted on, its access code (well formed, for no request here)
A_CODE = {"X-Access-Code": str(AccessCodes(b"access-matrix-key-16").of(uuid.uuid4(), 1))}
EVERYONE = STAFF | {CITIZEN}

READ_REQUESTS = {OP, REV, SUP, DOC, SHIP}
READ_REVIEWS = {REV, SUP}
READ_DOCUMENTS = {REV, SUP, DOC}
READ_SHIPMENTS = {OP, SUP, SHIP}
INCIDENTS = {SUP, SHIP, ADM}
STATISTICS = {OP, SUP, ADM}  # an operator: their own kecamatan's figures
OPERATIONS = {SUP, ADM}

# (service, method, path): who gets through. Endpoints citizens use without an account admit a token only when
# its role may act there (a kecamatan operator submitting for a citizen).
ALLOWED: dict[tuple[str, str, str], set[Any] | frozenset[Any]] = {
    ("intake", "GET", "/services"): EVERYONE,
    ("intake", "GET", "/services/{code}"): EVERYONE,
    ("intake", "POST", "/requests"): {CITIZEN, OP},
    ("intake", "GET", "/requests"): READ_REQUESTS,
    ("intake", "POST", "/requests/follow"): EVERYONE,
    ("intake", "POST", "/requests/access-code"): EVERYONE,
    ("intake", "POST", "/requests/{request_id}/access-code/renew"): {OP},
    ("intake", "GET", "/requests/{request_id}"): READ_REQUESTS,
    ("intake", "POST", "/requests/{request_id}/attachments"): {CITIZEN, OP},
    ("intake", "GET", "/requests/{request_id}/attachments/{attachment_id}"): {OP, REV, SUP},
    ("intake", "GET", "/requests/{request_id}/notifications"): READ_REQUESTS,
    ("intake", "POST", "/requests/{request_id}/cancel"): {CITIZEN, OP},
    ("intake", "POST", "/requests/{request_id}/resubmit"): {CITIZEN, OP},
    # A follow-on draft: the family opens and confirms it with its link's token (in the body), the counter with a token.
    ("intake", "POST", "/follow-ons/{draft_id}/open"): EVERYONE,
    ("intake", "POST", "/follow-ons/{draft_id}/confirm"): EVERYONE,
    ("intake", "GET", "/follow-ons"): READ_REQUESTS,
    ("intake", "GET", "/follow-ons/{draft_id}"): READ_REQUESTS,
    ("intake", "POST", "/follow-ons/{draft_id}/confirm-at-counter"): {OP},
    ("intake", "POST", "/perekaman-bookings"): EVERYONE,
    ("intake", "GET", "/perekaman-bookings/{booking_id}"): EVERYONE,
    ("intake", "GET", "/perekaman-bookings/{booking_id}/notifications"): READ_REQUESTS,
    ("intake", "GET", "/incidents"): INCIDENTS,
    ("intake", "GET", "/requests/{request_id}/incident"): INCIDENTS,
    ("intake", "GET", "/statistics/requests"): STATISTICS,
    ("intake", "GET", "/statistics/lead-times"): STATISTICS,
    ("intake", "POST", "/people/export"): {SUP},
    ("intake", "POST", "/auth/token"): EVERYONE,
    ("intake", "GET", "/auth/me"): STAFF,
    ("intake", "POST", "/auth/sign-out"): STAFF,
    ("intake", "GET", "/.well-known/jwks.json"): EVERYONE,
    ("intake", "GET", "/accounts"): {ADM},
    ("intake", "POST", "/accounts"): {ADM},
    ("intake", "PATCH", "/accounts/{username}"): {ADM},
    ("intake", "GET", "/agencies/event-types"): {ADM},
    ("intake", "GET", "/agencies"): {ADM},
    ("intake", "POST", "/agencies"): {ADM},
    ("intake", "DELETE", "/agencies/{name}"): {ADM},
    ("intake", "POST", "/agencies/{name}/replays"): {ADM},
    ("review", "GET", "/reviews"): READ_REVIEWS,
    ("review", "GET", "/reviews/{request_id}"): READ_REVIEWS,
    ("review", "GET", "/reviews/{request_id}/audit"): READ_REVIEWS,
    ("review", "POST", "/reviews/{request_id}/claim"): {REV, SUP},
    ("review", "POST", "/reviews/{request_id}/release"): {REV, SUP},
    ("review", "POST", "/reviews/{request_id}/approve"): {REV, SUP},
    ("review", "POST", "/reviews/{request_id}/reject"): {REV, SUP},
    ("review", "POST", "/reviews/{request_id}/request-information"): {REV, SUP},
    ("review", "GET", "/statistics/overdue"): STATISTICS,
    ("documents", "GET", "/documents"): READ_DOCUMENTS,
    ("documents", "GET", "/documents/{document_id}"): READ_DOCUMENTS,
    # Without a token the holder fetches it with the download link intake gives for the request's access code
    # (tested in documents' own tests and tests/security); without either, the door is shut.
    ("documents", "GET", "/documents/{document_id}/pdf"): READ_DOCUMENTS,
    ("documents", "POST", "/documents/{document_id}/revoke"): {DOC},
    ("documents", "POST", "/documents/{document_id}/corrections"): {DOC},
    ("documents", "GET", "/verify/{token}"): EVERYONE,
    ("documents", "POST", "/verify"): EVERYONE,
    ("documents", "GET", "/signing-keys"): EVERYONE,
    ("shipping", "GET", "/shipments"): READ_SHIPMENTS,
    ("shipping", "GET", "/shipments/{shipment_id}"): READ_SHIPMENTS,
    ("shipping", "POST", "/shipments/{shipment_id}/collected"): {OP, SHIP},
    ("shipping", "POST", "/shipments/{shipment_id}/rebook"): {OP, SHIP},
}
# On every service.
for _service in ("intake", "review", "documents", "shipping"):
    ALLOWED |= {
        (_service, "GET", "/healthz"): EVERYONE,
        (_service, "GET", "/readyz"): EVERYONE,
        (_service, "GET", "/asyncapi.json"): EVERYONE,
        (_service, "GET", "/dead-letters"): OPERATIONS,
        (_service, "GET", "/dead-letters/{letter_id}"): OPERATIONS,
        (_service, "POST", "/dead-letters/replay"): OPERATIONS,
        (_service, "POST", "/dead-letters/{letter_id}/replay"): OPERATIONS,
        (_service, "POST", "/dead-letters/{letter_id}/discard"): OPERATIONS,
    }

DUMMY = {
    "code": "biodata_wni",
    "token": "unknown-token",
    "username": "nobody",
    "name": "NOT-AN-AGENCY",  # refused before the broker's management API is asked
}


@pytest.fixture(scope="module")
async def apps(tmp_path_factory: pytest.TempPathFactory) -> dict[str, FastAPI]:
    workdir = tmp_path_factory.mktemp("access-matrix")
    built = {}
    for service in ("intake", "review", "documents", "shipping"):
        app = build_service_app(service, workdir)
        runtime = app.state.runtime
        await migrate(runtime.engine, f"dukcapil_{service}:migrations")
        built[service] = app
    return built


def _routes(app: FastAPI) -> set[tuple[str, str]]:
    """Every operation the service publishes in its OpenAPI document (FastAPI's own documentation pages aside)."""
    return {(method.upper(), path) for path, operations in app.openapi()["paths"].items() for method in operations}


async def test_every_route_of_every_service_is_in_the_table(apps: dict[str, FastAPI]) -> None:
    for service, app in apps.items():
        routes = _routes(app)
        listed = {(method, path) for (owner, method, path) in ALLOWED if owner == service}
        assert routes - listed == set(), f"{service}: endpoints missing from the access table"
        assert listed - routes == set(), f"{service}: the table lists endpoints the service does not have"


CELLS = [
    pytest.param(service, method, path, who, id=f"{service} {method} {path} as {who}")
    for (service, method, path) in ALLOWED
    for who in [CITIZEN, *Role]
]


@pytest.mark.parametrize(("service", "method", "path", "who"), CELLS)
async def test_each_role_gets_through_exactly_where_the_table_says(
    apps: dict[str, FastAPI], service: str, method: str, path: str, who: Any
) -> None:
    url = path.format_map({**DUMMY, **{name: str(uuid.uuid4()) for name in _id_names(path)}})
    headers = A_CODE if who == CITIZEN else staff_headers(who, username=f"matrix.{who.value}")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=apps[service]), base_url="http://matrix") as client:
        response = await client.request(method, url, headers=headers, json={} if method != "GET" else None)
    allowed = who in ALLOWED[(service, method, path)]
    body = response.json() if _is_json(response) else None
    code = body["error"]["code"] if isinstance(body, dict) and "error" in body else None
    if allowed:
        assert response.status_code not in (401, 403), f"{who} was refused: {response.status_code} {response.text}"
        # No broker in this test: readiness says so; anything else must not fail on our side.
        assert response.status_code < 500 or path == "/readyz", f"{response.status_code} {response.text}"
    elif who == CITIZEN:
        assert response.status_code == 401, f"no token got {response.status_code} {response.text}"
        assert code in ("not_authenticated", "authentication_required"), response.text
    else:
        assert response.status_code == 403 and code == "insufficient_scope", f"{response.status_code} {response.text}"


def _id_names(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{") and part[1:-1] not in DUMMY]


def _is_json(response: httpx.Response) -> bool:
    return response.headers.get("content-type", "").startswith("application/json")
