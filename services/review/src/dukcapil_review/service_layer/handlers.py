"""Review's use cases: queue each submitted request, and record each reviewer's decision with its event."""

import uuid
from datetime import UTC, datetime

from dukcapil_review.domain.model import AUTOMATIC_REVIEWER, Review, ReviewPolicy, ReviewStatus
from dukcapil_review.service_layer.unit_of_work import ReviewUnitOfWork
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


class ReviewNotFound(Exception):
    pass


async def queue_submitted_request(
    uow: ReviewUnitOfWork, event: RequestSubmitted, _envelope: Envelope, *, policy: ReviewPolicy
) -> None:
    """Consumer handler: put the request in the work queue, or approve it at once where the policy says so."""
    if await uow.reviews.get(event.request_id) is not None:
        return
    now = datetime.now(UTC)
    review = Review(
        request_id=event.request_id,
        request_number=event.request_number,
        request_type=event.request_type.value,
        applicant=event.applicant.model_dump(mode="json"),
        details=event.details,
        delivery=event.delivery.model_dump(mode="json", exclude_none=True),
        kecamatan_code=event.kecamatan_code,
        status=ReviewStatus.pending,
        received_at=now,
        updated_at=now,
    )
    automatic = policy.approves_automatically(review.request_type)
    await uow.outbox.add(ReviewStarted(request_id=review.request_id, automatic=automatic))
    if automatic:
        review.approve(AUTOMATIC_REVIEWER, "Semua pemeriksaan otomatis terpenuhi.", now)
        await uow.outbox.add(_approved(review, automatic=True))
    await uow.reviews.add(review)


async def requeue_resubmitted_request(uow: ReviewUnitOfWork, event: RequestResubmitted, _envelope: Envelope) -> None:
    review = await _require(uow, event.request_id)
    if review.resubmitted(event.details, datetime.now(UTC)):
        await uow.outbox.add(ReviewStarted(request_id=review.request_id))
        await uow.reviews.save(review)


async def withdraw_cancelled_request(uow: ReviewUnitOfWork, event: RequestCancelled, _envelope: Envelope) -> None:
    review = await _require(uow, event.request_id)
    if review.cancel(datetime.now(UTC)):
        await uow.reviews.save(review)


async def approve(request_id: uuid.UUID, *, reviewer: str, note: str | None, uow: ReviewUnitOfWork) -> Review:
    async with uow:
        review = await _load(uow, request_id)
        review.approve(reviewer, note, datetime.now(UTC))
        await uow.outbox.add(_approved(review, automatic=False))
        await uow.reviews.save(review)
        await uow.commit()
    return review


async def reject(request_id: uuid.UUID, *, reviewer: str, reason: str, uow: ReviewUnitOfWork) -> Review:
    async with uow:
        review = await _load(uow, request_id)
        review.reject(reviewer, reason, datetime.now(UTC))
        await uow.outbox.add(RequestRejected(request_id=review.request_id, reviewer=reviewer, reason=reason))
        await uow.reviews.save(review)
        await uow.commit()
    return review


async def request_information(
    request_id: uuid.UUID, *, reviewer: str, reason: str, missing_items: list[str], uow: ReviewUnitOfWork
) -> Review:
    async with uow:
        review = await _load(uow, request_id)
        review.request_information(reviewer, reason, missing_items, datetime.now(UTC))
        await uow.outbox.add(
            InformationRequested(
                request_id=review.request_id, reviewer=reviewer, reason=reason, missing_items=missing_items
            )
        )
        await uow.reviews.save(review)
        await uow.commit()
    return review


async def get_review(request_id: uuid.UUID, *, uow: ReviewUnitOfWork) -> Review:
    async with uow:
        return await _load(uow, request_id)


async def list_reviews(
    *, status: ReviewStatus | None, request_type: str | None, limit: int, offset: int, uow: ReviewUnitOfWork
) -> list[Review]:
    async with uow:
        return await uow.reviews.list(status=status, request_type=request_type, limit=limit, offset=offset)


def _approved(review: Review, *, automatic: bool) -> RequestApproved:
    return RequestApproved(
        request_id=review.request_id,
        request_number=review.request_number,
        request_type=review.request_type,
        applicant=review.applicant,
        details=review.details,
        delivery=review.delivery,
        kecamatan_code=review.kecamatan_code,
        reviewer=review.decided_by or AUTOMATIC_REVIEWER,
        automatic=automatic,
    )


async def _load(uow: ReviewUnitOfWork, request_id: uuid.UUID) -> Review:
    review = await uow.reviews.get(request_id)
    if review is None:
        raise ReviewNotFound(str(request_id))
    return review


async def _require(uow: ReviewUnitOfWork, request_id: uuid.UUID) -> Review:
    review = await uow.reviews.get(request_id)
    if review is None:
        # The submission may still be on its way (another queue, a retry): fail, so the event is retried.
        raise LookupError(f"request {request_id} is not in review yet")
    return review
