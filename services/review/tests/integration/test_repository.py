"""Review's SQL adapters against real databases, migrated by the service's own Alembic scripts."""

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from prometheus_client import CollectorRegistry
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from dukcapil_review.adapters import tables
from dukcapil_review.adapters.queue_metrics import ReviewQueueGauges
from dukcapil_review.adapters.repository import SqlReviewUnitOfWork
from dukcapil_review.domain.model import DEFAULT_SLA_WORKING_DAYS, Review, ReviewStatus
from dukcapil_review.domain.prechecks import CheckStatus, Evidence, PreCheck
from dukcapil_review.service_layer.unit_of_work import ConcurrentUpdate, QueueOrder, ReviewQuery
from dukcapil_shared.contracts import Delivery, Person, RequestRejected, ReviewStarted
from dukcapil_shared.db import create_engine, migrate

from ..fakes import SAMPLE_DETAILS, details_of

pytestmark = pytest.mark.integration
T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
MIGRATIONS = "dukcapil_review:migrations"


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request, tmp_path: Path, postgres) -> str:  # type: ignore[no-untyped-def]
    return f"sqlite+aiosqlite:///{tmp_path}/review.db" if request.param == "sqlite" else await postgres.create()


@pytest.fixture
async def engine(database_url: str):  # type: ignore[no-untyped-def]
    engine = create_engine(database_url)
    await migrate(engine, MIGRATIONS)
    yield engine
    await engine.dispose()


def uow(engine) -> SqlReviewUnitOfWork:  # type: ignore[no-untyped-def]
    return SqlReviewUnitOfWork(engine, outbox_table=tables.outbox, inbox_table=tables.inbox, source="/test")


def a_review(
    received_at: datetime = T0,
    request_type: str = "kartu_keluarga",
    kecamatan_code: str = "36.02.14",
    nik: str = "3602141205850003",
    sla: timedelta = timedelta(hours=72),
) -> Review:
    return Review(
        request_id=uuid.uuid4(), request_number="360214-20261128-0001", request_type=request_type,
        applicant=Person(nik=nik, name="Ahmad Fauzi"), details=details_of(request_type),
        delivery=Delivery(method="pickup"), kecamatan_code=kecamatan_code, status=ReviewStatus.pending,
        received_at=received_at, updated_at=received_at, due_at=received_at + sla,
    )  # fmt: skip


async def store(engine, *reviews: Review) -> None:  # type: ignore[no-untyped-def]
    async with uow(engine) as unit:
        for review in reviews:
            await unit.reviews.add(review)
        await unit.commit()


async def test_a_decision_is_stored_and_a_concurrent_one_is_refused(engine) -> None:  # type: ignore[no-untyped-def]
    review = a_review()
    await store(engine, review)
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
        trail = await unit.audit.list(review.request_id)
    assert stored.status == ReviewStatus.info_requested and stored.missing_items == ["kk_lama"]
    assert stored.decided_by == "rina" and stored.updated_at == T0 + timedelta(minutes=5)
    assert stored.decided_at == T0 + timedelta(minutes=5)
    assert stored.claimed_by == "rina" and stored.claim_expires_at == T0 + timedelta(minutes=35)
    assert [entry.action for entry in trail] == ["information_requested"], "the refused save wrote nothing"


async def test_everything_review_keeps_comes_back_as_it_was(engine) -> None:  # type: ignore[no-untyped-def]
    review = a_review()
    review.channel, review.operator, review.office = "assisted", "operator-bayah", "Kantor Desa Sawarna"
    review.attachments = [
        {"id": "a1", "kind": "kk_lama", "content_type": "image/jpeg", "size": 81_920, "sha256": "ab" * 32}
    ]
    review.required_attachments = ["kk_lama", "akta_kelahiran"]
    review.flags = ["nik_outside_lebak"]
    review.prechecks = [PreCheck("attachments_complete", False, "Lampiran wajib belum diunggah.", "Missing.")]
    await store(engine, review)
    async with uow(engine) as unit:
        stored = await unit.reviews.get(review.request_id)
    assert stored == review


