"""The office's figures over HTTP: requests counted by type, status, kecamatan and month, and the lead time of each
stage. Figures only, never a person's data; a kecamatan operator sees their own kecamatan's."""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from dukcapil_intake.statistics.domain.statistics import Month, StatisticsFilter, StatisticsRefused, parse_dimensions
from dukcapil_intake.statistics.service_layer import statistics
from dukcapil_intake.statistics.service_layer.unit_of_work import StatisticsUnitOfWork
from dukcapil_shared.auth.http import limit_to_own_kecamatan, staff
from dukcapil_shared.auth.roles import Principal, Scope
from dukcapil_shared.contracts import RequestType
from dukcapil_shared.contracts.regions import find_kecamatan
from dukcapil_shared.web import ErrorDetail, ErrorResponse, error_response
from dukcapil_shared.working_days import WorkingCalendar


async def _unit_of_work(request: Request) -> StatisticsUnitOfWork:
    return request.app.state.statistics_unit_of_work()


UnitOfWorkDep = Annotated[StatisticsUnitOfWork, Depends(_unit_of_work)]
Reading = Annotated[Principal, Depends(staff(Scope.STATISTICS_READ))]
_MONTH_PATTERN = r"^\d{4}-\d{2}$"
FromMonth = Annotated[
    str | None,
    Query(alias="from", pattern=_MONTH_PATTERN, description="First month of submission (WIB), YYYY-MM, inclusive"),
]
ToMonth = Annotated[
    str | None, Query(alias="to", pattern=_MONTH_PATTERN, description="Last month of submission (WIB), inclusive")
]
TypeFilter = Annotated[RequestType | None, Query(alias="type", description="Only requests of this type")]
KecamatanFilter = Annotated[
    str | None,
    Query(pattern=r"^\d{2}\.\d{2}\.\d{2}$", description="Only this kecamatan, e.g. 36.02.14 (an operator: their own)"),
]


class RequestGroup(BaseModel):
    count: int
    type: str | None = Field(description="Null unless grouped by type")
    status: str | None = Field(description="The requests' current status; null unless grouped by status")
    kecamatan: str | None = Field(description="Kecamatan code; null unless grouped by kecamatan")
    kecamatan_name: str | None
    month: str | None = Field(description="Month of submission in WIB, YYYY-MM; null unless grouped by month")


class RequestStatistics(BaseModel):
    from_month: str | None = Field(alias="from", serialization_alias="from")
    to_month: str | None = Field(alias="to", serialization_alias="to")
    type: str | None
    kecamatan: str | None
    group_by: list[str]
    total: int = Field(description="Every request the filters admit")
    groups: list[RequestGroup] = Field(description="Ordered by the grouped values; empty combinations left out")


class StageLeadTime(BaseModel):
    stage: str = Field(description="intake, review, documents, dispatch, delivery or end_to_end")
    starts: str = Field(description="The milestone the stage starts at")
    ends: str = Field(description="The milestone it ends at")
    description: str
    count: int = Field(description="Requests that went through the stage")
    mean_hours: float | None = Field(description="Null when no request went through it")
    p50_hours: float | None = Field(description="Median")
    p90_hours: float | None = Field(description="Nine in ten took at most this long")
    mean_working_days: float | None = Field(
        description="The same in working days begun during the stage (WIB; no weekends, public holidays, cuti "
        "bersama or office days off): 0 for a stage left the day it began"
    )
    p50_working_days: float | None
    p90_working_days: float | None


class LeadTimeStatistics(BaseModel):
    from_month: str | None = Field(alias="from", serialization_alias="from")
    to_month: str | None = Field(alias="to", serialization_alias="to")
    type: str | None
    kecamatan: str | None
    requests: int = Field(description="Requests submitted in those months that the filters admit")
    stages: list[StageLeadTime]


router = APIRouter(prefix="/statistics", tags=["statistics"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse},
    403: {"model": ErrorResponse},
    422: {"model": ErrorResponse},
}


