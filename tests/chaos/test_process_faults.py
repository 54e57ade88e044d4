"""Processes dying under load: kill -9 of each stage in turn, and SIGTERM of documents.

Batches are 45 requests per scenario, not the few hundred of the issue: on this 2-core machine documents
renders and signs about three PDFs a second, so 45 requests already keep every stage busy for the length of
the fault, and the whole chaos suite stays within its 8-minute budget.
"""

import asyncio
import signal
import time

import pytest

from .harness import Chaos, Driver, Tracked, settle_and_count

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]

BATCH = 45


@pytest.fixture(scope="module")
async def chaos(make_chaos) -> Chaos:  # type: ignore[no-untyped-def]
    return await make_chaos("process-faults")


async def _finish(chaos: Chaos, batch: "asyncio.Task[list[Tracked]]", timeout: float = 180) -> list[Tracked]:
    try:
        return await asyncio.wait_for(batch, timeout)
    finally:
        if not batch.done():
            batch.cancel()


async def _wait_for_unpublished_outbox(chaos: Chaos, service: str, timeout: float) -> int:
    """Poll until the service has committed outbox rows its relay has not published yet (or time is up)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (pending := await chaos.pending_outbox(service)) > 0:
            return pending
    return 0


@pytest.mark.timeout(300)
async def test_kill_9_intake_while_submissions_stream_in_loses_nothing(chaos: Chaos, driver: Driver) -> None:
    """kill -9 intake when its outbox holds committed, unpublished events; the relay publishes them after the
    restart. Every request that got a 201 (the driver retries with its Idempotency-Key) ends final, once."""
    batch = driver.start(BATCH, concurrency=4)
    caught: list[int] = []
    try:
        for kill in range(3):
            await driver.wait_submitted(8 + 15 * kill)
            await _wait_for_unpublished_outbox(chaos, "intake", timeout=5)
            chaos.system.kill("intake")
            caught.append(await chaos.pending_outbox("intake"))  # rows committed but never published
            await asyncio.sleep(1.0)  # submissions meet a dead intake meanwhile
            chaos.system.start("intake")
            await chaos.system.wait_ready("intake", timeout=60)
            if caught[-1] > 0:
                break
        requests = await _finish(chaos, batch)
    finally:
        await chaos.ensure_running()
    assert any(caught), f"no kill caught an event between commit and publish (unpublished rows at kills: {caught})"
    assert sum(driver.failed_calls.values()) > 0, "the driver never met the dead intake: the fault missed"
    await settle_and_count(chaos, requests)


@pytest.mark.timeout(300)
async def test_kill_9_review_documents_shipping_in_turn_loses_and_doubles_nothing(chaos: Chaos, driver: Driver) -> None:
    """Each downstream stage is killed with work in flight, then restarted: every request ends final with one
    document and one shipment, and every courier parcel has the one airway bill the courier gave its order."""
    documents = await chaos.count_rows("documents", "documents")
    shipments = await chaos.count_rows("shipping", "shipments")
    batch = driver.start(BATCH, concurrency=3)
    try:
        await driver.wait_submitted(10)
        await chaos.restart("review")

        await chaos.wait_until("documents at work", lambda: _at_least(chaos, "documents", "documents", documents + 8))
        await chaos.restart("documents")

        # Shipping is killed while it has parcels waiting for the courier's airway bill, if it can be caught.
        await chaos.wait_until("shipping at work", lambda: _at_least(chaos, "shipping", "shipments", shipments + 15))
        await _wait_for_booking(chaos, timeout=8)
        await chaos.restart("shipping")
        requests = await _finish(chaos, batch)
    finally:
        await chaos.ensure_running()
    tally = await settle_and_count(chaos, requests)
    await _assert_one_airway_bill_per_order(chaos, tally.shipments)


async def _at_least(chaos: Chaos, service: str, table: str, rows: int) -> bool:
    return await chaos.count_rows(service, table) >= rows


async def _wait_for_booking(chaos: Chaos, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        [row] = await chaos.query("shipping", "SELECT count(*) AS n FROM shipments WHERE status = 'booking'")
        if row["n"]:
            return
        await asyncio.sleep(0.05)


async def _assert_one_airway_bill_per_order(chaos: Chaos, shipments: dict[str, dict]) -> None:
    airway_bills = [s["airway_bill"] for s in shipments.values() if s["airway_bill"]]
    assert len(airway_bills) == len(set(airway_bills)), "two shipments share an airway bill"
    for request_id, shipment in shipments.items():
        if shipment["method"] != "courier":
            continue
        order = await chaos.get("simulator", f"/simulator/orders/{request_id}")
        assert order["parcel"]["cnote"]["cnote_no"] == shipment["airway_bill"], (
            f"{request_id}: shipping recorded {shipment['airway_bill']}, the courier has {order['parcel']}"
        )


@pytest.mark.timeout(300)
async def test_sigterm_documents_under_load_finishes_or_requeues_and_redoes_nothing(
    chaos: Chaos, driver: Driver
) -> None:
    """SIGTERM documents with approvals queued and in hand: it stops within its graceful timeout; what it had
    not finished is processed after the restart, and no request gets a second document (or number)."""
    documents = await chaos.count_rows("documents", "documents")
    batch = driver.start(BATCH, concurrency=4)
    try:
        await chaos.wait_until("documents at work", lambda: _at_least(chaos, "documents", "documents", documents + 10))
        started = time.monotonic()
        chaos.system.stop("documents", signal.SIGTERM, timeout=30)
        stopped_in = time.monotonic() - started
        log = chaos.system.log_tail("documents", 40)
        issued_at_stop = await chaos.count_rows("documents", "documents") - documents
        chaos.system.start("documents")
        await chaos.system.wait_ready("documents", timeout=60)
        requests = await _finish(chaos, batch)
    finally:
        await chaos.ensure_running()
    assert stopped_in < 15, f"documents took {stopped_in:.1f}s to stop on SIGTERM (graceful timeout 10s)"
    assert "service_stopped" in log, f"documents did not stop gracefully:\n{log}"
    tally = await settle_and_count(chaos, requests)
    assert issued_at_stop < len(requests), "SIGTERM came after all the work: it tested nothing"
    numbers = [document["number"] for document in tally.documents.values()]
    assert len(numbers) == len(set(numbers)), "a document number was given twice"