async def test_register_checks_keep_their_evidence_and_are_found_when_due_for_a_retry(engine) -> None:  # type: ignore[no-untyped-def]
    checked, due, later, decided = a_review(), a_review(), a_review(), a_review()
    checked.prechecks = [
        PreCheck(
            "register_name",
            False,
            "Nama tidak sesuai.",
            "Names differ.",
            status=CheckStatus.warning,
            evidence=(
                Evidence("pemohon", "the applicant", "360214******0003", "name_mismatch", "beda", "differs",
                         declared_name="Ahmad Fauzi", register_name="A**** F****", similarity=71),
            ),
        )
    ]  # fmt: skip
    due.register_attempts, due.register_retry_at = 1, T0 + timedelta(seconds=30)
    later.register_attempts, later.register_retry_at = 1, T0 + timedelta(minutes=5)
    decided.register_retry_at = T0
    decided.approve("rina", None, T0)
    await store(engine, checked, due, later, decided)
    async with uow(engine) as unit:
        assert await unit.reviews.get(checked.request_id) == checked
        found = await unit.reviews.list(ReviewQuery(register_retry_due_at=T0 + timedelta(minutes=1)))
    assert [review.request_id for review in found] == [due.request_id]
    assert found[0].register_retry_at == due.register_retry_at and found[0].register_attempts == 1


async def test_the_work_queue_is_ordered_filtered_and_paged(engine) -> None:  # type: ignore[no-untyped-def]
    newer = a_review(T0 + timedelta(hours=2), "biodata_wni", sla=timedelta(hours=24))
    older = a_review(T0)
    bayah = a_review(T0 + timedelta(hours=1), kecamatan_code="36.02.03")
    waiting = a_review(T0 - timedelta(days=9))
    waiting.request_information("rina", "x", [], T0 - timedelta(days=8))
    await store(engine, newer, older, bayah, waiting)

    async def ids(**query) -> list[uuid.UUID]:  # type: ignore[no-untyped-def]
        async with uow(engine) as unit:
            return [r.request_id for r in await unit.reviews.list(ReviewQuery(**query))]

    pending = ReviewStatus.pending
    assert await ids(status=pending) == [older.request_id, bayah.request_id, newer.request_id]
    assert await ids(status=pending, order=QueueOrder.due) == [newer.request_id, older.request_id, bayah.request_id]
    assert await ids(request_type="biodata_wni") == [newer.request_id]
    assert await ids(kecamatan_code="36.02.03") == [bayah.request_id]
    assert await ids(overdue_at=T0 + timedelta(hours=72, minutes=30)) == [older.request_id, newer.request_id]
    assert await ids(status=pending, limit=1, offset=1) == [bayah.request_id]


async def test_duplicates_are_open_or_recently_approved_reviews_of_the_same_type_and_person(engine) -> None:  # type: ignore[no-untyped-def]
    nik = "3602144107900001"
    new = a_review(T0 + timedelta(days=40), "biodata_wni", nik=nik)
    open_one = a_review(T0 + timedelta(days=39), "biodata_wni", nik=nik)
    waiting = a_review(T0, "biodata_wni", nik=nik)
    waiting.request_information("rina", "x", [], T0)
    recent = a_review(T0, "biodata_wni", nik=nik)
    recent.approve("rina", None, T0 + timedelta(days=20))
    long_ago = a_review(T0, "biodata_wni", nik=nik)
    long_ago.approve("rina", None, T0)
    rejected = a_review(T0, "biodata_wni", nik=nik)
    rejected.reject("rina", "x", T0 + timedelta(days=39))
    other_type = a_review(T0 + timedelta(days=39), "kartu_keluarga", nik=nik)
    other_person = a_review(T0 + timedelta(days=39), "biodata_wni")
    await store(engine, new, open_one, waiting, recent, long_ago, rejected, other_type, other_person)

    async with uow(engine) as unit:
        found = await unit.reviews.find_duplicates(
            request_type="biodata_wni", subject_nik=nik, exclude=new.request_id, approved_since=T0 + timedelta(days=10)
        )
    assert {r.request_id for r in found} == {waiting.request_id, recent.request_id, open_one.request_id}

    # The review with the same duplicates, in one round trip: by the stored review's type and person, or by those
    # given for a request that is not stored yet.
    since = T0 + timedelta(days=10)
    unstored = a_review(T0 + timedelta(days=41), "biodata_wni", nik=nik)
    async with uow(engine) as unit:
        stored, others = await unit.reviews.get_with_duplicates(new.request_id, approved_since=since)
        missing, others_of_new = await unit.reviews.get_with_duplicates(
            unstored.request_id, approved_since=since, request_type="biodata_wni", subject_nik=nik
        )
        nothing = await unit.reviews.get_with_duplicates(unstored.request_id, approved_since=since)
    assert stored is not None and stored.request_id == new.request_id
    assert {r.request_id for r in others} == {r.request_id for r in found}
    assert [r.received_at for r in others] == sorted(r.received_at for r in others), "oldest first"
    assert missing is None and {r.request_id for r in others_of_new} == {r.request_id for r in found} | {new.request_id}
    assert nothing == (None, [])


