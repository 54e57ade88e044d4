"""What a request leaves behind: each service's database rows and bytes, the events it published (outbox rows) and
consumed (inbox rows, and at intake the other stages' steps in its history), their size, and the files kept
(docs/capacity.md takes its figures from here).

    python -m bench.footprint --requests 150

N requests go through the four services as in `make bench` (bench's citizens, automatic approval, the simulated
courier delivering at once), each service on a fresh PostgreSQL database of its own, with the population register
left out (its simulator knows none of bench's people). Once all are shipped and the last events have settled, each
table is compared with the empty schema. Prints a JSON document; the vhost and databases are removed at the end.
"""

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg

from bench.citizens import Citizens
from bench.infra import Infrastructure
from bench.pipeline import Submitter, Tracker, submit_many, wait_all_shipped
from bench.system import bench_system
from tests.e2e.system import SERVICES

TABLES = """
select c.relname, pg_total_relation_size(c.oid) as total
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where n.nspname = 'public' and c.relkind = 'r'
"""


async def snapshot(dsn: str) -> dict[str, Any]:
    """Each table's rows and bytes (with its indexes and TOAST), the database's size, and the events' average size."""
    connection = await asyncpg.connect(dsn)
    try:
        tables = {}
        for name, total in await connection.fetch(TABLES):
            rows = await connection.fetchval(f'select count(*) from "{name}"')
            tables[name] = {"rows": rows, "bytes": total}
        # Intake's lifecycle subscription keeps no inbox rows: the other stages' steps in its requests' history are
        # the events it consumed.
        learned = "select count(*) from request_history where stage <> 'intake'"
        return {
            "tables": tables,
            "database_bytes": await connection.fetchval("select pg_database_size(current_database())"),
            "event_bytes": float(await connection.fetchval("select coalesce(avg(octet_length(body)), 0) from outbox")),
            "learned": await connection.fetchval(learned) if "request_history" in tables else 0,
        }
    finally:
        await connection.close()


def per_request(before: dict[str, Any], after: dict[str, Any], requests: int) -> dict[str, Any]:
    def grown(table: str, what: str) -> float:
        return (after["tables"][table][what] - before["tables"].get(table, {what: 0})[what]) / requests

    rows = {table: round(grown(table, "rows"), 2) for table in after["tables"] if grown(table, "rows")}
    lifecycle = round((after.get("learned", 0) - before.get("learned", 0)) / requests, 2)
    return {
        "rows": round(sum(rows.values()), 1),
        "rows_by_table": rows,
        "table_bytes": round(sum(grown(table, "bytes") for table in after["tables"])),
        "database_bytes": round((after["database_bytes"] - before["database_bytes"]) / requests),
        "events_published": rows.get("outbox", 0.0),
        "events_consumed": round(rows.get("inbox", 0.0) + lifecycle, 2),
        "event_bytes": round(after["event_bytes"]),
    }


def folder_sizes(workdir: Path) -> dict[str, int]:
    """The bytes in each folder the system wrote files to (documents' PDFs, the courier's data...)."""
    return {
        folder.name: sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
        for folder in workdir.iterdir()
        if folder.is_dir()
    }


async def measure(requests: int, settle_seconds: float) -> dict[str, Any]:
    infra = Infrastructure()
    workdir = Path(tempfile.mkdtemp(prefix="dukcapil-footprint-"))
    await asyncio.to_thread(infra.create_vhost)
    try:
        dsns = {service: await infra.create_database(service) for service in SERVICES}
        system = bench_system(workdir, infra.amqp_url, dsns, infra.service_env())
        try:
            await system.start_all()
            before = {service: await snapshot(dsns[service]) for service in SERVICES}
            tracker = Tracker(dsns["intake"])
            await tracker.start()
            submitter = Submitter(system.url("intake"), Citizens(courier_share=0.2, serial_start=90_000), tracker)
            try:
                started = time.monotonic()
                submitted = await submit_many(submitter, requests, concurrency=8)
                shipped = await wait_all_shipped(tracker, submitted, timeout=max(600.0, requests * 3.0))
                elapsed = time.monotonic() - started
                await asyncio.sleep(settle_seconds)  # the courier's last milestones and the relays
            finally:
                await tracker.stop()
                await submitter.close()
            after = {service: await snapshot(dsns[service]) for service in SERVICES}
            files = await asyncio.to_thread(folder_sizes, workdir)
        finally:
            system.stop_all()
    finally:
        await infra.drop_all()
    count = len(submitted)
    return {
        "requests": count,
        "all_shipped": shipped,
        "failures": submitter.errors,
        "seconds": round(elapsed),
        "per_request": {service: per_request(before[service], after[service], count) for service in SERVICES},
        "file_bytes_per_request": {name: round(size / count) for name, size in files.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="Database rows and bytes, events and files per request")
    parser.add_argument("--requests", type=int, default=150)
    parser.add_argument("--settle-seconds", type=float, default=20.0)
    args = parser.parse_args()
    if args.requests < 1:
        parser.error("--requests must be at least 1")
    result = asyncio.run(measure(args.requests, args.settle_seconds))
    json.dump(result, sys.stdout, indent=2)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
