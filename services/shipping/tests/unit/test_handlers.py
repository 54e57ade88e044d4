import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from structlog.testing import capture_logs

from dukcapil_shared.contracts import (
    DeliveryFailed,
    DocumentCollected,
    Envelope,
    ReadyForPickup,
    ShipmentCreated,
    ShipmentDelivered,
    ShipmentStatusChanged,
)
from dukcapil_shared.contracts.regions import find_kecamatan
from dukcapil_shared.messaging import PermanentFailure
from dukcapil_shipping.domain.model import CourierReport, Parcel, ShipmentRefused, ShipmentStatus, TrackingEntry
from dukcapil_shipping.service_layer import handlers
from dukcapil_shipping.service_layer.courier import CourierRefused, CourierUnavailable

from ..fakes import (
    APPLICANT,
    DESTINATIONS,
    PICKUP,
    T0,
    FakeClock,
    FakeCourier,
    FakeShippingUnitOfWork,
    book,
    deliver,
    issued,
    ship,
)

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def step(status: str, code: str, minutes: int, description: str | None = None) -> TrackingEntry:
    return TrackingEntry(status, description or f"{status.upper()} STEP", T0 + timedelta(minutes=minutes), code)


MANIFESTED = step("manifested", "MNF", 0)
PICKED_UP = step("picked_up", "PU1", 1)
IN_TRANSIT = step("in_transit", "IT1", 2)
DELIVERED = step("delivered", "D01", 3, "DELIVERED TO [SITI AMINAH | 28-11-2026 10:03 | LEBAK]")
UNDELIVERED = step("failed", "U05", 3, "UNDELIVERED [ALAMAT TIDAK DITEMUKAN] ATTEMPT 1")
SECOND_ATTEMPT = step("in_transit", "IT1", 4, "WITH DELIVERY COURIER [LEBAK] ATTEMPT 2")
UNDELIVERED_AGAIN = step("failed", "U05", 5, "UNDELIVERED [ALAMAT TIDAK DITEMUKAN] ATTEMPT 2")
DELIVERED_SECOND_TIME = step("delivered", "D01", 5, "DELIVERED TO [SITI AMINAH | 28-11-2026 10:05 | LEBAK]")
RETURNED = step("returned", "RTS", 6, "RETURN TO SHIPPER [ALAMAT TIDAK DITEMUKAN]")


async def track(uow: FakeShippingUnitOfWork, courier: FakeCourier) -> int:
    return await handlers.track_shipments(unit_of_work=lambda: uow, courier=courier, find_office=find_kecamatan)


async def shipped(uow: FakeShippingUnitOfWork, courier: FakeCourier) -> str:
    await ship(uow, courier)
    return uow.only_shipment().airway_bill or ""


class CourierMeanwhile(FakeCourier):
    """While the first booking call is on its way, `meanwhile` runs: another replica's work."""

    def __init__(self, meanwhile: Callable[[], Awaitable[None]]) -> None:
        super().__init__()
        self._meanwhile: Callable[[], Awaitable[None]] | None = meanwhile
        self.meanwhile_ran = False

    async def book(self, parcel: Parcel) -> str:
        if self._meanwhile is not None:
            meanwhile, self._meanwhile = self._meanwhile, None
            await meanwhile()
            self.meanwhile_ran = True
        return await super().book(parcel)


def events_of(uow: FakeShippingUnitOfWork, kind: type) -> list:
    return [event for event in uow.outbox.events if isinstance(event, kind)]


async def test_a_courier_delivery_is_lined_up_for_booking_without_calling_the_courier() -> None:
    uow = FakeShippingUnitOfWork()
    event = issued()
    await deliver(uow, event)

    shipment = uow.only_shipment()
    assert (shipment.method, shipment.status, shipment.kecamatan_code) == ("courier", "booking", "36.02.14")
    assert (shipment.airway_bill, shipment.booking_attempts, shipment.tracking) == (None, 0, [])
    assert shipment.next_booking_at is not None
    parcel = shipment.parcel
    assert parcel is not None and parcel.order_id == str(event.request_id)
    assert parcel.address_line1 == "Kp. Cibeureum No. 5 RT 001 RW 002"
    assert parcel.address_line2 == "Kec. Rangkasbitung"
    assert (parcel.receiver_name, parcel.phone) == ("Siti Aminah", "081234567890")
    assert uow.outbox.events == []


