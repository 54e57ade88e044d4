"""The personal data intake holds, read and purged in SQL across the tables of the requests, the notices and the
logs of events for agencies (this feature owns none of them: see the package's docstring)."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Text, cast, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from dukcapil_intake.agencies.adapters import tables as public
from dukcapil_intake.notifications.adapters.tables import notifications
from dukcapil_intake.personal_data.service_layer.unit_of_work import PersonalDataRepository, ScanToPurge
from dukcapil_intake.requests.adapters.tables import attachments, recording_bookings, request_history, requests


class SqlPersonalDataRepository(PersonalDataRepository):
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def scans_of_requests_ended_before(
        self, moment: datetime, statuses: Sequence[str], limit: int
    ) -> list[ScanToPurge]:
        # A request that reached an end changes no more: its last change is when it ended.
        query = (
            select(attachments.c.id)
            .join(requests, requests.c.id == attachments.c.request_id)
            .where(requests.c.status.in_(statuses), requests.c.updated_at < moment)
            .limit(limit)
        )
        rows = (await self._connection.execute(query)).all()
        return [ScanToPurge(attachment_id=row.id, storage_key=row.id) for row in rows]

    async def forget_scans(self, attachment_ids: Sequence[str]) -> int:
        if not attachment_ids:
            return 0
        result = await self._connection.execute(delete(attachments).where(attachments.c.id.in_(attachment_ids)))
        return result.rowcount

    async def purge_notices_before(self, moment: datetime) -> int:
        query = delete(notifications).where(notifications.c.status != "pending", notifications.c.created_at < moment)
        return (await self._connection.execute(query)).rowcount

    async def purge_public_events_before(self, moment: datetime) -> int:
        purged = 0
        for log in (public.public_events, public.identified_public_events):
            query = delete(log).where(log.c.published_at.is_not(None), log.c.created_at < moment)
            purged += (await self._connection.execute(query)).rowcount
        return purged

    async def everything_about(self, nik: str) -> dict[str, Any]:
        # The NIK as a JSON string value: never a part of a longer number (a KK number has 16 digits too).
        quoted = f'"{nik}"'
        naming = or_(cast(requests.c.applicant, Text).contains(quoted), cast(requests.c.details, Text).contains(quoted))
        found = (await self._connection.execute(select(requests).where(naming).order_by(requests.c.submitted_at))).all()
        ids = [row.id for row in found]
        history = await self._by_request(
            select(request_history).where(request_history.c.request_id.in_(ids)).order_by(request_history.c.id)
        )
        scans = await self._by_request(
            select(attachments).where(attachments.c.request_id.in_(ids)).order_by(attachments.c.uploaded_at)
        )
        notices = await self._by_request(
            select(notifications).where(notifications.c.request_id.in_(ids)).order_by(notifications.c.created_at)
        )
        bookings = (
            await self._connection.execute(
                select(recording_bookings)
                .where(recording_bookings.c.nik == nik)
                .order_by(recording_bookings.c.created_at)
            )
        ).all()
        return {
            "requests": [
                {
                    "id": row.id,
                    "number": row.number,
                    "type": row.type,
                    "status": row.status,
                    "named_as": "applicant" if row.applicant.get("nik") == nik else "in_details",
                    "applicant": row.applicant,
                    "details": row.details,
                    "delivery": row.delivery,
                    "kecamatan_code": row.kecamatan_code,
                    "channel": row.channel,
                    "submitted_at": row.submitted_at,
                    "updated_at": row.updated_at,
                    "document_number": row.document_number,
                    "history": [
                        {
                            "event_type": entry.event_type,
                            "stage": entry.stage,
                            "status": entry.status,
                            "occurred_at": entry.occurred_at,
                            "note": entry.note,
                        }
                        for entry in history.get(row.id, [])
                    ],
                    "attachments": [
                        {
                            "id": scan.id,
                            "kind": scan.kind,
                            "filename": scan.filename,
                            "content_type": scan.content_type,
                            "size": scan.size,
                            "sha256": scan.sha256,
                            "uploaded_at": scan.uploaded_at,
                        }
                        for scan in scans.get(row.id, [])
                    ],
                    "notices": [
                        {
                            "kind": notice.kind,
                            "channel": notice.channel,
                            "recipient": notice.recipient,
                            "subject": notice.subject,
                            "body": notice.body,
                            "status": notice.status,
                            "created_at": notice.created_at,
                            "sent_at": notice.sent_at,
                        }
                        for notice in notices.get(row.id, [])
                    ],
                }
                for row in found
            ],
            "recording_bookings": [
                {
                    "number": booking.number,
                    "name": booking.name,
                    "kecamatan_code": booking.kecamatan_code,
                    "appointment_date": booking.appointment_date,
                    "queue_number": booking.queue_number,
                    "created_at": booking.created_at,
                }
                for booking in bookings
            ],
        }

    async def _by_request(self, query: Any) -> dict[str, list[Any]]:
        grouped: dict[str, list[Any]] = {}
        for row in (await self._connection.execute(query)).all():
            grouped.setdefault(row.request_id, []).append(row)
        return grouped
