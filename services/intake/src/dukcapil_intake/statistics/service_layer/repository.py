import abc
from collections.abc import Sequence

from dukcapil_intake.statistics.domain.statistics import Dimension, GroupCount, RequestMilestones, StatisticsFilter


class StatisticsRepository(abc.ABC):
    """Read only: figures over the requests and their histories, never a person's data."""

    @abc.abstractmethod
    async def count_requests(self, where: StatisticsFilter, group_by: Sequence[Dimension]) -> list[GroupCount]:
        """One count per combination of the dimensions' values that occurs, in no particular order; with no
        dimensions, one count of every request the filter admits."""

    @abc.abstractmethod
    async def milestones(self, where: StatisticsFilter) -> list[RequestMilestones]:
        """For each request the filter admits, when it reached each milestone."""
