from typing import ClassVar

from dukcapil_intake.notifications.service_layer.repository import NotificationRepository
from dukcapil_shared.contracts import Event
from dukcapil_shared.messaging import UnitOfWork


class NotificationsUnitOfWork(UnitOfWork):
    notifications: NotificationRepository
    publishes: ClassVar[tuple[type[Event], ...] | None] = ()