async def test_a_death_is_found_by_the_deceased(engine) -> None:  # type: ignore[no-untyped-def]
    first, second = (
        a_review(request_type="akta_kematian"),
        a_review(request_type="akta_kematian", nik="3602144107900001"),
    )
    await store(engine, first, second)
    async with uow(engine) as unit:
        found = await unit.reviews.find_duplicates(
            request_type="akta_kematian", subject_nik="3602140101500002", exclude=second.request_id, approved_since=T0
        )
    assert [r.request_id for r in found] == [first.request_id]


async def test_the_audit_trail_is_written_with_the_change_and_listed_in_order(engine) -> None:  # type: ignore[no-untyped-def]
    review, other = a_review(), a_review()
    review.received([], "citizen", T0)
    other.received([], "operator-bayah", T0)
    await store(engine, review, other)
    async with uow(engine) as unit:
        loaded = await unit.reviews.get(review.request_id)
        loaded.claim("rina", T0 + timedelta(minutes=1))
        loaded.reject("rina", "Data tidak cocok", T0 + timedelta(minutes=2))
        await unit.reviews.save(loaded)
        # not committed: neither the decision nor its audit entries stay
    async with uow(engine) as unit:
        assert [e.action for e in await unit.audit.list(review.request_id)] == ["received"]
        loaded = await unit.reviews.get(review.request_id)
        loaded.claim("rina", T0 + timedelta(minutes=1))
        loaded.reject("rina", "Data tidak cocok", T0 + timedelta(minutes=2))
        await unit.reviews.save(loaded)
        await unit.commit()
    async with uow(engine) as unit:
        trail = await unit.audit.list(review.request_id)
    assert [(e.actor, e.action) for e in trail] == [("citizen", "received"), ("rina", "claimed"), ("rina", "rejected")]
    assert trail[-1].details == {"reason": "Data tidak cocok", "implicit_claim": False}
    assert trail[-1].at == T0 + timedelta(minutes=2) and trail[0].id < trail[1].id < trail[2].id
    assert trail[0].details["due_at"] == review.due_at.isoformat()


async def test_a_review_and_the_events_it_announces_are_stored_together_and_a_refused_save_leaves_none(engine) -> None:  # type: ignore[no-untyped-def]
    """On PostgreSQL in the statement that stores the review (no INSERT INTO outbox of its own)."""
    review = a_review()
    review.received([], "citizen", T0)
    statements: list[str] = []

    def listened(unit: SqlReviewUnitOfWork) -> None:
        connection = unit.reviews._connection.sync_connection  # type: ignore[attr-defined]
        sa.event.listen(connection, "before_cursor_execute", lambda *call: statements.append(call[2]))

    async with uow(engine) as unit:
        listened(unit)
        started = await unit.outbox.add(ReviewStarted(request_id=review.request_id, automatic=False))
        await unit.reviews.add(review)
        await unit.commit()
    async with uow(engine) as unit:
        stale = await unit.reviews.get(review.request_id)
    async with uow(engine) as unit:
        listened(unit)
        loaded = await unit.reviews.get(review.request_id)
        loaded.reject("rina", "Data tidak cocok", T0 + timedelta(minutes=2))
        rejected = await unit.outbox.add(RequestRejected(request_id=review.request_id, reviewer="rina", reason="x"))
        await unit.reviews.save(loaded)
        await unit.commit()
    separate = [statement for statement in statements if statement.startswith("INSERT INTO outbox")]
    assert len(separate) == (0 if engine.dialect.name == "postgresql" else 2)
    async with uow(engine) as unit:
        stale.reject("budi", "Lain", T0 + timedelta(minutes=3))
        await unit.outbox.add(RequestRejected(request_id=review.request_id, reviewer="budi", reason="y"))
        with pytest.raises(ConcurrentUpdate):
            await unit.reviews.save(stale)
        connection = unit.reviews._connection  # type: ignore[attr-defined]
        in_transaction = set((await connection.execute(sa.select(tables.outbox.c.id))).scalars())
    assert in_transaction == {str(started.id), str(rejected.id)}, "a refused change announces nothing"


