"""A service restored from its backup while the others run: review's database is backed up mid-flow, requests keep
coming, review is stopped, its database dropped and created again empty, the backup restored into it, review
started again and the events it had consumed since the backup replayed from intake's outbox (`dukcapil-ops
backup`, `restore`, `replay`: docs/operations.md, "Backups and restore"). Every request then ends with exactly one
review, one document and one shipment, and every event of its life once in intake's history: what review had
consumed after its backup is applied again, what it had published then is published again with the same ids and
dropped by the inboxes that had it."""

import asyncio
import io
import json
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from dukcapil_ops import cli

from ..chaos.harness import CHAOS_ENV, Chaos, Driver, settle_and_count
from .system import MODULES, SERVICES, System

pytestmark = pytest.mark.e2e
ACCESS_PLAN = Path(__file__).parents[2] / "deploy" / "rabbitmq" / "access.json"
STARTUP_TIMEOUT = 300


@pytest.fixture
async def chaos(rabbitmq, postgres, tmp_path: Path):  # type: ignore[no-untyped-def]
    databases = {service: await postgres.create() for service in SERVICES}
    system = System(
        workdir=tmp_path,
        amqp_url=rabbitmq.create(),
        database_urls=databases,
        extra_env=rabbitmq.service_env() | CHAOS_ENV,
    )
    chaos = Chaos(system, amqp_admin_url=rabbitmq.impersonator_url(system.amqp_url), broker_user=rabbitmq.user)
    try:
        for name in MODULES:
            system.start(name)
        # Six processes migrating at once on a machine that other test runs share: what matters is that they start.
        await asyncio.gather(*(system.wait_ready(name, timeout=STARTUP_TIMEOUT) for name in MODULES))
        yield chaos
    finally:
        system.stop_all()
        rabbitmq.delete(system.amqp_url)
        await chaos.close()


async def _ops(*argv: str) -> str:
    """dukcapil-ops as an operator runs it (in a thread: it blocks on pg_dump and pg_restore)."""
    out = io.StringIO()
    status = await asyncio.to_thread(cli.main, [*argv, "--json"], environ={}, out=out)
    assert status == 0, f"dukcapil-ops {' '.join(argv)} exited with {status}: {out.getvalue()}"
    return out.getvalue()


async def _recreate_empty(database_url: str) -> None:
    """DROP DATABASE and CREATE DATABASE under the same name: the service's settings stay as they are."""
    parts = urlsplit(database_url.replace("postgresql+asyncpg://", "postgresql://", 1))
    name = parts.path.lstrip("/")
    connection = await asyncpg.connect(urlunsplit(parts._replace(path="/postgres")))
    try:
        await connection.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()


async def _reviewed(chaos: Chaos, request_ids: list[str]) -> bool:
    [row] = await chaos.query(
        "review", "SELECT count(*) AS n FROM reviews WHERE request_id::text = ANY($1)", request_ids
    )
    return row["n"] == len(request_ids)


async def test_review_restored_from_its_backup_mid_flow_catches_up_without_losing_or_doubling(
    chaos: Chaos, tmp_path: Path
) -> None:
    driver = Driver(chaos, courier_every=3)
    try:
        before = await driver.run(4)
        backup_made = driver.start(4)
        made = json.loads(
            await _ops(
                "backup",
                "--service",
                "review",
                "--database",
                chaos.system.database_urls["review"],
                "--out",
                str(tmp_path / "backups"),
            )
        )
        after = await backup_made
        # Review consumed these after its backup: their effects are what the restore loses and the replay gives back.
        await chaos.wait_until(
            "review has the requests sent after the backup", lambda: _reviewed(chaos, [r.id for r in after])
        )

        chaos.system.stop("review")
        while_down = driver.start(3)
        await _recreate_empty(chaos.system.database_urls["review"])
        await _ops("restore", made["backup"], "--database", chaos.system.database_urls["review"])
        chaos.system.start("review")
        await chaos.system.wait_ready("review", timeout=STARTUP_TIMEOUT)
        producers = [f"{service}={chaos.system.database_urls[service]}" for service in SERVICES if service != "review"]
        replayed = json.loads(
            await _ops(
                "replay",
                "--service",
                "review",
                "--since",
                made["started_at"],
                "--access-plan",
                str(ACCESS_PLAN),
                *(option for producer in producers for option in ("--from-database", producer)),
            )
        )
        assert sum(each["events"] for each in replayed) > 0, replayed
        requests = [*before, *after, *await while_down, *await driver.run(1)]
    finally:
        await driver.close()

    tally = await settle_and_count(chaos, requests, timeout=90)
    [row] = await chaos.query("review", "SELECT count(*) AS n FROM reviews WHERE status = 'approved'")
    assert row["n"] == len(requests), "every request has its review again, approved by policy"
    assert tally.counted == len(requests)
