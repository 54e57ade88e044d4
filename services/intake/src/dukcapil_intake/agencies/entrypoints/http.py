"""Agencies over HTTP, for admins: the public events on offer, onboarding (the broker password is answered once),
offboarding and replays. The same service layer as `python -m dukcapil_intake.agencies`; intake holds the
broker's administrator credentials, so the staff console needs none (docs/decisions/0010)."""

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from pydantic import AwareDatetime, BaseModel, Field

from dukcapil_intake.agencies.domain.agencies import Agency
from dukcapil_intake.agencies.service_layer import agencies as service
from dukcapil_intake.agencies.service_layer.agencies import BrokerAdmin, QueueDelivery
from dukcapil_intake.agencies.service_layer.unit_of_work import AgenciesUnitOfWork
from dukcapil_shared.auth.http import staff
from dukcapil_shared.auth.roles import Principal, Scope
from dukcapil_shared.contracts.public import PUBLIC_EVENTS
from dukcapil_shared.web import ClockDep, ErrorResponse

ConnectionUrl = Callable[[str, str], str]
"""The AMQP URL an agency connects with, from its user and password."""


async def _unit_of_work(request: Request) -> AgenciesUnitOfWork:
    return request.app.state.agencies_unit_of_work()


async def _broker(request: Request) -> BrokerAdmin:
    return request.app.state.agencies_broker


async def _delivery(request: Request) -> QueueDelivery:
    return request.app.state.agencies_delivery


UnitOfWorkDep = Annotated[AgenciesUnitOfWork, Depends(_unit_of_work)]
BrokerDep = Annotated[BrokerAdmin, Depends(_broker)]
DeliveryDep = Annotated[QueueDelivery, Depends(_delivery)]
Admin = Annotated[Principal, Depends(staff(Scope.AGENCIES_MANAGE))]


class EventTypeView(BaseModel):
    type: str = Field(description="e.g. death.registered.v1; the routing key adds the kecamatan code")
    summary: str


class AgencyView(BaseModel):
    name: str
    identified: bool = Field(description="NIKs and KK numbers in full; otherwise masked")
    exchange: str
    event_types: list[str]
    region_prefixes: list[str]
    binding_keys: list[str]
    user: str = Field(description="The agency's broker user")
    queue: str
    dead_letter_queue: str
    queue_messages: int | None = Field(description="Waiting in its queue; null when the queue is missing")
    queue_consumers: int | None
    dead_letters: int | None = Field(description="Messages the agency rejected; null when that queue is missing")
    onboarded_at: datetime
    onboarded_by: str

    @classmethod
    def of(cls, listed: service.ListedAgency) -> "AgencyView":
        return cls.of_agency(listed.agency, queue=listed.queue, dead_letters=listed.dead_letters)

    @classmethod
    def of_agency(
        cls, agency: Agency, *, queue: service.QueueState | None, dead_letters: service.QueueState | None
    ) -> "AgencyView":
        return cls(
            name=agency.name,
            identified=agency.identified,
            exchange=agency.exchange,
            event_types=list(agency.event_types),
            region_prefixes=list(agency.region_prefixes),
            binding_keys=list(agency.binding_keys),
            user=agency.broker_user,
            queue=agency.queue,
            dead_letter_queue=agency.dead_letter_queue,
            queue_messages=queue.messages if queue else None,
            queue_consumers=queue.consumers if queue else None,
            dead_letters=dead_letters.messages if dead_letters else None,
            onboarded_at=agency.onboarded_at,
            onboarded_by=agency.onboarded_by,
        )


class OnboardBody(BaseModel):
    name: str = Field(max_length=30, description="2 to 30 lower-case letters, digits and hyphens, e.g. bpjs-kesehatan")
    event_types: list[str] = Field(max_length=20, description="Public event types, e.g. death.registered.v1")
    region_prefixes: list[str] = Field(max_length=40, description="36.02 (all of Lebak) or kecamatan such as 36.02.14")
    identified: bool = Field(default=False, description="Identity numbers in full: only for an entitled agency")


class OnboardedView(AgencyView):
    password: str = Field(description="Shown once: hand it to the agency over a secure channel")
    amqp_url: str = Field(description="Where the agency connects, with its user and password")


class OffboardedView(BaseModel):
    name: str
    user: str
    queues: list[str]
    connections_closed: int
    leftover: bool = Field(description="Only the broker had it: what an interrupted onboarding left behind")