async def test_a_consumers_claim_goes_with_the_review_its_event_adds_or_changes(postgres) -> None:  # type: ignore[no-untyped-def]
    """PostgreSQL: the consumer defers its inbox claim (dukcapil_shared.messaging.consumer), and the statement that
    adds or saves the review writes it: no INSERT INTO inbox of its own."""
    engine = create_engine(await postgres.create())
    await migrate(engine, MIGRATIONS)
    statements: list[str] = []
    sa.event.listen(engine.sync_engine, "before_cursor_execute", lambda *call: statements.append(call[2]))
    submitted, attached = str(uuid.uuid4()), str(uuid.uuid4())
    review = a_review()
    review.received([], "citizen", T0)
    try:
        async with uow(engine) as unit:
            assert unit.inbox.defer_claim("dukcapil.review.requests", submitted)
            await unit.reviews.add(review)
            await unit.commit()
        async with uow(engine) as unit:
            assert unit.inbox.defer_claim("dukcapil.review.requests", attached)
            loaded = await unit.reviews.get(review.request_id)
            loaded.claim("rina", T0 + timedelta(minutes=1))
            await unit.reviews.save(loaded)
            await unit.commit()
        assert [statement for statement in statements if statement.startswith("INSERT INTO inbox")] == []
        async with uow(engine).reading() as unit:
            assert await unit.inbox.has_claimed("dukcapil.review.requests", submitted)
            assert await unit.inbox.has_claimed("dukcapil.review.requests", attached)
            assert (await unit.reviews.get(review.request_id)).claimed_by == "rina"
    finally:
        await engine.dispose()


async def test_the_database_refuses_to_change_or_delete_audit_entries(engine) -> None:  # type: ignore[no-untyped-def]
    review = a_review()
    review.received([], "citizen", T0)
    await store(engine, review)
    for statement in ("UPDATE review_audit SET actor = 'someone else'", "DELETE FROM review_audit"):
        with pytest.raises(DBAPIError, match="append-only"):
            async with engine.begin() as connection:
                await connection.execute(text(statement))
    async with uow(engine) as unit:
        assert [(e.actor, e.action) for e in await unit.audit.list(review.request_id)] == [("citizen", "received")]


