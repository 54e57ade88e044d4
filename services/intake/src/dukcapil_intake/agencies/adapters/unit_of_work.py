from sqlalchemy.ext.asyncio import AsyncConnection

from dukcapil_intake.agencies.adapters.repository import SqlAgencyRepository, SqlPublicEventLog
from dukcapil_intake.agencies.service_layer.unit_of_work import AgenciesUnitOfWork
from dukcapil_intake.sql_unit_of_work import SqlFeatureUnitOfWork


class SqlAgenciesUnitOfWork(SqlFeatureUnitOfWork, AgenciesUnitOfWork):
    def bind(self, connection: AsyncConnection) -> None:
        self.agencies = SqlAgencyRepository(connection)
        self.public_events = SqlPublicEventLog(connection)
