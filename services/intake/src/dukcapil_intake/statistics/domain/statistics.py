"""Figures for the office: how many requests, and how long each stage of their way takes.

Everything here is counted per request and reported in groups; no answer names a person. Months are the office's
months, in WIB (UTC+7): a request submitted at 01:00 WIB on 1 November, still 31 October in UTC, counts in November.
"""

import math
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from enum import StrEnum

from dukcapil_shared.contracts.regions import WIB
from dukcapil_shared.refusals import Refusal
from dukcapil_shared.working_days import WorkingCalendar


class StatisticsRefused(Refusal):
    """A question the statistics cannot answer as asked; the message says how to ask it."""

    def __init__(self, code: str, message: str, field: str) -> None:
        super().__init__(message, code=code, field=field)


# --- months ---

# Years from 2000 on: the office went online in 2020, and far-off years would overflow the date arithmetic.
_MONTH = re.compile(r"^(2\d{3})-(0[1-9]|1[0-2])$")


@dataclass(frozen=True, order=True)
class Month:
    """A calendar month in WIB, written YYYY-MM."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str, *, field: str) -> "Month":
        found = _MONTH.match(text)
        if found is None:
            raise StatisticsRefused("invalid_month", f"{text!r} is not a month: write YYYY-MM, e.g. 2026-11.", field)
        return cls(int(found[1]), int(found[2]))

    @classmethod
    def of(cls, moment: datetime) -> "Month":
        local = moment.astimezone(WIB)
        return cls(local.year, local.month)

    def next(self) -> "Month":
        return Month(self.year + self.month // 12, self.month % 12 + 1)

    def starts_at(self) -> datetime:
        """Midnight WIB on the first day of the month, in UTC."""
        return datetime.combine(datetime(self.year, self.month, 1).date(), time(), WIB).astimezone(UTC)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


@dataclass(frozen=True)
class StatisticsFilter:
    """Which requests a figure counts: submitted from the first day of `first_month` to the last day of
    `last_month` (WIB, both inclusive), of one type and one kecamatan when given."""

    first_month: Month | None = None
    last_month: Month | None = None
    request_type: str | None = None
    kecamatan_code: str | None = None

    def __post_init__(self) -> None:
        if self.first_month and self.last_month and self.first_month > self.last_month:
            raise StatisticsRefused(
                "empty_month_range",
                f"from ({self.first_month}) is after to ({self.last_month}): swap them.",
                "query.from",
            )

    @property
    def submitted_from(self) -> datetime | None:
        return self.first_month.starts_at() if self.first_month else None

    @property
    def submitted_before(self) -> datetime | None:
        return self.last_month.next().starts_at() if self.last_month else None

    def admits(self, request_type: str, kecamatan_code: str, submitted_at: datetime) -> bool:
        """The same rule the SQL applies, for fakes and checks."""
        start, end = self.submitted_from, self.submitted_before
        return (
            (self.request_type is None or request_type == self.request_type)
            and (self.kecamatan_code is None or kecamatan_code == self.kecamatan_code)
            and (start is None or submitted_at >= start)
            and (end is None or submitted_at < end)
        )


# --- counts ---


class Dimension(StrEnum):
    """What requests can be counted by."""

    type = "type"
    status = "status"
    kecamatan = "kecamatan"
    month = "month"
    """Of submission, in WIB."""


def parse_dimensions(text: str | None) -> tuple[Dimension, ...]:
    """`type,month` → (type, month); each once, in the order given."""
    chosen: list[Dimension] = []
    for name in (part.strip() for part in (text or "").split(",")):
        if not name:
            continue
        try:
            dimension = Dimension(name)
        except ValueError:
            allowed = ", ".join(dimension.value for dimension in Dimension)
            raise StatisticsRefused(
                "unknown_group", f"Requests cannot be grouped by {name!r}; choose from {allowed}.", "query.group_by"
            ) from None
        if dimension not in chosen:
            chosen.append(dimension)
    return tuple(chosen)


@dataclass(frozen=True)
class GroupCount:
    """How many requests share the values of the chosen dimensions (the others are None)."""

    count: int
    type: str | None = None
    status: str | None = None
    kecamatan: str | None = None
    month: str | None = None

    def values(self, dimensions: Sequence[Dimension]) -> tuple[str, ...]:
        return tuple(getattr(self, dimension.value) or "" for dimension in dimensions)


# --- lead times ---


class Milestone(StrEnum):
    """The moments of a request's way that the stages are measured between: the first event of each kind."""

    submitted = "submitted"
    review_started = "review_started"
    decided = "decided"
    document_issued = "document_issued"
    dispatched = "dispatched"
    handed_over = "handed_over"


