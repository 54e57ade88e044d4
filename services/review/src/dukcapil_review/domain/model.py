"""A review: one request in the reviewers' work queue, and the decisions a reviewer may take on it."""

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

AUTOMATIC_REVIEWER = "policy:auto"


class ReviewStatus(StrEnum):
    pending = "pending"
    info_requested = "info_requested"
    approved = "approved"
    rejected = "rejected"
    cancelled = "cancelled"


class ReviewRefused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class Review:
    request_id: uuid.UUID
    request_number: str
    request_type: str
    applicant: dict[str, Any]
    details: dict[str, Any]
    delivery: dict[str, Any]
    kecamatan_code: str
    status: ReviewStatus
    received_at: datetime
    updated_at: datetime
    decided_by: str | None = None
    decision_note: str | None = None
    missing_items: list[str] = field(default_factory=list)
    version: int = 0
    """Bumped on every save, so that two concurrent decisions cannot both win."""

    def approve(self, reviewer: str, note: str | None, now: datetime) -> None:
        self._ensure_pending("approve")
        self._decide(ReviewStatus.approved, reviewer, note, now)

    def reject(self, reviewer: str, reason: str, now: datetime) -> None:
        self._ensure_pending("reject")
        if not reason.strip():
            raise ReviewRefused("reason_required", "A rejection needs a reason the citizen can understand.")
        self._decide(ReviewStatus.rejected, reviewer, reason, now)

    def request_information(self, reviewer: str, reason: str, missing_items: list[str], now: datetime) -> None:
        self._ensure_pending("request information on")
        self._decide(ReviewStatus.info_requested, reviewer, reason, now)
        self.missing_items = list(missing_items)

    def resubmitted(self, details: dict[str, Any], now: datetime) -> bool:
        """The citizen answered: back into the queue. False if the review was not waiting for an answer."""
        if self.status != ReviewStatus.info_requested:
            return False
        self.details = details
        self.status = ReviewStatus.pending
        self.missing_items = []
        self.updated_at = now
        return True

    def cancel(self, now: datetime) -> bool:
        """The citizen withdrew. False if it came too late: a decision was already taken."""
        if self.status not in (ReviewStatus.pending, ReviewStatus.info_requested):
            return False
        self.status = ReviewStatus.cancelled
        self.updated_at = now
        return True

    def _ensure_pending(self, action: str) -> None:
        if self.status != ReviewStatus.pending:
            raise ReviewRefused(
                "not_pending",
                f"Only a pending review can be decided; cannot {action} a review that is {self.status}.",
            )

    def _decide(self, status: ReviewStatus, reviewer: str, note: str | None, now: datetime) -> None:
        self.status = status
        self.decided_by = reviewer
        self.decision_note = note
        self.updated_at = now


@dataclass(frozen=True)
class ReviewPolicy:
    """Which request types the office lets the system approve without a person."""

    auto_approve_types: frozenset[str] = frozenset()

    def approves_automatically(self, request_type: str) -> bool:
        return request_type in self.auto_approve_types
