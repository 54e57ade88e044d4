"""Compose's PostgreSQL roles (deploy/postgres/service-database.sql), made here on the local server the way the
postgres container's init script makes them: the owner role migrates, and the role the service runs as reads and
writes rows but can neither drop review's append-only audit triggers nor its tables."""

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg
import pytest

from dukcapil_shared.db import create_engine, migrate

ROOT = Path(__file__).resolve().parents[1]
SQL = ROOT / "deploy" / "postgres" / "service-database.sql"
INIT_SCRIPT = ROOT / "deploy" / "postgres" / "create-databases.sh"
POSTGRES_DSN = os.environ.get("TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


@dataclass(frozen=True)
class ServiceDatabase:
    database: str
    owner: str
    runtime: str

    def dsn(self, role: str, password: str) -> str:
        server = urlsplit(POSTGRES_DSN)
        return f"postgresql://{role}:{password}@{server.hostname}:{server.port or 5432}/{self.database}"


def _make_roles(made: ServiceDatabase) -> None:
    server = urlsplit(POSTGRES_DSN)
    variables = {
        "database": made.database,
        "owner": made.owner,
        "runtime": made.runtime,
        "owner_password": "owner-test-password",
        "runtime_password": "runtime-test-password",
    }
    psql = ["psql", "--no-psqlrc", "--quiet", f"--host={server.hostname}", f"--port={server.port or 5432}"]
    psql += [f"--username={server.username or 'postgres'}", "--dbname=postgres", f"--file={SQL}"]
    psql += [f"--set={name}={value}" for name, value in variables.items()]
    result = subprocess.run(psql, capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr


@pytest.fixture
async def review_database() -> AsyncIterator[ServiceDatabase]:
    name = f"dukcapil_roles_{uuid.uuid4().hex[:8]}"
    made = ServiceDatabase(database=name, owner=f"{name}_owner", runtime=name)
    await asyncio.to_thread(_make_roles, made)
    try:
        yield made
    finally:
        connection = await asyncpg.connect(POSTGRES_DSN)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{made.database}" WITH (FORCE)')
            await connection.execute(f'DROP ROLE IF EXISTS "{made.runtime}"')
            await connection.execute(f'DROP ROLE IF EXISTS "{made.owner}"')
        finally:
            await connection.close()


def test_the_init_script_makes_each_service_database_with_the_same_sql() -> None:
    script = INIT_SCRIPT.read_text()
    assert "for service in intake review documents shipping; do" in script
    assert '-v owner="${service}_owner" -v runtime="$service"' in script
    assert "-f /etc/dukcapil/service-database.sql" in script
    assert "/run/secrets/db-$service-owner" in script and '/run/secrets/db-$service"' in script
    result = subprocess.run(["sh", "-n", str(INIT_SCRIPT)], capture_output=True, text=True, timeout=10)
    assert result.returncode == 0, result.stderr


async def test_the_owner_migrates_and_the_service_role_only_reads_and_writes_rows(
    review_database: ServiceDatabase, tmp_path: Path
) -> None:
    password_file = tmp_path / "db-review-owner"
    password_file.write_text("owner-test-password\n")
    owner_url = review_database.dsn(review_database.owner, "unused").replace(":unused@", "@")
    # What compose's migrate-review container runs.
    migrated = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "dukcapil_shared.deploy", "migrate", "dukcapil_review:migrations"],
        env=os.environ
        | {
            "MIGRATE_DATABASE_URL": owner_url.replace("postgresql://", "postgresql+asyncpg://"),
            "MIGRATE_DATABASE_PASSWORD_FILE": str(password_file),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr

    service = await asyncpg.connect(review_database.dsn(review_database.runtime, "runtime-test-password"))
    try:
        # Rows: what the service does all day, on a table and on the audit (which its triggers keep append-only).
        await service.execute("INSERT INTO inbox (consumer, event_id, processed_at) VALUES ('roles', 'e1', now())")
        await service.execute("UPDATE inbox SET processed_at = now() WHERE event_id = 'e1'")
        assert await service.fetchval("SELECT count(*) FROM inbox WHERE consumer = 'roles'") == 1
        await service.execute("DELETE FROM inbox WHERE event_id = 'e1'")
        assert await service.fetchval("SELECT version_num FROM alembic_version")

        refused = (
            "DROP TRIGGER review_audit_append_only ON review_audit",
            "ALTER TABLE review_audit DISABLE TRIGGER review_audit_append_only",
            "DROP TABLE review_audit",
            "TRUNCATE inbox",
            "DROP FUNCTION review_audit_append_only()",
            "CREATE TABLE mine (id int)",
        )
        for statement in refused:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await service.execute(statement)
    finally:
        await service.close()

    # The operators' commands that migrate before they work (accounts, agencies) run as the service's role in
    # compose: on a schema already up to date, migrating asks for nothing that role lacks.
    runtime_url = review_database.dsn(review_database.runtime, "runtime-test-password")
    engine = create_engine(runtime_url.replace("postgresql://", "postgresql+asyncpg://"), pool_size=1, max_overflow=0)
    try:
        await migrate(engine, "dukcapil_review:migrations")
    finally:
        await engine.dispose()

    owner = await asyncpg.connect(review_database.dsn(review_database.owner, "owner-test-password"))
    try:
        triggers = await owner.fetch(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'review_audit'::regclass AND NOT tgisinternal"
        )
        assert "review_audit_append_only" in {row["tgname"] for row in triggers}, "the audit triggers are still there"
    finally:
        await owner.close()
