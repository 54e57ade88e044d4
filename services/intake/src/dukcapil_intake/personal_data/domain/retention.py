"""How long intake keeps each kind of personal data, and from when the time runs."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class DataKind(StrEnum):
    scans = "scans"
    notices = "notices"
    public_events = "public_events"


DEFAULT_RETENTION_DAYS: dict[DataKind, int] = {
    # After the request ended (delivered, collected, rejected or cancelled): time for a complaint or a correction,
    # which a reviewer checks against the scans; after that the issued document is the record, and the scans (the
    # most sensitive data intake holds: a family card, a death certificate) go.
    DataKind.scans: 90,
    # SMS and e-mail sent to citizens (phone numbers, addresses, what they were told): a year answers "was I told",
    # the longest a citizen's question about a request comes back.
    DataKind.notices: 365,
    # The log of events for agencies (NIKs in full in its identified variant): agencies consume within days and keep
    # their own copy; a replay for a new or returning agency reaches back six months at most.
    DataKind.public_events: 180,
}
"""The access log (who opened whose data, and why) is every service's: each purges its own after
<SERVICE>_ACCESS_LOG_DAYS (dukcapil_shared.auth.access.AccessLogRetention), longer than any of these."""

ENDED_STATUSES = ("delivered", "collected", "rejected", "cancelled")
"""A request's scans are kept for their period from the moment it reached one of these (its last change)."""


class InvalidRetention(ValueError):
    pass


@dataclass(frozen=True)
class RetentionPolicy:
    days: Mapping[DataKind, int]

    @classmethod
    def of(cls, overrides: Mapping[str, int]) -> "RetentionPolicy":
        """The defaults, with the periods the settings give (by kind name) instead."""
        unknown = set(overrides) - {kind.value for kind in DataKind}
        if unknown:
            raise InvalidRetention(f"no such kind of data: {', '.join(sorted(unknown))}")
        days = DEFAULT_RETENTION_DAYS | {DataKind(kind): value for kind, value in overrides.items()}
        short = {kind.value: value for kind, value in days.items() if value < 1}
        if short:
            raise InvalidRetention(f"a retention period is a day at least: {short}")
        return cls(days=days)

    def kept_since(self, kind: DataKind, now: datetime) -> datetime:
        """Data of this kind older than this (for scans: of a request that ended before it) is purged."""
        return now - timedelta(days=self.days[kind])
