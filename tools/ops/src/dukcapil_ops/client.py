"""The operators' HTTP client: signs in at intake and calls the services' APIs as a member of staff."""

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SERVICES: dict[str, int] = {"intake": 8001, "review": 8002, "documents": 8003, "shipping": 8004}


class OpsError(Exception):
    """Something the operator should read; the command exits with status 1."""


@dataclass(frozen=True)
class Response:
    status: int
    body: Any


Send = Callable[[str, str, Mapping[str, str], bytes | None, float], Response]
"""(method, url, headers, body, timeout) → the answer; urllib by default, an ASGI app in tests."""


def urllib_send(method: str, url: str, headers: Mapping[str, str], data: bytes | None, timeout: float) -> Response:
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return Response(answer.status, _json(answer.read()))
    except urllib.error.HTTPError as error:
        return Response(error.code, _json(error.read()))
    except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
        reason = getattr(error, "reason", error)
        raise OpsError(f"cannot reach {url}: {reason}") from error


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode("utf-8", errors="replace")


def service_urls(environ: Mapping[str, str], overrides: Mapping[str, str] | None = None) -> dict[str, str]:
    """Each service's base URL: the override, else DUKCAPIL_<SERVICE>_URL, else its local port."""
    overrides = overrides or {}
    return {
        service: overrides.get(service) or environ.get(f"DUKCAPIL_{service.upper()}_URL") or f"http://127.0.0.1:{port}"
        for service, port in SERVICES.items()
    }


def sign_in(intake_url: str, user: str, password: str, *, send: Send, timeout: float) -> str:
    """A token from intake's POST /auth/token (the OAuth2 password flow)."""
    form = urllib.parse.urlencode({"grant_type": "password", "username": user, "password": password}).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    response = send("POST", intake_url.rstrip("/") + "/auth/token", headers, form, timeout)
    if response.status != 200:
        raise OpsError(f"signing in as {user} failed: {problem(response)}")
    return str(response.body["access_token"])


class OpsClient:
    def __init__(
        self,
        *,
        urls: Mapping[str, str],
        token: str,
        reason: str | None,
        timeout: float = 30.0,
        send: Send = urllib_send,
    ) -> None:
        self._urls = urls
        self._token = token
        self._reason = reason
        self._timeout = timeout
        self._send = send

    def call(
        self, service: str, method: str, path: str, body: Any = None, query: Mapping[str, Any] | None = None
    ) -> Response:
        url = self._urls[service].rstrip("/") + path
        if query:
            url += "?" + urllib.parse.urlencode({key: value for key, value in query.items() if value is not None})
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        if self._reason:
            headers["X-Access-Reason"] = self._reason
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body).encode()
        return self._send(method, url, headers, data, self._timeout)

    def expect(self, service: str, method: str, path: str, body: Any = None, **query: Any) -> Any:
        response = self.call(service, method, path, body, query)
        if response.status >= 400:
            raise OpsError(f"{service}: {problem(response)}")
        return response.body

    def find_letter(self, letter_id: str, services: Sequence[str]) -> tuple[str, dict[str, Any]]:
        """The service that holds the dead letter, and the letter; services that cannot be reached are skipped."""
        unreachable = []
        for service in services:
            try:
                response = self.call(service, "GET", f"/dead-letters/{letter_id}")
            except OpsError as error:
                unreachable.append(str(error))
                continue
            if response.status == 200:
                return service, response.body
            if response.status != 404:
                raise OpsError(f"{service}: {problem(response)}")
        also = f" ({'; '.join(unreachable)})" if unreachable else ""
        raise OpsError(f"no dead letter {letter_id} at {', '.join(services)}{also}")


def problem(response: Response) -> str:
    """An error answer in one line: status, code, message and each detail."""
    body = response.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        details = "; ".join(f"{d.get('field')}: {d.get('message')}" for d in error.get("details") or [])
        return f"{response.status} {error.get('code')}: {error.get('message')}" + (f" ({details})" if details else "")
    return f"{response.status}: {body}"
