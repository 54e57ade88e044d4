"""HTTP: an access log line per request, the HTTP request's id in every log line written while serving it, HTTP
metrics by route template, and GET /metrics.

The HTTP request's id is `http_request_id` in the logs (`X-Request-ID` on the wire), never `request_id`, which is
the citizen's service request. The access log names the route template (`/requests/{request_id}`), never the path
with a number or a NIK in it, and never the query string.

GET /metrics answers without a token, as Prometheus expects. It shows no personal data, but it does show how
busy the office is: keep it on the internal network. The compose gateway refuses it (404).
"""

import re
import time
import uuid
from typing import Any

import structlog
from fastapi import APIRouter, FastAPI, Request, Response
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dukcapil_shared.observability.metrics import UNMATCHED_ROUTE, ServiceMetrics

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_SCOPE_KEY = "dukcapil.http_request_id"
# A caller's id is honoured when it looks like an id (a proxy's, a client's): up to 128 characters of letters,
# digits and - _ . : — anything else (free text, a line break for forging log lines) gets a new one.
_ACCEPTABLE_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def http_request_id_of(scope: Scope) -> str | None:
    """The id the middleware gave this HTTP request (for log lines written outside it, e.g. unhandled errors)."""
    return scope.get(REQUEST_ID_SCOPE_KEY)


class HttpObservabilityMiddleware:
    """Per HTTP request: its id (the caller's X-Request-ID when acceptable, else a new UUID) bound to the logs as
    http_request_id and echoed in the response, its duration recorded by method, route template and status, and one
    access log line (`http_request`) with the same, whatever the status."""

    def __init__(self, app: ASGIApp, *, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        http_request_id = _request_id(scope)
        scope[REQUEST_ID_SCOPE_KEY] = http_request_id
        status_code = 500  # what the client gets when the app raises before answering

        async def send_with_request_id(message: Message) -> None:
            nonlocal status_code
            if message["type"] == "http.response.start":
                status_code = message["status"]
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = http_request_id
            await send(message)

        started = time.perf_counter()
        try:
            with structlog.contextvars.bound_contextvars(http_request_id=http_request_id):
                await self.app(scope, receive, send_with_request_id)
        finally:
            seconds = time.perf_counter() - started
            route = route_template(scope)
            self.metrics.observe_http(method=scope["method"], route=route, status_code=status_code, seconds=seconds)
            # A logger of the moment, not one cached at import: each line goes where logging is configured now.
            structlog.get_logger("dukcapil.access").info(
                "http_request",
                method=scope["method"],
                route=route,
                status=status_code,
                duration_ms=round(seconds * 1000, 1),
                http_request_id=http_request_id,
            )


def route_template(scope: Scope) -> str:
    """`/requests/{request_id}`, not the path with the id in it. FastAPI puts the matched route in the scope; its
    path lacks a prefix given to `include_router` (our services give none: a test checks the labels against the
    OpenAPI paths)."""
    route: Any = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return template if isinstance(template, str) else UNMATCHED_ROUTE


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            if _ACCEPTABLE_REQUEST_ID.fullmatch(candidate):
                return candidate
            break
    return str(uuid.uuid4())


def install(app: FastAPI, metrics: ServiceMetrics) -> None:
    """The middleware and GET /metrics (left out of the OpenAPI document: it is for Prometheus, not callers)."""
    app.add_middleware(HttpObservabilityMiddleware, metrics=metrics)
    router = APIRouter()

    @router.get("/metrics", include_in_schema=False)
    async def prometheus_metrics(request: Request) -> Response:
        body, content_type = await metrics.exposition(request.headers.get("accept", ""))
        return Response(body, headers={"Content-Type": content_type})

    app.include_router(router)
