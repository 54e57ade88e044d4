"""The whole system on a three-node RabbitMQ cluster loses the node that leads its busiest queues mid-flow.

The four services and the courier simulator run as processes against the cluster (AMQP_URL names the three nodes),
with automatic approval. While a batch of requests streams in, the node leading most of the subscription queues
(the one holding most messages at that moment breaks a tie) is killed with SIGKILL. The quorum queues, with a
member on every node, elect new leaders on the two others; the services connected to the dead node move to a live
one and their consumers and outbox relays carry on. Every request must then end in its final state with exactly
one document and one shipment, each event of its lifecycle once, and nothing dead-lettered anywhere.
"""

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from dukcapil_testing.rabbitmq_cluster import Node, RabbitCluster

from ..chaos.harness import ADMIN, CHAOS_ENV, Chaos, Driver, Tracked, count
from ..e2e.system import MODULES, SERVICES, System
from .conftest import VHOST

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

SUBSCRIPTION_QUEUES = (
    "dukcapil.intake.lifecycle",
    "dukcapil.review.requests",
    "dukcapil.documents.approvals",
    "dukcapil.shipping.requests",
    "dukcapil.shipping.documents",
)
REQUESTS = 30
KILLED_AFTER = 10
"""Requests submitted before the node dies; the rest are submitted while and after it goes."""
STARTUP_TIMEOUT = 240


@pytest.fixture(scope="module")
async def cluster_system(
    rabbitmq_cluster: RabbitCluster, service_broker_env: dict[str, str], postgres: Any, tmp_path_factory: Any
) -> AsyncIterator[Chaos]:
    databases = {service: await postgres.create() for service in SERVICES}
    system = System(
        workdir=tmp_path_factory.mktemp("cluster-system"),
        amqp_url=rabbitmq_cluster.amqp_urls(VHOST),
        database_urls=databases,
        extra_env=service_broker_env | CHAOS_ENV,
    )
    chaos = Chaos(system)
    try:
        for name in MODULES:
            system.start(name)
        # Five processes importing, migrating and connecting at once on a busy two-core machine.
        await asyncio.gather(*(system.wait_ready(name, timeout=STARTUP_TIMEOUT) for name in MODULES))
        yield chaos
    finally:
        system.stop_all()
        await chaos.close()


def _queues(cluster: RabbitCluster) -> dict[str, dict[str, Any]]:
    return {queue["name"]: queue for queue in cluster.queues(VHOST)}


def _busiest_leader(queues: dict[str, dict[str, Any]]) -> str:
    """The node leading most subscription queues; of two leading as many, the one whose queues hold more."""
    led = Counter(queues[name]["leader"] for name in SUBSCRIPTION_QUEUES)
    held = Counter[str]()
    for name in SUBSCRIPTION_QUEUES:
        held[queues[name]["leader"]] += queues[name]["messages"]
    return max(led, key=lambda node: (led[node], held[node]))


