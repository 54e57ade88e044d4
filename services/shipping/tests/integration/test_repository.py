"""The SQL repository and the migrations on real databases: embedded SQLite, and PostgreSQL."""

import asyncio
import uuid
from collections.abc import AsyncIterator
from copy import deepcopy
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, insert, select
from sqlalchemy.event import listen
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from dukcapil_shared.contracts import Envelope
from dukcapil_shared.contracts.regions import find_kecamatan
from dukcapil_shared.db import create_engine, migrate
from dukcapil_shipping.adapters import tables
from dukcapil_shipping.adapters.repository import SqlShippingUnitOfWork
from dukcapil_shipping.domain.model import (
    CourierReport,
    Parcel,
    RequestedDelivery,
    Shipment,
    ShipmentStatus,
    ShippingMethod,
    TrackingEntry,
)
from dukcapil_shipping.service_layer import handlers
from dukcapil_shipping.service_layer.courier import CourierUnavailable
from dukcapil_shipping.service_layer.unit_of_work import ConcurrentUpdate

from ..fakes import (
    ADDRESS,
    COURIER,
    DESTINATIONS,
    PICKUP,
    T0,
    FakeCourier,
    deliver,
    issued,
    receive,
    submitted,
)

MIGRATIONS = "dukcapil_shipping:migrations"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path, postgres) -> str:  # type: ignore[no-untyped-def]
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path}/shipping.db"
    return await postgres.create()


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(database_url)
    await migrate(engine, MIGRATIONS)
    yield engine
    await engine.dispose()


def unit_of_work(engine: AsyncEngine) -> SqlShippingUnitOfWork:
    return SqlShippingUnitOfWork(engine, outbox_table=tables.outbox, inbox_table=tables.inbox, source="/test")


async def book(engine: AsyncEngine, courier: FakeCourier) -> int:
    return await handlers.book_shipments(unit_of_work=lambda: unit_of_work(engine), courier=courier)


