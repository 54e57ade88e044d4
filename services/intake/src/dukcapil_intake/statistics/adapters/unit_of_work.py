from sqlalchemy.ext.asyncio import AsyncConnection

from dukcapil_intake.sql_unit_of_work import SqlFeatureUnitOfWork
from dukcapil_intake.statistics.adapters.statistics import SqlStatisticsRepository
from dukcapil_intake.statistics.service_layer.unit_of_work import StatisticsUnitOfWork


class SqlStatisticsUnitOfWork(SqlFeatureUnitOfWork, StatisticsUnitOfWork):
    def bind(self, connection: AsyncConnection) -> None:
        self.statistics = SqlStatisticsRepository(connection)
