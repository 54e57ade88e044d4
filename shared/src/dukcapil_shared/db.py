"""Database engines for the embedded default (SQLite file) and production (PostgreSQL), and migrations."""

import time
import zlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import (
    JSON,
    BindParameter,
    ColumnElement,
    CompoundSelect,
    Connection,
    Label,
    Table,
    bindparam,
    event,
    select,
    text,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

PING_AFTER_IDLE_S = 10.0
"""A pooled PostgreSQL connection idle for longer than this is checked before it is handed out."""


def create_engine(url: str, *, pool_size: int = 10, max_overflow: int = 0) -> AsyncEngine:
    """On PostgreSQL each process keeps at most pool_size + max_overflow connections: a server's default of 100
    then carries about ten service processes (replicas included) with room for the operators' tools. Connections
    beyond the pool (overflow) are closed after each use, and under load that was a new PostgreSQL backend, with
    its statements prepared again, every few transactions (148 connections in 30 s at intake): the pool keeps them
    all instead, opened as they are first needed."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        engine = create_async_engine(url, pool_size=pool_size, max_overflow=max_overflow, hide_parameters=True)
        _ping_connections_found_idle(engine)
        return engine
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


def _ping_connections_found_idle(engine: AsyncEngine) -> None:
    """Check a pooled connection before use only when it has been idle for a while (PING_AFTER_IDLE_S).

    SQLAlchemy's pool_pre_ping checks every checkout, and on asyncpg a check is three round trips (BEGIN, an empty
    query, ROLLBACK): a quarter of a consumer's round trips, which on a busy machine were the largest single cost
    in the benchmark's profiles. A connection in steady use has just proved itself; one that sat idle may have
    been closed by the server, a restart or a firewall meanwhile, and is replaced before anyone sees it fail. A
    connection that breaks while in use fails that one unit of work (a consumer retries it, HTTP answers 503 with
    Retry-After) and SQLAlchemy then replaces every connection opened before the failure."""

    @event.listens_for(engine.sync_engine, "checkin")
    def _checked_in(_dbapi_connection, record) -> None:  # type: ignore[no-untyped-def]
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checked_out(dbapi_connection, record, _proxy) -> None:  # type: ignore[no-untyped-def]
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_S:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as error:
            # The pool discards the connection and hands out a fresh one (it tries three times).
            raise DisconnectionError(f"an idle pooled connection is gone: {type(error).__name__}") from error


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


class json_rows(FunctionElement[Any]):
    """An aggregate of the rows as one JSON array of arrays, one array of the columns given per row (an empty array
    or NULL when there are none): a correlated subquery of it loads an aggregate's children in the parent's own round
    trip. Rows come in no particular order; timestamps come as ISO 8601 text (`from_json_time`)."""

    type = JSON()
    inherit_cache = True


@compiles(json_rows, "postgresql")
def _json_rows_postgresql(element: json_rows, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_agg(json_build_array({compiler.process(element.clauses, **kw)}))"


@compiles(json_rows, "sqlite")
def _json_rows_sqlite(element: json_rows, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_group_array(json_array({compiler.process(element.clauses, **kw)}))"


def children_as_json(
    label: str, parent_key: ColumnElement[Any], child_key: ColumnElement[Any], *columns: Any
) -> Label[Any]:
    """The rows whose `child_key` is `parent_key`, as `json_rows` of `columns` in a correlated subquery named
    `label`: a parent's children in the parent's own round trip."""
    return select(json_rows(*columns)).where(child_key == parent_key).scalar_subquery().label(label)


def parameter_rows(
    key: ColumnElement[Any] | None,
    table: Table,
    fields: Sequence[str],
    count: int,
    prefix: str,
    *,
    only_if: ColumnElement[bool] | None = None,
) -> CompoundSelect:
    """`count` rows of `table`'s `fields`, each led by `key` (the id a CTE of the same statement returns), the values
    given as parameters `<prefix>_<n>_<field>` (`row_parameters`): what an INSERT ... SELECT adds only if that CTE
    returned a row. Without a key, `only_if` says when they are added. One statement per `count`, prepared like any
    other."""
    columns = table.c
    rows = []
    for index in range(count):
        row = select(
            *([] if key is None else [key]),
            *(bindparam(f"{prefix}_{index}_{name}", type_=columns[name].type) for name in fields),
        )
        rows.append(row if only_if is None else row.where(only_if))
    return union_all(*rows)


def new_values(table: Table, names: Iterable[str] | None = None) -> dict[str, BindParameter[Any]]:
    """Each of `table`'s columns (or those `names`) as the parameter `new_<name>`: the values of an INSERT or UPDATE
    built once and executed with parameters."""
    return {
        name: bindparam(f"new_{name}", type_=table.c[name].type)
        for name in (table.c.keys() if names is None else names)
    }


def row_parameters(prefix: str, rows: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    """The parameters of `parameter_rows` for `rows`."""
    return {f"{prefix}_{index}_{name}": value for index, row in enumerate(rows) for name, value in row.items()}


def from_json_time(value: str) -> datetime:
    """A timestamp as `json_rows` hands it: PostgreSQL's ISO 8601 with its offset, or SQLite's stored text (UTC)."""
    return as_utc(datetime.fromisoformat(value))


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything this project stores is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def next_in_sequence(connection: AsyncConnection, counters: Table, **key: object) -> int:
    """Take the next number of the sequence named by `key` in `counters` (its primary key plus `last_value`).

    One atomic upsert, in the caller's transaction: concurrent callers wait for each other's row lock, and a
    rolled-back transaction gives its number back, so numbers are unique and leave no gaps.
    """
    return (await connection.execute(taking_next_in_sequence(connection, counters, **key))).scalar_one()


def taking_next_in_sequence(
    connection: AsyncConnection, counters: Table, **key: object
) -> postgresql.Insert | sqlite.Insert:
    """The upsert of `next_in_sequence`, returning `last_value`: on PostgreSQL it can be a CTE of a statement that
    uses the number, one round trip for both."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return (
        dialect.insert(counters)
        .values(**key, last_value=1)
        .on_conflict_do_update(
            index_elements=[counters.c[name] for name in key],
            set_={"last_value": counters.c.last_value + 1},
        )
        .returning(counters.c.last_value)
    )
