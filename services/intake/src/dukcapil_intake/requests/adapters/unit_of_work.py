from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from dukcapil_intake.requests.adapters.repository import SqlBookingRepository, SqlRequestRepository
from dukcapil_intake.requests.domain.events import RequestEvent
from dukcapil_intake.requests.service_layer.unit_of_work import RequestsUnitOfWork
from dukcapil_intake.sql_unit_of_work import SqlFeatureUnitOfWork

Followers = Callable[[AsyncConnection, Sequence[RequestEvent]], Awaitable[None]]


class SqlRequestsUnitOfWork(SqlFeatureUnitOfWork, RequestsUnitOfWork):
    followers: Followers | None = None
    """What follows the requests, on this unit of work's connection (the composition root's dispatcher)."""

    def bind(self, connection: AsyncConnection) -> None:
        self._bound = connection
        # Joined to another unit of work's transaction (`joining`), it has no outbox of its own.
        self.requests = SqlRequestRepository(connection, getattr(self, "outbox", None))
        self.bookings = SqlBookingRepository(connection)

    async def hand_on(self, happened: Sequence[RequestEvent]) -> None:
        if self.followers is not None and happened:
            await self.followers(self._bound, happened)
