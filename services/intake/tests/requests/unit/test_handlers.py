import uuid

import pytest

from dukcapil_intake.requests.domain.model import RequestRefused, RequestStatus
from dukcapil_intake.requests.service_layer import handlers
from dukcapil_shared.contracts import (
    BiodataWniDetails,
    Delivery,
    DocumentIssued,
    Envelope,
    Person,
    RequestApproved,
    RequestCancelled,
    RequestResubmitted,
    RequestSubmitted,
    ReviewStarted,
    ShipmentDelivered,
)

from ...examples import pickup
from ...fakes import FakeRequestsUnitOfWork

APPLICANT = Person.model_validate(
    {"nik": "3602144107900001", "name": "Siti Aminah", "birth_date": "1990-07-01", "sex": "female"}
)
PICKUP = pickup()


def submit(request_type: str = "biodata_wni", delivery: Delivery | None = None) -> handlers.SubmitRequest:
    return handlers.SubmitRequest(type=request_type, applicant=APPLICANT, details={}, delivery=delivery or PICKUP)


async def deliver(uow: FakeRequestsUnitOfWork, event) -> None:  # type: ignore[no-untyped-def]
    envelope = Envelope.wrap(event, source="/test")
    async with uow:
        await handlers.record_lifecycle_event(uow, event, envelope)
        await uow.commit()


async def test_a_submission_is_stored_and_announced_in_one_commit() -> None:
    uow = FakeRequestsUnitOfWork()
    request = await handlers.submit_request(submit(), uow=uow)
    assert uow.commits == 1
    [event] = uow.outbox.events
    assert isinstance(event, RequestSubmitted)
    assert event.request_id == request.id
    assert event.request_number == request.number == f"360214-{request.submitted_at:%Y%m%d}-0001"
    assert uow.status_of(request.id) == RequestStatus.submitted


async def test_request_numbers_count_up_within_the_kecamatan_and_day() -> None:
    uow = FakeRequestsUnitOfWork()
    first = await handlers.submit_request(submit(), uow=uow)
    second = await handlers.submit_request(submit(), uow=uow)
    assert (first.number[-4:], second.number[-4:]) == ("0001", "0002")


async def test_ktp_el_is_refused_and_leaves_nothing_behind() -> None:
    uow = FakeRequestsUnitOfWork()
    with pytest.raises(RequestRefused) as refused:
        await handlers.submit_request(submit("ktp_el"), uow=uow)
    assert refused.value.code == "in_person_only"
    assert uow.outbox.events == [] and uow.requests.committed == {}


async def test_other_stages_events_move_the_status_and_fill_the_history() -> None:
    uow = FakeRequestsUnitOfWork()
    request = await handlers.submit_request(submit(), uow=uow)
    await deliver(uow, ReviewStarted(request_id=request.id))
    assert uow.status_of(request.id) == RequestStatus.in_review
    await deliver(
        uow,
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
    )
    await deliver(
        uow,
        DocumentIssued(
            request_id=request.id,
            document_id=uuid.uuid4(),
            document_number="BIO/2026/000001",
            request_type="biodata_wni",
            checksum_sha256="0" * 64,
            applicant=APPLICANT,
            delivery=PICKUP,
            kecamatan_code="36.02.14",
        ),
    )
    stored = await handlers.get_request(request.id, uow=uow)
    assert stored.status == RequestStatus.document_issued
    assert [entry.event_type for entry in stored.history] == [
        "request.submitted.v1",
        "review.started.v1",
        "request.approved.v1",
        "document.issued.v1",
    ]
    assert "BIO/2026/000001" in stored.history[-1].note


async def test_an_event_for_an_unknown_request_fails_so_that_it_is_retried_then_parked() -> None:
    uow = FakeRequestsUnitOfWork()
    with pytest.raises(LookupError):
        await deliver(
            uow,
            ShipmentDelivered(
                request_id=uuid.uuid4(),
                shipment_id=uuid.uuid4(),
                airway_bill="X",
                receiver_name="A",
                delivered_at="2026-11-28T10:00:00Z",
            ),
        )


async def test_cancel_before_the_decision_is_announced_and_after_it_is_refused() -> None:
    uow = FakeRequestsUnitOfWork()
    request = await handlers.submit_request(submit(), uow=uow)
    cancelled = await handlers.cancel_request(request.id, "salah isi", uow=uow)
    assert cancelled.status == RequestStatus.cancelled
    assert isinstance(uow.outbox.events[-1], RequestCancelled)

    approved = await handlers.submit_request(submit(), uow=uow)
    await deliver(uow, ReviewStarted(request_id=approved.id))
    await deliver(
        uow,
        RequestApproved(
            request_id=approved.id,
            request_number=approved.number,
            request_type="biodata_wni",
            applicant=APPLICANT,
            details={},
            delivery=PICKUP,
            kecamatan_code="36.02.14",
            reviewer="rina",
        ),
    )
    with pytest.raises(RequestRefused) as refused:
        await handlers.cancel_request(approved.id, None, uow=uow)
    assert refused.value.code == "not_cancellable"


async def test_resubmission_answers_an_information_request() -> None:
    from dukcapil_shared.contracts import InformationRequested

    uow = FakeRequestsUnitOfWork()
    request = await handlers.submit_request(submit(), uow=uow)
    with pytest.raises(RequestRefused):
        await handlers.resubmit_request(request.id, {"person_nik": APPLICANT.nik}, None, uow=uow)
    await deliver(
        uow,
        InformationRequested(
            request_id=request.id,
            reviewer="rina",
            reason="scan buram",
            missing_items=["surat_pengantar_rt_rw"],
        ),
    )
    corrected = {"person_nik": APPLICANT.nik}
    resubmitted = await handlers.resubmit_request(request.id, corrected, "sudah saya scan ulang", uow=uow)
    assert resubmitted.status == RequestStatus.submitted
    event = uow.outbox.events[-1]
    assert isinstance(event, RequestResubmitted) and event.details == BiodataWniDetails(person_nik=APPLICANT.nik)
    assert event.request_type == "biodata_wni"
    assert resubmitted.details == event.details


async def test_an_unknown_id_is_not_found() -> None:
    with pytest.raises(handlers.RequestNotFound):
        await handlers.get_request(uuid.uuid4(), uow=FakeRequestsUnitOfWork())
