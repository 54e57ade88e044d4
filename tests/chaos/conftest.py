"""Fixtures for the chaos suite: a whole system per module (own vhost, own PostgreSQL databases), stopped in a
finally whatever happens; a driver per test."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from ..e2e.system import MODULES, SERVICES, System
from .harness import CHAOS_ENV, Chaos, Driver

MakeChaos = Callable[..., Awaitable[Chaos]]


@pytest.fixture(scope="module")
async def make_chaos(rabbitmq, postgres, tmp_path_factory) -> AsyncIterator[MakeChaos]:  # type: ignore[no-untyped-def]
    """Starts systems on demand: `await make_chaos("name", env={...}, replicas={"review": 3})`."""
    started: list[Chaos] = []

    async def make(name: str, *, env: dict[str, str] | None = None, replicas: dict[str, int] | None = None) -> Chaos:
        workdir = tmp_path_factory.mktemp(f"chaos-{name}")
        databases = {service: await postgres.create() for service in SERVICES}
        system = System(
            workdir=workdir,
            amqp_url=rabbitmq.create(),
            database_urls=databases,
            extra_env=rabbitmq.service_env() | CHAOS_ENV | (env or {}),
        )
        chaos = Chaos(system, amqp_admin_url=rabbitmq.impersonator_url(system.amqp_url), broker_user=rabbitmq.user)
        started.append(chaos)
        for process in MODULES:
            system.start(process)
        for service, count in (replicas or {}).items():
            for index in range(2, count + 1):
                system.start_replica(service, index)
        # Replicas start with the rest, as under `docker compose up --scale`: their migrations meet at start.
        await asyncio.gather(*(system.wait_ready(process, timeout=120) for process in list(system.processes)))
        return chaos

    try:
        yield make
    finally:
        for chaos in started:
            chaos.system.stop_all()
            rabbitmq.delete(chaos.system.amqp_url)
            await chaos.close()


@pytest.fixture
async def driver(chaos: Chaos) -> AsyncIterator[Driver]:
    driver = Driver(chaos)
    try:
        yield driver
    finally:
        await driver.close()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "chaos: fault injection against the whole system (tests/chaos)")
