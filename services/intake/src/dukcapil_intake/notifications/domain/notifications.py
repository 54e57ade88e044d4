"""A notice to the citizen on one channel: waiting to be sent, sent, or given up on; and when to try again."""

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from dukcapil_shared.contracts import Delivery


class Channel(StrEnum):
    email = "email"
    sms = "sms"


class NotificationStatus(StrEnum):
    pending = "pending"
    sent = "sent"
    failed = "failed"
    """Given up: the attempts ran out, or the channel refused the message for good."""
    suppressed = "suppressed"
    """Not sent: its recipient had been sent as many notices as a day allows (nobody makes the office flood a
    phone number or an inbox by submitting in its name)."""


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_MOBILE = re.compile(r"(?:\+?62|0)(8\d{7,11})")


def email_address(value: str | None) -> str | None:
    """The address, if `value` looks like one."""
    value = (value or "").strip()
    return value if _EMAIL.fullmatch(value) else None


def mobile_number(value: str | None) -> str | None:
    """An Indonesian mobile number in international form without the plus (6281234567890), or None for what
    cannot take an SMS (a landline, a typo)."""
    match = _MOBILE.fullmatch(re.sub(r"[\s().-]", "", value or ""))
    return f"62{match[1]}" if match else None


@dataclass(frozen=True)
class Contact:
    """Where the citizen asked to be told: an e-mail address, a phone number, both or neither."""

    email: str | None = None
    phone: str | None = None

    @classmethod
    def of(cls, delivery: Delivery) -> "Contact":
        return cls(email=delivery.email, phone=delivery.phone)

    @property
    def channels(self) -> dict[Channel, str]:
        """The channels a notice can go out on, with the recipient on each."""
        found = {Channel.email: email_address(self.email), Channel.sms: mobile_number(self.phone)}
        return {channel: recipient for channel, recipient in found.items() if recipient}


@dataclass(frozen=True)
class RetrySchedule:
    delays: tuple[float, ...] = (10, 60, 300, 1800)
    """Seconds to wait after each failed attempt; when they run out, the notification is given up."""

    @property
    def max_attempts(self) -> int:
        return len(self.delays) + 1

    def after_failure(self, attempts: int, now: datetime) -> datetime | None:
        """When to try again after `attempts` failed attempts, or None to give up."""
        if attempts > len(self.delays):
            return None
        return now + timedelta(seconds=self.delays[max(attempts, 1) - 1])


@dataclass
class Notification:
    id: uuid.UUID
    request_id: uuid.UUID
    """The request, or the e-KTP recording booking, the notice is about."""
    event_id: str
    kind: str
    """received, information_needed, approved, rejected, shipped, delivered, ready_for_pickup, recording_booked"""
    channel: Channel
    recipient: str
    subject: str | None
    body: str
    created_at: datetime
    next_attempt_at: datetime
    status: NotificationStatus = NotificationStatus.pending
    attempts: int = 0
    last_error: str | None = None
    sent_at: datetime | None = None

    def start_attempt(self, lease_until: datetime) -> None:
        """Claimed for sending: nobody else takes it before `lease_until`, when a lost attempt is retried."""
        self.attempts += 1
        self.next_attempt_at = lease_until

    def succeeded(self, now: datetime) -> None:
        self.status = NotificationStatus.sent
        self.sent_at = now

    def suppressed(self, why: str) -> None:
        self.status = NotificationStatus.suppressed
        self.last_error = why

    def failed(self, error: str, now: datetime, schedule: RetrySchedule, *, permanent: bool = False) -> None:
        self.last_error = error
        retry_at = None if permanent else schedule.after_failure(self.attempts, now)
        if retry_at is None:
            self.status = NotificationStatus.failed
        else:
            self.next_attempt_at = retry_at

    @property
    def masked_recipient(self) -> str:
        return mask_recipient(self.channel, self.recipient)


def mask_recipient(channel: Channel, recipient: str) -> str:
    """Enough to recognise the recipient, not to contact them: s***@example.com, 62812*****890."""
    if channel == Channel.email:
        local, _, domain = recipient.partition("@")
        return f"{local[:1]}***@{domain}"
    return f"{recipient[:5]}{'*' * max(len(recipient) - 8, 3)}{recipient[-3:]}"
