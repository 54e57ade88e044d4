"""Intake's HTTP API: translate JSON into a use case and its result into JSON, nothing more."""

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from dukcapil_intake.domain.model import RequestRefused, RequestStatus, ServiceRequest
from dukcapil_intake.service_layer import handlers
from dukcapil_intake.service_layer.unit_of_work import ConcurrentUpdate, IntakeUnitOfWork
from dukcapil_shared.contracts import Delivery, Person, RequestType
from dukcapil_shared.web import ErrorDetail, ErrorResponse, error_response


def _unit_of_work(request: Request) -> IntakeUnitOfWork:
    factory: Callable[[], IntakeUnitOfWork] = request.app.state.unit_of_work
    return factory()


UnitOfWorkDep = Annotated[IntakeUnitOfWork, Depends(_unit_of_work)]


class SubmitRequestBody(BaseModel):
    type: RequestType = Field(description="Which document: kartu_keluarga, akta_kematian, surat_pindah, biodata_wni")
    applicant: Person
    details: dict[str, Any] = Field(default_factory=dict, description="Type-specific details")
    delivery: Delivery
    kecamatan_code: str | None = Field(
        default=None,
        description="The applicant's kecamatan, e.g. 36.02.14; defaults to the pickup office or delivery address",
        pattern=r"^\d{2}\.\d{2}\.\d{2}$",
    )
    channel: Literal["online", "assisted"] = Field(
        default="online", description="online by the citizen, or assisted at a kecamatan or desa office"
    )


class CancelBody(BaseModel):
    reason: str | None = Field(default=None, max_length=500)


class ResubmitBody(BaseModel):
    details: dict[str, Any] | None = Field(default=None, description="Corrected details, replacing the old ones")
    note: str | None = Field(default=None, max_length=2000, description="The citizen's answer to the reviewer")


class HistoryItem(BaseModel):
    event_type: str = Field(description="e.g. request.approved.v1")
    time: datetime
    stage: str = Field(description="intake, review, documents or shipping")
    note: str = Field(description="What happened, in plain words")
    status: RequestStatus | None = Field(description="The status this step moved the request to, if any")


class RequestView(BaseModel):
    id: uuid.UUID
    number: str = Field(description="Human-friendly request number")
    type: str
    status: RequestStatus
    kecamatan_code: str
    delivery_method: str
    submitted_at: datetime
    updated_at: datetime
    history: list[HistoryItem]

    @classmethod
    def of(cls, request: ServiceRequest) -> "RequestView":
        return cls(
            id=request.id,
            number=request.number,
            type=request.type,
            status=request.status,
            kecamatan_code=request.kecamatan_code,
            delivery_method=request.delivery.get("method", ""),
            submitted_at=request.submitted_at,
            updated_at=request.updated_at,
            history=[
                HistoryItem(
                    event_type=entry.event_type,
                    time=entry.occurred_at,
                    stage=entry.stage,
                    note=entry.note,
                    status=entry.status,
                )
                for entry in request.history
            ],
        )


class RequestSummary(BaseModel):
    id: uuid.UUID
    number: str
    type: str
    status: RequestStatus
    kecamatan_code: str
    submitted_at: datetime


router = APIRouter(tags=["requests"])
_ERRORS: dict[int | str, dict[str, Any]] = {404: {"model": ErrorResponse}, 422: {"model": ErrorResponse}}


@router.post("/requests", status_code=201, response_model=RequestView, responses=_ERRORS)
async def submit(body: SubmitRequestBody, uow: UnitOfWorkDep) -> RequestView:
    """Submit a request for a population document. `ktp_el` is refused: its recording is in person."""
    command = handlers.SubmitRequest(
        type=body.type.value,
        applicant=body.applicant.model_dump(mode="json"),
        details=body.details,
        delivery=body.delivery.model_dump(mode="json", exclude_none=True),
        kecamatan_code=body.kecamatan_code,
        channel=body.channel,
    )
    return RequestView.of(await handlers.submit_request(command, uow=uow))


@router.get("/requests/{request_id}", response_model=RequestView, responses=_ERRORS)
async def follow(request_id: uuid.UUID, uow: UnitOfWorkDep) -> RequestView:
    """A request's status and its history, one entry per event."""
    return RequestView.of(await handlers.get_request(request_id, uow=uow))


@router.get("/requests", response_model=list[RequestSummary])
async def search(
    uow: UnitOfWorkDep,
    status: RequestStatus | None = None,
    type: RequestType | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[RequestSummary]:
    """Requests for operators, oldest first, filtered by status and type."""
    found = await handlers.list_requests(
        status=status, request_type=type.value if type else None, limit=limit, offset=offset, uow=uow
    )
    return [
        RequestSummary(
            id=r.id,
            number=r.number,
            type=r.type,
            status=r.status,
            kecamatan_code=r.kecamatan_code,
            submitted_at=r.submitted_at,
        )
        for r in found
    ]


@router.post(
    "/requests/{request_id}/cancel",
    response_model=RequestView,
    responses={**_ERRORS, 409: {"model": ErrorResponse}},
)
async def cancel(request_id: uuid.UUID, body: CancelBody, uow: UnitOfWorkDep) -> RequestView:
    """Withdraw a request before the decision."""
    return RequestView.of(await handlers.cancel_request(request_id, body.reason, uow=uow))


@router.post(
    "/requests/{request_id}/resubmit",
    response_model=RequestView,
    responses={**_ERRORS, 409: {"model": ErrorResponse}},
)
async def resubmit(request_id: uuid.UUID, body: ResubmitBody, uow: UnitOfWorkDep) -> RequestView:
    """Answer the reviewer's information request with corrections; the request goes back to review."""
    return RequestView.of(await handlers.resubmit_request(request_id, body.details, body.note, uow=uow))


_CONFLICTS = {"not_cancellable", "not_awaiting_information"}


def install(app: FastAPI) -> None:
    app.include_router(router)

    @app.exception_handler(RequestRefused)
    async def _refused(_request: Request, error: RequestRefused) -> JSONResponse:
        status = 409 if error.code in _CONFLICTS else 422
        details = [ErrorDetail(field=error.field, code=error.code, message=error.message)] if error.field else []
        return error_response(status, error.code, error.message, details, **error.extra)

    @app.exception_handler(ConcurrentUpdate)
    async def _concurrent(_request: Request, _error: ConcurrentUpdate) -> JSONResponse:
        return error_response(409, "concurrent_update", "The request changed just now; reload it and try again.")

    @app.exception_handler(handlers.RequestNotFound)
    async def _not_found(_request: Request, error: handlers.RequestNotFound) -> JSONResponse:
        return error_response(404, "request_not_found", f"No request with id {error}.")
