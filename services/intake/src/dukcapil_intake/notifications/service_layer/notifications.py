"""Sending the citizen's notices: the ports the e-mail and SMS adapters implement, and the round that sends
what is due.

Notices are written in the same transaction as the step they tell about (see notices.py), so the workflow never
waits on a mail server or an SMS gateway. A round claims the due rows, sends them outside any transaction, and
records each outcome: sent, retried later with a growing delay, or given up with its error. A round that dies
between sending and recording leaves its rows claimed until the lease ends; they are then sent again (at least
once, never lost).
"""

import abc
import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import anyio
import structlog

from dukcapil_intake.notifications.domain.notifications import Channel, Notification, NotificationStatus, RetrySchedule
from dukcapil_intake.notifications.service_layer.unit_of_work import NotificationsUnitOfWork
from dukcapil_shared.clock import Clock, system_clock
from dukcapil_shared.logging import mask_personal_data

log = structlog.get_logger(__name__)


class NotificationFailed(Exception):
    """The channel did not take the message; a later attempt may succeed."""


class NotificationRefused(NotificationFailed):
    """The channel refused the message for good (e.g. a mailbox that does not exist): no retry."""


class EmailSender(abc.ABC):
    @abc.abstractmethod
    async def send(self, *, message_id: str, to: str, subject: str, body: str) -> None:
        """Hand the e-mail to the mail server; raises NotificationFailed (or NotificationRefused)."""


class SmsSender(abc.ABC):
    @abc.abstractmethod
    async def send(self, *, message_id: str, to: str, message: str) -> None:
        """Hand the SMS to the gateway; raises NotificationFailed (or NotificationRefused)."""


class Notifier(abc.ABC):
    @abc.abstractmethod
    async def send(self, notification: Notification) -> None: ...


class ChannelNotifier(Notifier):
    """Sends each notification through the sender of its channel."""

    def __init__(self, *, email: EmailSender, sms: SmsSender) -> None:
        self._email = email
        self._sms = sms

    async def send(self, notification: Notification) -> None:
        message_id = str(notification.id)
        if notification.channel == Channel.email:
            await self._email.send(
                message_id=message_id,
                to=notification.recipient,
                subject=notification.subject or "",
                body=notification.body,
            )
        else:
            await self._sms.send(message_id=message_id, to=notification.recipient, message=notification.body)


DEFAULT_RETRY = RetrySchedule()


class NoticeQuota(abc.ABC):
    """How many notices one recipient (a phone number, an e-mail address) may be sent in a day."""

    @abc.abstractmethod
    async def allow(self, notification: Notification) -> bool:
        """Count the notice against its recipient; False once they have had their share."""


async def send_due_notifications(
    *,
    unit_of_work: Callable[[], NotificationsUnitOfWork],
    notifier: Notifier,
    schedule: RetrySchedule = DEFAULT_RETRY,
    batch_size: int = 50,
    concurrency: int = 10,
    send_timeout: float = 30.0,
    clock: Clock = system_clock,
    quota: NoticeQuota | None = None,
    fill: Callable[[Notification], Notification] | None = None,
) -> int:
    """One round: send every notification due; returns how many were sent. `quota` says whether a recipient may be
    sent one more notice (else it is suppressed); `fill` gives the text as sent (a request's access code put in
    its placeholder), never stored."""
    now = clock()
    # Outlasts the round, which `send_timeout` bounds: until then, other replicas leave the claimed rows alone.
    lease = timedelta(seconds=send_timeout * -(-batch_size // concurrency) + 30)
    async with unit_of_work() as uow:
        due = await uow.notifications.claim_due(now=now, until=now + lease, limit=batch_size)
        await uow.commit()
    if not due:
        return 0
    limit = asyncio.Semaphore(concurrency)
    sending = _Sending(notifier, schedule, send_timeout, clock, limit, quota, fill or _as_stored)
    await asyncio.gather(*(sending.attempt(item) for item in due))
    async with unit_of_work() as uow:
        await uow.notifications.record(due)
        await uow.commit()
    return sum(item.status == NotificationStatus.sent for item in due)


@dataclass(frozen=True)
class _Sending:
    notifier: Notifier
    schedule: RetrySchedule
    send_timeout: float
    clock: Clock
    limit: asyncio.Semaphore
    quota: NoticeQuota | None
    fill: Callable[[Notification], Notification]

    async def attempt(self, notification: Notification) -> None:
        # Logs name the notification and its channel only: never the recipient, nor the message, nor the error's
        # text (a mail server's refusal quotes the address).
        async with self.limit:
            if self.quota is not None and not await self.quota.allow(notification):
                notification.suppressed("the recipient was sent as many notices as a day allows")
                log.warning(
                    "notification_suppressed", notification_id=str(notification.id), channel=notification.channel.value
                )
                return
            try:
                with anyio.fail_after(self.send_timeout):
                    await self.notifier.send(self.fill(notification))
            except Exception as error:  # every failure of one message is recorded and retried; the round goes on
                permanent = isinstance(error, NotificationRefused)
                notification.failed(_failure(error, notification), self.clock(), self.schedule, permanent=permanent)
                log.warning(
                    "notification_failed",
                    notification_id=str(notification.id),
                    channel=notification.channel.value,
                    attempts=notification.attempts,
                    error=type(error).__name__,
                    given_up=notification.status == NotificationStatus.failed,
                )
            else:
                notification.succeeded(self.clock())
                log.info("notification_sent", notification_id=str(notification.id), channel=notification.channel.value)


def _as_stored(notification: Notification) -> Notification:
    return notification


def _failure(error: Exception, notification: Notification) -> str:
    """The error as kept on the row and shown to staff: with the recipient masked."""
    text = f"{type(error).__name__}: {error}".replace(notification.recipient, notification.masked_recipient)
    text = mask_personal_data(text)
    return text if len(text) <= 500 else text[:497] + "..."
