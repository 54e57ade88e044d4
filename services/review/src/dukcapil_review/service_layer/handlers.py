"""Review's use cases: queue each submitted request with its pre-checks, keep them current as scans and answers
arrive, let reviewers claim and decide, and approve by policy where the office allows it."""

import uuid
from collections.abc import Callable
from datetime import datetime

import structlog

from dukcapil_review.domain.model import AUTOMATIC_REVIEWER, CITIZEN, AuditEntry, Review, ReviewPolicy, ReviewStatus
from dukcapil_review.domain.prechecks import PossibleDuplicate, PreCheck, run_prechecks
from dukcapil_review.domain.register import (
    RegisterAnswers,
    is_register_check,
    questions_for,
    register_not_done,
    register_prechecks,
)
from dukcapil_review.service_layer.register import RegisterLookups, RegisterUnavailable
from dukcapil_review.service_layer.unit_of_work import ConcurrentUpdate, PendingCount, ReviewQuery, ReviewUnitOfWork
from dukcapil_shared.clock import Clock, system_clock
from dukcapil_shared.contracts import (
    AttachmentAdded,
    Envelope,
    InformationRequested,
    RequestApproved,
    RequestCancelled,
    RequestRejected,
    RequestResubmitted,
    RequestSubmitted,
    ReviewClaimed,
    ReviewStarted,
)
from dukcapil_shared.contracts.regions import WIB
from dukcapil_shared.refusals import Refusal, RefusalKind

log = structlog.get_logger(__name__)


class ReviewNotFound(Refusal):
    code = "review_not_found"
    kind = RefusalKind.not_found

    def __init__(self, request_id: str) -> None:
        super().__init__(f"No review for request {request_id}; it may still be on its way.")


async def queue_submitted_request(
    uow: ReviewUnitOfWork,
    event: RequestSubmitted,
    _envelope: Envelope,
    *,
    policy: ReviewPolicy,
    clock: Clock = system_clock,
    register: RegisterLookups | None = None,
) -> None:
    """Consumer handler: put the request in the work queue, or approve it at once where the policy says so.

    The population register is consulted here, within its short time limit: when it does not answer, its checks
    are not done, the request is queued all the same, and `retry_register_checks` asks again later."""
    now = clock()
    review = Review(
        request_id=event.request_id,
        request_number=event.request_number,
        request_type=event.request_type.value,
        applicant=event.applicant,
        details=event.details,
        delivery=event.delivery,
        kecamatan_code=event.kecamatan_code,
        status=ReviewStatus.pending,
        received_at=now,
        updated_at=now,
        due_at=policy.due_at(event.request_type.value, now),
        channel=event.channel,
        operator=event.operator,
        office=event.office,
        attachments=[attachment.model_dump(mode="json") for attachment in event.attachments],
        required_attachments=list(event.required_attachments),
        flags=list(event.flags),
    )
    # Whether it is queued already (a redelivery) and who else asked for this document, in one round trip.
    queued, others = await uow.reviews.get_with_duplicates(
        review.request_id,
        approved_since=now - policy.duplicate_window,
        request_type=review.request_type,
        subject_nik=review.subject_nik,
    )
    if queued is not None:
        return
    prechecks = _prechecks_against(review, others) + await _register_checks(review, register, policy, now)
    review.received(prechecks, actor=event.operator or CITIZEN, now=now)
    automatic = policy.approves_automatically(review)
    await uow.outbox.add(ReviewStarted(request_id=review.request_id, automatic=automatic))
    if automatic:
        await _approve_by_policy(uow, review, now)
    await uow.reviews.add(review)


async def record_attachment(
    uow: ReviewUnitOfWork,
    event: AttachmentAdded,
    _envelope: Envelope,
    *,
    policy: ReviewPolicy,
    clock: Clock = system_clock,
) -> None:
    """A new scan: check again, and approve by policy if it completed the request."""
    now = clock()
    review, others = await uow.reviews.get_with_duplicates(
        event.request_id, approved_since=now - policy.duplicate_window
    )
    if review is None:
        raise _not_in_review_yet(event.request_id)
    if not review.is_open:
        return
    attachment = event.attachment.model_dump(mode="json")
    if not review.add_attachment(attachment):
        return
    review.update_prechecks(
        _prechecks_against(review, others) + review.register_checks,
        now,
        trigger="attachment_added",
        attachment={"id": attachment["id"], "kind": attachment["kind"]},
    )
    if policy.approves_automatically(review):
        await _approve_by_policy(uow, review, now)
    await uow.reviews.save(review)