# Which events mark each milestone (besides `submitted`, which is the request's own submission time).
MILESTONE_EVENTS: Mapping[Milestone, frozenset[str]] = {
    Milestone.review_started: frozenset({"review.started.v1"}),
    Milestone.decided: frozenset({"request.approved.v1", "request.rejected.v1"}),
    Milestone.document_issued: frozenset({"document.issued.v1"}),
    Milestone.dispatched: frozenset({"shipment.created.v1", "shipment.ready_for_pickup.v1"}),
    Milestone.handed_over: frozenset({"shipment.delivered.v1", "shipment.collected.v1"}),
}
MILESTONE_OF_EVENT: Mapping[str, Milestone] = {
    event_type: milestone for milestone, event_types in MILESTONE_EVENTS.items() for event_type in event_types
}


@dataclass(frozen=True)
class Stage:
    name: str
    starts: Milestone
    ends: Milestone
    description: str


STAGES: tuple[Stage, ...] = (
    Stage("intake", Milestone.submitted, Milestone.review_started, "submission to review started"),
    Stage(
        "review",
        Milestone.review_started,
        Milestone.decided,
        "review started to approval or rejection (includes time waiting for the citizen's answers)",
    ),
    Stage("documents", Milestone.decided, Milestone.document_issued, "approval to document issued"),
    Stage(
        "dispatch",
        Milestone.document_issued,
        Milestone.dispatched,
        "document issued to handed to the courier or ready for pickup",
    ),
    Stage(
        "delivery",
        Milestone.dispatched,
        Milestone.handed_over,
        "handed to the courier or ready for pickup to delivered or collected",
    ),
    Stage("end_to_end", Milestone.submitted, Milestone.handed_over, "submission to delivered or collected"),
)


@dataclass(frozen=True)
class RequestMilestones:
    """When one request reached each milestone it has reached."""

    request_id: uuid.UUID
    reached: Mapping[Milestone, datetime]

    @classmethod
    def of(
        cls, request_id: uuid.UUID, submitted_at: datetime, events: Iterable[tuple[str, datetime]]
    ) -> "RequestMilestones":
        """From the request's history: the first event of each milestone counts (a corrected document or a
        second delivery attempt does not restart the clock)."""
        reached = {Milestone.submitted: submitted_at}
        for event_type, occurred_at in events:
            milestone = MILESTONE_OF_EVENT.get(event_type)
            if milestone is not None and (milestone not in reached or occurred_at < reached[milestone]):
                reached[milestone] = occurred_at
        return cls(request_id, reached)

    def hours(self, stage: Stage) -> float | None:
        """How long the request spent in the stage, once it has left it."""
        start, end = self.reached.get(stage.starts), self.reached.get(stage.ends)
        if start is None or end is None:
            return None
        # Each stage stamps its own events; a few milliseconds of clock drift between the services must not
        # make a stage take negative time.
        return max(0.0, (end - start).total_seconds() / 3600)

    def working_days(self, stage: Stage, calendar: WorkingCalendar) -> int | None:
        """How many working days began while the request was in the stage (0: left it the day it came), once it
        has left it: weekends, holidays, cuti bersama and the office's days off do not count."""
        start, end = self.reached.get(stage.starts), self.reached.get(stage.ends)
        if start is None or end is None:
            return None
        return max(0, calendar.working_days_between(start, end))


@dataclass(frozen=True)
class LeadTime:
    stage: Stage
    count: int
    """How many requests went through the stage."""
    mean_hours: float | None
    p50_hours: float | None
    p90_hours: float | None
    mean_working_days: float | None = None
    p50_working_days: float | None = None
    p90_working_days: float | None = None


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """Linear interpolation between the closest ranks (as numpy's default and a spreadsheet's PERCENTILE.INC):
    the median of 1, 2, 3, 4 is 2.5."""
    if not ordered:
        raise ValueError("no values")
    position = (len(ordered) - 1) * fraction
    below, above = math.floor(position), math.ceil(position)
    return ordered[below] + (ordered[above] - ordered[below]) * (position - below)


def lead_times(requests: Iterable[RequestMilestones], calendar: WorkingCalendar | None = None) -> list[LeadTime]:
    """Count, mean, median and 90th percentile of each stage, in hours and in working days (service standards are
    promised in working days), over the requests that went through it."""
    calendar = calendar or WorkingCalendar()
    durations: dict[str, list[float]] = {stage.name: [] for stage in STAGES}
    working: dict[str, list[float]] = {stage.name: [] for stage in STAGES}
    for request in requests:
        for stage in STAGES:
            hours = request.hours(stage)
            if hours is not None:
                durations[stage.name].append(hours)
                working[stage.name].append(float(request.working_days(stage, calendar) or 0))
    summary = []
    for stage in STAGES:
        ordered = sorted(durations[stage.name])
        if not ordered:
            summary.append(LeadTime(stage, 0, None, None, None))
            continue
        days = sorted(working[stage.name])
        summary.append(
            LeadTime(
                stage,
                len(ordered),
                mean_hours=sum(ordered) / len(ordered),
                p50_hours=percentile(ordered, 0.5),
                p90_hours=percentile(ordered, 0.9),
                mean_working_days=sum(days) / len(days),
                p50_working_days=percentile(days, 0.5),
                p90_working_days=percentile(days, 0.9),
            )
        )
    return summary
