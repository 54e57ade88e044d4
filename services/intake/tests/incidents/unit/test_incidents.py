"""The incident view: dead letters announced by the stages, stalled requests, and the HTTP API over them."""

import copy
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from dukcapil_intake.incidents.domain.incidents import (
    DEFAULT_STALL_HOURS,
    Incident,
    IncidentStatus,
    RequestState,
    StallPolicy,
)
from dukcapil_intake.incidents.entrypoints import incidents as incidents_http
from dukcapil_intake.incidents.entrypoints.consumers import OPERATIONS
from dukcapil_intake.incidents.service_layer import incidents
from dukcapil_intake.incidents.service_layer import unit_of_work as incidents_uow
from dukcapil_intake.incidents.service_layer.repository import IncidentRepository
from dukcapil_intake.requests.domain.model import RequestStatus
from dukcapil_intake.requests.entrypoints.consumers import LIFECYCLE
from dukcapil_intake.requests.service_layer import handlers
from dukcapil_shared.auth.roles import Role
from dukcapil_shared.clock import SystemClock
from dukcapil_shared.contracts import (
    Envelope,
    Event,
    MessageParked,
    MessageResolved,
    ShipmentCreated,
    ShipmentDelivered,
    ShipmentFlagged,
)
from dukcapil_shared.ops import http as dead_letter_http
from dukcapil_shared.ops.service import DeadLetterDesk
from dukcapil_shared.web import install_error_handlers
from dukcapil_testing import (
    FakeOpsUnitOfWork,
    FakeRepublisher,
    FakeUnitOfWork,
    InMemoryEventBus,
    install_test_auth,
    staff_headers,
)

from ...fakes import FakeRequestRepository, FakeRequestsUnitOfWork
from ...requests.unit.test_handlers import submit

NIK = "3602144107900001"
POLICY = StallPolicy.from_hours(DEFAULT_STALL_HOURS)


class FakeIncidentRepository(IncidentRepository):
    def __init__(self, requests: FakeRequestRepository) -> None:
        self.committed: dict[uuid.UUID, Incident] = {}
        self.pending: dict[uuid.UUID, Incident] = {}
        self._requests = requests
        self.looked_up: list[uuid.UUID] = []
        """The requests whose incidents `about` was asked for."""

    async def add(self, incident: Incident) -> None:
        self.pending[incident.id] = copy.deepcopy(incident)

    async def get(self, incident_id: uuid.UUID) -> Incident | None:
        return copy.deepcopy(self.pending.get(incident_id) or self.committed.get(incident_id))

    async def save(self, incident: Incident) -> None:
        self.pending[incident.id] = copy.deepcopy(incident)

    def _ordered(self) -> list[Incident]:
        return copy.deepcopy(sorted(self.committed.values(), key=lambda i: (i.opened_at, str(i.id))))

    async def about(self, request_id: uuid.UUID) -> list[Incident]:
        """As the SQL repository inside its transaction: what this unit of work wrote is seen too."""
        self.looked_up.append(request_id)
        seen = copy.deepcopy(self.committed | self.pending)
        return sorted((i for i in seen.values() if i.request_id == request_id), key=lambda i: (i.opened_at, str(i.id)))

    async def request_states(self, request_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, RequestState]:
        return {
            r.id: RequestState(r.id, r.number, r.status, r.updated_at)
            for r in self._requests.committed.values()
            if r.id in request_ids
        }

    async def stalled(self, policy: StallPolicy, *, now: datetime, limit: int) -> list[RequestState]:
        states = [RequestState(r.id, r.number, r.status, r.updated_at) for r in self._requests.committed.values()]
        return sorted((s for s in states if policy.stalled_since(s, now)), key=lambda s: s.updated_at)[:limit]

    async def list(self, *, open: bool, limit: int) -> list[Incident]:
        return [i for i in self._ordered() if i.is_open == open][:limit]


class IncidentsUnitOfWork(FakeUnitOfWork, incidents_uow.IncidentsUnitOfWork):
    """The incidents, reading the states of the requests the tests submit through `requests_side`."""

    def __init__(self) -> None:
        super().__init__()
        self.requests_side = FakeRequestsUnitOfWork(notify=False)
        self.requests_side.incidents_side = self  # a shipment's steps reach the incidents through the requests
        self.incidents = FakeIncidentRepository(self.requests_side.requests)

    async def commit(self) -> None:
        await super().commit()
        self.incidents.committed.update(self.incidents.pending)
        self.incidents.pending = {}

    async def rollback(self) -> None:
        await super().rollback()
        self.incidents.pending = {}


