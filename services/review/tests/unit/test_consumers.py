from dukcapil_review.domain.model import ReviewPolicy, ReviewStatus
from dukcapil_review.entrypoints.consumers import subscriptions
from dukcapil_review.service_layer import handlers
from dukcapil_shared.contracts import (
    AttachmentAdded,
    RequestApproved,
    RequestCancelled,
    RequestResubmitted,
    ReviewStarted,
)
from dukcapil_testing import InMemoryEventBus

from ..fakes import FakeReviewUnitOfWork
from .test_handlers import attachment, submitted


async def test_intakes_events_drive_the_work_queue_through_the_broker() -> None:
    uow = FakeReviewUnitOfWork()
    first, second = submitted(), submitted()
    async with InMemoryEventBus("review", subscriptions(ReviewPolicy()), lambda: uow) as bus:
        assert await bus.publish(first) == ["dukcapil.review.requests"]
        await bus.publish(second)
        await handlers.request_information(
            first.request_id, reviewer="rina", reason="x", missing_items=[], uow=uow, policy=ReviewPolicy()
        )
        corrected = {"reason": "add_member", "changes": "diperbaiki"}
        await bus.publish(
            RequestResubmitted(request_id=first.request_id, request_type=first.request_type, details=corrected)
        )
        await bus.publish(RequestCancelled(request_id=second.request_id))
    assert (await handlers.get_review(first.request_id, uow=uow)).status == ReviewStatus.pending
    assert (await handlers.get_review(second.request_id, uow=uow)).status == ReviewStatus.cancelled


async def test_the_automatic_policy_applies_to_events_from_the_broker() -> None:
    uow = FakeReviewUnitOfWork()
    event = submitted("biodata_wni")
    async with InMemoryEventBus("review", subscriptions(ReviewPolicy(frozenset({"biodata_wni"}))), lambda: uow) as bus:
        await bus.publish(event)
    assert isinstance(uow.outbox.events[-1], RequestApproved)


async def test_an_attachment_from_intake_completes_the_request_and_the_policy_approves_it() -> None:
    uow = FakeReviewUnitOfWork()
    event = submitted("biodata_wni", required_attachments=["surat_rt_rw"])
    added = AttachmentAdded(request_id=event.request_id, attachment=attachment("surat_rt_rw"))
    async with InMemoryEventBus("review", subscriptions(ReviewPolicy(frozenset({"biodata_wni"}))), lambda: uow) as bus:
        await bus.publish(event)
        assert isinstance(uow.outbox.events[-1], ReviewStarted)
        assert await bus.publish(added) == ["dukcapil.review.requests"]
        await bus.publish(added)  # the same scan announced again changes nothing
    review = await handlers.get_review(event.request_id, uow=uow)
    assert review.status == ReviewStatus.approved and [a["kind"] for a in review.attachments] == ["surat_rt_rw"]
    assert [type(e) for e in uow.outbox.events] == [ReviewStarted, RequestApproved]


async def test_review_does_not_subscribe_to_its_own_decisions() -> None:
    uow = FakeReviewUnitOfWork()
    event = submitted()
    async with InMemoryEventBus("review", subscriptions(ReviewPolicy()), lambda: uow) as bus:
        approved = RequestApproved(
            request_id=event.request_id,
            request_number=event.request_number,
            request_type=event.request_type,
            applicant=event.applicant,
            details=event.details,
            delivery=event.delivery,
            kecamatan_code="36.02.14",
            reviewer="r",
        )
        assert await bus.publish(approved) == []