async def test_the_migration_fills_in_reviews_queued_before_it(database_url: str) -> None:
    engine = create_engine(database_url)
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)

    def upgrade_to_0001(connection) -> None:  # type: ignore[no-untyped-def]
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")

    reviews_0001 = sa.table(
        "reviews",
        *(sa.column(name, sa.String()) for name in ("request_id", "request_number", "request_type", "status")),
        *(sa.column(name, sa.JSON()) for name in ("applicant", "details", "delivery", "missing_items")),
        sa.column("kecamatan_code", sa.String()),
        sa.column("received_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
        sa.column("version", sa.Integer()),
    )
    biodata_id, death_id = uuid.uuid4(), uuid.uuid4()
    rows = [
        (biodata_id, "biodata_wni", "pending", {}),
        (death_id, "akta_kematian", "approved", SAMPLE_DETAILS["akta_kematian"]),
    ]
    try:
        async with engine.begin() as connection:
            await connection.run_sync(upgrade_to_0001)
            for request_id, request_type, status, details in rows:
                await connection.execute(
                    sa.insert(reviews_0001).values(
                        request_id=str(request_id),
                        request_number="N",
                        request_type=request_type,
                        status=status,
                        applicant={"nik": "3602144107900001", "name": "Siti"},
                        details=details,
                        delivery={"method": "pickup", "pickup_kecamatan_code": "36.02.14"},
                        missing_items=[],
                        kecamatan_code="36.02.14",
                        received_at=T0,
                        updated_at=T0 + timedelta(hours=1),
                        version=0,
                    )
                )
        await migrate(engine, MIGRATIONS)
        async with uow(engine) as unit:
            biodata = await unit.reviews.get(biodata_id)
            death = await unit.reviews.get(death_id)
        async with engine.connect() as connection:
            subjects = dict(
                (await connection.execute(sa.select(tables.reviews.c.request_id, tables.reviews.c.subject_nik))).all()
            )
    finally:
        await engine.dispose()
    assert biodata.due_at == T0 + timedelta(hours=24) and biodata.channel == "online" and biodata.decided_at is None
    assert biodata.attachments == [] and biodata.prechecks == [] and biodata.flags == []
    assert death.due_at == T0 + timedelta(hours=72) and death.decided_at == T0 + timedelta(hours=1)
    assert subjects == {str(biodata_id): "3602144107900001", str(death_id): "3602140101500002"}


async def test_pending_reviews_are_counted_against_their_due_dates_as_the_fakes_count_them(engine) -> None:  # type: ignore[no-untyped-def]
    from dukcapil_review.service_layer import handlers

    from ..fakes import FakeReviewUnitOfWork
    from ..unit.test_statistics import EXPECTED, NOW, as_rows, known_queue

    fake = FakeReviewUnitOfWork()
    for review in known_queue():
        fake.reviews.committed[review.request_id] = review
    await store(engine, *known_queue())
    for now in (NOW, NOW + timedelta(hours=3)):
        for request_type, kecamatan in ((None, None), ("kartu_keluarga", None), (None, "36.02.01")):
            found = await handlers.count_overdue(
                now=now, request_type=request_type, kecamatan_code=kecamatan, uow=uow(engine)
            )
            expected = await handlers.count_overdue(
                now=now, request_type=request_type, kecamatan_code=kecamatan, uow=fake
            )
            assert found == expected, (now, request_type, kecamatan)
    found = await handlers.count_overdue(now=NOW, request_type=None, kecamatan_code=None, uow=uow(engine))
    assert as_rows(found) == EXPECTED


async def test_queue_gauges_count_pending_and_overdue_reviews_per_type(engine) -> None:  # type: ignore[no-untyped-def]
    on_time = a_review(received_at=T0)
    late = a_review(received_at=T0 - timedelta(days=5), nik="3602141205850011")
    late_biodata = a_review(received_at=T0 - timedelta(days=2), request_type="biodata_wni", sla=timedelta(hours=24))
    waiting_on_the_citizen = a_review(received_at=T0 - timedelta(days=5), nik="3602141205850029")
    waiting_on_the_citizen.status = ReviewStatus.info_requested
    await store(engine, on_time, late, late_biodata, waiting_on_the_citizen)

    registry = CollectorRegistry()
    gauges = ReviewQueueGauges(
        engine=engine, registry=registry, clock=lambda: T0 + timedelta(hours=1), request_types=DEFAULT_SLA_WORKING_DAYS
    )
    await gauges.refresh()

    def value(name: str, request_type: str) -> float | None:
        return registry.get_sample_value(name, {"request_type": request_type})

    assert value("dukcapil_reviews_pending", "kartu_keluarga") == 2
    assert value("dukcapil_reviews_overdue", "kartu_keluarga") == 1
    assert value("dukcapil_reviews_pending", "biodata_wni") == 1
    assert value("dukcapil_reviews_overdue", "biodata_wni") == 1
    assert value("dukcapil_reviews_overdue", "akta_kematian") == 0, "every type has a series from the start"