async def requeue_resubmitted_request(
    uow: ReviewUnitOfWork,
    event: RequestResubmitted,
    _envelope: Envelope,
    *,
    policy: ReviewPolicy,
    clock: Clock = system_clock,
    register: RegisterLookups | None = None,
) -> None:
    review = await _require(uow, event.request_id)
    now = clock()
    resubmitted = review.resubmitted(
        details=event.details,
        attachments=[attachment.model_dump(mode="json") for attachment in event.attachments],
        flags=list(event.flags),
        note=event.note,
        due_at=policy.due_at(review.request_type, now),
        now=now,
        required_attachments=event.required_attachments,
    )
    if not resubmitted:
        return
    prechecks = await _prechecks(uow, review, policy, now) + await _register_checks(review, register, policy, now)
    review.update_prechecks(prechecks, now, trigger="resubmitted")
    automatic = policy.approves_automatically(review)
    await uow.outbox.add(ReviewStarted(request_id=review.request_id, automatic=automatic))
    if automatic:
        await _approve_by_policy(uow, review, now)
    await uow.reviews.save(review)


async def withdraw_cancelled_request(
    uow: ReviewUnitOfWork, event: RequestCancelled, _envelope: Envelope, *, clock: Clock = system_clock
) -> None:
    review = await _require(uow, event.request_id)
    if review.cancel(event.reason, clock()):
        await uow.reviews.save(review)


async def retry_register_checks(
    *,
    unit_of_work: Callable[[], ReviewUnitOfWork],
    register: RegisterLookups,
    policy: ReviewPolicy,
    batch_size: int = 50,
    clock: Clock = system_clock,
) -> int:
    """One round: consult the register again for the open reviews whose register checks are due for another try;
    approve by policy those it clears. Returns how many reviews got their register checks done.

    The register is asked outside any transaction; each answer is recorded in a short unit of work of its own, and
    only on the review as it was read (a review that changed meanwhile waits for the next round)."""
    async with unit_of_work() as uow:
        due = await uow.reviews.list(ReviewQuery(register_retry_due_at=clock(), limit=batch_size))
    done = 0
    for candidate in due:
        questions = questions_for(candidate.applicant, candidate.details)
        try:
            answers: RegisterAnswers | RegisterUnavailable = await register.consult(questions)
        except RegisterUnavailable as error:
            answers = error
        async with unit_of_work() as uow:
            review = await uow.reviews.get(candidate.request_id)
            if review is None or review.version != candidate.version or not review.is_open:
                continue
            now = clock()
            checks = _judged(review, answers, register, policy, now)
            base = [check for check in review.prechecks if not is_register_check(check)]
            review.update_prechecks(base + checks, now, trigger="register_retry", attempt=review.register_attempts)
            if policy.approves_automatically(review):
                await _approve_by_policy(uow, review, now)
            try:
                await uow.reviews.save(review)
            except ConcurrentUpdate:
                continue
            await uow.commit()
        done += not isinstance(answers, RegisterUnavailable)
    return done


async def claim(
    request_id: uuid.UUID, *, reviewer: str, uow: ReviewUnitOfWork, policy: ReviewPolicy, clock: Clock = system_clock
) -> Review:
    async with uow:
        review = await _load(uow, request_id)
        review.claim(reviewer, clock(), policy.claim_duration)
        assert review.claim_expires_at is not None
        await uow.outbox.add(
            ReviewClaimed(request_id=review.request_id, reviewer=reviewer, expires_at=review.claim_expires_at)
        )
        await uow.reviews.save(review)
        await uow.commit()
    return review


async def release(
    request_id: uuid.UUID,
    *,
    reviewer: str,
    uow: ReviewUnitOfWork,
    clock: Clock = system_clock,
    supervising: bool = False,
) -> Review:
    async with uow:
        review = await _load(uow, request_id)
        if review.release(reviewer, clock(), supervising=supervising):
            await uow.reviews.save(review)
            await uow.commit()
    return review


async def approve(
    request_id: uuid.UUID,
    *,
    reviewer: str,
    note: str | None,
    uow: ReviewUnitOfWork,
    policy: ReviewPolicy,
    clock: Clock = system_clock,
) -> Review:
    async with uow:
        review = await _load(uow, request_id)
        review.approve(reviewer, note, clock(), policy.claim_duration)
        await uow.outbox.add(_approved(review, automatic=False))
        await uow.reviews.save(review)
        await uow.commit()
    return review


async def reject(
    request_id: uuid.UUID,
    *,
    reviewer: str,
    reason: str,
    uow: ReviewUnitOfWork,
    policy: ReviewPolicy,
    clock: Clock = system_clock,
) -> Review:
    async with uow:
        review = await _load(uow, request_id)
        review.reject(reviewer, reason, clock(), policy.claim_duration)
        await uow.outbox.add(RequestRejected(request_id=review.request_id, reviewer=reviewer, reason=reason))
        await uow.reviews.save(review)
        await uow.commit()
    return review


