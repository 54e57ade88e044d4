"""The address is checked when the request reaches shipping; one the courier cannot serve is reported at once."""

import pytest

from dukcapil_shared.contracts import Envelope, NamedPerson, ReadyForPickup, RequestResubmitted, ShipmentFlagged
from dukcapil_shipping.domain.model import ShipmentStatus
from dukcapil_shipping.service_layer import handlers

from ..fakes import (
    ADDRESS,
    COURIER,
    PICKUP,
    FakeCourier,
    FakeShippingUnitOfWork,
    book,
    deliver,
    issued,
    receive,
    submitted,
)

TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
UNKNOWN_VILLAGE = {**COURIER, "address": {**ADDRESS, "village_code": "36.02.14.1001"}}


def courier_to(**address: str) -> dict:
    return {**COURIER, "address": {**ADDRESS, **address}}


async def test_a_serviceable_address_is_kept_with_its_destination_code_and_announces_nothing() -> None:
    uow, courier = FakeShippingUnitOfWork(), FakeCourier()
    request = submitted(courier_to(village_code="36.02.14.1006", postal_code="42313"))
    await receive(uow, request)

    assert uow.outbox.events == []
    requested = await uow.deliveries.get(request.request_id)
    assert requested is not None
    assert (requested.destination_code, requested.postal_code, requested.address_problem) == ("RKB10014", "42313", None)
    assert (requested.applicant_name, requested.applicant_nik) == ("Siti Aminah", "3602144107900001")
    assert requested.household == ["Nur Aisyah"] and requested.submitted

    await deliver(uow, issued(request.delivery.model_dump(mode="json"), request.request_id))
    assert await book(uow, courier) == 1
    [parcel] = courier.bookings
    assert parcel.destination_code == "RKB10014"
    assert uow.only_shipment().status == ShipmentStatus.created


@pytest.mark.parametrize(
    ("delivery", "words"),
    [
        (UNKNOWN_VILLAGE, "36.02.14.1001 tidak dikenal"),
        (courier_to(village_code="36.02.03.2002"), "tidak berada di Kecamatan Rangkasbitung"),
        (courier_to(postal_code="42393"), "Kode pos 42393"),
        (courier_to(kecamatan_code="36.02.06", village_code="36.02.06.2001", postal_code="42362"), "Kanekes"),
        (courier_to(kecamatan_code="36.04.05", postal_code="42161"), "36.04.05"),
    ],
)
async def test_an_address_the_courier_cannot_serve_is_reported_at_once_then_held_for_pickup(
    delivery: dict, words: str
) -> None:
    uow, courier = FakeShippingUnitOfWork(), FakeCourier()
    request = submitted(delivery)
    await receive(uow, request, Envelope.wrap(request, source="/test", traceparent=TRACEPARENT))

    [envelope] = uow.outbox.committed
    assert envelope.traceparent == TRACEPARENT
    flagged = envelope.event()
    assert isinstance(flagged, ShipmentFlagged)
    assert (flagged.reason, flagged.shipment_id) == ("address_unserviceable", None)
    assert words in flagged.detail

    await deliver(uow, issued(delivery, request.request_id))
    assert await book(uow, courier) == 0 and courier.bookings == []
    shipment = uow.only_shipment()
    assert (shipment.method, shipment.status) == ("courier", "ready_for_pickup")
    assert [(flag.reason, flag.detail) for flag in shipment.flags] == [("address_unserviceable", flagged.detail)]
    assert [type(e) for e in uow.outbox.events] == [ShipmentFlagged, ReadyForPickup], "flagged once"
    ready = uow.outbox.events[-1]
    assert isinstance(ready, ReadyForPickup)
    assert (ready.reason, ready.shipment_id) == ("address_unserviceable", shipment.id)
    office = "Kantor Kecamatan Leuwidamar" if "Kanekes" in words else "Kantor Kecamatan Rangkasbitung"
    assert ready.office_name == office
    assert "Alamat tidak dapat dilayani kurir" in shipment.tracking[-1].description


async def test_a_document_issued_before_its_request_was_seen_is_checked_and_booked_with_what_it_carries() -> None:
    uow, courier = FakeShippingUnitOfWork(), FakeCourier()
    event = issued(courier_to(village_code="36.02.14.1002", postal_code="42312"))
    await deliver(uow, event)
    assert await book(uow, courier) == 1
    assert courier.bookings[0].destination_code == "RKB10014"
    requested = await uow.deliveries.get(event.request_id)
    assert requested is not None and (requested.submitted, requested.household) == (False, [])

    await receive(uow, submitted(event.delivery.model_dump(mode="json"), event.request_id))
    requested = await uow.deliveries.get(event.request_id)
    assert requested is not None and (requested.submitted, requested.household) == (True, ["Nur Aisyah"])
    assert [type(e).__name__ for e in uow.outbox.events] == ["ShipmentCreated"]


async def test_an_unserviceable_address_seen_first_on_the_issued_document_is_flagged_with_its_shipment() -> None:
    uow = FakeShippingUnitOfWork()
    event = issued(UNKNOWN_VILLAGE)
    await deliver(uow, event)
    shipment = uow.only_shipment()
    flagged, ready = uow.outbox.events
    assert isinstance(flagged, ShipmentFlagged) and isinstance(ready, ReadyForPickup)
    assert (flagged.reason, flagged.shipment_id) == ("address_unserviceable", shipment.id)
    assert (ready.reason, shipment.status) == ("address_unserviceable", "ready_for_pickup")

    await receive(uow, submitted(UNKNOWN_VILLAGE, event.request_id))
    assert len(uow.outbox.events) == 2, "the request coming late does not flag it again"


async def test_pickup_requests_are_not_checked() -> None:
    uow = FakeShippingUnitOfWork()
    request = submitted(PICKUP)
    await receive(uow, request)
    await deliver(uow, issued(PICKUP, request.request_id))
    assert [type(e) for e in uow.outbox.events] == [ReadyForPickup]
    assert uow.only_shipment().flags == []


async def test_a_request_seen_twice_is_kept_once_and_flagged_once() -> None:
    uow = FakeShippingUnitOfWork()
    request = submitted(UNKNOWN_VILLAGE)
    envelope = Envelope.wrap(request, source="/test")
    await receive(uow, request, envelope)
    await receive(uow, request, envelope)
    await receive(uow, request)
    assert [type(e) for e in uow.outbox.events] == [ShipmentFlagged]
    assert len(uow.deliveries.committed) == 1


async def test_a_resubmission_updates_the_familys_names() -> None:
    uow = FakeShippingUnitOfWork()
    request = submitted()
    await receive(uow, request)
    resubmitted = RequestResubmitted(
        request_id=request.request_id,
        details=request.details.model_copy(
            update={
                "members": [
                    NamedPerson(nik="3602145003240001", name="Nur  Aisyah"),
                    NamedPerson(nik="3602140505150002", name="Rizky"),
                ]
            }
        ),
    )
    async with uow:
        await handlers.note_resubmission(uow, resubmitted, Envelope.wrap(resubmitted, source="/test"))
        await uow.commit()
    requested = await uow.deliveries.get(request.request_id)
    assert requested is not None and requested.household == ["Nur Aisyah", "Rizky"]
