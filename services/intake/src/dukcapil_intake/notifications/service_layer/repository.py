import abc
import uuid
from collections.abc import Sequence
from datetime import datetime

from dukcapil_intake.notifications.domain.notifications import Notification


class NotificationRepository(abc.ABC):
    @abc.abstractmethod
    async def add(self, notifications: Sequence[Notification]) -> None: ...

    @abc.abstractmethod
    async def claim_due(self, *, now: datetime, until: datetime, limit: int) -> list[Notification]:
        """Pending notifications due at `now`, oldest first, each with its attempt started and leased `until`."""

    @abc.abstractmethod
    async def record(self, notifications: Sequence[Notification]) -> None:
        """Store the outcome of the attempts; a row another replica claimed since is left alone."""

    @abc.abstractmethod
    async def about(self, request_id: uuid.UUID) -> list[Notification]:
        """The notifications of a request or a booking, oldest first."""
