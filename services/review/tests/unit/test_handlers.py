import uuid

import pytest

from dukcapil_review.domain.model import AUTOMATIC_REVIEWER, ReviewPolicy, ReviewRefused, ReviewStatus
from dukcapil_review.service_layer import handlers
from dukcapil_review.service_layer.unit_of_work import ConcurrentUpdate
from dukcapil_shared.contracts import (
    Envelope,
    InformationRequested,
    RequestApproved,
    RequestCancelled,
    RequestRejected,
    RequestResubmitted,
    RequestSubmitted,
    ReviewStarted,
)

from ..fakes import FakeReviewUnitOfWork

MANUAL = ReviewPolicy()


def submitted(request_type: str = "kartu_keluarga") -> RequestSubmitted:
    return RequestSubmitted(
        request_id=uuid.uuid4(),
        request_number="360214-20261128-0001",
        request_type=request_type,
        applicant={"nik": "3602144107900001", "name": "Siti Aminah"},
        details={"reason": "add_member"},
        delivery={"method": "pickup", "pickup_kecamatan_code": "36.02.14"},
        kecamatan_code="36.02.14",
        channel="online",
    )


async def consume(uow: FakeReviewUnitOfWork, handler, event) -> None:  # type: ignore[no-untyped-def]
    async with uow:
        await handler(uow, event, Envelope.wrap(event, source="/test"))
        await uow.commit()


async def queue(uow: FakeReviewUnitOfWork, event: RequestSubmitted, policy: ReviewPolicy = MANUAL) -> None:
    async with uow:
        await handlers.queue_submitted_request(uow, event, Envelope.wrap(event, source="/test"), policy=policy)
        await uow.commit()


async def test_a_submitted_request_enters_the_work_queue_and_review_starts() -> None:
    uow = FakeReviewUnitOfWork()
    event = submitted()
    await queue(uow, event)
    [pending] = await handlers.list_reviews(status=ReviewStatus.pending, request_type=None, limit=10, offset=0, uow=uow)
    assert pending.request_id == event.request_id and pending.details == {"reason": "add_member"}
    assert [type(e) for e in uow.outbox.events] == [ReviewStarted]


async def test_a_second_submission_event_for_the_same_request_changes_nothing() -> None:
    uow = FakeReviewUnitOfWork()
    event = submitted()
    await queue(uow, event)
    await queue(uow, event)
    assert len(uow.outbox.events) == 1


async def test_approval_publishes_everything_the_document_needs() -> None:
    uow = FakeReviewUnitOfWork()
    event = submitted()
    await queue(uow, event)
    review = await handlers.approve(event.request_id, reviewer="rina", note=None, uow=uow)
    assert review.status == ReviewStatus.approved and review.decided_by == "rina"
    approved = uow.outbox.events[-1]
    assert isinstance(approved, RequestApproved)
    assert (approved.applicant, approved.details, approved.delivery) == (event.applicant, event.details, event.delivery)
    assert approved.automatic is False


async def test_a_decided_review_cannot_be_decided_again() -> None:
    uow = FakeReviewUnitOfWork()
    event = submitted()
    await queue(uow, event)
    await handlers.reject(event.request_id, reviewer="rina", reason="Dokumen tidak sesuai", uow=uow)
    assert isinstance(uow.outbox.events[-1], RequestRejected)
    with pytest.raises(ReviewRefused) as refused:
        await handlers.approve(event.request_id, reviewer="budi", note=None, uow=uow)
    assert refused.value.code == "not_pending"


async def test_a_rejection_needs_a_reason() -> None:
    uow = FakeReviewUnitOfWork()
    event = submitted()
    await queue(uow, event)
    with pytest.raises(ReviewRefused) as refused:
        await handlers.reject(event.request_id, reviewer="rina", reason="  ", uow=uow)
    assert refused.value.code == "reason_required"


async def test_information_request_then_resubmission_returns_to_the_queue() -> None:
    uow = FakeReviewUnitOfWork()
    event = submitted()
    await queue(uow, event)
    await handlers.request_information(
        event.request_id, reviewer="rina", reason="Scan KK buram", missing_items=["kk_lama"], uow=uow
    )
    assert isinstance(uow.outbox.events[-1], InformationRequested)
    await consume(
        uow,
        handlers.requeue_resubmitted_request,
        RequestResubmitted(request_id=event.request_id, details={"reason": "add_member", "scan": "ok"}),
    )
    review = await handlers.get_review(event.request_id, uow=uow)
    assert review.status == ReviewStatus.pending and review.details["scan"] == "ok"
    assert isinstance(uow.outbox.events[-1], ReviewStarted)


async def test_cancellation_withdraws_a_pending_review_but_not_a_decided_one() -> None:
    uow = FakeReviewUnitOfWork()
    pending, decided = submitted(), submitted()
    await queue(uow, pending)
    await queue(uow, decided)
    await handlers.approve(decided.request_id, reviewer="rina", note=None, uow=uow)
    for event in (pending, decided):
        await consume(uow, handlers.withdraw_cancelled_request, RequestCancelled(request_id=event.request_id))
    assert (await handlers.get_review(pending.request_id, uow=uow)).status == ReviewStatus.cancelled
    assert (await handlers.get_review(decided.request_id, uow=uow)).status == ReviewStatus.approved


async def test_events_about_a_request_not_yet_in_review_fail_so_they_are_retried() -> None:
    uow = FakeReviewUnitOfWork()
    with pytest.raises(LookupError):
        await consume(uow, handlers.withdraw_cancelled_request, RequestCancelled(request_id=uuid.uuid4()))


async def test_the_policy_approves_configured_types_automatically_and_says_so() -> None:
    uow = FakeReviewUnitOfWork()
    event = submitted("biodata_wni")
    await queue(uow, event, ReviewPolicy(frozenset({"biodata_wni"})))
    started, approved = uow.outbox.events
    assert isinstance(started, ReviewStarted) and started.automatic
    assert isinstance(approved, RequestApproved) and approved.automatic and approved.reviewer == AUTOMATIC_REVIEWER
    assert (await handlers.get_review(event.request_id, uow=uow)).status == ReviewStatus.approved


async def test_two_reviewers_deciding_at_once_cannot_both_win() -> None:
    uow = FakeReviewUnitOfWork()
    event = submitted()
    await queue(uow, event)
    stale = await uow.reviews.get(event.request_id)
    await handlers.approve(event.request_id, reviewer="rina", note=None, uow=uow)
    stale.reject("budi", "x", stale.updated_at)
    with pytest.raises(ConcurrentUpdate):
        await uow.reviews.save(stale)
