"""dukcapil-ops backup / restore / replay against real PostgreSQL databases (review's schema, migrated as the
service migrates it): a backup restores into an empty database with its files, and a restore refuses what would
do harm unless forced."""

import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from dukcapil_ops import backups, cli
from dukcapil_shared.db import migrate

pytestmark = pytest.mark.integration
ACCESS_PLAN = Path(__file__).parents[4] / "deploy" / "rabbitmq" / "access.json"


def _dsn(url: str) -> str:
    return backups.libpq_url(url)


async def _review_database(postgres) -> str:  # type: ignore[no-untyped-def]
    url = await postgres.create()
    engine = create_async_engine(url)
    try:
        await migrate(engine, "dukcapil_review:migrations")
    finally:
        await engine.dispose()
    return url


async def _execute(url: str, sql: str, *args: object) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(_dsn(url))
    try:
        return await connection.fetch(sql, *args)
    finally:
        await connection.close()


async def _add_outbox_row(url: str, routing_key: str, created_at: datetime, *, sent: bool = True) -> str:
    event_id = str(uuid.uuid4())
    await _execute(
        url,
        "INSERT INTO outbox (id, routing_key, subject, body, created_at, attempts, next_attempt_at, published_at) "
        "VALUES ($1, $2, $3, '{}', $4, 1, $4, $5)",
        event_id,
        routing_key,
        str(uuid.uuid4()),
        created_at,
        created_at if sent else None,
    )
    return event_id


def _run(*argv: str, environ: dict[str, str] | None = None) -> tuple[int, str]:
    out = io.StringIO()
    status = cli.main(list(argv), environ=environ or {}, out=out)
    return status, out.getvalue()


async def test_a_backup_restores_into_an_empty_database_with_its_files(postgres, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    source = await _review_database(postgres)
    event_id = await _add_outbox_row(source, "review.started.v1", datetime.now(UTC))
    scans = tmp_path / "scans"
    (scans / "2026").mkdir(parents=True)
    (scans / "2026" / "scan.pdf").write_bytes(b"%PDF-1.4 a scan")

    status, out = _run(
        "backup", "--service", "review", "--database", source, "--files", str(scans), "--out", str(tmp_path), "--json"
    )
    assert status == 0, out
    made = json.loads(out)
    manifest = json.loads((Path(made["backup"]) / "manifest.json").read_text())
    assert manifest["service"] == "review" and manifest["migration_head"] == backups.code_head("review")
    assert len(manifest["database"]["sha256"]) == 64 and manifest["files"][0]["source"] == str(scans.resolve())

    (scans / "2026" / "scan.pdf").unlink()
    target = await postgres.create()
    status, out = _run("restore", made["backup"], "--database", target)
    assert status == 0, out
    assert "dukcapil-ops replay --service review --since" in out
    assert [row["id"] for row in await _execute(target, "SELECT id FROM outbox")] == [event_id]
    assert (scans / "2026" / "scan.pdf").read_bytes() == b"%PDF-1.4 a scan"


async def test_a_restore_refuses_a_database_with_tables_a_damaged_backup_and_another_migration_head(
    postgres, tmp_path: Path, capsys
) -> None:  # type: ignore[no-untyped-def]
    source = await _review_database(postgres)
    folder, _ = backups.backup(service="review", database_url=source, folders=[], out=tmp_path)

    status, _ = _run("restore", str(folder), "--database", source)
    assert status == 1
    assert "the database holds" in capsys.readouterr().err

    manifest = json.loads((folder / "manifest.json").read_text())
    older = tmp_path / "older"
    older.mkdir()
    (older / "database.dump").write_bytes((folder / "database.dump").read_bytes())
    (older / "manifest.json").write_text(json.dumps({**manifest, "migration_head": "0001"}))
    empty = await postgres.create()
    status, _ = _run("restore", str(older), "--database", empty)
    assert status == 1
    assert "the backup is at migration 0001, the review code at" in capsys.readouterr().err
    assert backups.table_count(empty) == 0, "a refused restore leaves the database as it was"

    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "manifest.json").write_text((folder / "manifest.json").read_text())
    (damaged / "database.dump").write_bytes((folder / "database.dump").read_bytes()[:-10])
    status, _ = _run("restore", str(damaged), "--database", empty)
    assert status == 1
    assert "does not match its checksum" in capsys.readouterr().err

    status, out = _run("restore", str(folder), "--database", source, "--force")
    assert status == 0, out


async def test_a_replay_marks_unsent_the_events_the_restored_service_reads_since_the_backup_less_the_margin(
    postgres,
) -> None:  # type: ignore[no-untyped-def]
    producer = await _review_database(postgres)  # any service's outbox has the same columns
    backup_time = datetime.now(UTC) - timedelta(minutes=10)
    before_margin = await _add_outbox_row(producer, "request.submitted.v1", backup_time - timedelta(hours=2))
    in_margin = await _add_outbox_row(producer, "request.submitted.v1", backup_time - timedelta(minutes=30))
    after = await _add_outbox_row(producer, "request.attachment_added.v1", backup_time + timedelta(minutes=1))
    not_read = await _add_outbox_row(producer, "document.issued.v1", backup_time + timedelta(minutes=1))

    status, out = _run(
        "replay",
        "--service",
        "review",
        "--since",
        backup_time.isoformat(),
        "--from-database",
        f"intake={producer}",
        "--access-plan",
        str(ACCESS_PLAN),
        "--json",
    )
    assert status == 0, out
    assert json.loads(out) == [{"producer": "intake", "events": 2}]
    rows = await _execute(producer, "SELECT id, published_at FROM outbox")
    unsent = {row["id"] for row in rows if row["published_at"] is None}
    assert unsent == {in_margin, after}
    assert before_margin not in unsent and not_read not in unsent