async def test_the_booking_loop_books_the_courier_and_announces_the_airway_bill() -> None:
    uow, courier = FakeShippingUnitOfWork(), FakeCourier()
    event = issued()
    await deliver(uow, event, Envelope.wrap(event, source="/test", traceparent=TRACEPARENT))
    assert await book(uow, courier) == 1

    shipment = uow.only_shipment()
    assert (shipment.status, shipment.courier, shipment.service) == ("created", "JNE", "REG")
    assert [parcel.order_id for parcel in courier.bookings] == [str(event.request_id)]
    assert [entry.status for entry in shipment.tracking] == ["created"]
    [envelope] = uow.outbox.committed
    assert envelope.traceparent == TRACEPARENT, "the booking continues the issued document's trace"
    created = envelope.event()
    assert isinstance(created, ShipmentCreated)
    assert (created.shipment_id, created.airway_bill) == (shipment.id, shipment.airway_bill)


async def test_a_redelivered_document_gets_one_shipment_and_one_airway_bill() -> None:
    uow, courier = FakeShippingUnitOfWork(), FakeCourier()
    event = issued()
    # The first delivery stored the shipment, then the process died before its commit.
    async with uow:
        envelope = Envelope.wrap(event, source="/test")
        await handlers.ship_document(uow, event, envelope, find_office=find_kecamatan, destinations=DESTINATIONS)
    await deliver(uow, event, envelope)
    await deliver(uow, event, envelope)  # the same message again: the inbox drops it
    await deliver(uow, event)  # the event published twice: the shipment is there already
    assert await book(uow, courier) == 1
    assert await book(uow, courier) == 0

    assert len(uow.shipments.committed) == 1
    assert len(courier.bookings) == 1
    assert set(courier.airway_bills.values()) == {uow.only_shipment().airway_bill}
    assert len(events_of(uow, ShipmentCreated)) == 1


async def test_pickup_holds_the_document_at_the_chosen_kecamatan_office() -> None:
    uow, courier = FakeShippingUnitOfWork(), FakeCourier()
    await deliver(uow, issued(PICKUP))
    assert await book(uow, courier) == 0

    shipment = uow.only_shipment()
    assert (shipment.method, shipment.status, shipment.kecamatan_code) == ("pickup", "ready_for_pickup", "36.02.01")
    assert courier.bookings == []
    [ready] = uow.outbox.events
    assert isinstance(ready, ReadyForPickup)
    assert (ready.reason, ready.office_name, ready.kecamatan_code) == (
        "chosen",
        "Kantor Kecamatan Malingping",
        "36.02.01",
    )


async def test_a_courier_delivery_without_an_address_is_permanent() -> None:
    event = issued({"method": "courier", "phone": "081234567890"})
    with pytest.raises(PermanentFailure):
        await deliver(FakeShippingUnitOfWork(), event)


async def test_an_unavailable_courier_is_asked_again_later_each_time_a_little_later() -> None:
    uow, courier, clock = FakeShippingUnitOfWork(), FakeCourier(), FakeClock(datetime.now(UTC) + timedelta(seconds=1))
    await deliver(uow, issued())
    courier.failures = [CourierUnavailable(f"HTTP 503 (call {n})") for n in range(6)]

    waits = []
    while not await book(uow, courier, clock):
        shipment = uow.only_shipment()
        assert shipment.status == ShipmentStatus.booking
        assert shipment.last_booking_error == f"CourierUnavailable: HTTP 503 (call {len(waits)})"
        assert shipment.next_booking_at is not None
        waits.append((shipment.next_booking_at - clock.now).total_seconds())
        clock.advance(waits[-1] - 1)
        calls_left = len(courier.failures)
        assert await book(uow, courier, clock) == 0
        assert len(courier.failures) == calls_left, "not asked again before its time"
        clock.advance(1)

    assert waits == [2, 5, 15, 60, 300, 300]
    shipment = uow.only_shipment()
    assert (shipment.status, shipment.booking_attempts, shipment.last_booking_error) == ("created", 6, None)
    assert len(courier.bookings) == 1
    assert len(events_of(uow, ShipmentCreated)) == 1


