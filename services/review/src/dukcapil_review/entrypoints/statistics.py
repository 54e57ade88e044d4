"""Overdue reviews over HTTP, for the office's figures: review owns the due dates (the service-level target per
type in working days, REVIEW_SLA_WORKING_DAYS, counted from receipt or resubmission), so it is the one to count
what is past them. Intake answers the other figures (GET /statistics/requests and /statistics/lead-times there)."""

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from pydantic import BaseModel, Field

from dukcapil_review.domain.model import ReviewPolicy
from dukcapil_review.service_layer import handlers
from dukcapil_review.service_layer.unit_of_work import ReviewUnitOfWork
from dukcapil_shared.auth.http import limit_to_own_kecamatan, staff
from dukcapil_shared.auth.roles import Principal, Scope
from dukcapil_shared.contracts import RequestType
from dukcapil_shared.contracts.regions import find_kecamatan
from dukcapil_shared.web import ClockDep, ErrorResponse


async def _unit_of_work(request: Request) -> ReviewUnitOfWork:
    return request.app.state.unit_of_work()


async def _policy(request: Request) -> ReviewPolicy:
    return request.app.state.policy


class OverdueGroup(BaseModel):
    type: str
    kecamatan: str = Field(description="Kecamatan code")
    kecamatan_name: str | None
    pending: int = Field(description="Reviews waiting for the office (not those waiting for the citizen)")
    overdue: int = Field(description="Of those, past their due date")
    earliest_due_at: datetime
    longest_overdue_hours: float | None = Field(description="How far past its due date the oldest overdue one is")
    longest_overdue_working_days: int | None = Field(
        description="The same in working days begun since its due date (0: overdue since earlier today)"
    )


class OverdueStatistics(BaseModel):
    as_of: datetime
    type: str | None
    kecamatan: str | None
    pending: int
    overdue: int
    sla_working_days: dict[str, int] = Field(
        description="The service-level target per type, in working days (REVIEW_SLA_WORKING_DAYS)"
    )
    groups: list[OverdueGroup] = Field(description="Per type and kecamatan with pending reviews, ordered by both")


router = APIRouter(prefix="/statistics", tags=["statistics"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse},
    403: {"model": ErrorResponse},
    422: {"model": ErrorResponse},
}


@router.get("/overdue", response_model=OverdueStatistics, responses=_ERRORS)
async def overdue_reviews(
    uow: Annotated[ReviewUnitOfWork, Depends(_unit_of_work)],
    policy: Annotated[ReviewPolicy, Depends(_policy)],
    clock: ClockDep,
    reader: Annotated[Principal, Depends(staff(Scope.STATISTICS_READ))],
    request_type: Annotated[RequestType | None, Query(alias="type", description="Only this type")] = None,
    kecamatan: Annotated[
        str | None,
        Query(pattern=r"^\d{2}\.\d{2}\.\d{2}$", description="Only this kecamatan (an operator: their own)"),
    ] = None,
) -> OverdueStatistics:
    """Reviews past their service-level target right now, per type and kecamatan, beside all that are pending."""
    now = clock()
    kecamatan = limit_to_own_kecamatan(reader, kecamatan)
    groups = await handlers.count_overdue(
        now=now, request_type=request_type.value if request_type else None, kecamatan_code=kecamatan, uow=uow
    )
    return OverdueStatistics(
        as_of=now,
        type=request_type.value if request_type else None,
        kecamatan=kecamatan,
        pending=sum(group.pending for group in groups),
        overdue=sum(group.overdue for group in groups),
        sla_working_days=dict(policy.sla_working_days),
        groups=[
            OverdueGroup(
                type=group.request_type,
                kecamatan=group.kecamatan_code,
                kecamatan_name=_kecamatan_name(group.kecamatan_code),
                pending=group.pending,
                overdue=group.overdue,
                earliest_due_at=group.earliest_due_at,
                longest_overdue_hours=round((now - group.earliest_due_at).total_seconds() / 3600, 3)
                if group.overdue
                else None,
                longest_overdue_working_days=policy.working_days_overdue(group.earliest_due_at, now)
                if group.overdue
                else None,
            )
            for group in groups
        ],
    )


def _kecamatan_name(code: str) -> str | None:
    kecamatan = find_kecamatan(code)
    return kecamatan.name if kecamatan else None


def install(app: FastAPI) -> None:
    app.include_router(router)
