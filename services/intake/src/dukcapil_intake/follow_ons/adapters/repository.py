import uuid
from dataclasses import asdict
from datetime import date, datetime
from typing import Any

from sqlalchemy import Row, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from dukcapil_intake.follow_ons.adapters import tables
from dukcapil_intake.follow_ons.domain.follow_ons import DraftStatus, FollowOnDraft, FollowOnKind, Origin
from dukcapil_intake.follow_ons.domain.register import FamilyMember
from dukcapil_intake.follow_ons.service_layer.repository import DraftChanged, DraftFilter, DraftRepository
from dukcapil_shared.contracts import Delivery, Person
from dukcapil_shared.db import as_utc

_OPEN = [DraftStatus.awaiting_register.value, DraftStatus.offered.value, DraftStatus.unmatched.value]


class SqlDraftRepository(DraftRepository):
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, draft: FollowOnDraft) -> None:
        await self._connection.execute(
            insert(tables.follow_on_drafts).values(
                id=str(draft.id),
                kind=draft.kind.value,
                origin_request_id=str(draft.origin.request_id),
                origin_number=draft.origin.number,
                origin_type=draft.origin.type,
                origin_document_number=draft.origin.document_number,
                applicant=draft.applicant.model_dump(mode="json", exclude_none=True),
                subject_niks=draft.subject_niks,
                created_at=draft.created_at,
                **_changing(draft),
            )
        )

    async def get(self, draft_id: uuid.UUID) -> FollowOnDraft | None:
        row = (
            await self._connection.execute(
                select(tables.follow_on_drafts).where(tables.follow_on_drafts.c.id == str(draft_id))
            )
        ).one_or_none()
        return _to_draft(row) if row is not None else None

    async def exists(self, origin_request_id: uuid.UUID, kind: FollowOnKind) -> bool:
        drafts = tables.follow_on_drafts.c
        found = await self._connection.execute(
            select(drafts.id).where(drafts.origin_request_id == str(origin_request_id), drafts.kind == kind.value)
        )
        return found.first() is not None

    async def save(self, draft: FollowOnDraft) -> None:
        drafts = tables.follow_on_drafts
        result = await self._connection.execute(
            update(drafts)
            .where(drafts.c.id == str(draft.id), drafts.c.version == draft.version)
            .values(**_changing(draft) | {"version": draft.version + 1})
        )
        if result.rowcount != 1:
            raise DraftChanged(f"follow-on draft {draft.id} changed since it was loaded")
        draft.version += 1

    async def due_for_prefill(self, now: datetime, *, limit: int) -> list[FollowOnDraft]:
        drafts = tables.follow_on_drafts.c
        rows = await self._connection.execute(
            select(tables.follow_on_drafts)
            .where(drafts.status == DraftStatus.awaiting_register.value, drafts.next_prefill_at <= now)
            .order_by(drafts.next_prefill_at)
            .limit(limit)
        )
        return [_to_draft(row) for row in rows]

    async def due_to_expire(self, now: datetime, *, limit: int) -> list[FollowOnDraft]:
        drafts = tables.follow_on_drafts.c
        rows = await self._connection.execute(
            select(tables.follow_on_drafts)
            .where(drafts.status.in_(_OPEN), drafts.expires_at <= now)
            .order_by(drafts.expires_at)
            .limit(limit)
        )
        return [_to_draft(row) for row in rows]

    async def from_origin(self, origin_request_id: uuid.UUID) -> list[FollowOnDraft]:
        drafts = tables.follow_on_drafts.c
        rows = await self._connection.execute(
            select(tables.follow_on_drafts)
            .where(drafts.origin_request_id == str(origin_request_id))
            .order_by(drafts.created_at, drafts.kind)
        )
        return [_to_draft(row) for row in rows]

    async def list(self, where: DraftFilter, *, limit: int, offset: int) -> list[FollowOnDraft]:
        drafts = tables.follow_on_drafts.c
        query = (
            select(tables.follow_on_drafts).order_by(drafts.created_at.desc(), drafts.id).limit(limit).offset(offset)
        )
        if where.kecamatan_code is not None:
            query = query.where(drafts.kecamatan_code == where.kecamatan_code)
        if where.status is not None:
            query = query.where(drafts.status == where.status.value)
        return [_to_draft(row) for row in await self._connection.execute(query)]


def _changing(draft: FollowOnDraft) -> dict[str, Any]:
    return {
        "kecamatan_code": draft.kecamatan_code,
        "delivery": draft.delivery.model_dump(mode="json", exclude_none=True),
        "status": draft.status.value,
        "details": draft.details,
        "family": [_member_json(member) for member in draft.family],
        "note": draft.note,
        "prefill_attempts": draft.prefill_attempts,
        "next_prefill_at": draft.next_prefill_at,
        "expires_at": draft.expires_at,
        "confirmed_at": draft.confirmed_at,
        "confirmed_by": draft.confirmed_by,
        "result_id": str(draft.result_id) if draft.result_id else None,
        "result_number": draft.result_number,
        "version": draft.version,
    }


def _member_json(member: FamilyMember) -> dict[str, Any]:
    data = asdict(member)
    data["birth_date"] = member.birth_date.isoformat() if member.birth_date else None
    return data


def _member(data: dict[str, Any]) -> FamilyMember:
    born = data.get("birth_date")
    return FamilyMember(**(data | {"birth_date": date.fromisoformat(born) if born else None}))


def _to_draft(row: Row) -> FollowOnDraft:
    return FollowOnDraft(
        id=uuid.UUID(row.id),
        kind=FollowOnKind(row.kind),
        origin=Origin(uuid.UUID(row.origin_request_id), row.origin_number, row.origin_type, row.origin_document_number),
        kecamatan_code=row.kecamatan_code,
        applicant=Person.model_validate(row.applicant),
        delivery=Delivery.model_validate(row.delivery),
        subject_niks=list(row.subject_niks),
        status=DraftStatus(row.status),
        created_at=as_utc(row.created_at),
        expires_at=as_utc(row.expires_at),
        details=row.details,
        family=[_member(item) for item in row.family or []],
        note=row.note,
        prefill_attempts=row.prefill_attempts,
        next_prefill_at=as_utc(row.next_prefill_at) if row.next_prefill_at else None,
        confirmed_at=as_utc(row.confirmed_at) if row.confirmed_at else None,
        confirmed_by=row.confirmed_by,
        result_id=uuid.UUID(row.result_id) if row.result_id else None,
        result_number=row.result_number,
        version=row.version,
    )
