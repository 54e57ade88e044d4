"""A review: one request in the reviewers' work queue, who holds it, and the decisions a reviewer may take on it.

Every change a review goes through is written to its audit trail (`new_audit`), which the repository appends
in the same transaction as the change.
"""

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from dukcapil_review.domain.prechecks import PreCheck, subject_nik
from dukcapil_review.domain.register import DEFAULT_BLOCKING, is_register_check
from dukcapil_shared.contracts import Delivery, Person, RequestDetails
from dukcapil_shared.refusals import Refusal, RefusalKind
from dukcapil_shared.working_days import WorkingCalendar

AUTOMATIC_REVIEWER = "policy:auto"
CITIZEN = "citizen"
SYSTEM = "system"

# Service-level targets in working days (WorkingCalendar: no weekends, public holidays, cuti bersama or office days
# off), counted from receipt or resubmission. Assumption, to be replaced by the office's published Standar
# Pelayanan through REVIEW_SLA_WORKING_DAYS: three working days for the documents a reviewer must check against
# their attachments, one for a biodata printout (the project's first targets, 72 h and 24 h, read as working days;
# Perpres 96/2018 asks for issuance within a day of complete requirements, a stricter bound an office may adopt).
DEFAULT_SLA_WORKING_DAYS: Mapping[str, int] = {
    "kartu_keluarga": 3,
    "akta_kematian": 3,
    "surat_pindah": 3,
    "biodata_wni": 1,
}
FALLBACK_SLA_WORKING_DAYS = 3
DEFAULT_CLAIM = timedelta(minutes=30)


class ReviewStatus(StrEnum):
    pending = "pending"
    info_requested = "info_requested"
    approved = "approved"
    rejected = "rejected"
    cancelled = "cancelled"


OPEN_STATUSES = frozenset({ReviewStatus.pending, ReviewStatus.info_requested})


class ReviewRefused(Refusal):
    def __init__(self, code: str, message: str, *, kind: RefusalKind = RefusalKind.invalid, **extra: Any) -> None:
        super().__init__(message, code=code, kind=kind, **extra)


@dataclass(frozen=True)
class AuditEntry:
    request_id: uuid.UUID
    at: datetime
    actor: str
    action: str
    details: dict[str, Any] = field(default_factory=dict)
    id: int | None = None
    """Given by the audit log when stored."""


