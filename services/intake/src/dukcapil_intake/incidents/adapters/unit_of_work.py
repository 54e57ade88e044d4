from sqlalchemy.ext.asyncio import AsyncConnection

from dukcapil_intake.incidents.adapters.repository import SqlIncidentRepository
from dukcapil_intake.incidents.service_layer.unit_of_work import IncidentsUnitOfWork
from dukcapil_intake.sql_unit_of_work import SqlFeatureUnitOfWork


class SqlIncidentsUnitOfWork(SqlFeatureUnitOfWork, IncidentsUnitOfWork):
    def bind(self, connection: AsyncConnection) -> None:
        self.incidents = SqlIncidentRepository(connection)
