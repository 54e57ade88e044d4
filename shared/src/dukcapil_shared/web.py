"""HTTP conventions every service follows: the error body, request size limits, health, readiness and the
event catalogue."""

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dukcapil_shared.catalogue import ASYNCAPI_PATH
from dukcapil_shared.clock import Clock
from dukcapil_shared.contracts.text import message_id
from dukcapil_shared.observability.http import http_request_id_of
from dukcapil_shared.refusals import Problem, Refusal, RefusalKind

log = structlog.get_logger(__name__)


async def _clock(request: Request) -> Clock:
    return request.app.state.clock


ClockDep = Annotated[Clock, Depends(_clock)]
"""The clock the composition root put on `app.state.clock`."""


class ErrorDetail(BaseModel):
    field: str | None = Field(default=None, description="Where the problem is, e.g. body.applicant.nik")
    code: str = Field(description="Machine-readable code")
    message: str = Field(description="What is wrong and how to fix it")
    message_id: str | None = Field(default=None, description="The same in Indonesian, where there is one")


class ErrorBody(BaseModel):
    code: str = Field(description="Machine-readable code, e.g. invalid_request, not_found")
    message: str = Field(description="Human-readable explanation")
    details: list[ErrorDetail] = Field(default_factory=list)


class ErrorResponse(BaseModel):
    error: ErrorBody


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: list[ErrorDetail] | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []
        self.headers = dict(headers or {})
        self.extra = extra


def error_response(status: int, code: str, message: str, details: list[ErrorDetail] | None = None, **extra: Any):
    body: dict[str, Any] = {
        "code": code,
        "message": message,
        "details": [d.model_dump(exclude_none=True) for d in details or []],
    }
    body.update(extra)
    return JSONResponse(status_code=status, content={"error": body})


def document_error_responses(app: FastAPI) -> None:
    """Every error answer has the one error body above; the OpenAPI document says so. FastAPI would describe its
    own validation-error body for 422, which this API never sends, and nothing for 401, 403, 413, 429 or 503:
    each operation gets the error body for 422 and as its default response."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = generate()
        models = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(models.pop("$defs", {}))
        components["ErrorResponse"] = models
        error = {"description": "An error: see error.code", "content": {"application/json": {"schema": {
            "$ref": "#/components/schemas/ErrorResponse"}}}}  # fmt: skip
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                if "422" in responses:
                    responses["422"] = error | {"description": responses["422"].get("description", "Invalid input")}
                responses.setdefault("default", error)
        for unused in ("HTTPValidationError", "ValidationError"):
            components.pop(unused, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


STATUS_OF: Mapping[RefusalKind, int] = {
    RefusalKind.invalid: 422,
    RefusalKind.unauthorized: 401,
    RefusalKind.forbidden: 403,
    RefusalKind.not_found: 404,
    RefusalKind.conflict: 409,
    RefusalKind.too_large: 413,
    RefusalKind.rate_limited: 429,
    RefusalKind.unavailable: 503,
    RefusalKind.internal: 500,
}


def refusal_response(refusal: Refusal) -> JSONResponse:
    """The error body for a refusal: its message in English and, where there is one, Indonesian ("en / id"); its
    problems as the details, or else the field at fault as the one detail."""
    message = f"{refusal.message} / {refusal.message_id}" if refusal.message_id else refusal.message
    problems = refusal.problems
    if not problems and refusal.field:
        problems = (Problem(refusal.field, refusal.code, refusal.message, refusal.message_id),)
    details = [
        ErrorDetail(field=problem.field, code=problem.code, message=problem.message, message_id=problem.message_id)
        for problem in problems
    ]
    response = error_response(STATUS_OF[refusal.kind], refusal.code, message, details, **refusal.extra)
    response.headers.update(refusal.headers)
    return response


def install_error_handlers(app: FastAPI) -> None:
    document_error_responses(app)

    @app.exception_handler(Refusal)
    async def _refused(_request: Request, refusal: Refusal) -> JSONResponse:
        return refusal_response(refusal)

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, error: ApiError) -> JSONResponse:
        response = error_response(error.status, error.code, error.message, error.details, **error.extra)
        response.headers.update(error.headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, error: RequestValidationError) -> JSONResponse:
        details = [
            ErrorDetail(
                field=".".join(str(part) for part in item["loc"]),
                code=item["type"],
                message=item["msg"],
                message_id=message_id(item["type"], item.get("ctx")),
            )
            for item in error.errors()
        ]
        return error_response(
            422,
            "invalid_request",
            "The request is not valid: see details for each field to fix. / Permohonan tidak valid: lihat rincian "
            "untuk setiap isian yang perlu diperbaiki.",
            details,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, error: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        return error_response(error.status_code, code, str(error.detail))

    @app.exception_handler(OperationalError)
    @app.exception_handler(DBAPIError)
    async def _database_down(_request: Request, error: Exception) -> JSONResponse:
        log.error("database_unavailable", error=type(error).__name__)
        response = error_response(503, "database_unavailable", "The service's database is unavailable; retry shortly.")
        response.headers["Retry-After"] = "5"
        return response

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        # Starlette answers unhandled errors outside every middleware, after the request id was unbound.
        log.exception("unhandled_error", error=type(error).__name__, http_request_id=http_request_id_of(request.scope))
        return error_response(500, "internal_error", "Something went wrong on our side; the error was logged.")


class Readiness(BaseModel):
    ready: bool
    checks: dict[str, bool]
    reasons: dict[str, str] = Field(
        default_factory=dict, description="Why a failing check fails, where it says (e.g. a storage folder's)"
    )


def health_router(readiness: Callable[[], Awaitable[Mapping[str, bool | str]]]) -> APIRouter:
    """GET /healthz, and GET /readyz from `readiness`: each check True when it passes, else False or the reason."""
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="Database and broker reachable, consumers attached, storage writable",
        response_model=Readiness,
        responses={503: {"model": Readiness}},
    )
    async def readyz() -> JSONResponse:
        results = await readiness()
        checks = {name: result is True for name, result in results.items()}
        reasons = {name: result for name, result in results.items() if isinstance(result, str)}
        ready = all(checks.values())
        body = Readiness(ready=ready, checks=checks, reasons=reasons).model_dump(exclude_defaults=True)
        return JSONResponse(status_code=200 if ready else 503, content={"ready": ready, **body})

    return router


def catalogue_router(document: Callable[[], dict[str, Any]]) -> APIRouter:
    """The service's event catalogue, read-only. Nothing here publishes to the broker: no "try it" endpoint."""
    router = APIRouter(tags=["operations"])
    made: list[dict[str, Any]] = []

    @router.get(
        ASYNCAPI_PATH,
        summary="The event catalogue (AsyncAPI 3.0): the events this service consumes and publishes",
        response_model=dict[str, Any],
    )
    async def asyncapi() -> JSONResponse:
        if not made:
            made.append(document())
        return JSONResponse(made[0])

    return router


