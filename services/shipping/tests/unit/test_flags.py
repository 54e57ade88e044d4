"""Flags for an operator: a receiver not entitled to the document, a parcel stuck on its way."""

from datetime import UTC, datetime, timedelta

import pytest

from dukcapil_shared.contracts import Envelope, ShipmentDelivered, ShipmentFlagged
from dukcapil_shared.contracts.regions import find_kecamatan
from dukcapil_shipping.domain.model import CourierReport, ShipmentStatus, TrackingEntry
from dukcapil_shipping.service_layer import handlers

from ..fakes import (
    T0,
    FakeClock,
    FakeCourier,
    FakeShippingUnitOfWork,
    book,
    deliver,
    issued,
    receive,
    submitted,
)

DAY = timedelta(days=1)


def delivered_to(receiver: str | None) -> CourierReport:
    return CourierReport(
        entries=(
            TrackingEntry("manifested", "MANIFESTED", T0, "MNF"),
            TrackingEntry("delivered", f"DELIVERED TO [{(receiver or '').upper()}]", T0 + timedelta(hours=1), "D01"),
        ),
        receiver_name=receiver,
        delivered_at=T0 + timedelta(hours=1),
    )


async def track(uow: FakeShippingUnitOfWork, courier: FakeCourier) -> int:
    return await handlers.track_shipments(unit_of_work=lambda: uow, courier=courier, find_office=find_kecamatan)


async def shipped_with_request(uow: FakeShippingUnitOfWork, courier: FakeCourier) -> str:
    request = submitted()
    await receive(uow, request)
    await deliver(uow, issued(request.delivery.model_dump(mode="json"), request.request_id))
    await book(uow, courier)
    return uow.only_shipment().airway_bill or ""


@pytest.mark.parametrize("receiver", ["Siti Aminah", "  SITI   aminah ", "nur aisyah", "NUR AISYAH"])
async def test_the_applicant_or_a_member_of_the_family_card_may_sign_for_the_document(receiver: str) -> None:
    uow, courier = FakeShippingUnitOfWork(), FakeCourier()
    airway_bill = await shipped_with_request(uow, courier)
    courier.reports[airway_bill] = delivered_to(receiver)
    await track(uow, courier)

    shipment = uow.only_shipment()
    assert (shipment.status, shipment.flags) == (ShipmentStatus.delivered, [])
    assert [e for e in uow.outbox.events if isinstance(e, ShipmentFlagged)] == []


@pytest.mark.parametrize(
    ("receiver", "words"), [("Ujang (tetangga)", "Ujang (tetangga)"), (None, "tidak mencantumkan nama")]
)
async def test_anyone_else_is_still_delivered_but_flagged_for_an_operator(receiver: str | None, words: str) -> None:
    uow, courier = FakeShippingUnitOfWork(), FakeCourier()
    airway_bill = await shipped_with_request(uow, courier)
    courier.reports[airway_bill] = delivered_to(receiver)
    await track(uow, courier)

    shipment = uow.only_shipment()
    assert shipment.status == ShipmentStatus.delivered
    [flag] = shipment.flags
    assert flag.reason == "receiver_not_entitled" and words in flag.detail
    flagged, delivered = uow.outbox.events[-2:]
    assert isinstance(flagged, ShipmentFlagged) and isinstance(delivered, ShipmentDelivered)
    assert (flagged.reason, flagged.shipment_id, flagged.detail) == ("receiver_not_entitled", shipment.id, flag.detail)
    assert "3602144107900001" not in flagged.detail, "no NIK in a flag other agencies may read"


async def test_without_the_request_only_the_applicant_is_known_to_be_entitled() -> None:
    uow, courier = FakeShippingUnitOfWork(), FakeCourier()
    await deliver(uow, issued())
    await book(uow, courier)
    [airway_bill] = courier.airway_bills.values()
    courier.reports[airway_bill] = delivered_to("Nur Aisyah")
    await track(uow, courier)
    assert [flag.reason for flag in uow.only_shipment().flags] == ["receiver_not_entitled"]


async def stuck_round(uow: FakeShippingUnitOfWork, now: datetime, after: timedelta = 3 * DAY) -> int:
    return await handlers.flag_stuck_shipments(unit_of_work=lambda: uow, stuck_after=after, clock=FakeClock(now))


async def test_a_parcel_without_a_tracking_change_beyond_the_limit_is_flagged_once() -> None:
    uow, courier = FakeShippingUnitOfWork(), FakeCourier()
    event = issued()
    await deliver(
        uow, event, Envelope.wrap(event, source="/test", traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01")
    )
    await book(uow, courier)
    booked_at = uow.only_shipment().last_moved_at
    assert booked_at is not None

    assert await stuck_round(uow, booked_at + 3 * DAY - timedelta(seconds=1)) == 0
    assert await stuck_round(uow, booked_at + 3 * DAY + timedelta(seconds=1)) == 1
    assert await stuck_round(uow, booked_at + 5 * DAY) == 0, "flagged once"

    shipment = uow.only_shipment()
    [flag] = shipment.flags
    assert flag.reason == "stuck_in_transit" and shipment.airway_bill in flag.detail
    [flagged] = [e for e in uow.outbox.committed if e.type == "shipment.flagged.v1"]
    assert flagged.traceparent == "00-" + "a" * 32 + "-" + "b" * 16 + "-01"
    event_ = flagged.event()
    assert isinstance(event_, ShipmentFlagged) and event_.reason == "stuck_in_transit"
    assert shipment.is_tracked, "still followed: the parcel may move on"


async def test_a_tracking_change_restarts_the_wait_and_an_ended_delivery_is_never_stuck() -> None:
    uow, courier = FakeShippingUnitOfWork(), FakeCourier()
    await deliver(uow, issued())
    await book(uow, courier)
    [airway_bill] = courier.airway_bills.values()
    courier.reports[airway_bill] = CourierReport(entries=(TrackingEntry("picked_up", "PICKED UP", T0, "PU1"),))
    await track(uow, courier)
    moved_at = uow.only_shipment().last_moved_at
    assert moved_at is not None and moved_at > T0

    assert await stuck_round(uow, moved_at + 2 * DAY, after=2 * DAY + timedelta(minutes=1)) == 0
    courier.reports[airway_bill] = delivered_to("Siti Aminah")
    await track(uow, courier)
    assert await stuck_round(uow, datetime.now(UTC) + 30 * DAY) == 0
    assert uow.only_shipment().flags == []