async def test_a_refusal_by_the_courier_fails_the_booking_for_an_operator() -> None:
    uow, courier = FakeShippingUnitOfWork(), FakeCourier()
    await deliver(uow, issued())
    courier.failures = [CourierRefused("HTTP 400: OLSHOP_RECEIVER_PHONE 081234567890 is not valid")]
    with capture_logs() as logs:
        assert await book(uow, courier) == 0

    shipment = uow.only_shipment()
    assert (shipment.status, shipment.booking_attempts, shipment.next_booking_at) == ("booking_failed", 1, None)
    assert shipment.last_booking_error == "CourierRefused: HTTP 400: OLSHOP_RECEIVER_PHONE [phone] is not valid"
    [refused] = [entry for entry in logs if entry["event"] == "courier_booking_refused"]
    assert refused["log_level"] == "error" and "081234567890" not in str(refused)
    assert uow.outbox.events == []

    assert await book(uow, courier, FakeClock(datetime.now(UTC) + timedelta(days=1))) == 0
    assert courier.bookings == [], "a refused booking is not tried again"


async def test_a_replica_leaves_alone_the_shipments_another_one_is_booking() -> None:
    uow, clock = FakeShippingUnitOfWork(), FakeClock(datetime.now(UTC) + timedelta(seconds=1))
    other_replica = FakeShippingUnitOfWork(uow.shipments)
    await deliver(uow, issued())

    async def other_replica_round() -> None:
        assert await book(other_replica, FakeCourier(), clock) == 0

    courier = CourierMeanwhile(other_replica_round)
    assert await book(uow, courier, clock) == 1
    assert courier.meanwhile_ran
    assert len(courier.bookings) == 1
    assert len(events_of(uow, ShipmentCreated)) == 1 and events_of(other_replica, ShipmentCreated) == []


async def test_when_the_lease_ran_out_two_replicas_book_but_one_records_it() -> None:
    uow, clock = FakeShippingUnitOfWork(), FakeClock(datetime.now(UTC) + timedelta(seconds=1))
    other_replica = FakeShippingUnitOfWork(uow.shipments)
    await deliver(uow, issued())

    async def other_replica_round_after_the_lease() -> None:
        clock.advance(timedelta(minutes=2, seconds=1).total_seconds())
        assert await book(other_replica, courier, clock) == 1

    courier = CourierMeanwhile(other_replica_round_after_the_lease)
    assert await book(uow, courier, clock) == 0
    assert len(courier.bookings) == 2 and len(set(courier.airway_bills.values())) == 1
    assert events_of(uow, ShipmentCreated) == [] and len(events_of(other_replica, ShipmentCreated)) == 1
    assert [entry.status for entry in uow.only_shipment().tracking] == ["created"]


async def test_two_replicas_recording_the_same_booking_announce_it_once() -> None:
    uow, courier = FakeShippingUnitOfWork(), FakeCourier()
    await deliver(uow, issued())
    shipment_id = uow.only_shipment().id
    other_replica = FakeShippingUnitOfWork(uow.shipments)
    load = uow.shipments.get

    async def load_while_the_other_replica_records(shipment_id: uuid.UUID):  # type: ignore[no-untyped-def]
        found = await load(shipment_id)
        uow.shipments.get = load  # type: ignore[method-assign]
        assert await handlers.record_booking(shipment_id, "0001", courier=courier, uow=other_replica, now=T0)
        return found

    uow.shipments.get = load_while_the_other_replica_records  # type: ignore[method-assign]
    assert not await handlers.record_booking(shipment_id, "0001", courier=courier, uow=uow, now=T0)
    assert len(events_of(other_replica, ShipmentCreated)) == 1 and events_of(uow, ShipmentCreated) == []
    assert len(uow.only_shipment().tracking) == 1


