"""Processes dying under load: kill -9 of each stage in turn, and SIGTERM of documents.

Batches are 45 requests per scenario, not the few hundred of the issue: on this 2-core machine documents
renders and signs about three PDFs a second, so 45 requests already keep every stage busy for the length of
the fault, and the whole chaos suite stays within its 8-minute budget. Killing intake is the exception: its
driver submits until intake is back, since a fixed batch can be over before the kill.
"""

import asyncio
import signal
import time

import pytest

from dukcapil_shared.runtime import STOP_MARGIN

from ..e2e.system import FAST
from . import broker
from .harness import Chaos, Driver, Tracked, settle_and_count

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]

BATCH = 45
STOPPED_WITHIN = float(FAST["GRACEFUL_TIMEOUT"]) + STOP_MARGIN


@pytest.fixture(scope="module")
async def chaos(make_chaos) -> Chaos:  # type: ignore[no-untyped-def]
    return await make_chaos("process-faults")


async def _finish(chaos: Chaos, batch: "asyncio.Task[list[Tracked]]", timeout: float = 180) -> list[Tracked]:
    try:
        return await asyncio.wait_for(batch, timeout)
    finally:
        if not batch.done():
            batch.cancel()


async def _outbox_waiting(chaos: Chaos, service: str) -> bool:
    return await chaos.pending_outbox(service) > 0


@pytest.mark.timeout(300)
async def test_kill_9_intake_with_events_committed_and_unpublished_loses_nothing(chaos: Chaos, driver: Driver) -> None:
    """RabbitMQ blocks publishers (its memory alarm) while submissions stream in: intake keeps accepting them and
    their events wait in its outbox. intake is killed -9 with those events committed and unpublished, the alarm
    is lifted and intake started again: its relay publishes them, and every request that got a 201 (the driver
    retries with its Idempotency-Key) ends final, once. The driver submits until intake is back, so that it is
    still submitting when intake dies however fast the run is."""
    intake_back = asyncio.Event()
    batch = driver.start_until(intake_back, concurrency=4)
    try:
        await driver.wait_submitted(8)
        watermark = await asyncio.to_thread(broker.memory_watermark)
        restore = broker.rabbitmqctl_later(120, "set_vm_memory_high_watermark", *watermark)
        await asyncio.to_thread(broker.block_publishers)
        try:
            await chaos.wait_until("events waiting in intake's outbox", lambda: _outbox_waiting(chaos, "intake"))
            chaos.system.kill("intake")
            caught = await chaos.pending_outbox("intake")  # committed before the kill, never published
            await chaos.wait_until("the driver meeting the dead intake", lambda: _met_dead_intake(driver))
        finally:
            await asyncio.to_thread(broker.set_memory_watermark, watermark)
            restore.kill()
            restore.wait()
        chaos.system.start("intake")
        await chaos.system.wait_ready("intake", timeout=60)
        intake_back.set()
        requests = await _finish(chaos, batch)
    finally:
        intake_back.set()
        await chaos.ensure_running()
    assert caught > 0
    await settle_and_count(chaos, requests)


async def _met_dead_intake(driver: Driver) -> bool:
    return sum(driver.failed_calls.values()) > 0


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
    """SIGTERM documents with approvals queued and in hand: it stops within its graceful timeout plus the margin
    it has to close its connections (its promise); what it had not finished is processed after the restart, and
    no request gets a second document (or number)."""
    documents = await chaos.count_rows("documents", "documents")
    batch = driver.start(BATCH, concurrency=4)
    try:
        await chaos.wait_until("documents at work", lambda: _at_least(chaos, "documents", "documents", documents + 3))
        started = time.monotonic()
        chaos.system.stop("documents", signal.SIGTERM, timeout=STOPPED_WITHIN + 30)
        stopped_in = time.monotonic() - started
        log = chaos.system.log_tail("documents", 40)
        issued_at_stop = await chaos.count_rows("documents", "documents") - documents
        chaos.system.start("documents")
        await chaos.system.wait_ready("documents", timeout=60)
        requests = await _finish(chaos, batch)
    finally:
        await chaos.ensure_running()
    assert stopped_in < STOPPED_WITHIN, f"documents took {stopped_in:.1f}s to stop on SIGTERM:\n{log}"
    assert "service_stopped" in log, f"documents did not stop by itself:\n{log}"
    assert issued_at_stop < len(requests), "SIGTERM came after all the work: it tested nothing"
    tally = await settle_and_count(chaos, requests)
    numbers = [document["number"] for document in tally.documents.values()]
    assert len(numbers) == len(set(numbers)), "a document number was given twice"
