"""The infrastructure failing under the services: RabbitMQ restarted mid-stream, connections closed by the
broker, a service's database refusing connections for a while.

Batches are 30–50 requests, not a few hundred: on this 2-core machine the services process about three
requests a second end to end, and the suite must stay within its 8-minute budget. RabbitMQ is the machine's
shared broker: it is restarted once, restored in a finally, and a detached watchdog starts it again should
this process die while it is stopped. PostgreSQL is shared too, but only the test's own database is closed.
"""

import asyncio
import json
import time
from typing import Any

import asyncpg
import httpx
import pytest

from ..e2e.system import SERVICES
from . import broker
from .harness import ADMIN, Chaos, Driver, Tracked, settle_and_count

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]

SUBSCRIPTION_QUEUES = (
    "dukcapil.intake.lifecycle",
    "dukcapil.review.requests",
    "dukcapil.documents.approvals",
    "dukcapil.shipping.requests",
    "dukcapil.shipping.documents",
)
BACK_WITHIN = 30.0
BROKER_DOWN = 8.0
SUBMIT_TIMEOUT = 5.0


# Review retries a failed event for 15.75 s in all, about twice the database outage below (the production delays
# retry for 12.6 minutes: a one-minute outage is well inside them).
REVIEW_RETRIES_MS = [250, 500, 1000, 2000, 4000, 8000]
DATABASE_OUTAGE = 8.0


@pytest.fixture(scope="module")
async def chaos(make_chaos) -> Chaos:  # type: ignore[no-untyped-def]
    return await make_chaos("infrastructure-faults", env={"REVIEW_RETRY_DELAYS_MS": json.dumps(REVIEW_RETRIES_MS)})


async def _ready(chaos: Chaos, name: str, client: httpx.AsyncClient) -> bool:
    try:
        return (await client.get(chaos.system.url(name) + "/readyz")).status_code == 200
    except httpx.TransportError:
        return False


async def _all_back(chaos: Chaos, timeout: float) -> dict[str, float]:
    """Seconds until each service's /readyz said ready again (broker, database and consumers)."""
    started = time.monotonic()
    back: dict[str, float] = {}
    async with httpx.AsyncClient(timeout=3) as client:
        while len(back) < len(SERVICES) and time.monotonic() - started < timeout:
            for name in SERVICES:
                if name not in back and await _ready(chaos, name, client):
                    back[name] = time.monotonic() - started
            await asyncio.sleep(0.5)
    return back


def _consumers_attached(chaos: Chaos) -> dict[str, int]:
    stats = broker.queue_stats(chaos.amqp_url)
    return {queue: stats[queue].consumers if queue in stats else 0 for queue in SUBSCRIPTION_QUEUES}


async def _wait_consumers(chaos: Chaos, timeout: float) -> dict[str, int]:
    """Consumers per subscription queue, once every queue has one again (or as they are when time is up)."""
    deadline = time.monotonic() + max(timeout, 1.0)
    while True:
        consumers = await asyncio.to_thread(_consumers_attached, chaos)
        if all(consumers.values()) or time.monotonic() > deadline:
            return consumers
        await asyncio.sleep(1.0)


@pytest.mark.timeout(300)
async def test_rabbitmq_restart_mid_stream_loses_no_event_and_consumers_return(chaos: Chaos, driver: Driver) -> None:
    """stop_app/start_app while requests stream in: submissions are kept (201) or refused fast (503), never
    hang; every service is ready again within 30 s; every request, those taken during the outage too, ends
    final once."""
    batch = driver.start(45, concurrency=3)
    watchdog = None
    probes: list[tuple[int | None, float, Tracked | None]] = []
    unready_while_down: list[str] = []
    try:
        await driver.wait_submitted(12)
        watchdog = broker.rabbitmqctl_later(90, "start_app")
        await asyncio.to_thread(broker.stop_broker)
        stopped = time.monotonic()
        try:
            probes = [await driver.submit_once(timeout=SUBMIT_TIMEOUT + 5) for _ in range(5)]
            async with httpx.AsyncClient(timeout=5) as client:
                ready = await asyncio.gather(*(_ready(chaos, name, client) for name in SERVICES))
            unready_while_down = [name for name, is_ready in zip(SERVICES, ready, strict=True) if not is_ready]
            await asyncio.sleep(BROKER_DOWN - (time.monotonic() - stopped))  # submissions go on meanwhile
        finally:
            await asyncio.to_thread(broker.start_broker)
            await broker.wait_broker_accepts(chaos.amqp_url)
        returned = time.monotonic()
        back = await _all_back(chaos, timeout=BACK_WITHIN)
        consumers = await _wait_consumers(chaos, timeout=BACK_WITHIN - (time.monotonic() - returned))
        requests = await asyncio.wait_for(batch, 180)
    finally:
        if not batch.done():
            batch.cancel()
        if watchdog is not None:
            watchdog.kill()
            watchdog.wait()
        if not await asyncio.to_thread(broker.broker_running):
            await asyncio.to_thread(broker.start_broker)
        await chaos.ensure_running()

    answers = [(status, round(seconds, 2)) for status, seconds, _ in probes]
    assert len(answers) == 5, f"the outage probes did not run: {answers}"
    hung = [answer for answer in answers if answer[0] is None or answer[1] > SUBMIT_TIMEOUT]
    assert not hung, f"POST /requests hung while the broker was down: {answers}"
    wrong = [answer for answer in answers if answer[0] not in (201, 503)]
    assert not wrong, f"POST /requests while the broker was down answered neither 201 nor 503: {answers}"
    assert unready_while_down == list(SERVICES), f"only {unready_while_down} said unready without the broker"
    assert set(back) == set(SERVICES), (
        f"not ready {BACK_WITHIN}s after the broker returned: {set(SERVICES) - set(back)}"
    )
    assert all(consumers.values()), f"consumers missing {BACK_WITHIN}s after the broker returned: {consumers}"
    kept = [tracked for _, _, tracked in probes if tracked is not None]  # accepted during the outage
    await settle_and_count(chaos, requests + kept, timeout=150)


