import uuid

from dukcapil_intake.requests.domain.model import RequestStatus
from dukcapil_intake.requests.entrypoints.consumers import LIFECYCLE
from dukcapil_intake.requests.service_layer import handlers
from dukcapil_shared.contracts import (
    DocumentIssued,
    RequestApproved,
    RequestCancelled,
    RequestSubmitted,
    ReviewStarted,
    ShipmentDelivered,
)
from dukcapil_testing import InMemoryEventBus

from ...fakes import FakeRequestsUnitOfWork
from .test_handlers import APPLICANT, PICKUP, submit


async def test_every_other_stages_event_reaches_the_history_through_the_broker() -> None:
    uow = FakeRequestsUnitOfWork()
    request = await handlers.submit_request(submit(), uow=uow)
    async with InMemoryEventBus("intake", [LIFECYCLE], lambda: uow) as bus:
        for event in (
            ReviewStarted(request_id=request.id),
            RequestApproved(
                request_id=request.id,
                request_number=request.number,
                request_type="biodata_wni",
                applicant=APPLICANT,
                details={},
                delivery=PICKUP,
                kecamatan_code="36.02.14",
                reviewer="rina",
            ),
            DocumentIssued(
                request_id=request.id,
                document_id=uuid.uuid4(),
                document_number="BIO/3602/2026/000001",
                request_type="biodata_wni",
                checksum_sha256="0" * 64,
                applicant=APPLICANT,
                delivery=PICKUP,
                kecamatan_code="36.02.14",
            ),
            ShipmentDelivered(
                request_id=request.id,
                shipment_id=uuid.uuid4(),
                airway_bill="0114",
                receiver_name="Siti Aminah",
                delivered_at="2026-11-28T10:00:00Z",
            ),
        ):
            assert await bus.publish(event) == ["dukcapil.intake.lifecycle"]
    assert uow.status_of(request.id) == RequestStatus.delivered
    assert len(uow.requests.committed[request.id].history) == 5


async def test_intake_does_not_subscribe_to_its_own_events() -> None:
    uow = FakeRequestsUnitOfWork()
    async with InMemoryEventBus("intake", [LIFECYCLE], lambda: uow) as bus:
        assert await bus.publish(RequestCancelled(request_id=uuid.uuid4())) == []
        assert (
            await bus.publish(
                RequestSubmitted(
                    request_id=uuid.uuid4(),
                    request_number="x",
                    request_type="biodata_wni",
                    applicant=APPLICANT,
                    details={},
                    delivery=PICKUP,
                    kecamatan_code="36.02.14",
                    channel="online",
                )
            )
            == []
        )