def parked(request_id: uuid.UUID, **changes: object) -> MessageParked:
    values: dict[str, object] = {
        "request_id": request_id,
        "service": "documents",
        "queue": "dukcapil.documents.approvals",
        "message_routing_key": "request.approved.v1",
        "error": "attempts exhausted: LayoutError: kartu_keluarga.toml has no field 'anggota'",
        "attempts": 6,
        "dead_letter_id": uuid.uuid4(),
        "first_failure_at": datetime.now(UTC) - timedelta(minutes=20),
        "last_failure_at": datetime.now(UTC) - timedelta(minutes=1),
    }
    return MessageParked(**(values | changes))  # type: ignore[arg-type]


def resolved(event: MessageParked, resolution: str = "replayed") -> MessageResolved:
    return MessageResolved(
        request_id=event.request_id,
        service=event.service,
        dead_letter_id=event.dead_letter_id,
        resolution=resolution,  # type: ignore[arg-type]
        resolved_by="rina",
        reason="template fixed",
        queue=event.queue,
        message_routing_key=event.message_routing_key,
    )


async def deliver(uow: IncidentsUnitOfWork, event: MessageParked | MessageResolved, at: datetime | None = None) -> None:
    envelope = Envelope.wrap(event, source="/dukcapil/lebak/documents", time=at)
    handler = incidents.open_incident if isinstance(event, MessageParked) else incidents.resolve_incident
    async with uow:
        await handler(uow, event, envelope)  # type: ignore[arg-type]
        await uow.commit()


async def a_request(uow: IncidentsUnitOfWork, status: RequestStatus = RequestStatus.approved, age_minutes: float = 0):
    request = await handlers.submit_request(submit(), uow=uow.requests_side)
    stored = uow.requests_side.requests.committed[request.id]
    stored.status = status
    stored.updated_at = datetime.now(UTC) - timedelta(minutes=age_minutes)
    return stored


async def test_a_parked_message_opens_an_incident_that_says_where_since_when_and_why() -> None:
    uow = IncidentsUnitOfWork()
    request = await a_request(uow, age_minutes=21)
    event = parked(request.id, error=f"permanent: ValueError: NIK {NIK} does not match")
    await deliver(uow, event)

    now = datetime.now(UTC)
    [view] = await incidents.list_incidents(open=True, policy=POLICY, now=now, limit=100, uow=uow)
    assert (view.kind, view.stage, view.event_type, view.attempts) == (
        "dead_letter",
        "documents",
        "request.approved.v1",
        6,
    )
    assert (view.request_number, view.request_status, view.status_since) == (
        request.number,
        RequestStatus.approved,
        request.updated_at,
    )
    assert view.error == "permanent: ValueError: NIK 360214******0001 does not match"
    assert view.since == event.first_failure_at and view.dead_letter_id == event.dead_letter_id
    assert view.open and 0 <= view.open_for_seconds < 5
    assert len(await incidents.list_incidents(open=True, policy=POLICY, now=now, limit=100, uow=uow)) == 1, (
        "stalled too, but shown once, as the dead letter"
    )


async def test_a_replay_or_discard_resolves_the_incident() -> None:
    uow = IncidentsUnitOfWork()
    request = await a_request(uow)
    event = parked(request.id)
    await deliver(uow, event)
    await deliver(uow, resolved(event))

    now = datetime.now(UTC)
    assert await incidents.list_incidents(open=True, policy=POLICY, now=now, limit=100, uow=uow) == []
    [view] = await incidents.list_incidents(open=False, policy=POLICY, now=now, limit=100, uow=uow)
    assert (view.open, view.resolution, view.resolved_by, view.resolution_reason) == (
        False,
        "replayed",
        "rina",
        "template fixed",
    )
    found = await incidents.request_incidents(request.id, policy=POLICY, now=now, uow=uow)
    assert not found.stuck and found.open == [] and [v.dead_letter_id for v in found.resolved] == [event.dead_letter_id]