async def test_one_shipments_trouble_does_not_hold_up_the_others() -> None:
    uow, courier = FakeShippingUnitOfWork(), FakeCourier()
    for _ in range(3):
        await deliver(uow, issued())
    courier.failures = [CourierRefused("HTTP 400"), CourierUnavailable("timeout")]
    assert await book(uow, courier) == 1
    statuses = sorted(shipment.status for shipment in uow.shipments.committed.values())
    assert statuses == ["booking", "booking_failed", "created"]


async def test_an_unknown_kecamatan_is_permanent() -> None:
    event = issued({"method": "pickup"}).model_copy(update={"kecamatan_code": "99.99.99"})
    with pytest.raises(PermanentFailure):
        await deliver(FakeShippingUnitOfWork(), event)


async def test_tracking_announces_each_new_step_once() -> None:
    uow, courier = FakeShippingUnitOfWork(), FakeCourier()
    airway_bill = await shipped(uow, courier)
    courier.reports[airway_bill] = CourierReport(entries=(MANIFESTED, PICKED_UP))

    assert await track(uow, courier) == 1
    assert await track(uow, courier) == 0
    changes = events_of(uow, ShipmentStatusChanged)
    assert [(c.status, c.courier_code) for c in changes] == [("manifested", "MNF"), ("picked_up", "PU1")]
    assert uow.only_shipment().status == ShipmentStatus.picked_up
    assert uow.only_shipment().last_polled_at is not None

    courier.reports[airway_bill] = CourierReport(entries=(MANIFESTED, PICKED_UP, IN_TRANSIT))
    assert await track(uow, courier) == 1
    assert [c.status for c in events_of(uow, ShipmentStatusChanged)][-1] == "in_transit"
    assert uow.only_shipment().status == ShipmentStatus.in_transit


async def test_delivery_announces_the_proof_of_delivery_and_ends_tracking() -> None:
    uow, courier = FakeShippingUnitOfWork(), FakeCourier()
    airway_bill = await shipped(uow, courier)
    pod = T0 + timedelta(minutes=3)
    courier.reports[airway_bill] = CourierReport(
        entries=(MANIFESTED, PICKED_UP, IN_TRANSIT, DELIVERED), receiver_name="Siti Aminah", delivered_at=pod
    )
    await track(uow, courier)

    assert uow.only_shipment().status == ShipmentStatus.delivered
    [delivered] = events_of(uow, ShipmentDelivered)
    assert (delivered.receiver_name, delivered.delivered_at) == ("Siti Aminah", pod)
    polls = len(courier.tracked)
    await track(uow, courier)
    assert len(courier.tracked) == polls


async def test_a_failed_attempt_is_a_status_change_and_the_courier_tries_again() -> None:
    uow, courier = FakeShippingUnitOfWork(), FakeCourier()
    airway_bill = await shipped(uow, courier)
    courier.reports[airway_bill] = CourierReport(entries=(MANIFESTED, PICKED_UP, IN_TRANSIT, UNDELIVERED))
    assert await track(uow, courier) == 1
    shipment = uow.only_shipment()
    assert (shipment.status, shipment.is_tracked) == (ShipmentStatus.attempt_failed, True)
    assert events_of(uow, ShipmentStatusChanged)[-1].status == "failed"
    assert events_of(uow, DeliveryFailed) == [] and events_of(uow, ReadyForPickup) == []

    courier.reports[airway_bill] = CourierReport(
        entries=(MANIFESTED, PICKED_UP, IN_TRANSIT, UNDELIVERED, SECOND_ATTEMPT)
    )
    assert await track(uow, courier) == 1
    assert uow.only_shipment().status == ShipmentStatus.in_transit, "the second attempt is on its way"