@dataclass
class Review:
    request_id: uuid.UUID
    request_number: str
    request_type: str
    applicant: Person
    details: RequestDetails
    delivery: Delivery
    kecamatan_code: str
    status: ReviewStatus
    received_at: datetime
    updated_at: datetime
    due_at: datetime
    channel: str = "online"
    operator: str | None = None
    office: str | None = None
    attachments: list[dict[str, Any]] = field(default_factory=list)
    required_attachments: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    prechecks: list[PreCheck] = field(default_factory=list)
    claimed_by: str | None = None
    claim_expires_at: datetime | None = None
    decided_by: str | None = None
    decided_at: datetime | None = None
    decision_note: str | None = None
    missing_items: list[str] = field(default_factory=list)
    register_attempts: int = 0
    """Lookups in the population register tried for the current details, answered or not."""
    register_retry_at: datetime | None = None
    """When to consult the register again, after it did not answer; None when its checks are done or given up."""
    version: int = 0
    """Bumped on every save, so that two concurrent decisions cannot both win."""
    new_audit: list[AuditEntry] = field(default_factory=list)

    @property
    def subject_nik(self) -> str:
        return subject_nik(self.applicant, self.details)

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def prechecks_pass(self) -> bool:
        """Nothing keeps it from automatic approval: no pre-check failed or is still to be done (warnings pass)."""
        return bool(self.prechecks) and not any(check.blocks_automatic_approval for check in self.prechecks)

    @property
    def register_checks(self) -> list[PreCheck]:
        return [check for check in self.prechecks if is_register_check(check)]

    @property
    def automatic(self) -> bool:
        return self.decided_by == AUTOMATIC_REVIEWER

    def overdue(self, now: datetime) -> bool:
        """Past its due date while it waits for the office (a request waiting on the citizen is not)."""
        return self.status == ReviewStatus.pending and now > self.due_at

    def claim_holder(self, now: datetime) -> str | None:
        """Who holds a live claim; an expired claim is no claim."""
        if self.claimed_by is not None and self.claim_expires_at is not None and now < self.claim_expires_at:
            return self.claimed_by
        return None

    def received(self, prechecks: list[PreCheck], actor: str, now: datetime) -> None:
        self.prechecks = list(prechecks)
        self._audit(
            now,
            actor,
            "received",
            channel=self.channel,
            operator=self.operator,
            office=self.office,
            due_at=self.due_at.isoformat(),
            failed_prechecks=self._failed_prechecks(),
        )

    def update_prechecks(self, prechecks: list[PreCheck], now: datetime, **why: Any) -> None:
        self.prechecks = list(prechecks)
        self.updated_at = now
        self._audit(now, SYSTEM, "prechecks_updated", **why, failed_prechecks=self._failed_prechecks())

    def register_consulted(self, *, answered: bool, retry_at: datetime | None) -> None:
        """Count an attempt to consult the register; `retry_at` is when to try again (None: not again)."""
        self.register_attempts += 1
        self.register_retry_at = None if answered else retry_at

    def add_attachment(self, attachment: dict[str, Any]) -> bool:
        """False if this scan is already known."""
        if any(known.get("id") == attachment.get("id") for known in self.attachments):
            return False
        self.attachments.append(attachment)
        return True

    def claim(self, reviewer: str, now: datetime, claim_for: timedelta = DEFAULT_CLAIM) -> None:
        """Take the review (or extend one's own claim) so that nobody else decides on it meanwhile."""
        self._ensure_pending("claim")
        extended = self._hold(reviewer, now, claim_for)
        self.updated_at = now
        self._audit(now, reviewer, "claimed", expires_at=_iso(self.claim_expires_at), extended=extended)

    def release(self, reviewer: str, now: datetime, *, supervising: bool = False) -> bool:
        """Give the review back to the queue. False if nobody held it. A supervisor may release another
        reviewer's claim (someone fell ill with work on their desk); the audit says whose it was."""
        holder = self.claim_holder(now)
        if holder is None:
            return False
        if not supervising:
            self._ensure_not_held_by_another(reviewer, now)
        self._end_claim()
        self.updated_at = now
        if holder == reviewer:
            self._audit(now, reviewer, "released")
        else:
            self._audit(now, reviewer, "released", claimed_by=holder)
        return True

    def approve(self, reviewer: str, note: str | None, now: datetime, claim_for: timedelta = DEFAULT_CLAIM) -> None:
        self._ensure_pending("approve")
        implicit = not self._hold(reviewer, now, claim_for)
        self._decide(ReviewStatus.approved, reviewer, note, now)
        self._audit(now, reviewer, "approved", automatic=False, note=note, implicit_claim=implicit)

    def approve_automatically(self, now: datetime) -> None:
        """The office's policy approves it: every pre-check passed, and its type needs no person."""
        self._ensure_pending("approve")
        if not self.prechecks_pass:
            raise ReviewRefused("prechecks_failed", "Only a review whose every pre-check passed is approved by policy.")
        note = "Semua pemeriksaan otomatis terpenuhi."
        self._decide(ReviewStatus.approved, AUTOMATIC_REVIEWER, note, now)
        self._audit(now, AUTOMATIC_REVIEWER, "approved", automatic=True, note=note)

    def reject(self, reviewer: str, reason: str, now: datetime, claim_for: timedelta = DEFAULT_CLAIM) -> None:
        self._ensure_pending("reject")
        if not reason.strip():
            raise ReviewRefused("reason_required", "A rejection needs a reason the citizen can understand.")
        implicit = not self._hold(reviewer, now, claim_for)
        self._decide(ReviewStatus.rejected, reviewer, reason, now)
        self._audit(now, reviewer, "rejected", reason=reason, implicit_claim=implicit)

    def request_information(
        self,
        reviewer: str,
        reason: str,
        missing_items: list[str],
        now: datetime,
        claim_for: timedelta = DEFAULT_CLAIM,
    ) -> None:
        """Send it back to the citizen; the reviewer keeps (and extends) the claim."""
        self._ensure_pending("request information on")
        implicit = not self._hold(reviewer, now, claim_for)
        self._decide(ReviewStatus.info_requested, reviewer, reason, now)
        self.missing_items = list(missing_items)
        self._audit(
            now,
            reviewer,
            "information_requested",
            reason=reason,
            missing_items=list(missing_items),
            implicit_claim=implicit,
        )

    def resubmitted(
        self,
        *,
        details: RequestDetails,
        attachments: list[dict[str, Any]],
        flags: list[str],
        note: str | None,
        due_at: datetime,
        now: datetime,
        required_attachments: list[str] | None = None,
    ) -> bool:
        """The citizen answered: back into the queue with a new due date, since the office's time starts again
        once the file is complete. False if the review was not waiting for an answer."""
        if self.status != ReviewStatus.info_requested:
            return False
        self.details = details
        if required_attachments is not None:
            self.required_attachments = list(required_attachments)
        for attachment in attachments:
            self.add_attachment(attachment)
        self.flags = list(flags)
        self.status = ReviewStatus.pending
        self.missing_items = []
        # New details are new people to look up: the register's attempts start again.
        self.register_attempts = 0
        self.register_retry_at = None
        self.due_at = due_at
        self.updated_at = now
        self._audit(now, CITIZEN, "resubmitted", note=note, due_at=due_at.isoformat())
        return True

    def cancel(self, reason: str | None, now: datetime) -> bool:
        """The citizen withdrew. False if it came too late: a decision was already taken."""
        if not self.is_open:
            return False
        self.status = ReviewStatus.cancelled
        self._end_claim()
        self.updated_at = now
        self._audit(now, CITIZEN, "cancelled", reason=reason)
        return True

    def _hold(self, reviewer: str, now: datetime, claim_for: timedelta) -> bool:
        """Claim, or extend the reviewer's own claim; True if they held it already."""
        self._ensure_not_held_by_another(reviewer, now)
        held = self.claim_holder(now) == reviewer
        self.claimed_by = reviewer
        self.claim_expires_at = now + claim_for
        return held

    def _ensure_not_held_by_another(self, reviewer: str, now: datetime) -> None:
        holder = self.claim_holder(now)
        if holder is not None and holder != reviewer:
            raise ReviewRefused(
                "claimed_by_another",
                f"{holder} is working on this review until {_iso(self.claim_expires_at)}; "
                "wait for them to release it or for the claim to expire.",
                kind=RefusalKind.conflict,
                claimed_by=holder,
                claim_expires_at=_iso(self.claim_expires_at),
            )

    def _ensure_pending(self, action: str) -> None:
        if self.status != ReviewStatus.pending:
            raise ReviewRefused(
                "not_pending",
                f"Only a pending review can be decided or claimed; cannot {action} a review that is {self.status}.",
                kind=RefusalKind.conflict,
            )

    def _decide(self, status: ReviewStatus, reviewer: str, note: str | None, now: datetime) -> None:
        self.status = status
        self.decided_by = reviewer
        self.decided_at = now
        self.decision_note = note
        self.updated_at = now
        if not self.is_open:
            self._end_claim()

    def _end_claim(self) -> None:
        self.claimed_by = None
        self.claim_expires_at = None

    def _failed_prechecks(self) -> list[str]:
        return [check.code for check in self.prechecks if not check.passed]

    def _audit(self, now: datetime, actor: str, action: str, **details: Any) -> None:
        self.new_audit.append(AuditEntry(self.request_id, now, actor, action, details))