async def request_information(
    request_id: uuid.UUID,
    *,
    reviewer: str,
    reason: str,
    missing_items: list[str],
    uow: ReviewUnitOfWork,
    policy: ReviewPolicy,
    clock: Clock = system_clock,
) -> Review:
    async with uow:
        review = await _load(uow, request_id)
        review.request_information(reviewer, reason, missing_items, clock(), policy.claim_duration)
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


async def list_reviews(query: ReviewQuery, *, uow: ReviewUnitOfWork) -> list[Review]:
    async with uow:
        return await uow.reviews.list(query)


async def count_overdue(
    *, now: datetime, request_type: str | None, kecamatan_code: str | None, uow: ReviewUnitOfWork
) -> list[PendingCount]:
    """The reviews waiting for the office, per type and kecamatan, and how many of them are past their due date."""
    async with uow:
        found = await uow.reviews.count_pending(now=now, request_type=request_type, kecamatan_code=kecamatan_code)
    return sorted(found, key=lambda group: (group.request_type, group.kecamatan_code))


async def audit_trail(request_id: uuid.UUID, *, uow: ReviewUnitOfWork) -> list[AuditEntry]:
    async with uow:
        await _load(uow, request_id)
        return await uow.audit.list(request_id)


async def _prechecks(uow: ReviewUnitOfWork, review: Review, policy: ReviewPolicy, now: datetime) -> list[PreCheck]:
    others = await uow.reviews.find_duplicates(
        request_type=review.request_type,
        subject_nik=review.subject_nik,
        exclude=review.request_id,
        approved_since=now - policy.duplicate_window,
    )
    return _prechecks_against(review, others)


def _prechecks_against(review: Review, others: list[Review]) -> list[PreCheck]:
    """The pre-checks of `review`, `others` being the reviews that may duplicate it (find_duplicates)."""
    return run_prechecks(
        request_type=review.request_type,
        applicant=review.applicant,
        details=review.details,
        attachments=review.attachments,
        required_attachments=review.required_attachments,
        flags=review.flags,
        duplicates=[PossibleDuplicate(other.request_number, other.status.value) for other in others],
    )


async def _register_checks(
    review: Review, register: RegisterLookups | None, policy: ReviewPolicy, now: datetime
) -> list[PreCheck]:
    """The register's pre-checks for the review as it is now; none when the office has no register to consult."""
    if register is None:
        return []
    try:
        answers: RegisterAnswers | RegisterUnavailable = await register.consult(
            questions_for(review.applicant, review.details)
        )
    except RegisterUnavailable as error:
        answers = error
    return _judged(review, answers, register, policy, now)


def _judged(
    review: Review,
    answers: RegisterAnswers | RegisterUnavailable,
    register: RegisterLookups,
    policy: ReviewPolicy,
    now: datetime,
) -> list[PreCheck]:
    """What the register's answers (or its silence) mean for the review, counting the attempt on it."""
    questions = questions_for(review.applicant, review.details)
    if not isinstance(answers, RegisterUnavailable):
        review.register_consulted(answered=True, retry_at=None)
        return register_prechecks(questions, answers, blocking=policy.register_blocking)
    retry_at = register.retry_at(review.register_attempts + 1, now)
    review.register_consulted(answered=False, retry_at=retry_at)
    log.warning(
        "register_unavailable",
        request_number=review.request_number,
        attempt=review.register_attempts,
        reason=answers.reason,
        retry_at=retry_at.isoformat() if retry_at else None,
    )
    attempts = review.register_attempts
    if retry_at is None:
        return register_not_done(
            questions,
            f"register tidak menjawab ({answers.reason}) setelah {attempts} percobaan; periksa secara manual.",
            f"the register did not answer ({answers.reason}) after {attempts} attempts; check by hand.",
        )
    at = retry_at.astimezone(WIB).strftime("%Y-%m-%d %H:%M WIB")
    return register_not_done(
        questions,
        f"register tidak menjawab ({answers.reason}); percobaan ke-{attempts}, dicoba lagi {at}.",
        f"the register did not answer ({answers.reason}); attempt {attempts}, trying again at {at}.",
    )


async def _approve_by_policy(uow: ReviewUnitOfWork, review: Review, now: datetime) -> None:
    review.approve_automatically(now)
    await uow.outbox.add(_approved(review, automatic=True))


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
        raise _not_in_review_yet(request_id)
    return review


def _not_in_review_yet(request_id: uuid.UUID) -> LookupError:
    # The submission may still be on its way (another queue, a retry): fail, so the event is retried.
    return LookupError(f"request {request_id} is not in review yet")
