"""Review's HTTP API: the work queue, claims, decisions, and each review's audit trail (read only)."""

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from pydantic import BaseModel, Field

from dukcapil_review.domain.model import AuditEntry, Review, ReviewPolicy, ReviewStatus
from dukcapil_review.domain.prechecks import CheckStatus
from dukcapil_review.service_layer import handlers
from dukcapil_review.service_layer.unit_of_work import QueueOrder, ReviewQuery, ReviewUnitOfWork
from dukcapil_shared.auth.http import personal_data, staff
from dukcapil_shared.auth.roles import Principal, Scope
from dukcapil_shared.contracts import RequestType
from dukcapil_shared.contracts.details import details_shown
from dukcapil_shared.contracts.text import Note, Reason, ShortText
from dukcapil_shared.web import ClockDep, ErrorResponse


async def _unit_of_work(request: Request) -> ReviewUnitOfWork:
    factory: Callable[[], ReviewUnitOfWork] = request.app.state.unit_of_work
    return factory()


async def _policy(request: Request) -> ReviewPolicy:
    return request.app.state.policy


UnitOfWorkDep = Annotated[ReviewUnitOfWork, Depends(_unit_of_work)]
PolicyDep = Annotated[ReviewPolicy, Depends(_policy)]

# Who acts comes from the token: the audit trail names the signed-in reviewer, never a name typed in a body.
Deciding = Annotated[Principal, Depends(staff(Scope.REVIEWS_DECIDE))]
Reading = Annotated[Principal, Depends(personal_data(Scope.REVIEWS_READ))]


class ApproveBody(BaseModel):
    note: Note | None = None


class RejectBody(BaseModel):
    reason: Reason = Field(description="Why, in words the citizen understands")


class InformationBody(BaseModel):
    reason: Reason = Field(description="What is wrong or missing")
    missing_items: list[ShortText] = Field(
        default_factory=list, max_length=20, description="Attachments or fields to provide"
    )


class EvidenceView(BaseModel):
    subject_id: str = Field(description="Who, in Indonesian (pemohon, saksi ke-1, ...)")
    subject_en: str = Field(description="Who, in English (the applicant, witness 1, ...)")
    nik: str = Field(description="The NIK or KK number looked at, masked")
    finding: str = Field(
        description="ok, unknown_nik, name_mismatch, deceased, not_on_card, card_unknown or death_registered"
    )
    note_id: str = Field(description="What the register says about them, in Indonesian")
    note_en: str = Field(description="The same in English")
    declared_name: str | None = Field(description="The name the request gives")
    register_name: str | None = Field(description="The register's name, masked (S**** B*****)")
    similarity: int | None = Field(description="0-100: how alike the two names are, word order and case aside")
    died_on: str | None = Field(description="The date of death the register holds")


class PreCheckView(BaseModel):
    code: str = Field(
        description="attachments_complete, nik_consistency, region_in_lebak, reported_on_time, no_duplicate; against "
        "the population register: register_known, register_name, register_alive, register_family_card, "
        "register_death_not_registered"
    )
    passed: bool
    status: CheckStatus = Field(
        description="passed; failed (keeps the request from automatic approval); warning (for the reviewer to look "
        "at, the policy lets it pass); not_done (the register did not answer: tried again, the message says when)"
    )
    message_id: str = Field(description="What the check found, in Indonesian")
    message_en: str = Field(description="The same in English")
    evidence: list[EvidenceView] = Field(
        default_factory=list, description="Each person or card the check looked at, and what was found"
    )


class AttachmentView(BaseModel):
    id: str
    kind: str
    content_type: str
    size: int
    sha256: str


class ReviewView(BaseModel):
    request_id: uuid.UUID
    request_number: str
    request_type: str
    status: ReviewStatus
    kecamatan_code: str
    channel: str
    operator: str | None
    office: str | None
    applicant: dict[str, Any]
    details: dict[str, Any]
    delivery: dict[str, Any]
    attachments: list[AttachmentView] = Field(description="Metadata of the scans; the files stay at intake")
    required_attachments: list[str]
    flags: list[str] = Field(description="What intake noticed, e.g. nik_outside_lebak, late_death_report")
    prechecks: list[PreCheckView]
    prechecks_passed: bool = Field(
        description="No pre-check failed or is still to be done (warnings aside): needed for automatic approval"
    )
    received_at: datetime
    updated_at: datetime
    due_at: datetime
    overdue: bool = Field(description="Pending past its due date, at the time of reading")
    claimed_by: str | None = Field(description="Who holds a live claim; null when unclaimed or the claim expired")
    claim_expires_at: datetime | None
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None
    automatic: bool = Field(description="Decided by the office's policy, without a person")
    missing_items: list[str]

    @classmethod
    def of(cls, review: Review, now: datetime) -> "ReviewView":
        holder = review.claim_holder(now)
        return cls(
            request_id=review.request_id,
            request_number=review.request_number,
            request_type=review.request_type,
            status=review.status,
            kecamatan_code=review.kecamatan_code,
            channel=review.channel,
            operator=review.operator,
            office=review.office,
            applicant=review.applicant.model_dump(mode="json"),
            details=details_shown(review.details),
            delivery=review.delivery.model_dump(mode="json", exclude_none=True),
            attachments=[AttachmentView.model_validate(attachment) for attachment in review.attachments],
            required_attachments=review.required_attachments,
            flags=review.flags,
            prechecks=[PreCheckView.model_validate(check, from_attributes=True) for check in review.prechecks],
            prechecks_passed=review.prechecks_pass,
            received_at=review.received_at,
            updated_at=review.updated_at,
            due_at=review.due_at,
            overdue=review.overdue(now),
            claimed_by=holder,
            claim_expires_at=review.claim_expires_at if holder else None,
            decided_by=review.decided_by,
            decided_at=review.decided_at,
            decision_note=review.decision_note,
            automatic=review.automatic,
            missing_items=review.missing_items,
        )