@dataclass(frozen=True)
class ReviewPolicy:
    """The office's configuration: which types need no person, service-level targets, claim length."""

    auto_approve_types: frozenset[str] = frozenset()
    sla_working_days: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_SLA_WORKING_DAYS))
    calendar: WorkingCalendar = field(default_factory=WorkingCalendar)
    claim_duration: timedelta = DEFAULT_CLAIM
    duplicate_window: timedelta = timedelta(days=30)
    """How long an approved request counts as a possible duplicate of a new one."""
    register_blocking: frozenset[str] = DEFAULT_BLOCKING
    """The register checks that, failed, keep a request from automatic approval; the others only warn."""

    def approves_automatically(self, review: Review) -> bool:
        return (
            review.request_type in self.auto_approve_types
            and review.status == ReviewStatus.pending
            and review.prechecks_pass
        )

    def working_days_for(self, request_type: str) -> int:
        default = DEFAULT_SLA_WORKING_DAYS.get(request_type, FALLBACK_SLA_WORKING_DAYS)
        return self.sla_working_days.get(request_type, default)

    def due_at(self, request_type: str, start: datetime) -> datetime:
        """The type's target in working days after `start`: a weekend or a holiday on the way moves it on."""
        return self.calendar.add_working_days(start, self.working_days_for(request_type))

    def working_days_overdue(self, due_at: datetime, now: datetime) -> int:
        """How many working days have begun since the due date; 0 before it and on its own day."""
        return max(0, self.calendar.working_days_between(due_at, now))


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
