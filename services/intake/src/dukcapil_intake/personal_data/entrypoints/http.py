"""The staff export of everything intake holds about one person (UU 27/2022: a person's right to know what is held
about them), and the scheduled retention job with its metrics."""

from collections.abc import Callable
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, FastAPI, Request
from prometheus_client import Counter, Gauge
from pydantic import BaseModel, Field

from dukcapil_intake.personal_data.domain.retention import DataKind, RetentionPolicy
from dukcapil_intake.personal_data.service_layer import retention
from dukcapil_intake.personal_data.service_layer.unit_of_work import PersonalDataUnitOfWork
from dukcapil_shared.auth.access import AccessRecord
from dukcapil_shared.auth.http import personal_data
from dukcapil_shared.auth.roles import Principal, Scope
from dukcapil_shared.clock import Clock
from dukcapil_shared.files import FileStore
from dukcapil_shared.runtime import ServiceRuntime
from dukcapil_shared.web import ErrorResponse

log = structlog.get_logger(__name__)
router = APIRouter(tags=["personal data"])
Exporting = Annotated[Principal, Depends(personal_data(Scope.PERSONAL_DATA_EXPORT))]


class ExportBody(BaseModel):
    nik: str = Field(pattern=r"^\d{16}$", description="The person's NIK (16 digits); in the body, never in a URL")


@router.post(
    "/people/export",
    responses={401: {"model": ErrorResponse}, 403: {"model": ErrorResponse}, 422: {"model": ErrorResponse}},
)
async def export_person(body: ExportBody, request: Request, staff: Exporting) -> dict[str, Any]:
    """Everything intake holds about one NIK: the requests naming it (as applicant or in their details) with their
    history, their scans (the list) and the notices sent, and the person's e-KTP recording bookings. Needs
    X-Access-Reason; the access is recorded with the requests it opened (their ids, never the NIK)."""
    found = await retention.export_person(body.nik, unit_of_work=request.app.state.personal_data_unit_of_work)
    opened = ",".join(each["id"] for each in found["requests"]) or "no request"
    await request.app.state.auth.access_log.record(
        AccessRecord(
            username=staff.username,
            role=staff.role.value,
            scope=Scope.PERSONAL_DATA_EXPORT.value,
            method=request.method,
            path=f"/people/export: {opened}",
            reason=(request.headers.get("X-Access-Reason") or "").strip(),
        )
    )
    return found


def install(app: FastAPI, *, unit_of_work: Callable[[], PersonalDataUnitOfWork]) -> None:
    app.state.personal_data_unit_of_work = unit_of_work
    app.include_router(router)


def schedule_retention(
    runtime: ServiceRuntime,
    *,
    unit_of_work: Callable[[], PersonalDataUnitOfWork],
    files: FileStore,
    policy: RetentionPolicy,
    clock: Clock,
    interval: float,
) -> None:
    """Purge what has expired every `interval` seconds, counted in the service's metrics."""
    purged = Counter(
        "personal_data_purged",
        "Personal data purged after its retention period, by kind (scans: files; the rest: rows)",
        ["kind"],
        registry=runtime.metrics.registry,
    )
    last_run = Gauge(
        "personal_data_retention_last_run_timestamp_seconds",
        "When the retention job last finished a round (Unix time)",
        registry=runtime.metrics.registry,
    )
    for kind in DataKind:
        purged.labels(kind=kind.value)

    async def purge() -> None:
        counts = await retention.purge_expired(unit_of_work=unit_of_work, files=files, policy=policy, clock=clock)
        for kind, count in counts.items():
            purged.labels(kind=kind.value).inc(count)
        last_run.set(clock().timestamp())

    runtime.every(interval, "retention", purge)
