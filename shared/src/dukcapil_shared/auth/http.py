"""FastAPI dependencies for staff endpoints: a bearer token, the scope the endpoint needs, and, where a person's
data is shown, the reason for looking, recorded in the access log. Citizen endpoints take a rate limit instead.

    @router.get("/things/{id}")
    async def show(id: uuid.UUID, staff: Annotated[Principal, Depends(personal_data(Scope.THINGS_READ))]): ...
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

import structlog
from fastapi import FastAPI, Header, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from dukcapil_shared.auth.access import AccessLog, AccessRecord
from dukcapil_shared.auth.ratelimit import RateLimits
from dukcapil_shared.auth.roles import Scope
from dukcapil_shared.auth.tokens import InvalidToken, Principal, TokenVerifier
from dukcapil_shared.web import ApiError

_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="staffToken",
    description="A staff access token from intake's POST /auth/token (or the office's OpenID Connect provider)",
)

REASON_HEADER = "X-Access-Reason"
_REASON = Header(
    max_length=300,
    description="Why you open this person's data, e.g. 'review of 360214-20261128-0007'; recorded in the access log",
)


@dataclass
class StaffAuth:
    """What the dependencies below find in `app.state.auth`."""

    verifier: TokenVerifier
    access_log: AccessLog
    rate_limits: RateLimits
    citizen_rate: str = "30/minute"


def install_auth(app: FastAPI, auth: StaffAuth) -> None:
    app.state.auth = auth


def _auth(request: Request) -> StaffAuth:
    return request.app.state.auth


async def _authenticate(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Principal:
    if credentials is None:
        raise ApiError(
            401,
            "not_authenticated",
            "Staff only: sign in with POST /auth/token on intake and send the token as Authorization: Bearer <token>.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        principal = await _auth(request).verifier.verify(credentials.credentials)
    except InvalidToken as error:
        raise ApiError(
            401, "invalid_token", f"The token was refused: {error}.", headers={"WWW-Authenticate": "Bearer"}
        ) from None
    structlog.contextvars.bind_contextvars(username=principal.username, role=principal.role.value)
    return principal


def _authorise(principal: Principal, scope: Scope) -> None:
    if scope not in principal.scopes:
        raise ApiError(
            403,
            "insufficient_scope",
            f"A {principal.role.value} may not do this: it needs the {scope.value} scope.",
            required_scope=scope.value,
        )


async def signed_in(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None
) -> Principal:
    """Any member of staff with a valid token."""
    return await _authenticate(request, credentials)


def staff(scope: Scope) -> Callable[..., Awaitable[Principal]]:
    """A member of staff whose role holds `scope`."""

    async def dependency(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None
    ) -> Principal:
        principal = await _authenticate(request, credentials)
        _authorise(principal, scope)
        return principal

    return dependency


def personal_data(scope: Scope) -> Callable[..., Awaitable[Principal]]:
    """A member of staff whose role holds `scope`, opening a person's data for the reason given in
    X-Access-Reason; the access is recorded before the data is read."""

    async def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
        x_access_reason: Annotated[str | None, _REASON] = None,
    ) -> Principal:
        principal = await _authenticate(request, credentials)
        await _record_access(request, principal, scope, x_access_reason)
        return principal

    return dependency


def optional_personal_data(scope: Scope) -> Callable[..., Awaitable[Principal | None]]:
    """As `personal_data`, but None when no token is sent (the endpoint then serves citizens its own way)."""

    async def dependency(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None,
        x_access_reason: Annotated[str | None, _REASON] = None,
    ) -> Principal | None:
        if credentials is None:
            return None
        principal = await _authenticate(request, credentials)
        await _record_access(request, principal, scope, x_access_reason)
        return principal

    return dependency


async def _record_access(request: Request, principal: Principal, scope: Scope, reason: str | None) -> None:
    _authorise(principal, scope)
    reason = (reason or "").strip()
    if len(reason) < 3:
        raise ApiError(
            400,
            "access_reason_required",
            f"This shows a person's data: say why you open it in the {REASON_HEADER} header "
            "(e.g. 'review of 360214-20261128-0007'); it is recorded with your user name.",
        )
    await _auth(request).access_log.record(
        AccessRecord(
            username=principal.username,
            role=principal.role.value,
            scope=scope.value,
            method=request.method,
            path=request.url.path,
            reason=reason,
        )
    )


def optional_staff(scope: Scope) -> Callable[..., Awaitable[Principal | None]]:
    """None for a citizen (no token); for a token, a member of staff whose role holds `scope`."""

    async def dependency(
        request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Security(_bearer)] = None
    ) -> Principal | None:
        if credentials is None:
            return None
        principal = await _authenticate(request, credentials)
        _authorise(principal, scope)
        return principal

    return dependency


def limit_to_own_kecamatan(principal: Principal, asked: str | None) -> str | None:
    """The kecamatan a query is limited to: the one asked for; for staff bound to a kecamatan, always their own
    (asking for another is refused)."""
    if not principal.kecamatan_bound:
        return asked
    if asked is not None and not principal.serves(asked):
        raise ApiError(
            403, "outside_your_kecamatan", f"You serve kecamatan {principal.kecamatan_code}: leave out kecamatan."
        )
    return principal.kecamatan_code


def rate_limited(name: str, rate: Callable[[Request], str] | None = None) -> Callable[..., Awaitable[None]]:
    """At most `rate` (e.g. "20/minute"; by default the service's citizen rate) calls of `name` per client
    address."""

    async def dependency(request: Request) -> None:
        auth = _auth(request)
        await auth.rate_limits.hit(name, rate(request) if rate else auth.citizen_rate, client_address(request))

    return dependency


def client_address(request: Request) -> str:
    """The caller's address: the one a trusted proxy forwarded, else the connection's (uvicorn applies
    X-Forwarded-For only for the proxies in FORWARDED_ALLOW_IPS, so a client cannot choose it)."""
    return request.client.host if request.client else "unknown"


def rate_limits(request: Request) -> RateLimits:
    """The service's limit store, for limits counted per target (a request number, a NIK, a document)."""
    return _auth(request).rate_limits
