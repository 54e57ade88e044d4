"""The incident view over HTTP, for operators: where requests are stuck, since when, and the last error."""

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from pydantic import BaseModel, Field

from dukcapil_intake.incidents.domain.incidents import IncidentKind, StallPolicy
from dukcapil_intake.incidents.service_layer import incidents
from dukcapil_intake.incidents.service_layer.unit_of_work import IncidentsUnitOfWork
from dukcapil_intake.requests.domain.model import RequestStatus
from dukcapil_shared.auth.http import staff
from dukcapil_shared.auth.roles import Scope
from dukcapil_shared.web import ClockDep, ErrorResponse


async def _unit_of_work(request: Request) -> IncidentsUnitOfWork:
    return request.app.state.incidents_unit_of_work()


async def _policy(request: Request) -> StallPolicy:
    return request.app.state.stall_policy


UnitOfWorkDep = Annotated[IncidentsUnitOfWork, Depends(_unit_of_work)]
PolicyDep = Annotated[StallPolicy, Depends(_policy)]


class IncidentView(BaseModel):
    kind: IncidentKind = Field(
        description="dead_letter: a stage parked a message; shipment_flagged: shipping flagged the parcel as lost by "
        "the courier or stuck in transit (see error); stalled: no change for too long"
    )
    request_id: uuid.UUID
    request_number: str | None = Field(description="Null when intake does not know the id")
    request_status: RequestStatus | None = Field(description="The request's current status")
    status_since: datetime | None = Field(description="When the status last changed (the request's updated_at)")
    stage: str = Field(description="Where it failed (intake, review, documents, shipping) or who should act next")
    event_type: str | None = Field(description="The event that failed there; null for a stalled request")
    error: str = Field(description="The last error (NIKs, phone numbers, e-mail addresses masked)")
    attempts: int = Field(description="How often the stage tried; 0 for a stalled request")
    since: datetime = Field(description="Stuck since: the first failure, or the last change of status")
    opened_at: datetime = Field(description="When the incident was raised")
    open_for_seconds: int = Field(description="How long it has been (or was) open")
    open: bool
    dead_letter_id: uuid.UUID | None = Field(
        description="At the stage: GET /dead-letters/{id}, then replay or discard; null unless a dead letter"
    )
    queue: str | None
    last_failure_at: datetime | None
    resolution: str | None = Field(
        description="replayed or discarded (a dead letter); rebooked, delivered, returned or at_office (a flagged "
        "shipment that moved on), once resolved"
    )
    resolved_by: str | None
    resolved_at: datetime | None
    resolution_reason: str | None

    @classmethod
    def of(cls, view: incidents.IncidentView) -> "IncidentView":
        return cls.model_validate(view, from_attributes=True)


class RequestIncidentView(BaseModel):
    request_id: uuid.UUID
    request_number: str | None
    status: RequestStatus | None
    status_since: datetime | None
    stuck: bool = Field(description="An open incident: a parked message, or no change for too long")
    stage: str | None = Field(description="Where it is stuck")
    since: datetime | None = Field(description="Stuck since")
    last_error: str | None
    open: list[IncidentView]
    resolved: list[IncidentView] = Field(description="Dead letters about it that operators replayed or discarded")


router = APIRouter(tags=["incidents"], dependencies=[Depends(staff(Scope.INCIDENTS_READ))])
_ERRORS: dict[int | str, dict[str, Any]] = {401: {"model": ErrorResponse}, 404: {"model": ErrorResponse}}


@router.get("/incidents", response_model=list[IncidentView], responses=_ERRORS)
async def list_incidents(
    uow: UnitOfWorkDep,
    policy: PolicyDep,
    clock: ClockDep,
    open: Annotated[bool, Query(description="true: open incidents and stalled requests; false: resolved")] = True,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> list[IncidentView]:
    """Where requests are stuck, the longest stuck first: stage, since when, the last error."""
    found = await incidents.list_incidents(open=open, policy=policy, now=clock(), limit=limit, uow=uow)
    return [IncidentView.of(view) for view in found]


@router.get("/requests/{request_id}/incident", response_model=RequestIncidentView, responses=_ERRORS)
async def request_incident(
    request_id: uuid.UUID, uow: UnitOfWorkDep, policy: PolicyDep, clock: ClockDep
) -> RequestIncidentView:
    """One request: stuck or not, where, since when, why; and the dead letters about it resolved before."""
    found = await incidents.request_incidents(request_id, policy=policy, now=clock(), uow=uow)
    return RequestIncidentView(
        request_id=found.request_id,
        request_number=found.request_number,
        status=found.status,
        status_since=found.status_since,
        stuck=found.stuck,
        stage=found.stage,
        since=found.since,
        last_error=found.last_error,
        open=[IncidentView.of(view) for view in found.open],
        resolved=[IncidentView.of(view) for view in found.resolved],
    )


def install(app: FastAPI, *, unit_of_work: Callable[[], IncidentsUnitOfWork]) -> None:
    app.state.incidents_unit_of_work = unit_of_work
    app.include_router(router)
