"""HTTP conventions every service follows: the error body, health and readiness."""

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from dukcapil_shared.observability.http import request_id_of

log = structlog.get_logger(__name__)


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


def install_error_handlers(app: FastAPI) -> None:
    document_error_responses(app)

    @app.exception_handler(ApiError)
    async def _api_error(_request: Request, error: ApiError) -> JSONResponse:
        response = error_response(error.status, error.code, error.message, error.details, **error.extra)
        response.headers.update(error.headers)
        return response

    @app.exception_handler(RequestValidationError)
    async def _invalid(_request: Request, error: RequestValidationError) -> JSONResponse:
        details = [
            ErrorDetail(field=".".join(str(part) for part in item["loc"]), code=item["type"], message=item["msg"])
            for item in error.errors()
        ]
        return error_response(
            422, "invalid_request", "The request is not valid: see details for each field to fix.", details
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
        log.exception("unhandled_error", error=type(error).__name__, request_id=request_id_of(request.scope))
        return error_response(500, "internal_error", "Something went wrong on our side; the error was logged.")


class Readiness(BaseModel):
    ready: bool
    checks: dict[str, bool]


def health_router(readiness: Callable[[], Awaitable[dict[str, bool]]]) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="Database and broker reachable, consumers attached",
        response_model=Readiness,
        responses={503: {"model": Readiness}},
    )
    async def readyz() -> JSONResponse:
        checks = await readiness()
        ready = all(checks.values())
        return JSONResponse(status_code=200 if ready else 503, content={"ready": ready, "checks": checks})

    return router
