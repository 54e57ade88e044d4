"""The daily share of notices per recipient, counted in the services' rate-limit store."""

from dukcapil_intake.notifications.domain.notifications import Notification
from dukcapil_intake.notifications.service_layer.notifications import NoticeQuota
from dukcapil_shared.auth.ratelimit import RateLimits, target_key

STRANGER_TRIGGERED = frozenset({"received", "access_code", "recording_booked"})
"""The notices anyone can make the office send to a number or an address of their choosing (by submitting or
booking in its name, or asking for a code again). Notices about a request's progress follow a reviewer's or a
courier's action, so they are never held back."""


class RecipientQuota(NoticeQuota):
    def __init__(self, limits: RateLimits, rate: str) -> None:
        self._limits = limits
        self._rate = rate

    async def allow(self, notification: Notification) -> bool:
        # Counted once per notice: a retry after a failed attempt is the same notice.
        if notification.kind not in STRANGER_TRIGGERED or notification.attempts > 1:
            return True
        return await self._limits.allow("notices-per-recipient", self._rate, target_key(notification.recipient))
