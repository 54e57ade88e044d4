"""Baseline (a): a bare FastAPI endpoint that inserts the same row as intake's `POST /requests` into a table of
the same shape (intake's own `requests` table definition) on the same PostgreSQL server, under uvicorn as the
services run. No validation beyond JSON, no outbox, no history, no numbering: the floor for one HTTP call that
commits one row.

    BASELINE_DSN=postgresql://... BASELINE_PORT=8101 python -m bench.baseline_api
"""

import contextlib
import json
import os
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import asyncpg
import uvicorn
from fastapi import FastAPI
from sqlalchemy.dialects import postgresql
from sqlalchemy.schema import CreateIndex, CreateTable

from dukcapil_intake.requests.adapters.tables import requests as REQUESTS

INSERT = (
    "INSERT INTO requests (id, number, type, status, applicant, details, delivery, kecamatan_code, channel, "
    "submitted_at, updated_at, version, flags, required_attachments) "
    "VALUES ($1, $2, $3, 'submitted', $4, $5, $6, $7, 'online', $8, $8, 1, '[]', '[]')"
)


def schema() -> list[str]:
    """Intake's `requests` table and its indexes, as PostgreSQL DDL."""
    dialect = postgresql.dialect()
    statements = [str(CreateTable(REQUESTS).compile(dialect=dialect))]
    statements += [str(CreateIndex(index).compile(dialect=dialect)) for index in REQUESTS.indexes]
    return statements


async def create_schema(dsn: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        for statement in schema():
            await connection.execute(statement)
    finally:
        await connection.close()


def build_app(dsn: str) -> FastAPI:
    pool: asyncpg.Pool | None = None

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        nonlocal pool
        # As many connections as the services' engines may open (dukcapil_shared.db: 10 plus 10 overflow).
        pool = await asyncpg.create_pool(dsn, min_size=10, max_size=20)
        yield
        await pool.close()

    app = FastAPI(lifespan=lifespan)

    @app.post("/requests", status_code=201)
    async def submit(body: dict[str, Any]) -> dict[str, Any]:
        assert pool is not None
        request_id = str(uuid.uuid4())
        delivery = body.get("delivery") or {}
        kecamatan = delivery.get("pickup_kecamatan_code") or (delivery.get("address") or {}).get("kecamatan_code")
        now = datetime.now(UTC)
        number = f"{(kecamatan or '36.02.14').replace('.', '')}-{now:%Y%m%d}-{request_id[:8]}"
        await pool.execute(
            INSERT,
            request_id,
            number,
            body.get("type", "unknown"),
            json.dumps(body.get("applicant", {})),
            json.dumps(body.get("details", {})),
            json.dumps(delivery),
            kecamatan or "36.02.14",
            now,
        )
        return {"id": request_id, "number": number, "status": "submitted"}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main() -> None:
    app = build_app(os.environ["BASELINE_DSN"])
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ["BASELINE_PORT"]), log_config=None, access_log=False)


if __name__ == "__main__":
    main()