async def routing_keys(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as connection:
        return sorted((await connection.execute(select(tables.outbox.c.routing_key))).scalars().all())


class SlowCourier(FakeCourier):
    async def book(self, parcel: Parcel) -> str:
        await asyncio.sleep(0.05)
        return await super().book(parcel)


async def test_a_shipment_is_stored_booked_tracked_and_found_with_its_history(engine: AsyncEngine) -> None:
    courier = FakeCourier()
    event = issued()
    await deliver(unit_of_work(engine), event)
    async with unit_of_work(engine) as uow:
        waiting = await uow.shipments.get_by_request(event.request_id)
    assert waiting is not None and waiting.status == ShipmentStatus.booking
    assert waiting.parcel is not None and waiting.parcel.order_id == str(event.request_id)
    assert (waiting.booking_attempts, waiting.next_booking_at) == (0, waiting.created_at)
    assert await routing_keys(engine) == []

    assert await book(engine, courier) == 1
    [airway_bill] = courier.airway_bills.values()
    courier.reports[airway_bill] = CourierReport(entries=(TrackingEntry("manifested", "MANIFESTED", T0, "MNF"),))
    moved = await handlers.track_shipments(
        unit_of_work=lambda: unit_of_work(engine), courier=courier, find_office=find_kecamatan
    )
    assert moved == 1
    [shipment] = await handlers.list_shipments(
        request_id=event.request_id, status=None, limit=10, offset=0, uow=unit_of_work(engine)
    )
    assert (shipment.status, shipment.version, shipment.airway_bill) == ("created", 2, airway_bill)
    assert (shipment.courier, shipment.service, shipment.next_booking_at) == ("JNE", "REG", None)
    assert shipment.parcel == waiting.parcel
    assert [(e.status, e.courier_code) for e in shipment.tracking] == [("created", None), ("manifested", "MNF")]
    assert shipment.tracking[1].occurred_at == T0
    assert await routing_keys(engine) == ["shipment.created.v1", "shipment.status_changed.v1"]


async def test_a_document_held_at_the_office_is_stored_with_its_first_step_and_announcement_together(
    engine: AsyncEngine,
) -> None:
    """On PostgreSQL the shipment, its tracking and its outbox row are one statement."""
    event = issued(PICKUP)
    statements: list[str] = []
    uow = unit_of_work(engine)
    original_bind = uow.bind

    def listening_bind(connection) -> None:  # type: ignore[no-untyped-def]
        listen(connection.sync_connection, "before_cursor_execute", lambda *call: statements.append(call[2]))
        original_bind(connection)

    uow.bind = listening_bind  # type: ignore[method-assign]
    await deliver(uow, event)
    alone = [s for s in statements if s.startswith(("INSERT INTO outbox", "INSERT INTO tracking", "INSERT INTO ship"))]
    together = [s for s in statements if s.startswith("WITH added AS") and "INSERT INTO outbox" in s]
    if engine.dialect.name == "postgresql":
        assert (len(alone), len(together)) == (0, 1)
    else:
        assert (len(alone), len(together)) == (3, 0)
    assert await routing_keys(engine) == ["shipment.ready_for_pickup.v1"]
    async with unit_of_work(engine) as uow:
        [shipment] = await uow.shipments.for_request(event.request_id)
    assert shipment.status == ShipmentStatus.ready_for_pickup and len(shipment.tracking) == 1


async def test_a_consumers_claim_goes_with_the_delivery_or_the_shipment_its_event_stores(postgres) -> None:  # type: ignore[no-untyped-def]
    """PostgreSQL: the consumer defers its inbox claim (dukcapil_shared.messaging.consumer), and the statement that
    stores a submitted request's delivery, or an issued document's shipment, writes it: no INSERT INTO inbox of its
    own."""
    engine = create_engine(await postgres.create())
    await migrate(engine, MIGRATIONS)
    statements: list[str] = []
    listen(engine.sync_engine, "before_cursor_execute", lambda *call: statements.append(call[2]))
    request, document = submitted(COURIER), issued(PICKUP)
    claims = {
        "dukcapil.shipping.requests": Envelope.wrap(request, source="/test"),
        "dukcapil.shipping.documents": Envelope.wrap(document, source="/test"),
    }
    try:
        async with unit_of_work(engine) as uow:
            assert uow.inbox.defer_claim("dukcapil.shipping.requests", str(claims["dukcapil.shipping.requests"].id))
            await handlers.check_address(uow, request, claims["dukcapil.shipping.requests"], destinations=DESTINATIONS)
            await uow.commit()
        async with unit_of_work(engine) as uow:
            assert uow.inbox.defer_claim("dukcapil.shipping.documents", str(claims["dukcapil.shipping.documents"].id))
            await handlers.ship_document(
                uow,
                document,
                claims["dukcapil.shipping.documents"],
                find_office=find_kecamatan,
                destinations=DESTINATIONS,
            )
            await uow.commit()
        assert [statement for statement in statements if statement.startswith("INSERT INTO inbox")] == []
        async with unit_of_work(engine).reading() as uow:
            for consumer, envelope in claims.items():
                assert await uow.inbox.has_claimed(consumer, str(envelope.id)), consumer
            assert await uow.deliveries.get(request.request_id) is not None
            assert len(await uow.shipments.for_request(document.request_id)) == 1
    finally:
        await engine.dispose()


async def test_a_postponed_and_a_refused_booking_are_stored(engine: AsyncEngine) -> None:
    postponed, refused = issued(), issued()
    for event in (postponed, refused):
        await deliver(unit_of_work(engine), event)
    async with unit_of_work(engine) as uow:
        now = datetime.now(UTC)
        for event in (postponed, refused):
            shipment = await uow.shipments.get_by_request(event.request_id)
            assert shipment is not None
            if event is postponed:
                shipment.postpone_booking("CourierUnavailable: HTTP 503", now=now)
            else:
                shipment.fail_booking("CourierRefused: HTTP 400", now=now)
            await uow.shipments.save(shipment)
        await uow.commit()

    async with unit_of_work(engine) as uow:
        waiting = await uow.shipments.get_by_request(postponed.request_id)
        failed = await uow.shipments.get_by_request(refused.request_id)
        assert await uow.shipments.claim_for_booking(now=now + timedelta(seconds=1), until=now, limit=10) == []
    assert waiting is not None and failed is not None
    assert (waiting.status, waiting.booking_attempts, waiting.last_booking_error) == (
        "booking",
        1,
        "CourierUnavailable: HTTP 503",
    )
    assert waiting.next_booking_at is not None
    assert abs(waiting.next_booking_at - (now + timedelta(seconds=2))) < timedelta(milliseconds=1)
    assert (failed.status, failed.booking_attempts, failed.next_booking_at) == ("booking_failed", 1, None)


async def test_two_replicas_booking_at_once_book_each_shipment_once(engine: AsyncEngine) -> None:
    events = [issued() for _ in range(5)]
    for event in events:
        await deliver(unit_of_work(engine), event)
    courier = SlowCourier()

    assert sum(await asyncio.gather(book(engine, courier), book(engine, courier))) == 5
    assert sorted(parcel.order_id for parcel in courier.bookings) == sorted(str(e.request_id) for e in events)
    assert await routing_keys(engine) == ["shipment.created.v1"] * 5
    assert await book(engine, courier) == 0


async def test_a_booking_postponed_by_the_courier_is_claimed_again_when_due(engine: AsyncEngine) -> None:
    await deliver(unit_of_work(engine), issued())
    courier = FakeCourier()
    courier.failures = [CourierUnavailable("HTTP 503")]
    assert await book(engine, courier) == 0
    assert await book(engine, courier) == 0, "not due for two seconds"
    async with unit_of_work(engine) as uow:
        [due] = await uow.shipments.claim_for_booking(
            now=datetime.now(UTC) + timedelta(seconds=3), until=datetime.now(UTC), limit=10
        )
    assert (due.booking_attempts, due.last_booking_error) == (1, "CourierUnavailable: HTTP 503")


async def test_a_stale_copy_is_not_saved(engine: AsyncEngine) -> None:
    await deliver(unit_of_work(engine), issued())
    await book(engine, FakeCourier())
    async with unit_of_work(engine) as uow:
        [shipment] = await uow.shipments.tracked(limit=10)
    step = TrackingEntry("picked_up", "PICKED UP", T0, "PU1")
    for first in (True, False):
        async with unit_of_work(engine) as uow:
            stale = Shipment(**{**shipment.__dict__, "tracking": list(shipment.tracking), "new_tracking": []})
            stale.follow(CourierReport(entries=(step,)), now=T0)
            if first:
                await uow.shipments.save(stale)
            else:
                with pytest.raises(ConcurrentUpdate):
                    await uow.shipments.save(stale)
            await uow.commit()
    async with unit_of_work(engine) as uow:
        stored = await uow.shipments.get(shipment.id)
    assert stored is not None and [e.status for e in stored.tracking] == ["created", "picked_up"]


async def test_one_shipment_per_document(engine: AsyncEngine) -> None:
    event = issued()
    await deliver(unit_of_work(engine), event)
    async with unit_of_work(engine) as uow:
        shipment = await uow.shipments.get_by_request(event.request_id)
        assert shipment is not None
        twin = Shipment(**{**shipment.__dict__, "id": shipment.id.__class__(int=shipment.id.int + 1)})
        with pytest.raises(IntegrityError):
            await uow.shipments.add(twin)


async def test_shipments_stored_before_the_booking_migration_are_kept(database_url: str) -> None:
    engine = create_engine(database_url)
    shipment_id = uuid.uuid4()
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_alembic, "upgrade", "0001")
            await connection.execute(
                insert(tables.shipments).values(
                    id=str(shipment_id),
                    request_id=str(uuid.uuid4()),
                    method="courier",
                    status="in_transit",
                    courier="JNE",
                    service="REG",
                    airway_bill="0000000000000001",
                    recipient="Siti Aminah",
                    kecamatan_code="36.02.14",
                    version=3,
                    created_at=T0,
                    updated_at=T0,
                )
            )
        await migrate(engine, MIGRATIONS)
        async with unit_of_work(engine) as uow:
            shipment = await uow.shipments.get(shipment_id)
            assert [s.id for s in await uow.shipments.tracked(limit=10)] == [shipment_id]
        assert shipment is not None
        assert (shipment.status, shipment.airway_bill, shipment.version) == ("in_transit", "0000000000000001", 3)
        assert (shipment.parcel, shipment.booking_attempts, shipment.next_booking_at) == (None, 0, None)
        assert (shipment.last_moved_at, shipment.flags) == (T0, []), "quiet since its last change"

        async with engine.begin() as connection:
            await connection.run_sync(_alembic, "downgrade", "0001")
            await connection.run_sync(_alembic, "upgrade", "head")
    finally:
        await engine.dispose()