async def test_delivered_on_the_second_attempt_is_delivered() -> None:
    uow, courier = FakeShippingUnitOfWork(), FakeCourier()
    airway_bill = await shipped(uow, courier)
    courier.reports[airway_bill] = CourierReport(
        entries=(MANIFESTED, PICKED_UP, IN_TRANSIT, UNDELIVERED, SECOND_ATTEMPT, DELIVERED_SECOND_TIME),
        receiver_name="Siti Aminah",
        delivered_at=DELIVERED_SECOND_TIME.occurred_at,
    )
    await track(uow, courier)

    assert uow.only_shipment().status == ShipmentStatus.delivered
    changes = [change.status for change in events_of(uow, ShipmentStatusChanged)]
    assert changes == ["manifested", "picked_up", "in_transit", "failed", "in_transit", "delivered"]
    [delivered] = events_of(uow, ShipmentDelivered)
    assert delivered.delivered_at == DELIVERED_SECOND_TIME.occurred_at
    assert events_of(uow, DeliveryFailed) == [] and events_of(uow, ReadyForPickup) == []
    assert type(uow.outbox.events[-1]) is ShipmentDelivered


async def test_a_parcel_returned_to_the_sender_is_held_for_pickup_at_the_kecamatan_office() -> None:
    uow, courier = FakeShippingUnitOfWork(), FakeCourier()
    airway_bill = await shipped(uow, courier)
    courier.reports[airway_bill] = CourierReport(entries=(MANIFESTED, UNDELIVERED, SECOND_ATTEMPT, UNDELIVERED_AGAIN))
    await track(uow, courier)
    assert uow.only_shipment().status == ShipmentStatus.attempt_failed
    assert events_of(uow, DeliveryFailed) == []

    courier.reports[airway_bill] = CourierReport(
        entries=(MANIFESTED, UNDELIVERED, SECOND_ATTEMPT, UNDELIVERED_AGAIN, RETURNED),
        failure_reason="ALAMAT TIDAK DITEMUKAN",
    )
    await track(uow, courier)
    shipment = uow.only_shipment()
    assert (shipment.status, shipment.is_tracked) == (ShipmentStatus.ready_for_pickup, False)
    [failed] = events_of(uow, DeliveryFailed)
    assert failed.reason == "ALAMAT TIDAK DITEMUKAN"
    [ready] = events_of(uow, ReadyForPickup)
    assert (ready.reason, ready.office_name) == ("delivery_failed", "Kantor Kecamatan Rangkasbitung")
    kinds = [type(e).__name__ for e in uow.outbox.events]
    assert kinds[-3:] == ["ShipmentStatusChanged", "DeliveryFailed", "ReadyForPickup"]
    assert [e.status for e in shipment.tracking][-2:] == ["returned", "ready_for_pickup"]


async def test_a_step_reported_late_does_not_move_the_shipment_back() -> None:
    uow, courier = FakeShippingUnitOfWork(), FakeCourier()
    airway_bill = await shipped(uow, courier)
    courier.reports[airway_bill] = CourierReport(entries=(MANIFESTED, IN_TRANSIT))
    await track(uow, courier)
    courier.reports[airway_bill] = CourierReport(entries=(MANIFESTED, PICKED_UP, IN_TRANSIT))
    assert await track(uow, courier) == 1
    assert uow.only_shipment().status == ShipmentStatus.in_transit
    assert events_of(uow, ShipmentStatusChanged)[-1].status == "picked_up", "still announced, as a step"


async def test_a_poll_failure_is_retried_next_round_and_spares_the_other_shipments() -> None:
    uow, courier = FakeShippingUnitOfWork(), FakeCourier()
    first = await shipped(uow, courier)
    await ship(uow, courier)
    second = next(bill for bill in courier.airway_bills.values() if bill != first)
    courier.reports = {bill: CourierReport(entries=(MANIFESTED,)) for bill in (first, second)}
    courier.failures = [CourierUnavailable("timeout")]

    assert await track(uow, courier) == 1
    assert await track(uow, courier) == 1
    assert await track(uow, courier) == 0


