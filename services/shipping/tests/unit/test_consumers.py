from dukcapil_shared.contracts import ReadyForPickup, RequestApproved, ShipmentFlagged
from dukcapil_shared.contracts.regions import find_kecamatan
from dukcapil_shipping.domain.model import ShipmentStatus
from dukcapil_shipping.entrypoints.consumers import subscriptions
from dukcapil_testing import InMemoryEventBus

from ..fakes import ADDRESS, COURIER, DESTINATIONS, FakeShippingUnitOfWork, issued, submitted


async def test_issued_documents_from_the_broker_become_shipments_once() -> None:
    uow = FakeShippingUnitOfWork()
    pickup = issued({"method": "pickup", "pickup_kecamatan_code": "36.02.01"})
    courier = issued()
    async with InMemoryEventBus(
        "shipping", subscriptions(find_office=find_kecamatan, destinations=DESTINATIONS), lambda: uow
    ) as bus:
        assert await bus.publish(pickup) == ["dukcapil.shipping.documents"]
        await bus.publish(courier)
        await bus.publish(courier)
    assert [type(event) for event in uow.outbox.events] == [ReadyForPickup]
    booking = await uow.shipments.get_by_request(courier.request_id)
    assert booking is not None and booking.status == ShipmentStatus.booking


async def test_a_shipment_for_the_courier_wakes_the_booking_loop_once_it_is_committed() -> None:
    uow = FakeShippingUnitOfWork()
    woken: list[int] = []

    def book_now() -> None:
        woken.append(uow.commits)  # the commits so far: called after the shipment's, not before

    courier = issued()
    pickup = issued({"method": "pickup", "pickup_kecamatan_code": "36.02.01"})
    handlers = subscriptions(find_office=find_kecamatan, destinations=DESTINATIONS, book_now=book_now)
    async with InMemoryEventBus("shipping", handlers, lambda: uow) as bus:
        await bus.publish(pickup)
        assert woken == [], "a document held at the office waits for no courier"
        await bus.publish(courier)
        assert woken == [uow.commits]
        await bus.publish(courier)
    assert len(woken) == 1, "the same document again stores nothing and wakes nothing"


async def test_shipping_does_not_listen_to_approvals() -> None:
    event = issued()
    approved = RequestApproved(
        request_id=event.request_id, request_number="x", request_type=event.request_type, applicant=event.applicant,
        details={}, delivery=event.delivery, kecamatan_code=event.kecamatan_code, reviewer="r",
    )  # fmt: skip
    async with InMemoryEventBus(
        "shipping", subscriptions(find_office=find_kecamatan, destinations=DESTINATIONS), FakeShippingUnitOfWork
    ) as bus:
        assert await bus.publish(approved) == []


async def test_submitted_requests_reach_the_address_check() -> None:
    uow = FakeShippingUnitOfWork()
    request = submitted({**COURIER, "address": {**ADDRESS, "postal_code": "42393"}})
    async with InMemoryEventBus(
        "shipping", subscriptions(find_office=find_kecamatan, destinations=DESTINATIONS), lambda: uow
    ) as bus:
        assert await bus.publish(request) == ["dukcapil.shipping.requests"]
    assert [type(event) for event in uow.outbox.events] == [ShipmentFlagged]
    assert await uow.deliveries.get(request.request_id) is not None