async def test_flags_are_stored_once_per_reason_and_found_by_reason(engine: AsyncEngine) -> None:
    flagged, plain = issued(), issued()
    for event in (flagged, plain):
        await deliver(unit_of_work(engine), event)
    async with unit_of_work(engine) as uow:
        shipment = await uow.shipments.get_by_request(flagged.request_id)
        assert shipment is not None
        assert shipment.flag("stuck_in_transit", "Kiriman tidak bergerak", now=T0)
        assert shipment.flag("receiver_not_entitled", "Diterima oleh Ujang", now=T0 + timedelta(hours=1))
        await uow.shipments.save(shipment)
        await uow.commit()

    async with unit_of_work(engine) as uow:
        [stuck] = await uow.shipments.find(request_id=None, status=None, limit=10, offset=0, flag="stuck_in_transit")
        assert (
            await uow.shipments.find(request_id=None, status=None, limit=10, offset=0, flag="address_unserviceable")
            == []
        )
        everything = await uow.shipments.find(request_id=None, status=None, limit=10, offset=0)
    assert stuck.request_id == flagged.request_id
    assert [(f.reason, f.detail, f.raised_at) for f in stuck.flags] == [
        ("stuck_in_transit", "Kiriman tidak bergerak", T0),
        ("receiver_not_entitled", "Diterima oleh Ujang", T0 + timedelta(hours=1)),
    ]
    assert not stuck.flag("stuck_in_transit", "again", now=T0), "the model flags a reason once"
    assert len(everything) == 2

    stale = Shipment(**{**stuck.__dict__, "flags": [], "new_flags": []})
    stale.flag("stuck_in_transit", "raised by another replica", now=T0)
    with pytest.raises(IntegrityError):
        async with unit_of_work(engine) as uow:
            stale.version = (await uow.shipments.get(stuck.id)).version  # type: ignore[union-attr]
            await uow.shipments.save(stale)