async def test_a_resolution_that_overtakes_the_parking_keeps_the_incident_resolved() -> None:
    uow = IncidentsUnitOfWork()
    request = await a_request(uow)
    event = parked(request.id)
    await deliver(uow, resolved(event, "discarded"))
    await deliver(uow, event)
    [incident] = uow.incidents.committed.values()
    assert incident.status == IncidentStatus.resolved and incident.resolution == "discarded"
    assert incident.attempts == 6 and incident.error.startswith("attempts exhausted")


async def test_the_operations_events_reach_the_incidents_through_their_own_queue_once() -> None:
    uow = IncidentsUnitOfWork()
    request = await a_request(uow)
    event = parked(request.id)
    async with InMemoryEventBus("intake", [OPERATIONS], lambda: uow) as bus:
        assert await bus.publish(event) == ["dukcapil.intake.operations"]
        assert await bus.publish(resolved(event)) == ["dukcapil.intake.operations"]
    [incident] = uow.incidents.committed.values()
    assert incident.status == IncidentStatus.resolved


async def test_requests_that_do_not_move_are_listed_as_stalled_by_their_statuss_threshold() -> None:
    uow = IncidentsUnitOfWork()
    stuck = await a_request(uow, RequestStatus.submitted, age_minutes=25)
    await a_request(uow, RequestStatus.submitted, age_minutes=14)
    await a_request(uow, RequestStatus.info_requested, age_minutes=60 * 24 * 30)  # the citizen's turn: never stalls
    await a_request(uow, RequestStatus.in_review, age_minutes=60)  # a reviewer has days

    now = datetime.now(UTC)
    [view] = await incidents.list_incidents(open=True, policy=POLICY, now=now, limit=100, uow=uow)
    assert (view.kind, view.request_id, view.stage, view.request_status) == (
        "stalled",
        stuck.id,
        "review",
        RequestStatus.submitted,
    )
    assert view.since == stuck.updated_at and view.attempts == 0 and view.event_type is None
    assert view.error.startswith("status submitted unchanged for 25 min (expected to move on within 15 min)")
    assert 9 * 60 <= view.open_for_seconds <= 10 * 60 + 5

    found = await incidents.request_incidents(stuck.id, policy=POLICY, now=now, uow=uow)
    assert found.stuck and found.stage == "review" and found.since == stuck.updated_at
    assert found.last_error == view.error


async def test_one_requests_incident_names_the_latest_failure_and_an_unknown_request_is_not_found() -> None:
    uow = IncidentsUnitOfWork()
    request = await a_request(uow)
    older = parked(request.id, last_failure_at=datetime.now(UTC) - timedelta(minutes=9))
    newer = parked(
        request.id, service="shipping", queue="dukcapil.shipping.documents", message_routing_key="document.issued.v1"
    )
    await deliver(uow, older)
    await deliver(uow, newer)
    found = await incidents.request_incidents(request.id, policy=POLICY, now=datetime.now(UTC), uow=uow)
    assert found.stuck and found.stage == "shipping" and len(found.open) == 2
    assert found.since == min(older.first_failure_at, newer.first_failure_at)  # type: ignore[type-var]

    stranger = parked(uuid.uuid4())
    await deliver(uow, stranger)
    elsewhere = await incidents.request_incidents(stranger.request_id, policy=POLICY, now=datetime.now(UTC), uow=uow)
    assert elsewhere.request_number is None and elsewhere.stuck
    with pytest.raises(incidents.RequestNotFound):
        await incidents.request_incidents(uuid.uuid4(), policy=POLICY, now=datetime.now(UTC), uow=uow)


def lost_parcel(request_id: uuid.UUID, shipment_id: uuid.UUID, reason: str = "courier_lost_parcel") -> ShipmentFlagged:
    return ShipmentFlagged(
        request_id=request_id,
        shipment_id=shipment_id,
        reason=reason,
        detail="Kurir JNE tidak mengenal lagi nomor resi 1234567890123456 yang diterbitkannya (Cnote No. Not Found)",
    )


def rebooked(request_id: uuid.UUID, shipment_id: uuid.UUID) -> ShipmentCreated:
    return ShipmentCreated(
        request_id=request_id, shipment_id=shipment_id, courier="JNE", service="REG", airway_bill="6543210987654321"
    )


