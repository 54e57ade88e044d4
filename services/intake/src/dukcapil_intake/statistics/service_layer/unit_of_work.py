from typing import ClassVar

from dukcapil_intake.statistics.service_layer.repository import StatisticsRepository
from dukcapil_shared.contracts import Event
from dukcapil_shared.messaging import UnitOfWork


class StatisticsUnitOfWork(UnitOfWork):
    """Read only."""

    statistics: StatisticsRepository
    publishes: ClassVar[tuple[type[Event], ...] | None] = ()
