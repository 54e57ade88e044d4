from sqlalchemy.ext.asyncio import AsyncConnection

from dukcapil_intake.agencies.adapters.repository import SqlAgencyRepository, SqlPublicEventLog
from dukcapil_intake.incidents.adapters.repository import SqlIncidentRepository
from dukcapil_intake.notifications.adapters.repository import SqlNotificationRepository
from dukcapil_intake.requests.adapters.repository import SqlBookingRepository, SqlRequestRepository
from dukcapil_intake.statistics.adapters.statistics import SqlStatisticsRepository
from dukcapil_intake.unit_of_work import IntakeUnitOfWork
from dukcapil_shared.messaging import SqlUnitOfWork


class SqlIntakeUnitOfWork(SqlUnitOfWork, IntakeUnitOfWork):
    def bind(self, connection: AsyncConnection) -> None:
        self.requests = SqlRequestRepository(connection)
        self.bookings = SqlBookingRepository(connection)
        self.notifications = SqlNotificationRepository(connection)
        self.incidents = SqlIncidentRepository(connection)
        self.public_events = SqlPublicEventLog(connection)
        self.agencies = SqlAgencyRepository(connection)
        self.statistics = SqlStatisticsRepository(connection)
