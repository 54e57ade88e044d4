"""A dead letter: a message a service gave up on, parked in its database until an operator replays or discards it.

It is read from what the consumer (messaging/consumer.py) or the broker wrote on the message when it was
dead-lettered: the consumer's x-error, x-attempts, x-original-queue, x-first-failure-at, x-last-failure-at and
x-dead-letter-id headers, or the broker's x-death entry when a quorum queue's delivery limit was reached.
"""

import hashlib
import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from dukcapil_shared.logging import mask_personal_data
from dukcapil_shared.refusals import Refusal, RefusalKind


class DeadLetterStatus(StrEnum):
    parked = "parked"
    replayed = "replayed"
    discarded = "discarded"


class DeadLetterNotFound(Refusal):
    code = "dead_letter_not_found"
    kind = RefusalKind.not_found

    def __init__(self, letter_id: str) -> None:
        super().__init__(f"No dead letter {letter_id} at this service.")


class LetterAlreadyResolved(Refusal):
    """Only a parked letter can be replayed or discarded: once is enough."""

    code = "dead_letter_resolved"
    kind = RefusalKind.conflict

    def __init__(self, letter: "DeadLetter") -> None:
        super().__init__(
            f"This dead letter was already {letter.status.value}"
            + (f" by {letter.resolved_by}" if letter.resolved_by else "")
            + "; only a parked letter can be replayed or discarded.",
            letter_status=letter.status.value,
            resolved_by=letter.resolved_by,
            resolved_at=letter.resolved_at.isoformat() if letter.resolved_at else None,
        )
        self.letter = letter


# Written by the consumer and the broker about the failures; a replay starts the count afresh without them.
_FAILURE_HEADERS = {
    "x-attempt",
    "x-attempts",
    "x-error",
    "x-last-error",
    "x-original-queue",
    "x-first-failure-at",
    "x-last-failure-at",
    "x-dead-letter-id",
    "x-replayed-from",
    "x-death",
    "x-delivery-count",
    "x-acquired-count",
}
_BROKER_DEATH_PREFIXES = ("x-first-death-", "x-last-death-")
# Change on every redelivery of the same dead letter, so they must not tell two deliveries apart.
_REDELIVERY_HEADERS = {"x-delivery-count", "x-acquired-count"}
_NAMESPACE = uuid.UUID("6f1c1a52-3c43-4a8e-9b59-7d6c2b0e5a11")


@dataclass
class DeadLetter:
    id: uuid.UUID
    message_id: str | None
    original_queue: str
    routing_key: str
    subject: str | None
    body: bytes
    content_type: str | None
    headers: dict[str, Any]
    error: str
    attempts: int
    first_failure_at: datetime
    last_failure_at: datetime
    parked_at: datetime
    status: DeadLetterStatus = DeadLetterStatus.parked
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    resolution_reason: str | None = None

    @property
    def request_id(self) -> uuid.UUID | None:
        """The request the message was about, when its subject is one."""
        try:
            return uuid.UUID(self.subject) if self.subject else None
        except ValueError:
            return None

    def resolve(self, status: DeadLetterStatus, *, by: str, reason: str | None, at: datetime) -> None:
        if self.status != DeadLetterStatus.parked:
            raise LetterAlreadyResolved(self)
        self.status = status
        self.resolved_by = by
        self.resolution_reason = reason
        self.resolved_at = at

    def replay_headers(self) -> dict[str, Any]:
        """The original headers without the failure bookkeeping, so the consumer counts attempts from one."""
        kept = {
            name: value
            for name, value in self.headers.items()
            if name not in _FAILURE_HEADERS and not name.startswith(_BROKER_DEATH_PREFIXES)
        }
        return kept | {"x-replayed-from": str(self.id)}

    @property
    def body_text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def parse_dead_letter(
    *,
    body: bytes,
    headers: Mapping[str, Any],
    message_id: str | None,
    correlation_id: str | None,
    content_type: str | None,
    message_type: str | None,
    routing_key: str | None,
    now: datetime,
) -> DeadLetter:
    """Read a delivery from the dead-letter queue; never raises on what the message contains."""
    plain = _plain(dict(headers))
    death = _last_death(plain)
    envelope = _envelope_attributes(body)
    return DeadLetter(
        id=_letter_id(plain, message_id, body),
        message_id=_column_text(message_id or "", 100) or None,
        original_queue=_column_text(str(plain.get("x-original-queue") or death.get("queue") or "unknown"), 200),
        routing_key=_column_text(
            str(
                plain.get("x-original-routing-key")
                or message_type
                or envelope.get("type")
                or next(iter(death.get("routing-keys") or []), None)
                or routing_key
                or ""
            ),
            200,
        ),
        subject=_column_text(str(envelope.get("subject") or correlation_id or ""), 100) or None,
        body=body,
        content_type=_column_text(content_type or "", 100) or None,
        headers=plain,
        error=_column_text(mask_personal_data(_error(plain, death)), 2000),
        attempts=_attempts(plain),
        first_failure_at=_moment(plain.get("x-first-failure-at")) or _moment(death.get("time")) or now,
        last_failure_at=_moment(plain.get("x-last-failure-at")) or _moment(death.get("time")) or now,
        parked_at=now,
    )


