"""The incident view: keep what the stages announce about dead letters, and tell where each request is stuck."""

import uuid
from dataclasses import dataclass
from datetime import datetime

from dukcapil_intake.incidents.domain.incidents import (
    NEXT_STAGE,
    SHIPMENT_FLAGS_OPENING_INCIDENTS,
    Incident,
    IncidentKind,
    RequestState,
    StallPolicy,
    shipment_flag_incident_id,
)
from dukcapil_intake.incidents.service_layer.unit_of_work import IncidentsUnitOfWork
from dukcapil_intake.requests.domain.model import RequestNotFound, RequestStatus
from dukcapil_shared.contracts import (
    DeliveryFailed,
    Envelope,
    Event,
    MessageParked,
    MessageResolved,
    ReadyForPickup,
    ShipmentCreated,
    ShipmentDelivered,
    ShipmentFlagged,
)
from dukcapil_shared.logging import mask_personal_data


@dataclass(frozen=True)
class IncidentView:
    kind: IncidentKind
    request_id: uuid.UUID
    request_number: str | None
    request_status: RequestStatus | None
    status_since: datetime | None
    stage: str
    """The service where it failed, or the one expected to move it on."""
    event_type: str | None
    error: str
    attempts: int
    since: datetime
    """When the request got stuck: the first failure, or the last change of status."""
    opened_at: datetime
    open_for_seconds: int
    open: bool
    dead_letter_id: uuid.UUID | None = None
    queue: str | None = None
    last_failure_at: datetime | None = None
    resolution: str | None = None
    resolved_by: str | None = None
    resolved_at: datetime | None = None
    resolution_reason: str | None = None

    @classmethod
    def of_incident(cls, incident: Incident, state: RequestState | None, now: datetime) -> "IncidentView":
        """A dead letter, or a flag on the request's shipment (which parked nothing: no dead letter, no queue)."""
        end = now if incident.is_open else incident.resolved_at or now
        parked = incident.kind == IncidentKind.dead_letter
        return cls(
            kind=incident.kind,
            request_id=incident.request_id,
            request_number=state.number if state else None,
            request_status=state.status if state else None,
            status_since=state.updated_at if state else None,
            stage=incident.service,
            event_type=incident.event_type,
            error=mask_personal_data(incident.error),
            attempts=incident.attempts,
            since=incident.first_failure_at or incident.opened_at,
            opened_at=incident.opened_at,
            open_for_seconds=max(0, int((end - incident.opened_at).total_seconds())),
            open=incident.is_open,
            dead_letter_id=incident.id if parked else None,
            queue=incident.queue if parked else None,
            last_failure_at=incident.last_failure_at,
            resolution=incident.resolution,
            resolved_by=incident.resolved_by,
            resolved_at=incident.resolved_at,
            resolution_reason=mask_personal_data(incident.resolution_reason) if incident.resolution_reason else None,
        )

    @classmethod
    def of_stalled(cls, state: RequestState, policy: StallPolicy, now: datetime) -> "IncidentView":
        opened_at = policy.stalled_since(state, now) or now
        return cls(
            kind=IncidentKind.stalled,
            request_id=state.id,
            request_number=state.number,
            request_status=state.status,
            status_since=state.updated_at,
            stage=NEXT_STAGE.get(state.status, "intake"),
            event_type=None,
            error=policy.explain(state, now),
            attempts=0,
            since=state.updated_at,
            opened_at=opened_at,
            open_for_seconds=max(0, int((now - opened_at).total_seconds())),
            open=True,
        )


@dataclass(frozen=True)
class RequestIncidents:
    """Where one request stands: stuck or not, where, since when, and why."""

    request_id: uuid.UUID
    request_number: str | None
    status: RequestStatus | None
    status_since: datetime | None
    stuck: bool
    stage: str | None
    since: datetime | None
    last_error: str | None
    open: list[IncidentView]
    resolved: list[IncidentView]


async def open_incident(uow: IncidentsUnitOfWork, event: MessageParked, envelope: Envelope) -> None:
    """Consumer handler: a stage parked a message about a request."""
    incident = await uow.incidents.get(event.dead_letter_id)
    if incident is None:
        await uow.incidents.add(Incident.parked(event, envelope.time))
    else:
        incident.learn(event)
        await uow.incidents.save(incident)


async def resolve_incident(uow: IncidentsUnitOfWork, event: MessageResolved, envelope: Envelope) -> None:
    """Consumer handler: an operator replayed or discarded the parked message."""
    incident = await uow.incidents.get(event.dead_letter_id)
    if incident is None:
        await uow.incidents.add(Incident.resolved_first(event, envelope.time))
    else:
        incident.resolve(event, envelope.time)
        await uow.incidents.save(incident)


