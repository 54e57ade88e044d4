"""The system under test: the four services and the courier simulator as processes (tests/e2e/system.py), each
service on a PostgreSQL database of its own, with automatic approval of every type, the simulated courier
delivering at once, notices to citizens off and logs at WARNING."""

import json
from pathlib import Path

from bench.citizens import TYPES
from bench.infra import sqlalchemy_url
from tests.e2e.system import SERVICES, System

BENCH_ENV = {
    "REVIEW_AUTO_APPROVE_TYPES": json.dumps(list(TYPES)),
    "INTAKE_NOTIFICATIONS_ENABLED": "false",
    "SIMULATOR_STEP_SECONDS": "0",
    "SHIPPING_TRACKING_INTERVAL": "1",
    # The bench's citizens are made up by the thousand (bench/citizens.py), so the register would know none of them
    # and its pre-checks would hold every request for a person: the bench measures the pipeline without a register.
    "REVIEW_REGISTER_URL": "",
    "INTAKE_REGISTER_URL": "",
} | {f"{service.upper()}_LOG_LEVEL": "WARNING" for service in SERVICES}


def bench_system(
    workdir: Path, amqp_url: str, database_dsns: dict[str, str], broker_env: dict[str, str] | None = None
) -> System:
    """`broker_env`: each service's broker user (see Infrastructure.service_env)."""
    workdir.mkdir(parents=True, exist_ok=True)
    return System(
        workdir=workdir,
        amqp_url=amqp_url,
        database_urls={service: sqlalchemy_url(dsn) for service, dsn in database_dsns.items()},
        extra_env=(broker_env or {}) | BENCH_ENV,
    )
