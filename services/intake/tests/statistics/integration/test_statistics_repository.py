"""The office's figures in SQL, on SQLite and PostgreSQL migrated by intake's own scripts: the same answers as the
plain computation over fakes, months in WIB included."""

from itertools import combinations
from pathlib import Path

import pytest

from dukcapil_intake import tables
from dukcapil_intake.requests.adapters.unit_of_work import SqlRequestsUnitOfWork
from dukcapil_intake.statistics.adapters.unit_of_work import SqlStatisticsUnitOfWork
from dukcapil_intake.statistics.domain.statistics import Dimension, Month, StatisticsFilter
from dukcapil_intake.statistics.service_layer import statistics
from dukcapil_shared.db import create_engine, migrate

from ...fakes import FakeRequestRepository, FakeStatisticsUnitOfWork
from ...known_histories import NOVEMBER_LEAD_TIMES, RANGKASBITUNG, known_requests

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
async def stores(request, tmp_path: Path, postgres):  # type: ignore[no-untyped-def]
    """The known requests in a real database, and the same requests in the fakes."""
    url = f"sqlite+aiosqlite:///{tmp_path}/intake.db" if request.param == "sqlite" else await postgres.create()
    engine = create_engine(url)
    await migrate(engine, "dukcapil_intake:migrations")
    requests = FakeRequestRepository()
    fake = FakeStatisticsUnitOfWork(requests)
    known = known_requests()
    async with SqlRequestsUnitOfWork(
        engine, outbox_table=tables.outbox, inbox_table=tables.inbox, source="/test"
    ) as unit:
        for one in known.values():
            requests.committed[one.id] = one
            await unit.requests.add(one)
        await unit.commit()
    yield engine, fake
    await engine.dispose()


def sql(engine) -> SqlStatisticsUnitOfWork:  # type: ignore[no-untyped-def]
    return SqlStatisticsUnitOfWork(engine, outbox_table=tables.outbox, inbox_table=tables.inbox, source="/test")


FILTERS = [
    StatisticsFilter(),
    StatisticsFilter(first_month=Month(2026, 11), last_month=Month(2026, 11)),
    StatisticsFilter(last_month=Month(2026, 10)),
    StatisticsFilter(first_month=Month(2026, 11), request_type="kartu_keluarga", kecamatan_code=RANGKASBITUNG),
]
GROUPINGS = [grouping for size in range(len(Dimension) + 1) for grouping in combinations(Dimension, size)]


async def test_counts_agree_with_the_plain_computation_for_every_grouping(stores) -> None:  # type: ignore[no-untyped-def]
    engine, fake = stores
    for where in FILTERS:
        for grouping in GROUPINGS:
            expected = await statistics.count_requests(where, grouping, uow=fake)
            found = await statistics.count_requests(where, grouping, uow=sql(engine))
            assert found == expected, (where, grouping)


async def test_months_are_counted_in_wib_by_the_database(stores) -> None:  # type: ignore[no-untyped-def]
    engine, _ = stores
    counts = await statistics.count_requests(StatisticsFilter(), (Dimension.month,), uow=sql(engine))
    # A (18:00 UTC on 31 October) is November's; D (16:00 UTC the same day) is October's.
    assert [(group.month, group.count) for group in counts.groups] == [("2026-10", 1), ("2026-11", 4), ("2026-12", 1)]


async def test_lead_times_from_the_database_match_the_hand_worked_figures(stores) -> None:  # type: ignore[no-untyped-def]
    engine, fake = stores
    where = StatisticsFilter(first_month=Month(2026, 11), last_month=Month(2026, 11))
    report = await statistics.measure_lead_times(where, uow=sql(engine))
    assert report.requests == 4
    for lead in report.stages:
        expected = NOVEMBER_LEAD_TIMES[lead.stage.name]
        assert (lead.count, lead.mean_hours, lead.p50_hours, lead.p90_hours) == pytest.approx(expected), lead.stage
    for where in FILTERS:
        assert await statistics.measure_lead_times(where, uow=sql(engine)) == await statistics.measure_lead_times(
            where, uow=fake
        )
