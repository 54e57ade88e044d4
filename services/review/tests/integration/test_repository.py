"""Review's SQL adapters against real databases, migrated by the service's own Alembic scripts."""

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dukcapil_review.adapters import tables
from dukcapil_review.adapters.repository import SqlReviewUnitOfWork
from dukcapil_review.domain.model import Review, ReviewStatus
from dukcapil_review.service_layer.unit_of_work import ConcurrentUpdate
from dukcapil_shared.db import create_engine, migrate

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
async def engine(request, tmp_path: Path, postgres):  # type: ignore[no-untyped-def]
    url = f"sqlite+aiosqlite:///{tmp_path}/review.db" if request.param == "sqlite" else await postgres.create()
    engine = create_engine(url)
    await migrate(engine, "dukcapil_review:migrations")
    yield engine
    await engine.dispose()


def uow(engine) -> SqlReviewUnitOfWork:  # type: ignore[no-untyped-def]
    return SqlReviewUnitOfWork(engine, outbox_table=tables.outbox, inbox_table=tables.inbox, source="/test")


def a_review(received_at: datetime = T0, request_type: str = "kartu_keluarga") -> Review:
    return Review(
        request_id=uuid.uuid4(), request_number="360214-20261128-0001", request_type=request_type,
        applicant={"nik": "3602141205850003", "name": "Ahmad Fauzi"}, details={"reason": "add_member"},
        delivery={"method": "pickup"}, kecamatan_code="36.02.14", status=ReviewStatus.pending,
        received_at=received_at, updated_at=received_at,
    )  # fmt: skip


async def test_a_decision_is_stored_and_a_concurrent_one_is_refused(engine) -> None:  # type: ignore[no-untyped-def]
    review = a_review()
    async with uow(engine) as unit:
        await unit.reviews.add(review)
        await unit.commit()
    async with uow(engine) as unit:
        first = await unit.reviews.get(review.request_id)
    async with uow(engine) as unit:
        second = await unit.reviews.get(review.request_id)
    async with uow(engine) as unit:
        first.request_information("rina", "Scan buram", ["kk_lama"], T0 + timedelta(minutes=5))
        await unit.reviews.save(first)
        await unit.commit()
    async with uow(engine) as unit:
        second.approve("budi", None, T0 + timedelta(minutes=6))
        with pytest.raises(ConcurrentUpdate):
            await unit.reviews.save(second)
    async with uow(engine) as unit:
        stored = await unit.reviews.get(review.request_id)
    assert stored.status == ReviewStatus.info_requested and stored.missing_items == ["kk_lama"]
    assert stored.decided_by == "rina" and stored.updated_at == T0 + timedelta(minutes=5)


async def test_the_work_queue_is_oldest_first_and_filtered(engine) -> None:  # type: ignore[no-untyped-def]
    newer, older = a_review(T0 + timedelta(hours=2), "biodata_wni"), a_review(T0)
    async with uow(engine) as unit:
        await unit.reviews.add(newer)
        await unit.reviews.add(older)
        await unit.commit()
    async with uow(engine) as unit:
        queue = await unit.reviews.list(status=ReviewStatus.pending, request_type=None, limit=10, offset=0)
        biodata = await unit.reviews.list(status=None, request_type="biodata_wni", limit=10, offset=0)
        second_page = await unit.reviews.list(status=ReviewStatus.pending, request_type=None, limit=1, offset=1)
    assert [r.request_id for r in queue] == [older.request_id, newer.request_id]
    assert [r.request_id for r in biodata] == [newer.request_id]
    assert [r.request_id for r in second_page] == [newer.request_id]