async def happen(uow: IncidentsUnitOfWork, event: Event, at: datetime) -> None:
    """What the lifecycle consumer does with a shipment's event, sent by shipping at `at`: the step enters the
    request's history and, in the same transaction, the incidents (dispatch.follow_requests)."""
    envelope = Envelope.wrap(event, source="/dukcapil/lebak/shipping", time=at)
    async with uow.requests_side:
        await LIFECYCLE.handlers[type(event)](uow.requests_side, event, envelope)
        await uow.requests_side.commit()


async def test_a_parcel_the_courier_lost_is_an_incident_until_its_shipment_moves_on() -> None:
    uow = IncidentsUnitOfWork()
    request = await a_request(uow, RequestStatus.shipped, age_minutes=30)
    shipment_id = uuid.uuid4()
    flagged_at = datetime.now(UTC) - timedelta(minutes=2)
    await happen(uow, rebooked(request.id, shipment_id), flagged_at - timedelta(minutes=30))  # the first booking
    await happen(uow, lost_parcel(request.id, shipment_id), flagged_at)
    await happen(uow, lost_parcel(request.id, shipment_id, reason="address_unserviceable"), flagged_at)

    now = datetime.now(UTC)
    [view] = await incidents.list_incidents(open=True, policy=POLICY, now=now, limit=100, uow=uow)
    assert (view.kind, view.stage, view.request_status, view.event_type) == (
        "shipment_flagged",
        "shipping",
        RequestStatus.shipped,
        "shipment.flagged.v1",
    )
    assert view.error.startswith("courier_lost_parcel: Kurir JNE tidak mengenal lagi nomor resi")
    assert (view.since, view.dead_letter_id, view.queue) == (flagged_at, None, None)
    found = await incidents.request_incidents(request.id, policy=POLICY, now=now, uow=uow)
    assert found.stuck and found.stage == "shipping"

    await happen(uow, rebooked(request.id, shipment_id), now)
    assert await incidents.list_incidents(open=True, policy=POLICY, now=now, limit=100, uow=uow) == []
    [closed] = await incidents.list_incidents(open=False, policy=POLICY, now=now, limit=100, uow=uow)
    assert (closed.kind, closed.resolution, closed.resolved_by) == ("shipment_flagged", "rebooked", "shipping")

    await happen(uow, lost_parcel(request.id, shipment_id), flagged_at)  # the old flag, come late
    assert await incidents.list_incidents(open=True, policy=POLICY, now=now, limit=100, uow=uow) == []
    # The re-booked parcel lost again: one delivery, on the lifecycle queue (the operations queue takes dead letters).
    async with InMemoryEventBus("intake", [LIFECYCLE, OPERATIONS], lambda: uow.requests_side) as bus:
        assert await bus.publish(lost_parcel(request.id, shipment_id)) == ["dukcapil.intake.lifecycle"]
    [reopened] = await incidents.list_incidents(open=True, policy=POLICY, now=datetime.now(UTC), limit=100, uow=uow)
    assert reopened.since > now and reopened.resolution is None


async def test_the_steps_of_a_shipment_never_flagged_look_for_no_incident() -> None:
    uow = IncidentsUnitOfWork()
    request = await a_request(uow, RequestStatus.shipped)
    shipment_id = uuid.uuid4()
    await happen(uow, rebooked(request.id, shipment_id), datetime.now(UTC) - timedelta(minutes=1))
    assert uow.incidents.looked_up == [], "no flag in the request's history: no incident to close"
    await happen(uow, lost_parcel(request.id, shipment_id), datetime.now(UTC) - timedelta(seconds=30))
    await happen(uow, rebooked(request.id, shipment_id), datetime.now(UTC))
    assert uow.incidents.looked_up == [request.id], "once flagged, moving on looks"
    [closed] = await incidents.list_incidents(open=False, policy=POLICY, now=datetime.now(UTC), limit=100, uow=uow)
    assert closed.resolution == "rebooked"