# How each event that moves a flagged shipment on closes its incident.
_MOVED_ON = {
    ShipmentCreated: ("rebooked", "Dikirim ulang dengan nomor resi baru."),
    ShipmentDelivered: ("delivered", "Dokumen telah diterima."),
    DeliveryFailed: ("returned", "Kurir mengembalikan dokumen ke kantor."),
    ReadyForPickup: ("at_office", "Dokumen menunggu di kantor kecamatan."),
}
ShipmentMovedOn = ShipmentCreated | ShipmentDelivered | DeliveryFailed | ReadyForPickup


async def open_shipment_incident(uow: IncidentsUnitOfWork, event: ShipmentFlagged, envelope: Envelope) -> None:
    """Shipping flagged a parcel that will not move by itself (lost by the courier, stuck)."""
    if event.reason not in SHIPMENT_FLAGS_OPENING_INCIDENTS or event.shipment_id is None:
        return
    incident = await uow.incidents.get(shipment_flag_incident_id(event.shipment_id, event.reason))
    if incident is None:
        await uow.incidents.add(Incident.flagged(event, envelope.time))
    elif incident.flagged_again(event, envelope.time):
        await uow.incidents.save(incident)


async def close_shipment_incidents(uow: IncidentsUnitOfWork, event: ShipmentMovedOn, envelope: Envelope) -> None:
    """The shipment moved on after its flags (re-booked, delivered, returned, at the office)."""
    resolution, reason = _MOVED_ON[type(event)]
    flagged = {shipment_flag_incident_id(event.shipment_id, flag) for flag in SHIPMENT_FLAGS_OPENING_INCIDENTS}
    # One look at the request's incidents (almost always none) rather than one per flag: this runs for every
    # shipment step, in the lifecycle consumer's transaction.
    for incident in await uow.incidents.about(event.request_id):
        if incident.id in flagged and incident.moved_on(resolution, reason, envelope.time):
            await uow.incidents.save(incident)


async def follow_shipment(
    uow: IncidentsUnitOfWork, event: Event, envelope: Envelope, *, ever_flagged: bool = True
) -> None:
    """A step of a request's shipment, as the request's history records it (dispatch.py, in the lifecycle consumer's
    transaction): a flag opens an incident, moving on closes it, anything else concerns no incident. The shipment's
    events reach intake once, on the lifecycle queue, in the order shipping sent them; they used to come a second
    time through the operations queue, two more deliveries per request for what is almost always nothing.
    `ever_flagged`: the request's history holds a shipment flag. Only a flag opens a shipment's incident, and every
    flag enters the history in the transaction that opens it, so without one there is nothing to close, and moving
    on looks for nothing (a statement for almost every request saved)."""
    match event:
        case ShipmentFlagged():
            await open_shipment_incident(uow, event, envelope)
        case ShipmentCreated() | ShipmentDelivered() | DeliveryFailed() | ReadyForPickup() if ever_flagged:
            await close_shipment_incidents(uow, event, envelope)


async def list_incidents(
    *, open: bool, policy: StallPolicy, now: datetime, limit: int, uow: IncidentsUnitOfWork
) -> list[IncidentView]:
    """Open incidents (dead letters and stalled requests), or resolved ones; the longest stuck first."""
    async with uow:
        incidents = await uow.incidents.list(open=open, limit=limit)
        stalled = await uow.incidents.stalled(policy, now=now, limit=limit) if open else []
        states = await uow.incidents.request_states([incident.request_id for incident in incidents])
    views = [IncidentView.of_incident(incident, states.get(incident.request_id), now) for incident in incidents]
    failing = {incident.request_id for incident in incidents}
    views += [IncidentView.of_stalled(state, policy, now) for state in stalled if state.id not in failing]
    return sorted(views, key=lambda view: (view.since, str(view.request_id)))[:limit]


async def request_incidents(
    request_id: uuid.UUID, *, policy: StallPolicy, now: datetime, uow: IncidentsUnitOfWork
) -> RequestIncidents:
    async with uow:
        state = (await uow.incidents.request_states([request_id])).get(request_id)
        incidents = await uow.incidents.about(request_id)
    if state is None and not incidents:
        raise RequestNotFound(request_id, message=f"Intake knows no request {request_id} and no incident about it.")
    views = [IncidentView.of_incident(incident, state, now) for incident in incidents]
    open_views = [view for view in views if view.open]
    if not open_views and state is not None and policy.stalled_since(state, now) is not None:
        open_views = [IncidentView.of_stalled(state, policy, now)]
    latest = max(open_views, key=lambda view: view.last_failure_at or view.opened_at, default=None)
    return RequestIncidents(
        request_id=request_id,
        request_number=state.number if state else None,
        status=state.status if state else None,
        status_since=state.updated_at if state else None,
        stuck=latest is not None,
        stage=latest.stage if latest else None,
        since=min(view.since for view in open_views) if open_views else None,
        last_error=latest.error if latest else None,
        open=open_views,
        resolved=[view for view in views if not view.open],
    )