class ReplayBody(BaseModel):
    since: AwareDatetime = Field(description="From (inclusive), with its time zone")
    until: AwareDatetime | None = Field(default=None, description="Until (exclusive); now when left out")


class ReplayedView(BaseModel):
    name: str
    queue: str
    since: datetime
    until: datetime
    replayed: int
    by_event_type: dict[str, int]


router = APIRouter(tags=["agencies"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse},
    403: {"model": ErrorResponse},
    503: {"model": ErrorResponse, "description": "The broker's management API refused or did not answer"},
}


@router.get("/agencies/event-types", response_model=list[EventTypeView], responses=_ERRORS)
async def event_types(_admin: Admin) -> list[EventTypeView]:
    """The public events an agency can be entitled to."""
    return [
        EventTypeView(type=event.type_name(), summary=" ".join((event.__doc__ or "").split()))
        for event in PUBLIC_EVENTS
    ]


@router.get("/agencies", response_model=list[AgencyView], responses=_ERRORS)
async def list_agencies(_admin: Admin, uow: UnitOfWorkDep, broker: BrokerDep) -> list[AgencyView]:
    """Every agency with its entitlements and the state of its queues."""
    return [AgencyView.of(listed) for listed in await service.list_agencies(uow=uow, broker=broker)]


@router.post(
    "/agencies",
    status_code=201,
    response_model=OnboardedView,
    responses={**_ERRORS, 409: {"model": ErrorResponse}, 422: {"model": ErrorResponse}},
)
async def onboard(
    body: OnboardBody, admin: Admin, uow: UnitOfWorkDep, broker: BrokerDep, request: Request, response: Response
) -> OnboardedView:
    """Create the agency's broker user, queues and bindings. The answer holds its password, which nobody can see
    again: it is not cached and not logged."""
    onboarded = await service.onboard_agency(
        service.OnboardAgency(
            name=body.name,
            event_types=body.event_types,
            region_prefixes=body.region_prefixes,
            identified=body.identified,
            by=admin.username,
        ),
        uow=uow,
        broker=broker,
    )
    response.headers["Cache-Control"] = "no-store"
    connection_url: ConnectionUrl = request.app.state.agencies_connection_url
    agency = onboarded.agency
    empty = service.QueueState(messages=0, consumers=0)  # both queues were declared just now
    return OnboardedView(
        **AgencyView.of_agency(agency, queue=empty, dead_letters=empty).model_dump(),
        password=onboarded.password,
        amqp_url=connection_url(agency.broker_user, onboarded.password),
    )


@router.delete("/agencies/{name}", response_model=OffboardedView, responses={**_ERRORS, 404: {"model": ErrorResponse}})
async def offboard(name: str, admin: Admin, uow: UnitOfWorkDep, broker: BrokerDep) -> OffboardedView:
    """Delete the agency's broker user, close its connections, delete its queues and its record."""
    gone = await service.offboard_agency(name, uow=uow, broker=broker, by=admin.username)
    return OffboardedView(
        name=gone.name,
        user=gone.user,
        queues=list(gone.queues),
        connections_closed=gone.connections_closed,
        leftover=gone.leftover,
    )


@router.post(
    "/agencies/{name}/replays",
    response_model=ReplayedView,
    responses={**_ERRORS, 404: {"model": ErrorResponse}, 422: {"model": ErrorResponse}},
)
async def replay(
    name: str, body: ReplayBody, admin: Admin, uow: UnitOfWorkDep, delivery: DeliveryDep, clock: ClockDep
) -> ReplayedView:
    """Send the agency again every event of [since, until) it is entitled to, from the log, in the order they
    occurred; the agency drops those it already has by their ids."""
    replayed = await service.replay_to_agency(
        name, since=body.since, until=body.until or clock(), uow=uow, delivery=delivery, by=admin.username
    )
    return ReplayedView(
        name=replayed.agency.name,
        queue=replayed.agency.queue,
        since=replayed.since,
        until=replayed.until,
        replayed=len(replayed.events),
        by_event_type=replayed.by_event_type,
    )


def install(
    app: FastAPI,
    *,
    unit_of_work: Callable[[], AgenciesUnitOfWork],
    broker: BrokerAdmin,
    delivery: QueueDelivery,
    connection_url: ConnectionUrl,
) -> None:
    app.state.agencies_unit_of_work = unit_of_work
    app.state.agencies_broker = broker
    app.state.agencies_delivery = delivery
    app.state.agencies_connection_url = connection_url
    app.include_router(router)
