"""A corrected document reaches its holder the way the original did: a shipment of its own, tied to its number,
that names the old paper to hand over; exactly one per document, however often its issue is delivered."""

from dukcapil_shared.contracts import Envelope, ReadyForPickup, ShipmentCreated, ShipmentDelivered
from dukcapil_shared.contracts.regions import find_kecamatan
from dukcapil_shipping.domain.model import CourierReport, ShipmentStatus, TrackingEntry
from dukcapil_shipping.service_layer import handlers

from ..fakes import PICKUP, T0, FakeCourier, FakeShippingUnitOfWork, book, deliver, issued

DELIVERED = TrackingEntry("delivered", "DELIVERED TO [SITI AMINAH | 28-11-2026 10:03 | LEBAK]", T0, "D01")


async def test_a_corrected_document_gets_a_shipment_and_an_airway_bill_of_its_own() -> None:
    uow, courier = FakeShippingUnitOfWork(), FakeCourier()
    original = issued()
    await deliver(uow, original)
    await book(uow, courier)
    corrected = issued(request_id=original.request_id, supersedes=original)
    await deliver(uow, corrected)
    assert await book(uow, courier) == 1

    first, second = await uow.shipments.for_request(original.request_id)
    assert (first.document_number, first.replaces_document_number) == (original.document_number, None)
    assert (second.document_number, second.replaces_document_number) == (
        corrected.document_number,
        original.document_number,
    )
    assert second.status == ShipmentStatus.created and second.airway_bill != first.airway_bill
    assert [parcel.order_id for parcel in courier.bookings] == [
        str(original.request_id),
        corrected.document_number.replace("/", "-"),
    ], "the courier books the corrected document as an order of its own"
    assert second.parcel is not None and corrected.document_number in second.parcel.contents
    created = [event for event in uow.outbox.events if isinstance(event, ShipmentCreated)]
    assert [(c.document_number, c.replaces_document_number) for c in created] == [
        (original.document_number, None),
        (corrected.document_number, original.document_number),
    ]


async def test_the_corrected_documents_delivery_names_its_document() -> None:
    uow, courier = FakeShippingUnitOfWork(), FakeCourier()
    original = issued()
    corrected = issued(request_id=original.request_id, supersedes=original)
    await deliver(uow, original)
    await deliver(uow, corrected)
    await book(uow, courier)
    shipment = await uow.shipments.get_by_request(original.request_id)
    assert shipment is not None and shipment.airway_bill is not None
    courier.reports[shipment.airway_bill] = CourierReport(entries=(DELIVERED,), receiver_name="SITI AMINAH")

    await handlers.track_shipments(unit_of_work=lambda: uow, courier=courier, find_office=find_kecamatan)

    [delivered] = [event for event in uow.outbox.events if isinstance(event, ShipmentDelivered)]
    assert (delivered.shipment_id, delivered.document_number, delivered.replaces_document_number) == (
        shipment.id,
        corrected.document_number,
        original.document_number,
    )


async def test_each_document_is_shipped_once_however_often_its_issue_arrives() -> None:
    uow, courier = FakeShippingUnitOfWork(), FakeCourier()
    original = issued()
    corrected = issued(request_id=original.request_id, supersedes=original)
    envelope = Envelope.wrap(corrected, source="/test")
    for event, wrapped in ((original, None), (corrected, envelope), (corrected, envelope), (corrected, None)):
        await deliver(uow, event, wrapped)
    await deliver(uow.replica(), corrected)  # another replica, the event published again
    await book(uow, courier)

    shipments = await uow.shipments.for_request(original.request_id)
    assert sorted(s.document_number or "" for s in shipments) == sorted(
        [original.document_number, corrected.document_number]
    )
    assert len(courier.bookings) == 2


async def test_a_document_whose_correction_was_shipped_first_is_not_sent() -> None:
    uow, courier = FakeShippingUnitOfWork(), FakeCourier()
    original = issued()
    corrected = issued(request_id=original.request_id, supersedes=original)
    await deliver(uow, corrected)
    await deliver(uow, original)  # came late (a retry): the paper it would carry is no longer in force
    await book(uow, courier)

    [shipment] = await uow.shipments.for_request(original.request_id)
    assert shipment.document_number == corrected.document_number
    assert len(courier.bookings) == 1


async def test_a_corrected_document_for_pickup_waits_at_the_office_and_asks_for_the_old_paper() -> None:
    uow = FakeShippingUnitOfWork()
    original = issued(PICKUP)
    corrected = issued(PICKUP, request_id=original.request_id, supersedes=original)
    await deliver(uow, original)
    await deliver(uow, corrected)

    shipment = await uow.shipments.get_by_request(original.request_id)
    assert shipment is not None and shipment.status == ShipmentStatus.ready_for_pickup
    assert shipment.tracking[-1].description == (
        f"Dokumen dapat diambil di Kantor Kecamatan Malingping. Serahkan dokumen lama {original.document_number} "
        "yang tidak berlaku lagi."
    )
    ready = [event for event in uow.outbox.events if isinstance(event, ReadyForPickup)]
    assert [(r.document_number, r.replaces_document_number) for r in ready] == [
        (original.document_number, None),
        (corrected.document_number, original.document_number),
    ]


async def test_a_shipment_made_before_documents_were_recorded_still_gets_its_correction_shipped() -> None:
    uow, courier = FakeShippingUnitOfWork(), FakeCourier()
    original = issued()
    await deliver(uow, original)
    [legacy] = uow.shipments.committed.values()
    legacy.document_number = None  # as migration 0007 leaves a shipment made before it

    await deliver(uow, original)  # published again: that request was shipped already
    corrected = issued(request_id=original.request_id, supersedes=original)
    await deliver(uow, corrected)
    await book(uow, courier)

    shipments = await uow.shipments.for_request(original.request_id)
    assert [s.document_number for s in shipments] == [None, corrected.document_number]
