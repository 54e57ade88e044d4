from sqlalchemy.ext.asyncio import AsyncConnection

from dukcapil_intake.notifications.adapters.repository import SqlNotificationRepository
from dukcapil_intake.notifications.service_layer.unit_of_work import NotificationsUnitOfWork
from dukcapil_intake.sql_unit_of_work import SqlFeatureUnitOfWork


class SqlNotificationsUnitOfWork(SqlFeatureUnitOfWork, NotificationsUnitOfWork):
    def bind(self, connection: AsyncConnection) -> None:
        self.notifications = SqlNotificationRepository(connection)
