"""The office's figures: requests counted by type, status, kecamatan and month; the lead time of each stage."""

from collections.abc import Sequence
from dataclasses import dataclass

from dukcapil_intake.statistics.domain.statistics import (
    Dimension,
    GroupCount,
    LeadTime,
    StatisticsFilter,
    StatisticsRefused,
    lead_times,
)
from dukcapil_intake.statistics.service_layer.unit_of_work import StatisticsUnitOfWork
from dukcapil_shared.working_days import WorkingCalendar

# Lead times are computed in Python (percentiles are not portable SQL): this bounds the work of one answer. The
# office receives a few thousand requests a month, so a year of the whole regency fits.
MAX_REQUESTS_FOR_LEAD_TIMES = 100_000


@dataclass(frozen=True)
class RequestCounts:
    total: int
    groups: list[GroupCount]


@dataclass(frozen=True)
class LeadTimeReport:
    requests: int
    """How many requests the filter admitted (each stage counts those that went through it)."""
    stages: list[LeadTime]


async def count_requests(
    where: StatisticsFilter, group_by: Sequence[Dimension], *, uow: StatisticsUnitOfWork
) -> RequestCounts:
    async with uow:
        groups = await uow.statistics.count_requests(where, group_by)
    # Ordered here rather than in SQL: PostgreSQL's collation may order in_review after info_requested.
    ordered = sorted(groups, key=lambda group: group.values(group_by))
    return RequestCounts(total=sum(group.count for group in groups), groups=ordered)


async def measure_lead_times(
    where: StatisticsFilter,
    *,
    uow: StatisticsUnitOfWork,
    calendar: WorkingCalendar | None = None,
    limit: int = MAX_REQUESTS_FOR_LEAD_TIMES,
) -> LeadTimeReport:
    async with uow:
        [everything] = await uow.statistics.count_requests(where, ())
        if everything.count > limit:
            raise StatisticsRefused(
                "too_many_requests",
                f"{everything.count:,} requests match; lead times are measured over at most {limit:,} at a time. "
                "Narrow the months (from, to), or choose a type or kecamatan.",
                "query.from",
            )
        milestones = await uow.statistics.milestones(where)
    return LeadTimeReport(requests=len(milestones), stages=lead_times(milestones, calendar))
