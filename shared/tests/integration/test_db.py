"""Pooled PostgreSQL connections: checked before use only after sitting idle (see dukcapil_shared.db)."""

import asyncio
from urllib.parse import urlsplit

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from dukcapil_shared import db

pytestmark = pytest.mark.integration


async def _backend_pid(engine) -> int:  # type: ignore[no-untyped-def]
    async with engine.connect() as connection:
        return (await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one()


async def _terminate(url: str, pid: int) -> None:
    """What a server restart, an administrator or a firewall does to a connection the pool holds."""
    parsed = urlsplit(url.replace("+asyncpg", ""))
    admin = await asyncpg.connect(f"postgresql://{parsed.netloc}/postgres")
    try:
        assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
    finally:
        await admin.close()
    await asyncio.sleep(0.2)


async def test_a_connection_closed_by_the_server_while_idle_is_replaced_before_anyone_uses_it(
    postgres, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    url = await postgres.create()
    engine = db.create_engine(url, pool_size=1, max_overflow=0)
    monkeypatch.setattr(db, "PING_AFTER_IDLE_S", 0.1)
    try:
        first = await _backend_pid(engine)
        await _terminate(url, first)
        assert await _backend_pid(engine) != first  # no error: the check found it gone and a new one was opened
    finally:
        await engine.dispose()


async def test_a_connection_in_steady_use_is_not_checked_so_a_break_fails_one_unit_of_work_only(postgres) -> None:  # type: ignore[no-untyped-def]
    """The price of not checking every checkout (three round trips each on asyncpg), shown: the one use that meets
    the broken connection fails (a consumer retries it; HTTP answers 503), and the pool recovers at once."""
    url = await postgres.create()
    engine = db.create_engine(url, pool_size=1, max_overflow=0)
    try:
        first = await _backend_pid(engine)
        await _terminate(url, first)
        with pytest.raises(DBAPIError):
            await _backend_pid(engine)
        assert await _backend_pid(engine) != first
    finally:
        await engine.dispose()
