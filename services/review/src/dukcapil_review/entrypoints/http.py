"""Review's HTTP API: the work queue and the decisions."""

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from dukcapil_review.domain.model import Review, ReviewRefused, ReviewStatus
from dukcapil_review.service_layer import handlers
from dukcapil_review.service_layer.unit_of_work import ConcurrentUpdate, ReviewUnitOfWork
from dukcapil_shared.contracts import RequestType
from dukcapil_shared.web import ErrorResponse, error_response


def _unit_of_work(request: Request) -> ReviewUnitOfWork:
    factory: Callable[[], ReviewUnitOfWork] = request.app.state.unit_of_work
    return factory()


UnitOfWorkDep = Annotated[ReviewUnitOfWork, Depends(_unit_of_work)]

Reviewer = Annotated[str, Field(min_length=1, max_length=100, description="Who decides (the reviewer's user name)")]


class ApproveBody(BaseModel):
    reviewer: Reviewer
    note: str | None = Field(default=None, max_length=2000)


class RejectBody(BaseModel):
    reviewer: Reviewer
    reason: str = Field(min_length=1, max_length=2000, description="Why, in words the citizen understands")


class InformationBody(BaseModel):
    reviewer: Reviewer
    reason: str = Field(min_length=1, max_length=2000, description="What is wrong or missing")
    missing_items: list[str] = Field(default_factory=list, description="Attachments or fields to provide")


class ReviewView(BaseModel):
    request_id: uuid.UUID
    request_number: str
    request_type: str
    status: ReviewStatus
    kecamatan_code: str
    applicant: dict[str, Any]
    details: dict[str, Any]
    delivery: dict[str, Any]
    received_at: datetime
    updated_at: datetime
    decided_by: str | None
    decision_note: str | None
    missing_items: list[str]

    @classmethod
    def of(cls, review: Review) -> "ReviewView":
        return cls.model_validate(review, from_attributes=True)


router = APIRouter(tags=["reviews"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse},
    409: {"model": ErrorResponse},
    422: {"model": ErrorResponse},
}


@router.get("/reviews", response_model=list[ReviewView])
async def work_queue(
    uow: UnitOfWorkDep,
    status: ReviewStatus | None = None,
    type: RequestType | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[ReviewView]:
    """The work queue, oldest first; `status=pending` for what awaits a decision."""
    found = await handlers.list_reviews(
        status=status, request_type=type.value if type else None, limit=limit, offset=offset, uow=uow
    )
    return [ReviewView.of(review) for review in found]


@router.get("/reviews/{request_id}", response_model=ReviewView, responses=_ERRORS)
async def show(request_id: uuid.UUID, uow: UnitOfWorkDep) -> ReviewView:
    return ReviewView.of(await handlers.get_review(request_id, uow=uow))


@router.post("/reviews/{request_id}/approve", response_model=ReviewView, responses=_ERRORS)
async def approve(request_id: uuid.UUID, body: ApproveBody, uow: UnitOfWorkDep) -> ReviewView:
    return ReviewView.of(await handlers.approve(request_id, reviewer=body.reviewer, note=body.note, uow=uow))


@router.post("/reviews/{request_id}/reject", response_model=ReviewView, responses=_ERRORS)
async def reject(request_id: uuid.UUID, body: RejectBody, uow: UnitOfWorkDep) -> ReviewView:
    return ReviewView.of(await handlers.reject(request_id, reviewer=body.reviewer, reason=body.reason, uow=uow))


@router.post("/reviews/{request_id}/request-information", response_model=ReviewView, responses=_ERRORS)
async def request_information(request_id: uuid.UUID, body: InformationBody, uow: UnitOfWorkDep) -> ReviewView:
    """Send the request back to the citizen with what is missing; it returns when they resubmit."""
    review = await handlers.request_information(
        request_id, reviewer=body.reviewer, reason=body.reason, missing_items=body.missing_items, uow=uow
    )
    return ReviewView.of(review)


def install(app: FastAPI) -> None:
    app.include_router(router)

    @app.exception_handler(ReviewRefused)
    async def _refused(_request: Request, error: ReviewRefused) -> JSONResponse:
        return error_response(409 if error.code == "not_pending" else 422, error.code, error.message)

    @app.exception_handler(ConcurrentUpdate)
    async def _concurrent(_request: Request, _error: ConcurrentUpdate) -> JSONResponse:
        return error_response(409, "concurrent_update", "Someone else changed this review just now; reload it.")

    @app.exception_handler(handlers.ReviewNotFound)
    async def _not_found(_request: Request, error: handlers.ReviewNotFound) -> JSONResponse:
        return error_response(404, "review_not_found", f"No review for request {error}; it may still be on its way.")