async def test_a_flag_and_the_step_that_moves_it_on_in_one_transaction_leave_the_incident_closed() -> None:
    """A batched consumer applies several deliveries in one transaction: the re-booking sees the incident that the
    flag before it opened, though neither is committed yet."""
    uow = IncidentsUnitOfWork()
    request = await a_request(uow, RequestStatus.shipped)
    shipment_id = uuid.uuid4()
    flagged_at = datetime.now(UTC) - timedelta(minutes=1)
    async with uow.requests_side:
        steps = ((lost_parcel(request.id, shipment_id), flagged_at), (rebooked(request.id, shipment_id), None))
        for event, at in steps:
            envelope = Envelope.wrap(event, source="/dukcapil/lebak/shipping", time=at)
            await LIFECYCLE.handlers[type(event)](uow.requests_side, event, envelope)
        await uow.requests_side.commit()
    now = datetime.now(UTC)
    assert await incidents.list_incidents(open=True, policy=POLICY, now=now, limit=100, uow=uow) == []
    [closed] = await incidents.list_incidents(open=False, policy=POLICY, now=now, limit=100, uow=uow)
    assert (closed.kind, closed.resolution) == ("shipment_flagged", "rebooked")


async def test_a_parcel_stuck_in_transit_is_an_incident_closed_by_its_delivery() -> None:
    uow = IncidentsUnitOfWork()
    request = await a_request(uow, RequestStatus.shipped)
    shipment_id = uuid.uuid4()
    flagged_at = datetime.now(UTC) - timedelta(minutes=1)
    await happen(uow, lost_parcel(request.id, shipment_id, reason="stuck_in_transit"), flagged_at)
    [view] = await incidents.list_incidents(open=True, policy=POLICY, now=datetime.now(UTC), limit=100, uow=uow)
    assert view.kind == "shipment_flagged" and view.error.startswith("stuck_in_transit: ")

    delivered = ShipmentDelivered(
        request_id=request.id,
        shipment_id=shipment_id,
        airway_bill="1234567890123456",
        receiver_name="Siti Aminah",
        delivered_at=datetime.now(UTC),
    )
    await happen(uow, delivered, datetime.now(UTC))
    [closed] = await incidents.list_incidents(open=False, policy=POLICY, now=datetime.now(UTC), limit=100, uow=uow)
    assert closed.resolution == "delivered"


def test_a_stall_threshold_names_a_request_status() -> None:
    assert StallPolicy.from_hours({"approved": 0.5}).threshold(RequestStatus.approved) == timedelta(minutes=30)
    with pytest.raises(ValueError):
        StallPolicy.from_hours({"aproved": 5})


# --- HTTP ---


def client_for(uow: IncidentsUnitOfWork) -> httpx.AsyncClient:
    app = FastAPI()
    install_error_handlers(app)
    desk = DeadLetterDesk(service="intake", unit_of_work=FakeOpsUnitOfWork, republisher=FakeRepublisher())
    install_test_auth(app)
    dead_letter_http.install(app, desk)
    app.state.stall_policy = POLICY
    app.state.clock = SystemClock()
    incidents_http.install(app, unit_of_work=lambda: uow)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_the_incident_view_is_for_operators_and_never_shows_a_nik() -> None:
    uow = IncidentsUnitOfWork()
    request = await a_request(uow)
    await deliver(uow, parked(request.id, error=f"permanent: applicant {NIK} unknown"))
    staff = staff_headers(Role.SUPERVISOR, reason=None)
    async with client_for(uow) as client:
        assert (await client.get("/incidents")).status_code == 401
        assert (await client.get(f"/requests/{request.id}/incident")).status_code == 401
        reviewer = staff_headers(Role.REVIEWER, reason=None)
        assert (await client.get("/incidents", headers=reviewer)).status_code == 403
        listed = await client.get("/incidents", params={"open": "true"}, headers=staff)
        one = await client.get(f"/requests/{request.id}/incident", headers=staff)
        missing = await client.get(f"/requests/{uuid.uuid4()}/incident", headers=staff)
        resolved_only = await client.get("/incidents", params={"open": "false"}, headers=staff)

    assert listed.status_code == one.status_code == 200
    [incident] = listed.json()
    assert incident["request_number"] == request.number and incident["request_status"] == "approved"
    assert incident["stage"] == "documents" and incident["event_type"] == "request.approved.v1"
    assert incident["error"] == "permanent: applicant 360214******0001 unknown"
    assert {"since", "opened_at", "open_for_seconds", "status_since", "attempts", "dead_letter_id"} <= set(incident)
    body = one.json()
    assert body["stuck"] is True and body["stage"] == "documents" and body["status"] == "approved"
    assert body["last_error"] == incident["error"]
    assert NIK not in listed.text + one.text
    assert missing.status_code == 404 and resolved_only.json() == []
