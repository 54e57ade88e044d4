import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Row, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from dukcapil_intake.notifications.adapters import tables
from dukcapil_intake.notifications.domain.notifications import Channel, Notification, NotificationStatus
from dukcapil_intake.notifications.service_layer.repository import NotificationRepository
from dukcapil_shared.db import as_utc


class SqlNotificationRepository(NotificationRepository):
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, notifications: Sequence[Notification]) -> None:
        if notifications:
            await self._connection.execute(
                insert(tables.notifications),
                [
                    {
                        "id": str(item.id),
                        "request_id": str(item.request_id),
                        "event_id": item.event_id,
                        "kind": item.kind,
                        "channel": item.channel.value,
                        "recipient": item.recipient,
                        "subject": item.subject,
                        "body": item.body,
                        "status": item.status.value,
                        "attempts": item.attempts,
                        "created_at": item.created_at,
                        "next_attempt_at": item.next_attempt_at,
                        "last_error": item.last_error,
                        "sent_at": item.sent_at,
                    }
                    for item in notifications
                ],
            )

    async def claim_due(self, *, now: datetime, until: datetime, limit: int) -> list[Notification]:
        table = tables.notifications
        due = (
            select(table)
            .where(table.c.status == NotificationStatus.pending.value, table.c.next_attempt_at <= now)
            .order_by(table.c.next_attempt_at, table.c.id)
            .limit(limit)
        )
        if self._connection.dialect.name == "postgresql":
            # Rows another replica is claiming right now are skipped; SQLite has one writer at a time anyway.
            due = due.with_for_update(skip_locked=True)
        claimed = [_to_notification(row) for row in await self._connection.execute(due)]
        if claimed:
            await self._connection.execute(
                update(table)
                .where(table.c.id.in_([str(item.id) for item in claimed]))
                .values(attempts=table.c.attempts + 1, next_attempt_at=until)
            )
        for item in claimed:
            item.start_attempt(until)
        return claimed

    async def record(self, notifications: Sequence[Notification]) -> None:
        if not notifications:
            return
        table = tables.notifications
        # The attempt count identifies this claim: a row claimed again after its lease ran out is not overwritten.
        statement = (
            update(table)
            .where(table.c.id == bindparam("claimed_id"), table.c.attempts == bindparam("claimed_attempts"))
            .values(
                status=bindparam("new_status"),
                next_attempt_at=bindparam("new_next_attempt_at"),
                last_error=bindparam("new_last_error"),
                sent_at=bindparam("new_sent_at"),
            )
        )
        await self._connection.execute(
            statement,
            [
                {
                    "claimed_id": str(item.id),
                    "claimed_attempts": item.attempts,
                    "new_status": item.status.value,
                    "new_next_attempt_at": item.next_attempt_at,
                    "new_last_error": item.last_error,
                    "new_sent_at": item.sent_at,
                }
                for item in notifications
            ],
        )

    async def about(self, request_id: uuid.UUID) -> list[Notification]:
        table = tables.notifications
        rows = await self._connection.execute(
            select(table)
            .where(table.c.request_id == str(request_id))
            .order_by(table.c.created_at, table.c.channel, table.c.id)
        )
        return [_to_notification(row) for row in rows]


def _to_notification(row: Row) -> Notification:
    return Notification(
        id=uuid.UUID(row.id),
        request_id=uuid.UUID(row.request_id),
        event_id=row.event_id,
        kind=row.kind,
        channel=Channel(row.channel),
        recipient=row.recipient,
        subject=row.subject,
        body=row.body,
        created_at=as_utc(row.created_at),
        next_attempt_at=as_utc(row.next_attempt_at),
        status=NotificationStatus(row.status),
        attempts=row.attempts,
        last_error=row.last_error,
        sent_at=as_utc(row.sent_at) if row.sent_at else None,
    )