@dataclass(frozen=True)
class BodyLimit:
    """A route that takes a larger body than the service's default, e.g. an upload."""

    method: str
    path: str
    """The route's path template, e.g. /requests/{request_id}/attachments."""
    max_bytes: int


class NoSniff:
    """Adds `X-Content-Type-Options: nosniff` to every response: a browser takes each answer for the content type it
    declares (a scan served as an image stays an image, a JSON error stays JSON), never for what it guesses."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_header(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(name, value) for name, value in message.get("headers", []) if name != _NOSNIFF[0]]
                message = {**message, "headers": [*headers, _NOSNIFF]}
            await send(message)

        await self.app(scope, receive, send_with_header)


_NOSNIFF = (b"x-content-type-options", b"nosniff")


class RequestSizeLimit:
    """Answers 413 to a request body larger than its route takes, without reading more of it than the limit.

    A declared Content-Length is judged before anything is read; a body without one (chunked) is counted as the
    application reads it, and the read that goes past the limit fails. Whatever the application then makes of
    that failure (FastAPI turns it into a 400) is replaced by the 413.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int, larger: Sequence[BodyLimit] = ()) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self._larger = [(limit.method.upper(), compile_path(limit.path)[0], limit.max_bytes) for limit in larger]

    def limit_for(self, method: str, path: str) -> int:
        for limit_method, pattern, max_bytes in self._larger:
            if method == limit_method and pattern.match(path):
                return max_bytes
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["method"], scope["path"])
        declared = _content_length(scope)
        if declared == _INVALID:
            await _refuse(scope, receive, send, 400, "invalid_content_length", "Content-Length must be a whole number.")
            return
        if declared is not None and declared > limit:
            await _refuse_too_large(scope, receive, send, limit)
            return

        received = 0
        exceeded = False
        response_started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise RequestBodyTooLarge(limit)
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal response_started
            if exceeded and not response_started:
                return  # the application's answer to the failed read; the 413 goes out instead
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not exceeded or response_started:
                raise
        if exceeded and not response_started:
            await _refuse_too_large(scope, receive, send, limit)


class RequestBodyTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        super().__init__(f"request body over {limit} bytes")
        self.limit = limit


_INVALID = -1


def _content_length(scope: Scope) -> int | None:
    values = [value for name, value in scope["headers"] if name == b"content-length"]
    if not values:
        return None
    if len(set(values)) != 1 or not values[0].isdigit():
        return _INVALID
    return int(values[0])


async def _refuse_too_large(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    await _refuse(
        scope,
        receive,
        send,
        413,
        "request_too_large",
        f"The request body is larger than this endpoint takes: {limit:,} bytes at most.",
        max_bytes=limit,
    )


async def _refuse(
    scope: Scope, receive: Receive, send: Send, status: int, code: str, message: str, **extra: Any
) -> None:
    response = error_response(status, code, message, **extra)
    # The rest of the body is not read: the connection cannot carry another request after this one.
    response.headers["Connection"] = "close"
    await response(scope, receive, send)
