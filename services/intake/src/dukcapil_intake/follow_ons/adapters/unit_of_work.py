from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncConnection

from dukcapil_intake.follow_ons.adapters.repository import SqlDraftRepository
from dukcapil_intake.follow_ons.domain.follow_ons import DraftOffered
from dukcapil_intake.follow_ons.service_layer.unit_of_work import FollowOnsUnitOfWork
from dukcapil_intake.sql_unit_of_work import SqlFeatureUnitOfWork

DraftFollowers = Callable[[AsyncConnection, Sequence[DraftOffered]], Awaitable[None]]


class SqlFollowOnsUnitOfWork(SqlFeatureUnitOfWork, FollowOnsUnitOfWork):
    followers: DraftFollowers | None = None
    """What follows the drafts (the family's notice), on this unit of work's connection (dispatch.py)."""

    def bind(self, connection: AsyncConnection) -> None:
        self._bound = connection
        self.drafts = SqlDraftRepository(connection)

    async def hand_on(self, happened: Sequence[DraftOffered]) -> None:
        if self.followers is not None and happened:
            await self.followers(self._bound, happened)