async def test_quiet_shipments_are_those_on_their_way_without_a_change_since_and_not_flagged(
    engine: AsyncEngine,
) -> None:
    courier = FakeCourier()
    events = [issued() for _ in range(4)]
    for event in events:
        await deliver(unit_of_work(engine), event)
    await deliver(unit_of_work(engine), issued({"method": "pickup", "pickup_kecamatan_code": "36.02.01"}))
    await book(engine, courier)
    quiet, flagged, moved, delivered = events
    booked_at = datetime.now(UTC)
    later = booked_at + timedelta(days=3)
    async with unit_of_work(engine) as uow:
        for event in (flagged, moved, delivered):
            shipment = await uow.shipments.get_by_request(event.request_id)
            assert shipment is not None
            if event is flagged:
                shipment.flag("stuck_in_transit", "stuck", now=later)
            elif event is moved:
                shipment.follow(CourierReport(entries=(TrackingEntry("picked_up", "PICKED UP", T0, "PU1"),)), now=later)
            else:
                shipment.follow(CourierReport(entries=(TrackingEntry("delivered", "DELIVERED", T0, "D01"),)), now=T0)
            await uow.shipments.save(shipment)
        await uow.commit()

    async with unit_of_work(engine) as uow:
        found = await uow.shipments.quiet(since=later, unflagged="stuck_in_transit", limit=10)
        assert (
            await uow.shipments.quiet(since=booked_at - timedelta(minutes=1), unflagged="stuck_in_transit", limit=10)
            == []
        )
        everything_quiet = await uow.shipments.quiet(since=later + timedelta(days=1), unflagged="other", limit=10)
    assert [s.request_id for s in found] == [quiet.request_id]
    assert {s.request_id for s in everything_quiet} == {quiet.request_id, flagged.request_id, moved.request_id}