def _column_text(value: str, size: int) -> str:
    """As the dead_letters table's column takes it: at most `size` characters (the column's size) and no NUL, which
    PostgreSQL's text refuses. A message can carry anything there; a parking that failed on it would fail again at
    every redelivery while the message waited on the broker. The body and the headers are kept whole."""
    return value.replace("\x00", "\ufffd")[:size]


def _letter_id(headers: dict[str, Any], message_id: str | None, body: bytes) -> uuid.UUID:
    """The consumer names each dead-lettering; for the broker's own, the same delivery always gets the same id."""
    try:
        return uuid.UUID(str(headers["x-dead-letter-id"]))
    except (KeyError, ValueError):
        pass
    stable = {name: value for name, value in headers.items() if name not in _REDELIVERY_HEADERS}
    fingerprint = json.dumps(
        {"message_id": message_id, "headers": stable, "body": hashlib.sha256(body).hexdigest()},
        sort_keys=True,
        default=str,
    )
    return uuid.uuid5(_NAMESPACE, fingerprint)


def _last_death(headers: dict[str, Any]) -> dict[str, Any]:
    deaths = headers.get("x-death")
    if isinstance(deaths, list) and deaths and isinstance(deaths[0], dict):
        return deaths[0]
    return {}


def _error(headers: dict[str, Any], death: dict[str, Any]) -> str:
    if headers.get("x-error"):
        return str(headers["x-error"])
    if death:
        reason = death.get("reason", "unknown")
        explained = (
            "the queue's delivery limit was reached: the message was delivered again and again without being "
            "settled (a consumer crashed or lost its connection while handling it)"
            if reason == "delivery_limit"
            else f"dead-lettered by the broker ({reason})"
        )
        last = f"; last error: {headers['x-last-error']}" if headers.get("x-last-error") else ""
        return explained + last
    return "dead-lettered without a recorded error"


def _attempts(headers: dict[str, Any]) -> int:
    for name in ("x-attempts", "x-attempt"):
        try:
            return max(1, int(headers[name]))
        except (KeyError, TypeError, ValueError):
            continue
    try:
        return int(headers["x-delivery-count"]) + 1
    except (KeyError, TypeError, ValueError):
        return 1


def _envelope_attributes(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body)
    except ValueError:
        return {}
    return {key: parsed.get(key) for key in ("type", "subject")} if isinstance(parsed, dict) else {}


def _moment(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str):
        try:
            return _moment(datetime.fromisoformat(value))
        except ValueError:
            return None
    return None


def _plain(value: Any) -> Any:
    """AMQP header values as JSON: times as ISO 8601 text, bytes as text."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, Decimal):
        return float(value)
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)
