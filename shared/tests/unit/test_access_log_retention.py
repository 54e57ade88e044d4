"""Every service purges its access log after <SERVICE>_ACCESS_LOG_DAYS, counted in its metrics."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

from prometheus_client import CollectorRegistry
from sqlalchemy import MetaData, func, select

from dukcapil_shared.auth.access import AccessLogRetention, AccessRecord, SqlAccessLog, add_access_log_table
from dukcapil_shared.db import create_engine
from dukcapil_testing.fakes import FixedClock

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


async def test_rows_older_than_the_period_go_and_the_round_is_counted(tmp_path: Path) -> None:
    table = add_access_log_table(MetaData())
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/service.db")
    try:
        async with engine.begin() as connection:
            await connection.run_sync(table.metadata.create_all)
        log = SqlAccessLog(engine, table)
        for age in (731, 729, 1):
            record = AccessRecord(
                "rina", "reviewer", "requests:read", "GET", "/requests/x", "review", NOW - timedelta(days=age)
            )
            await log.record(record)
        registry = CollectorRegistry()
        retention = AccessLogRetention(engine=engine, table=table, days=730, registry=registry, clock=FixedClock(NOW))

        assert await retention.purge() == 1
        assert await retention.purge() == 0
        async with engine.connect() as connection:
            assert (await connection.execute(select(func.count()).select_from(table))).scalar_one() == 2
        assert registry.get_sample_value("access_log_purged_total") == 1
        assert registry.get_sample_value("access_log_retention_last_run_timestamp_seconds") == NOW.timestamp()
    finally:
        await engine.dispose()