async def test_what_shipping_keeps_of_a_request_is_stored_and_guarded_against_lost_updates(engine: AsyncEngine) -> None:
    request = submitted({**COURIER, "address": {**ADDRESS, "village_code": "36.02.14.1001"}})
    await receive(unit_of_work(engine), request)
    async with unit_of_work(engine) as uow:
        kept = await uow.deliveries.get(request.request_id)
        assert await uow.deliveries.get(issued().request_id) is None
    assert kept is not None
    assert (kept.applicant_name, kept.applicant_nik, kept.method) == ("Siti Aminah", "3602144107900001", "courier")
    assert (kept.household, kept.submitted, kept.address_flagged) == (["Nur Aisyah"], True, True)
    assert (kept.destination_code, kept.version) == (None, 0)
    assert kept.address_problem is not None and "36.02.14.1001" in kept.address_problem
    assert await routing_keys(engine) == ["shipment.flagged.v1"]

    other_replica = RequestedDelivery(**kept.__dict__)
    for copy, names, saved in ((kept, ["Nur Aisyah", "Rizky"], True), (other_replica, ["Lain"], False)):
        async with unit_of_work(engine) as uow:
            copy.submitted_with(household=names, now=T0)
            if saved:
                await uow.deliveries.save(copy)
            else:
                with pytest.raises(ConcurrentUpdate):
                    await uow.deliveries.save(copy)
            await uow.commit()
    async with unit_of_work(engine) as uow:
        stored = await uow.deliveries.get(request.request_id)
    assert stored is not None and (stored.household, stored.version, stored.updated_at) == (
        ["Nur Aisyah", "Rizky"],
        1,
        T0,
    )

    twice = RequestedDelivery(
        request_id=request.request_id,
        applicant_name="Siti Aminah",
        applicant_nik="3602144107900001",
        method=ShippingMethod.pickup,
        created_at=T0,
        updated_at=T0,
    )
    with pytest.raises(IntegrityError):
        async with unit_of_work(engine) as uow:
            await uow.deliveries.add(twice)
    async with unit_of_work(engine) as uow:
        assert not await uow.deliveries.add_unless_known(twice), "the one kept stays as it is"
        await uow.commit()
    async with unit_of_work(engine) as uow:
        assert await uow.deliveries.get(request.request_id) == stored
        assert await uow.deliveries.add_unless_known(
            RequestedDelivery(**{**twice.__dict__, "request_id": uuid.uuid4()})
        )


async def test_the_address_check_migration_goes_down_and_up_again(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        await migrate(engine, MIGRATIONS)
        await deliver(
            unit_of_work(engine), issued({**COURIER, "address": {**ADDRESS, "village_code": "36.02.14.1001"}})
        )
        async with engine.begin() as connection:
            await connection.run_sync(_alembic, "downgrade", "0002")
            await connection.run_sync(_alembic, "upgrade", "head")
        async with unit_of_work(engine) as uow:
            [shipment] = await uow.shipments.find(request_id=None, status=None, limit=10, offset=0)
        assert (shipment.status, shipment.flags, shipment.last_moved_at) == (
            "ready_for_pickup",
            [],
            shipment.updated_at,
        )
    finally:
        await engine.dispose()


def _alembic(connection: Connection, action: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    config.attributes["connection"] = connection
    getattr(command, action)(config, revision)


async def test_a_request_has_a_shipment_per_document_and_a_document_one_shipment(engine: AsyncEngine) -> None:
    original = issued()
    corrected = issued(request_id=original.request_id, supersedes=original)
    await deliver(unit_of_work(engine), original)
    await deliver(unit_of_work(engine), corrected)
    async with unit_of_work(engine) as uow:
        first, second = await uow.shipments.for_request(original.request_id)
        latest = await uow.shipments.get_by_request(original.request_id)
    assert (first.document_number, second.document_number) == (original.document_number, corrected.document_number)
    assert second.replaces_document_number == original.document_number
    assert latest is not None and latest.id == second.id

    # Two replicas handling the same document at once: the database lets one shipment in.
    async with unit_of_work(engine) as uow:
        twin = deepcopy(second)
        twin.id = uuid.uuid4()
        with pytest.raises(IntegrityError):
            await uow.shipments.add(twin)
