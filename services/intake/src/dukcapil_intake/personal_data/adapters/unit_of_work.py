from sqlalchemy.ext.asyncio import AsyncConnection

from dukcapil_intake.personal_data.adapters.repository import SqlPersonalDataRepository
from dukcapil_intake.personal_data.service_layer.unit_of_work import PersonalDataUnitOfWork
from dukcapil_intake.sql_unit_of_work import SqlFeatureUnitOfWork


class SqlPersonalDataUnitOfWork(SqlFeatureUnitOfWork, PersonalDataUnitOfWork):
    def bind(self, connection: AsyncConnection) -> None:
        self.personal_data = SqlPersonalDataRepository(connection)