@pytest.mark.timeout(240)
async def test_connections_closed_by_the_broker_come_back_and_consume(chaos: Chaos, driver: Driver) -> None:
    """rabbitmqctl close_connection for every service's connection: each reconnects, its consumers attach
    again, and the requests submitted afterwards complete."""
    before = await driver.run(6, concurrency=3)
    closed = {name: await asyncio.to_thread(broker.close_connections, chaos.amqp_url, name) for name in SERVICES}
    assert all(closed.values()), f"no connection of these services to close: {closed}"

    async def reconnected() -> bool:
        names = {c["client_name"] for c in await asyncio.to_thread(broker.connections, chaos.amqp_url)}
        return set(SERVICES) <= names and all((await asyncio.to_thread(_consumers_attached, chaos)).values())

    await chaos.wait_until("every service connected and consuming again", reconnected, timeout=BACK_WITHIN)
    after = await driver.run(24, concurrency=3)
    await settle_and_count(chaos, before + after)


async def _allow_connections(chaos: Chaos, service: str, allowed: bool) -> None:
    """ALTER DATABASE ... ALLOW_CONNECTIONS, and when closing, end every session the service has open."""
    server, name = chaos.dsn(service).rsplit("/", 1)
    connection = await asyncpg.connect(f"{server}/postgres")
    try:
        await connection.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allowed).lower()}')
        if not allowed:
            await connection.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                name,
            )
    finally:
        await connection.close()


async def _readiness_during(chaos: Chaos, name: str, seconds: float) -> dict[str, Any]:
    """What /readyz says once it says unready, or at the end of `seconds`."""
    deadline = time.monotonic() + seconds
    async with httpx.AsyncClient(timeout=10) as client:
        while True:
            response = await client.get(chaos.system.url(name) + "/readyz")
            if response.status_code != 200 or time.monotonic() > deadline:
                return {"status": response.status_code, **response.json()}
            await asyncio.sleep(0.1)


@pytest.mark.timeout(240)
async def test_database_refusing_connections_for_a_while_loses_nothing(chaos: Chaos, driver: Driver) -> None:
    """Review's database refuses connections for 8 s while requests stream in (its sessions are terminated):
    review reports unready, retries what fails, is ready again after, and every request completes, with nothing
    parked as a dead letter."""
    batch = driver.start(24, concurrency=3)
    try:
        await driver.wait_submitted(5)
        await _allow_connections(chaos, "review", False)
        began = time.monotonic()
        try:
            during = await _readiness_during(chaos, "review", DATABASE_OUTAGE / 2)
            await asyncio.sleep(max(0.0, DATABASE_OUTAGE - (time.monotonic() - began)))  # the outage goes on
        finally:
            await _allow_connections(chaos, "review", True)
        await chaos.system.wait_ready("review", timeout=30)
        requests = await asyncio.wait_for(batch, 180)
    finally:
        if not batch.done():
            batch.cancel()
    assert during["status"] == 503 and during["checks"]["database"] is False, f"review during the outage: {during}"
    await settle_and_count(chaos, requests)
    response = await chaos.http.get(
        chaos.system.url("review") + "/dead-letters",
        params={"status": "parked", "limit": 1000},
        headers=ADMIN,
    )
    mine = {tracked.id for tracked in requests}
    parked = [letter for letter in response.json() if letter["subject"] in mine]
    assert not parked, f"review parked events of the batch instead of retrying them: {parked}"
