"""Intake's incidents and stalled requests on SQLite and PostgreSQL, migrated by the service's own scripts."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from dukcapil_intake import tables
from dukcapil_intake.incidents.adapters.unit_of_work import SqlIncidentsUnitOfWork
from dukcapil_intake.incidents.domain.incidents import (
    Incident,
    IncidentKind,
    IncidentStatus,
    RequestState,
    StallPolicy,
    shipment_flag_incident_id,
)
from dukcapil_intake.requests.adapters.unit_of_work import SqlRequestsUnitOfWork
from dukcapil_intake.requests.domain.model import RequestStatus, ServiceRequest
from dukcapil_shared.contracts import BiodataWniDetails, MessageResolved, ShipmentFlagged
from dukcapil_shared.ops.store import DeadLetterQuery, SqlOpsUnitOfWork

from ...examples import AHMAD, pickup

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def uow(engine) -> SqlIncidentsUnitOfWork:  # type: ignore[no-untyped-def]
    return SqlIncidentsUnitOfWork(engine, outbox_table=tables.outbox, inbox_table=tables.inbox, source="/test")


def requests_uow(engine) -> SqlRequestsUnitOfWork:  # type: ignore[no-untyped-def]
    return SqlRequestsUnitOfWork(engine, outbox_table=tables.outbox, inbox_table=tables.inbox, source="/test")


def a_request(number: str, status: RequestStatus, unchanged_for: timedelta) -> ServiceRequest:
    return ServiceRequest(
        id=uuid.uuid4(),
        number=number,
        type="biodata_wni",
        applicant=AHMAD,
        details=BiodataWniDetails(),
        delivery=pickup(),
        kecamatan_code="36.02.14",
        channel="online",
        status=status,
        submitted_at=NOW - unchanged_for,
        updated_at=NOW - unchanged_for,
    )


def an_incident(request_id: uuid.UUID, opened_minutes_ago: int) -> Incident:
    return Incident(
        id=uuid.uuid4(),
        request_id=request_id,
        service="documents",
        queue="dukcapil.documents.approvals",
        event_type="request.approved.v1",
        error="attempts exhausted: RuntimeError: boom",
        attempts=6,
        opened_at=NOW - timedelta(minutes=opened_minutes_ago),
        first_failure_at=NOW - timedelta(minutes=opened_minutes_ago + 5),
        last_failure_at=NOW - timedelta(minutes=opened_minutes_ago),
    )


async def test_incidents_are_kept_resolved_and_listed_with_their_requests_state(engine) -> None:  # type: ignore[no-untyped-def]
    request = a_request("360214-20261128-0001", RequestStatus.approved, timedelta(minutes=30))
    first, second = an_incident(request.id, 20), an_incident(request.id, 10)
    stranger = an_incident(uuid.uuid4(), 15)
    async with requests_uow(engine) as unit:
        await unit.requests.add(request)
        await unit.commit()
    async with uow(engine) as unit:
        for incident in (first, second, stranger):
            await unit.incidents.add(incident)
        await unit.commit()

    async with uow(engine) as unit:
        assert await unit.incidents.get(first.id) == first
        assert [i.id for i in await unit.incidents.list(open=True, limit=10)] == [first.id, stranger.id, second.id]
        assert [i.id for i in await unit.incidents.about(request.id)] == [first.id, second.id]
        states = await unit.incidents.request_states([request.id, stranger.request_id])
        assert states == {request.id: RequestState(request.id, request.number, request.status, request.updated_at)}
        resolved = await unit.incidents.get(first.id)
        assert resolved is not None
        resolved.resolve(
            MessageResolved(
                request_id=request.id,
                service="documents",
                dead_letter_id=first.id,
                resolution="discarded",
                resolved_by="rina",
                reason="duplicate",
                queue=first.queue,
                message_routing_key=first.event_type,
            ),
            NOW,
        )
        await unit.incidents.save(resolved)
        await unit.commit()

    async with uow(engine) as unit:
        [done] = await unit.incidents.list(open=False, limit=10)
        assert (done.id, done.status, done.resolution, done.resolved_by, done.resolved_at) == (
            first.id,
            IncidentStatus.resolved,
            "discarded",
            "rina",
            NOW,
        )
        assert [i.id for i in await unit.incidents.list(open=True, limit=1)] == [stranger.id]


async def test_stalled_requests_are_found_by_their_statuss_threshold(engine) -> None:  # type: ignore[no-untyped-def]
    policy = StallPolicy.from_hours({"submitted": 10 / 60, "approved": 1})
    long_submitted = a_request("360214-20261128-0001", RequestStatus.submitted, timedelta(minutes=40))
    just_submitted = a_request("360214-20261128-0002", RequestStatus.submitted, timedelta(minutes=5))
    long_approved = a_request("360214-20261128-0003", RequestStatus.approved, timedelta(minutes=61))
    recent_approved = a_request("360214-20261128-0004", RequestStatus.approved, timedelta(minutes=30))
    waiting_citizen = a_request("360214-20261128-0005", RequestStatus.info_requested, timedelta(days=30))
    async with requests_uow(engine) as unit:
        for request in (long_submitted, just_submitted, long_approved, recent_approved, waiting_citizen):
            await unit.requests.add(request)
        await unit.commit()

    async with uow(engine) as unit:
        stalled = await unit.incidents.stalled(policy, now=NOW, limit=10)
        assert [state.number for state in stalled] == [long_approved.number, long_submitted.number]
        assert stalled[0] == RequestState(
            long_approved.id, long_approved.number, RequestStatus.approved, NOW - timedelta(minutes=61)
        )
        assert [s.number for s in await unit.incidents.stalled(policy, now=NOW, limit=1)] == [long_approved.number]
        assert await unit.incidents.stalled(StallPolicy({}), now=NOW, limit=10) == []


async def test_the_migration_gives_intake_a_dead_letter_table_too(engine) -> None:  # type: ignore[no-untyped-def]
    ops = SqlOpsUnitOfWork(
        engine,
        dead_letter_table=tables.dead_letters,
        outbox_table=tables.outbox,
        inbox_table=tables.inbox,
        source="/test",
    )
    async with ops as unit:
        assert await unit.dead_letters.list(DeadLetterQuery()) == []


async def test_a_flag_on_a_shipment_is_kept_as_its_own_kind_of_incident(engine) -> None:  # type: ignore[no-untyped-def]
    flag = ShipmentFlagged(
        request_id=uuid.uuid4(), shipment_id=uuid.uuid4(), reason="courier_lost_parcel", detail="resi tidak dikenal"
    )
    parked = an_incident(flag.request_id, opened_minutes_ago=3)
    async with uow(engine) as unit:
        await unit.incidents.add(Incident.flagged(flag, NOW))
        await unit.incidents.add(parked)
        await unit.commit()

    async with uow(engine) as unit:
        kept = await unit.incidents.get(shipment_flag_incident_id(flag.shipment_id, flag.reason))  # type: ignore[arg-type]
        assert kept is not None and kept.kind == IncidentKind.shipment_flagged and kept.queue == ""
        assert kept.error == "courier_lost_parcel: resi tidak dikenal" and kept.is_open
        assert [i.kind for i in await unit.incidents.about(flag.request_id)] == [
            IncidentKind.dead_letter,
            IncidentKind.shipment_flagged,
        ]