async def _at_rest(chaos: Chaos, cluster: RabbitCluster, requests: list[Tracked], timeout: float) -> float:
    """Wait until every request is final, every outbox published and every queue but the dead letters' empty;
    the seconds it took (on timeout the count says what is missing)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        rows = await chaos.query("intake", "SELECT id, status FROM requests")
        statuses = {str(row["id"]): row["status"] for row in rows}
        if all(statuses.get(tracked.id) == tracked.final_status for tracked in requests):
            outboxes = [await chaos.pending_outbox(service) for service in SERVICES]
            queues = await asyncio.to_thread(_queues, cluster)
            queued = {
                name: queue["messages"]
                for name, queue in queues.items()
                if queue["messages"] and not name.endswith(".dead-letter")
            }
            if not any(outboxes) and not queued:
                break
        await asyncio.sleep(0.5)
    return time.monotonic() - started


def _placement(queues: dict[str, dict[str, Any]]) -> dict[str, str]:
    return {
        name: f"{queue.get('type')} {queue.get('state')}, {queue['messages']} messages, leader {queue['leader']}, "
        f"online {sorted(queue['online'])}"
        for name, queue in queues.items()
    }


async def _every_member_online(cluster: RabbitCluster, nodes: list[str], timeout: float) -> None:
    """A queue just declared starts its members on the other nodes in the background: the test kills a node only
    once every member runs, so that losing one leaves each queue its majority."""
    deadline = time.monotonic() + timeout
    while True:
        queues = await asyncio.to_thread(_queues, cluster)
        if all(sorted(queue["online"]) == nodes for queue in queues.values()):
            return
        assert time.monotonic() < deadline, f"members not all running after {timeout:g} s: {_placement(queues)}"
        await asyncio.sleep(1.0)


async def _parked_dead_letters(chaos: Chaos) -> dict[str, list[dict[str, Any]]]:
    parked = {}
    async with httpx.AsyncClient(timeout=15) as client:
        for service in SERVICES:
            response = await client.get(
                chaos.system.url(service) + "/dead-letters", params={"status": "parked"}, headers=ADMIN
            )
            assert response.status_code == 200, f"{service} /dead-letters: {response.status_code} {response.text}"
            parked[service] = response.json()
    return parked


@pytest.mark.timeout(300)
async def test_killing_the_node_that_leads_the_busiest_queues_loses_and_doubles_nothing(
    rabbitmq_cluster: RabbitCluster, cluster_system: Chaos
) -> None:
    cluster, chaos = rabbitmq_cluster, cluster_system
    everywhere = sorted(node.name for node in cluster.nodes)
    queues = await asyncio.to_thread(_queues, cluster)
    assert set(SUBSCRIPTION_QUEUES) <= set(queues), f"queues missing: {sorted(queues)}"
    # Every queue the services declared (subscriptions, delays, dead letters), by RabbitMQ's defaults alone.
    spread = {name: sorted(queue["members"]) for name, queue in queues.items()}
    assert all(members == everywhere for members in spread.values()), f"members are not on every node: {spread}"
    await _every_member_online(cluster, everywhere, timeout=60)

    driver = Driver(chaos, courier_every=3)
    batch = driver.start(REQUESTS, concurrency=3)
    try:
        await driver.wait_submitted(KILLED_AFTER)
        queues = await asyncio.to_thread(_queues, cluster)
        victim: Node = cluster.node_named(_busiest_leader(queues))
        leaders_before = {name: queues[name]["leader"] for name in SUBSCRIPTION_QUEUES}
        cluster.kill(victim)
        killed_at = time.monotonic()
        requests = await asyncio.wait_for(batch, 180)
    finally:
        if not batch.done():
            batch.cancel()
        await driver.close()

    settled_in = await _at_rest(chaos, cluster, requests, timeout=150)
    tally = await count(chaos, requests)
    tally.settled_in = settled_in
    queues = await asyncio.to_thread(_queues, cluster)
    assert tally.clean, f"{tally.describe()}\nqueues after killing {victim.name}: {_placement(queues)}"

    leaders_after = {name: queues[name]["leader"] for name in SUBSCRIPTION_QUEUES}
    assert victim.name not in leaders_after.values(), f"{victim.name} was killed but still leads: {leaders_after}"
    parked = await _parked_dead_letters(chaos)
    assert not any(parked.values()), f"dead letters after the failover: {parked}"
    dead_letter_queues = {name: queue["messages"] for name, queue in queues.items() if name.endswith(".dead-letter")}
    assert not any(dead_letter_queues.values()), f"messages in the dead-letter queues: {dead_letter_queues}"
    print(  # the figures the docs quote (pytest -s)
        f"cluster formed in {cluster.started_in:.1f} s; killed {victim.name} (leader of "
        f"{sum(leader == victim.name for leader in leaders_before.values())} of {len(SUBSCRIPTION_QUEUES)} "
        f"subscription queues) after {KILLED_AFTER} submissions; {len(requests)} requests at rest "
        f"{time.monotonic() - killed_at:.1f} s after the kill; new leaders {leaders_after}"
    )