@router.get("/requests", response_model=RequestStatistics, response_model_by_alias=True, responses=_ERRORS)
async def request_counts(
    uow: UnitOfWorkDep,
    reader: Reading,
    group_by: Annotated[
        str | None,
        Query(max_length=100, description="Comma-separated: type, status, kecamatan, month; none: the total only"),
    ] = None,
    from_month: FromMonth = None,
    to_month: ToMonth = None,
    request_type: TypeFilter = None,
    kecamatan: KecamatanFilter = None,
) -> RequestStatistics:
    """How many requests, by type, current status, kecamatan and month of submission (WIB)."""
    dimensions = parse_dimensions(group_by)
    where = _filter(reader, from_month, to_month, request_type, kecamatan)
    counts = await statistics.count_requests(where, dimensions, uow=uow)
    return RequestStatistics(
        **_echo(where),
        group_by=[dimension.value for dimension in dimensions],
        total=counts.total,
        groups=[
            RequestGroup(
                count=group.count,
                type=group.type,
                status=group.status,
                kecamatan=group.kecamatan,
                kecamatan_name=_kecamatan_name(group.kecamatan),
                month=group.month,
            )
            for group in counts.groups
        ],
    )


@router.get("/lead-times", response_model=LeadTimeStatistics, response_model_by_alias=True, responses=_ERRORS)
async def stage_lead_times(
    request: Request,
    uow: UnitOfWorkDep,
    reader: Reading,
    from_month: FromMonth = None,
    to_month: ToMonth = None,
    request_type: TypeFilter = None,
    kecamatan: KecamatanFilter = None,
) -> LeadTimeStatistics:
    """How long each stage takes, in hours and in working days (count, mean, median, 90th percentile), over the
    requests submitted in the chosen months. A request counts in a stage once it has left it; the first event of
    each step counts."""
    where = _filter(reader, from_month, to_month, request_type, kecamatan)
    report = await statistics.measure_lead_times(where, uow=uow, calendar=request.app.state.working_calendar)
    return LeadTimeStatistics(
        **_echo(where),
        requests=report.requests,
        stages=[
            StageLeadTime(
                stage=lead.stage.name,
                starts=lead.stage.starts.value,
                ends=lead.stage.ends.value,
                description=lead.stage.description,
                count=lead.count,
                mean_hours=_rounded(lead.mean_hours),
                p50_hours=_rounded(lead.p50_hours),
                p90_hours=_rounded(lead.p90_hours),
                mean_working_days=_rounded(lead.mean_working_days),
                p50_working_days=_rounded(lead.p50_working_days),
                p90_working_days=_rounded(lead.p90_working_days),
            )
            for lead in report.stages
        ],
    )


def _filter(
    reader: Principal,
    from_month: str | None,
    to_month: str | None,
    request_type: RequestType | None,
    kecamatan: str | None,
) -> StatisticsFilter:
    kecamatan = limit_to_own_kecamatan(reader, kecamatan)
    return StatisticsFilter(
        first_month=Month.parse(from_month, field="query.from") if from_month else None,
        last_month=Month.parse(to_month, field="query.to") if to_month else None,
        request_type=request_type.value if request_type else None,
        kecamatan_code=kecamatan,
    )


def _echo(where: StatisticsFilter) -> dict[str, Any]:
    """The filters as applied (an operator's kecamatan included), so an answer says what it counts."""
    return {
        "from": str(where.first_month) if where.first_month else None,
        "to": str(where.last_month) if where.last_month else None,
        "type": where.request_type,
        "kecamatan": where.kecamatan_code,
    }


def _kecamatan_name(code: str | None) -> str | None:
    kecamatan = find_kecamatan(code) if code else None
    return kecamatan.name if kecamatan else None


def _rounded(hours: float | None) -> float | None:
    return round(hours, 3) if hours is not None else None


def install(
    app: FastAPI, *, unit_of_work: Callable[[], StatisticsUnitOfWork], calendar: WorkingCalendar | None = None
) -> None:
    app.state.statistics_unit_of_work = unit_of_work
    app.state.working_calendar = calendar or WorkingCalendar()
    app.include_router(router)

    # The answer names the problem's code in its one detail and `invalid_request` above it: more than a Refusal says.
    @app.exception_handler(StatisticsRefused)
    async def _refused(_request: Request, error: StatisticsRefused) -> JSONResponse:
        return error_response(
            422,
            "invalid_request",
            error.message,
            [ErrorDetail(field=error.field, code=error.code, message=error.message)],
        )
