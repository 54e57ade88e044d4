import abc
from collections.abc import Sequence
from typing import ClassVar

from dukcapil_intake.follow_ons.domain.follow_ons import DraftOffered
from dukcapil_intake.follow_ons.service_layer.repository import DraftRepository
from dukcapil_shared.contracts import Event
from dukcapil_shared.messaging import UnitOfWork


class FollowOnsUnitOfWork(UnitOfWork):
    drafts: DraftRepository
    publishes: ClassVar[tuple[type[Event], ...] | None] = ()

    @abc.abstractmethod
    async def hand_on(self, happened: Sequence[DraftOffered]) -> None:
        """Give what happened to the features that follow the drafts (the family's notice), in this transaction."""
