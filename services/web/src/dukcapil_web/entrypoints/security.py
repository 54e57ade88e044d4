"""What every page gets: the session, security headers (a strict Content-Security-Policy), and CSRF protection.

CSRF: the synchronizer-token pattern (OWASP's first recommendation): a random token kept in the server-side
session, put in every form as a hidden field (and in htmx's requests as the X-CSRF-Token header, from a meta tag),
and compared in constant time on every POST. A cross-site request is also refused by what the browser says about
it (Sec-Fetch-Site, Origin). The session cookie is SameSite=Lax besides, so a cross-site POST does not even carry it.
"""

import hmac
import secrets
from http.cookies import CookieError, SimpleCookie
from urllib.parse import urlsplit

from fastapi import Request
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dukcapil_web.adapters.sessions import Session, Sessions

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; manifest-src 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}
SESSION_COOKIE = "sesi"
SECURE_SESSION_COOKIE = "__Host-sesi"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


class CsrfRefused(Exception):
    pass


def is_https(scope: Scope) -> bool:
    return scope.get("scheme") == "https"


class PortalMiddleware:
    """Loads the session before the page and saves it after; adds the security headers to every answer, and
    `Cache-Control: no-store` to every page (a page may show an access code)."""

    def __init__(self, app: ASGIApp, *, sessions: Sessions, cookie_secure: bool | None) -> None:
        self.app = app
        self.sessions = sessions
        self.cookie_secure = cookie_secure

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        secure = self.cookie_secure if self.cookie_secure is not None else is_https(scope)
        name = SECURE_SESSION_COOKIE if secure else SESSION_COOKIE
        session = await self.sessions.load(_cookie(scope, name))
        scope.setdefault("state", {})["session"] = session
        static = scope["path"].startswith("/static/")

        async def send_with_session(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for header, value in SECURITY_HEADERS.items():
                    if header not in headers:  # a scan shown inside the console's page sets its own
                        headers[header] = value
                if not static:
                    headers["Cache-Control"] = "no-store"
                cookie = await self.sessions.save(session) if session.modified else None
                if session.session_id is not None and not session.modified:
                    await self.sessions.touch(session)
                if cookie is not None:
                    headers.append("Set-Cookie", _set_cookie(name, cookie, secure=secure))
            await send(message)

        await self.app(scope, receive, send_with_session)


def _cookie(scope: Scope, name: str) -> str | None:
    for header, value in scope.get("headers", ()):
        if header == b"cookie":
            jar: SimpleCookie = SimpleCookie()
            try:
                jar.load(value.decode("latin-1"))
            except CookieError:  # a malformed Cookie header is as good as none
                return None
            if name in jar:
                return jar[name].value
    return None


def _set_cookie(name: str, value: str, *, secure: bool) -> str:
    parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Lax"]
    if not value:
        parts.append("Max-Age=0")
    if secure:
        parts.append("Secure")
    return "; ".join(parts)


def session_of(request: Request) -> Session:
    return request.state.session


def csrf_token(request: Request) -> str:
    """The session's CSRF token, made when a page first needs one."""
    session = session_of(request)
    token = session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


async def check_csrf(request: Request) -> None:
    """Refuses a POST that does not carry the session's token, or that the browser says comes from another site."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        raise CsrfRefused("cross-site request")
    origin = request.headers.get("origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.headers.get("host", ""):
        raise CsrfRefused("foreign origin")
    expected = session_of(request).get("csrf")
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not isinstance(expected, str) or not sent or not hmac.compare_digest(expected, sent):
        raise CsrfRefused("token missing or wrong")


def safe_next(target: str | None) -> str:
    """A path on this site to go back to after switching the language; anything else goes home."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