async def test_two_replicas_recording_the_same_step_announce_it_once() -> None:
    uow, courier = FakeShippingUnitOfWork(), FakeCourier()
    airway_bill = await shipped(uow, courier)
    shipment_id = uow.only_shipment().id
    report = CourierReport(entries=(MANIFESTED, PICKED_UP))
    other_replica = FakeShippingUnitOfWork(uow.shipments)
    load = uow.shipments.get

    async def load_while_the_other_replica_records(shipment_id: uuid.UUID):  # type: ignore[no-untyped-def]
        found = await load(shipment_id)
        uow.shipments.get = load  # type: ignore[method-assign]
        assert await handlers.record_tracking(shipment_id, report, uow=other_replica, find_office=find_kecamatan)
        return found

    uow.shipments.get = load_while_the_other_replica_records  # type: ignore[method-assign]
    assert not await handlers.record_tracking(shipment_id, report, uow=uow, find_office=find_kecamatan)
    assert len(events_of(other_replica, ShipmentStatusChanged)) == 2
    assert events_of(uow, ShipmentStatusChanged) == []
    assert courier.airway_bills[str(uow.only_shipment().request_id)] == airway_bill
    assert len(uow.only_shipment().tracking) == 3


async def test_a_document_waiting_at_the_office_is_collected_once() -> None:
    uow = FakeShippingUnitOfWork()
    await deliver(uow, issued(PICKUP))
    shipment_id = uow.only_shipment().id
    command = handlers.CollectDocument(collector_name="Ahmad", collector_nik="3602141203850002", operator="dewi")

    collected = await handlers.collect_document(shipment_id, command, uow=uow)
    assert collected.status == uow.status_of(shipment_id) == ShipmentStatus.collected
    [event] = events_of(uow, DocumentCollected)
    assert (event.collector_name, event.collector_nik, event.operator) == ("Ahmad", "3602141203850002", "dewi")
    assert "360214******0002" in collected.tracking[-1].description

    with pytest.raises(ShipmentRefused) as refused:
        await handlers.collect_document(shipment_id, command, uow=uow)
    assert refused.value.code == "not_ready_for_pickup"
    assert len(events_of(uow, DocumentCollected)) == 1


async def test_a_document_still_with_the_courier_cannot_be_collected() -> None:
    uow, courier = FakeShippingUnitOfWork(), FakeCourier()
    await shipped(uow, courier)
    command = handlers.CollectDocument(collector_name="Ahmad", collector_nik="3602141203850002", operator="dewi")
    with pytest.raises(ShipmentRefused) as refused:
        await handlers.collect_document(uow.only_shipment().id, command, uow=uow)
    assert (refused.value.code, refused.value.extra) == ("not_ready_for_pickup", {"shipment_status": "created"})
    with pytest.raises(handlers.ShipmentNotFound):
        await handlers.collect_document(uuid.uuid4(), command, uow=uow)


async def test_after_a_failed_delivery_the_document_can_be_collected() -> None:
    uow, courier = FakeShippingUnitOfWork(), FakeCourier()
    airway_bill = await shipped(uow, courier)
    courier.reports[airway_bill] = CourierReport(entries=(RETURNED,), failure_reason="ALAMAT TIDAK DITEMUKAN")
    await track(uow, courier)
    command = handlers.CollectDocument(collector_name="Siti Aminah", collector_nik=APPLICANT["nik"], operator="dewi")
    await handlers.collect_document(uow.only_shipment().id, command, uow=uow)
    assert uow.only_shipment().status == ShipmentStatus.collected


@pytest.mark.parametrize(
    ("nik", "problem"),
    [
        ("3602141203850000", "nik_serial"),
        ("3602143213850002", "nik_birth_date"),
        ("9902141203850002", "nik_unknown_province"),
    ],
)
async def test_the_collector_must_show_a_valid_nik(nik: str, problem: str) -> None:
    uow = FakeShippingUnitOfWork()
    await deliver(uow, issued(PICKUP))
    command = handlers.CollectDocument(collector_name="Ahmad", collector_nik=nik, operator="dewi")
    with pytest.raises(ShipmentRefused) as refused:
        await handlers.collect_document(uow.only_shipment().id, command, uow=uow)
    assert (refused.value.code, refused.value.extra) == ("invalid_nik", {"nik_problem": problem})
    assert uow.only_shipment().status == ShipmentStatus.ready_for_pickup
    assert events_of(uow, DocumentCollected) == []
