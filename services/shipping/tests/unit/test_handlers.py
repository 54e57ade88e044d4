import uuid
from datetime import timedelta

import pytest

from dukcapil_shared.contracts import (
    DeliveryFailed,
    DocumentCollected,
    Envelope,
    ReadyForPickup,
    ShipmentCreated,
    ShipmentDelivered,
    ShipmentStatusChanged,
)
from dukcapil_shared.messaging import PermanentFailure
from dukcapil_shipping.domain.kecamatan import find_kecamatan
from dukcapil_shipping.domain.model import CourierReport, ShipmentRefused, ShipmentStatus, TrackingEntry
from dukcapil_shipping.service_layer import handlers
from dukcapil_shipping.service_layer.courier import CourierRefused, CourierUnavailable

from ..fakes import APPLICANT, PICKUP, T0, FakeCourier, FakeShippingUnitOfWork, deliver, issued


def step(status: str, code: str, minutes: int, description: str | None = None) -> TrackingEntry:
    return TrackingEntry(status, description or f"{status.upper()} STEP", T0 + timedelta(minutes=minutes), code)


MANIFESTED = step("manifested", "MNF", 0)
PICKED_UP = step("picked_up", "PU1", 1)
IN_TRANSIT = step("in_transit", "IT1", 2)
DELIVERED = step("delivered", "D01", 3, "DELIVERED TO [SITI AMINAH | 28-11-2026 10:03 | LEBAK]")
UNDELIVERED = step("failed", "U05", 3, "UNDELIVERED [ALAMAT TIDAK DITEMUKAN]")


async def track(uow: FakeShippingUnitOfWork, courier: FakeCourier) -> int:
    return await handlers.track_shipments(unit_of_work=lambda: uow, courier=courier, find_office=find_kecamatan)


async def shipped(uow: FakeShippingUnitOfWork, courier: FakeCourier) -> str:
    await deliver(uow, courier, issued())
    return uow.only_shipment().airway_bill or ""


def events_of(uow: FakeShippingUnitOfWork, kind: type) -> list:
    return [event for event in uow.outbox.events if isinstance(event, kind)]


async def test_a_courier_delivery_books_the_courier_and_announces_the_airway_bill() -> None:
    uow, courier = FakeShippingUnitOfWork(), FakeCourier()
    event = issued()
    await deliver(uow, courier, event)

    shipment = uow.only_shipment()
    assert (shipment.method, shipment.status, shipment.kecamatan_code) == ("courier", "created", "36.02.14")
    [parcel] = courier.bookings
    assert parcel.order_id == str(event.request_id)
    assert parcel.address_line1 == "Kp. Cibeureum No. 5 RT 001 RW 002"
    assert parcel.address_line2 == "Kec. Rangkasbitung"
    [created] = uow.outbox.events
    assert isinstance(created, ShipmentCreated)
    assert (created.shipment_id, created.airway_bill, created.courier) == (shipment.id, shipment.airway_bill, "JNE")


async def test_a_redelivered_document_gets_one_shipment_and_one_airway_bill() -> None:
    uow, courier = FakeShippingUnitOfWork(), FakeCourier()
    event = issued()
    # The first delivery booked the courier, then the process died before its commit.
    async with uow:
        envelope = Envelope.wrap(event, source="/test")
        await handlers.ship_document(uow, event, envelope, courier=courier, find_office=find_kecamatan)
    await deliver(uow, courier, event, envelope)
    await deliver(uow, courier, event, envelope)  # the same message again: the inbox drops it
    await deliver(uow, courier, event)  # the event published twice: the shipment is there already

    assert len(uow.shipments.committed) == 1
    assert set(courier.airway_bills.values()) == {uow.only_shipment().airway_bill}
    assert len(events_of(uow, ShipmentCreated)) == 1


async def test_pickup_holds_the_document_at_the_chosen_kecamatan_office() -> None:
    uow, courier = FakeShippingUnitOfWork(), FakeCourier()
    await deliver(uow, courier, issued(PICKUP))

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


async def test_a_refusal_by_the_courier_is_permanent_and_unavailability_is_retried() -> None:
    uow, courier = FakeShippingUnitOfWork(), FakeCourier()
    courier.failures = [CourierRefused("HTTP 400: missing OLSHOP_RECEIVER_NAME")]
    with pytest.raises(PermanentFailure):
        await deliver(uow, courier, issued())
    courier.failures = [CourierUnavailable("HTTP 503")]
    with pytest.raises(CourierUnavailable):
        await deliver(uow, courier, issued())
    assert uow.shipments.committed == {} and uow.outbox.events == []


async def test_an_unknown_kecamatan_is_permanent() -> None:
    event = issued({"method": "pickup"}).model_copy(update={"kecamatan_code": "99.99.99"})
    with pytest.raises(PermanentFailure):
        await deliver(FakeShippingUnitOfWork(), FakeCourier(), event)


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


async def test_a_failed_delivery_is_held_for_pickup_at_the_kecamatan_office() -> None:
    uow, courier = FakeShippingUnitOfWork(), FakeCourier()
    airway_bill = await shipped(uow, courier)
    courier.reports[airway_bill] = CourierReport(
        entries=(MANIFESTED, UNDELIVERED), failure_reason="ALAMAT TIDAK DITEMUKAN"
    )
    await track(uow, courier)

    assert uow.only_shipment().status == ShipmentStatus.ready_for_pickup
    [failed] = events_of(uow, DeliveryFailed)
    assert failed.reason == "ALAMAT TIDAK DITEMUKAN"
    [ready] = events_of(uow, ReadyForPickup)
    assert (ready.reason, ready.office_name) == ("delivery_failed", "Kantor Kecamatan Rangkasbitung")
    assert [type(e).__name__ for e in uow.outbox.events][-2:] == ["DeliveryFailed", "ReadyForPickup"]


async def test_a_poll_failure_is_retried_next_round_and_spares_the_other_shipments() -> None:
    uow, courier = FakeShippingUnitOfWork(), FakeCourier()
    first = await shipped(uow, courier)
    await deliver(uow, courier, issued())
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
    uow, courier = FakeShippingUnitOfWork(), FakeCourier()
    await deliver(uow, courier, issued(PICKUP))
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
    courier.reports[airway_bill] = CourierReport(entries=(UNDELIVERED,), failure_reason="ALAMAT TIDAK DITEMUKAN")
    await track(uow, courier)
    command = handlers.CollectDocument(collector_name="Siti Aminah", collector_nik=APPLICANT["nik"], operator="dewi")
    await handlers.collect_document(uow.only_shipment().id, command, uow=uow)
    assert uow.only_shipment().status == ShipmentStatus.collected