class AuditEntryView(BaseModel):
    id: int
    request_id: uuid.UUID
    at: datetime
    actor: str = Field(description="A reviewer, citizen, an operator, system, or policy:auto")
    action: str = Field(
        description="received, prechecks_updated, claimed, released, approved, rejected, information_requested, "
        "resubmitted, cancelled"
    )
    details: dict[str, Any]

    @classmethod
    def of(cls, entry: AuditEntry) -> "AuditEntryView":
        return cls.model_validate(entry, from_attributes=True)


router = APIRouter(tags=["reviews"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse},
    401: {"model": ErrorResponse},
    403: {"model": ErrorResponse},
    404: {"model": ErrorResponse},
    409: {"model": ErrorResponse},
    422: {"model": ErrorResponse},
}


@router.get("/reviews", response_model=list[ReviewView], responses=_ERRORS)
async def work_queue(
    uow: UnitOfWorkDep,
    clock: ClockDep,
    _reviewer: Reading,
    status: ReviewStatus | None = None,
    type: RequestType | None = None,
    kecamatan: Annotated[
        str | None, Query(pattern=r"^\d{2}\.\d{2}\.\d{2}$", description="Kecamatan code, e.g. 36.02.14")
    ] = None,
    overdue: Annotated[bool, Query(description="Only pending reviews past their due date")] = False,
    order: Annotated[QueueOrder, Query(description="received: oldest first; due: earliest due date first")] = (
        QueueOrder.received
    ),
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[ReviewView]:
    """The work queue; `status=pending` for what awaits a decision."""
    now = clock()
    query = ReviewQuery(
        status=status,
        request_type=type.value if type else None,
        kecamatan_code=kecamatan,
        overdue_at=now if overdue else None,
        order=order,
        limit=limit,
        offset=offset,
    )
    return [ReviewView.of(review, now) for review in await handlers.list_reviews(query, uow=uow)]


@router.get("/reviews/{request_id}", response_model=ReviewView, responses=_ERRORS)
async def show(request_id: uuid.UUID, uow: UnitOfWorkDep, clock: ClockDep, _reviewer: Reading) -> ReviewView:
    """A review with its pre-checks, attachments, due date and claim."""
    return ReviewView.of(await handlers.get_review(request_id, uow=uow), clock())


@router.get("/reviews/{request_id}/audit", response_model=list[AuditEntryView], responses=_ERRORS)
async def audit_trail(request_id: uuid.UUID, uow: UnitOfWorkDep, _reviewer: Reading) -> list[AuditEntryView]:
    """Everything that happened to the review, oldest first: who, when, what, why. It cannot be changed."""
    return [AuditEntryView.of(entry) for entry in await handlers.audit_trail(request_id, uow=uow)]


@router.post("/reviews/{request_id}/claim", response_model=ReviewView, responses=_ERRORS)
async def claim(
    request_id: uuid.UUID, reviewer: Deciding, uow: UnitOfWorkDep, policy: PolicyDep, clock: ClockDep
) -> ReviewView:
    """Take the review, or extend one's own claim; nobody else can decide on it until the claim expires."""
    review = await handlers.claim(request_id, reviewer=reviewer.username, uow=uow, policy=policy, clock=clock)
    return ReviewView.of(review, clock())


@router.post("/reviews/{request_id}/release", response_model=ReviewView, responses=_ERRORS)
async def release(request_id: uuid.UUID, reviewer: Deciding, uow: UnitOfWorkDep, clock: ClockDep) -> ReviewView:
    """Give the review back to the queue. A supervisor may release another reviewer's claim."""
    supervising = Scope.REVIEWS_SUPERVISE in reviewer.scopes
    review = await handlers.release(
        request_id, reviewer=reviewer.username, uow=uow, clock=clock, supervising=supervising
    )
    return ReviewView.of(review, clock())


@router.post("/reviews/{request_id}/approve", response_model=ReviewView, responses=_ERRORS)
async def approve(
    request_id: uuid.UUID,
    body: ApproveBody,
    reviewer: Deciding,
    uow: UnitOfWorkDep,
    policy: PolicyDep,
    clock: ClockDep,
) -> ReviewView:
    review = await handlers.approve(
        request_id, reviewer=reviewer.username, note=body.note, uow=uow, policy=policy, clock=clock
    )
    return ReviewView.of(review, clock())


@router.post("/reviews/{request_id}/reject", response_model=ReviewView, responses=_ERRORS)
async def reject(
    request_id: uuid.UUID,
    body: RejectBody,
    reviewer: Deciding,
    uow: UnitOfWorkDep,
    policy: PolicyDep,
    clock: ClockDep,
) -> ReviewView:
    review = await handlers.reject(
        request_id, reviewer=reviewer.username, reason=body.reason, uow=uow, policy=policy, clock=clock
    )
    return ReviewView.of(review, clock())


@router.post("/reviews/{request_id}/request-information", response_model=ReviewView, responses=_ERRORS)
async def request_information(
    request_id: uuid.UUID,
    body: InformationBody,
    reviewer: Deciding,
    uow: UnitOfWorkDep,
    policy: PolicyDep,
    clock: ClockDep,
) -> ReviewView:
    """Send the request back to the citizen with what is missing; it returns when they resubmit."""
    review = await handlers.request_information(
        request_id,
        reviewer=reviewer.username,
        reason=body.reason,
        missing_items=body.missing_items,
        uow=uow,
        policy=policy,
        clock=clock,
    )
    return ReviewView.of(review, clock())


def install(app: FastAPI) -> None:
    app.include_router(router)
