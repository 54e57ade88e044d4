"""Database engines for the embedded default (SQLite file) and production (PostgreSQL), and migrations."""

import zlib
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Table, event, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine


def create_engine(url: str, *, pool_size: int = 5, max_overflow: int = 5) -> AsyncEngine:
    """On PostgreSQL each process keeps at most pool_size + max_overflow connections: a server's default of 100
    then carries about ten service processes (replicas included) with room for the operators' tools."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_async_engine(
            url, pool_size=pool_size, max_overflow=max_overflow, pool_pre_ping=True, hide_parameters=True
        )
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    # hide_parameters: a database error's text must not carry personal data into the logs.
    engine = create_async_engine(url, connect_args={"timeout": 30}, hide_parameters=True)

    @event.listens_for(engine.sync_engine, "connect")
    def _configure(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        # Take over transaction control from the driver so that every transaction can begin IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin_immediate(connection: Connection) -> None:
        # A deferred transaction that reads and then writes fails at once with "database is locked" when
        # another writer got in between; taking the write lock up front makes it wait instead.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


async def migrate(engine: AsyncEngine, script_location: str) -> None:
    """Apply the service's Alembic migrations up to head; safe when several replicas start at once."""
    config = Config()
    config.set_main_option("script_location", script_location)
    async with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            lock_key = zlib.crc32(script_location.encode())
            await connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": lock_key})
        await connection.run_sync(_upgrade, config)


def _upgrade(connection: Connection, config: Config) -> None:
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


def run_migrations_in_env(target_metadata: object) -> None:
    """The body of every service's migrations/env.py: run on the connection `migrate` passed in."""
    from alembic import context

    connection = context.config.attributes["connection"]
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything this project stores is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def next_in_sequence(connection: AsyncConnection, counters: Table, **key: object) -> int:
    """Take the next number of the sequence named by `key` in `counters` (its primary key plus `last_value`).

    One atomic upsert, in the caller's transaction: concurrent callers wait for each other's row lock, and a
    rolled-back transaction gives its number back, so numbers are unique and leave no gaps.
    """
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = (
        dialect.insert(counters)
        .values(**key, last_value=1)
        .on_conflict_do_update(
            index_elements=[counters.c[name] for name in key],
            set_={"last_value": counters.c.last_value + 1},
        )
        .returning(counters.c.last_value)
    )
    return (await connection.execute(statement)).scalar_one()
