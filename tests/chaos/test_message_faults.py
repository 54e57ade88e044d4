"""Messages misbehaving: every event delivered twice, poison messages, a courier failing K times, events out of
order and for requests nobody knows; and, last, three replicas of review and of documents consuming at once.

Batches are 16–45 requests, not a few hundred: on this 2-core machine the services process about three
requests a second end to end, and the suite must stay within its 8-minute budget. The scenarios share one
system to save its start (they count only their own request ids, and none of them stops a service); the
replicas are started by the last scenario and stopped at its end.
"""

import asyncio
import re
import uuid
from collections import defaultdict
from datetime import UTC, datetime

import pytest

from dukcapil_shared.contracts import (
    AttachmentAdded,
    AttachmentRef,
    Envelope,
    ReviewStarted,
    ShipmentDelivered,
)

from . import broker
from .harness import Chaos, Driver, Tracked, settle_and_count, side_effects, wait_dead_letter

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]

INTAKE_QUEUE = "dukcapil.intake.lifecycle"
RETRIES = 5  # System's FAST retry delays: [200, 500, 1000, 2000, 4000] ms
REPLICAS = 3
NUMBER = re.compile(r"^(?P<code>[A-Z]+)/3602/(?P<year>\d{4})/(?P<sequence>\d{6})$")
SOURCE = "/dukcapil/lebak/chaos-test"


@pytest.fixture(scope="module")
async def chaos(make_chaos) -> Chaos:  # type: ignore[no-untyped-def]
    return await make_chaos("message-faults")


def _envelope(event: object) -> tuple[str, bytes]:
    envelope = Envelope.wrap(event, source=SOURCE)  # type: ignore[arg-type]
    return str(envelope.id), envelope.model_dump_json().encode()


@pytest.mark.timeout(300)
async def test_every_event_delivered_twice_has_one_side_effect(chaos: Chaos, driver: Driver) -> None:
    """A copy of every event on the exchange is kept, and after the batch has settled each is published again
    (same body and message id). No request gains a row anywhere: no history entry, document, shipment, tracking
    step, audit entry or downstream event."""
    capture = f"chaos.capture-{uuid.uuid4().hex[:6]}"
    async with broker.Amqp(chaos.amqp_admin_url) as amqp:
        await amqp.capture(capture, ["#"])
    requests = await driver.run(30, concurrency=4)
    await settle_and_count(chaos, requests)
    before = await side_effects(chaos, requests)

    async with broker.Amqp(chaos.amqp_admin_url) as amqp:
        captured = await amqp.drain(capture)
        assert amqp.channel is not None
        await amqp.channel.queue_delete(capture)
        for message in captured:
            await amqp.publish(
                message.body,
                message.routing_key or "",
                message_id=message.message_id or "",
                headers=dict(message.headers or {}),
                correlation_id=message.correlation_id,
                content_type=message.content_type,
                message_type=message.type,
                user_id=message.user_id,  # as its publisher sent it
            )
    mine = {tracked.id for tracked in requests}
    copied = [m for m in captured if m.correlation_id in mine]
    least = sum(len(tracked.expected_events) for tracked in requests)
    assert len(copied) >= least, f"only {len(copied)} events of {len(requests)} requests were copied"

    # A request submitted after the copies passes every queue behind them: once it is final, they were consumed.
    sentinel = await driver.run(1)
    await settle_and_count(chaos, requests + sentinel)
    after = await side_effects(chaos, requests)
    changed = {what: (before[what], after[what]) for what in before if before[what] != after[what]}
    assert not changed, f"second deliveries had effects (before, after): {changed}"


@pytest.mark.timeout(240)
async def test_poison_messages_are_dead_lettered_and_the_rest_flow_on(chaos: Chaos, driver: Driver) -> None:
    """A malformed body to documents' approvals, and a scan for a request review never heard of (its handler
    fails every time): the first is dead-lettered at once, the second after the retries run out, each with its
    error and attempt count; the batch behind them completes."""
    malformed_id = str(uuid.uuid4())
    unknown = AttachmentAdded(
        request_id=uuid.uuid4(),
        attachment=AttachmentRef(
            id=str(uuid.uuid4()), kind="kk_lama", content_type="application/pdf", size=9, sha256="0" * 64
        ),
    )
    unknown_id, unknown_body = _envelope(unknown)
    async with broker.Amqp(chaos.amqp_admin_url) as amqp:
        await amqp.publish(
            b'{"specversion": "1.0", "type": "request.approved.v1", "data": {',
            "request.approved.v1",
            message_id=malformed_id,
        )
        await amqp.publish(
            unknown_body, "request.attachment_added.v1", message_id=unknown_id, user_id=chaos.broker_user("intake")
        )
    requests = await driver.run(30, concurrency=4)

    malformed = await wait_dead_letter(chaos, "documents", malformed_id)
    assert "malformed" in str(malformed["error"]) and int(malformed["attempts"]) == 1, malformed
    exhausted = await wait_dead_letter(chaos, "review", unknown_id)
    assert int(exhausted["attempts"]) == RETRIES + 1, exhausted
    assert "LookupError" in str(exhausted["error"]) and str(unknown.request_id) in str(exhausted["error"]), exhausted
    assert exhausted["first_failure_at"] and exhausted["last_failure_at"] > exhausted["first_failure_at"], exhausted
    await settle_and_count(chaos, requests)


@pytest.mark.timeout(240)
async def test_courier_answering_503_k_times_books_each_parcel_once(chaos: Chaos, driver: Driver) -> None:
    """The courier simulator answers 503 to the next K calls for half of the courier parcels: each is booked
    once it recovers, the failed booking round is recorded (booking_attempts), and there is one airway bill
    (the courier's for that order) and one shipment.created."""
    failures = 4  # more than one booking round's tries (SHIPPING_COURIER_ATTEMPTS, 3)
    scripted: set[str] = set()

    async def submit(index: int) -> Tracked:
        tracked = await driver.submit_one(courier=True)
        if index % 2 == 0:
            response = await chaos.http.post(
                chaos.system.url("simulator") + "/simulator/scripts",
                json={"order_id": tracked.id, "fail_next_requests": failures},
            )
            assert response.status_code == 201, response.text
            scripted.add(tracked.id)
        return tracked

    limit = asyncio.Semaphore(4)

    async def limited(index: int) -> Tracked:
        async with limit:
            return await submit(index)

    requests = list(await asyncio.gather(*(limited(index) for index in range(16))))
    tally = await settle_and_count(chaos, requests)

    for tracked in requests:
        shipment = tally.shipments[tracked.id]
        order = await chaos.get("simulator", f"/simulator/orders/{tracked.id}")
        assert order["parcel"]["cnote"]["cnote_no"] == shipment["airway_bill"], (tracked.id, shipment, order)
        if tracked.id in scripted:
            assert order["script"]["fail_next_requests"] == 0, f"{tracked.id}: the 503s were not all served"
            assert shipment["booking_attempts"] >= 1, f"the failed booking was not recorded: {shipment}"
        else:
            assert shipment["booking_attempts"] == 0, shipment
    airway_bills = [shipment["airway_bill"] for shipment in tally.shipments.values()]
    assert len(set(airway_bills)) == len(airway_bills), "two parcels share an airway bill"


@pytest.mark.timeout(300)
async def test_events_out_of_order_and_for_unknown_requests(chaos: Chaos, driver: Driver) -> None:
    """Intake is cut off from the exchange while a batch goes through review, documents and shipping; their
    events are held and then delivered to intake newest first (delivered before created before issued before
    approved). Every request still ends in the right final state with each event once. Events for requests
    intake never had are parked in its dead letters after the retries, not dropped."""
    held = f"chaos.intake-held-{uuid.uuid4().hex[:6]}"
    keys = await asyncio.to_thread(broker.bindings_to, chaos.amqp_url, INTAKE_QUEUE)
    assert "document.issued.v1" in keys, keys
    async with broker.Amqp(chaos.amqp_admin_url) as amqp:
        assert amqp.channel is not None
        await amqp.capture(held, keys)  # bound before intake is unbound: no event falls between the two
        intake_queue = await amqp.channel.declare_queue(INTAKE_QUEUE, passive=True)
        events = await amqp.events()
        try:
            for key in keys:
                await intake_queue.unbind(events, routing_key=key)
            requests = await driver.run(30, concurrency=4)
            await chaos.wait_until(
                "review, documents and shipping done with the batch",
                lambda: _downstream_done(chaos, requests),
                timeout=150,
                interval=1.0,
            )
        finally:
            for key in keys:
                await intake_queue.bind(events, routing_key=key)
        held_queue = await amqp.channel.declare_queue(held, durable=True)
        for key in keys:
            await held_queue.unbind(events, routing_key=key)
        captured = await amqp.drain(held)
        await amqp.channel.queue_delete(held)

        statuses = {row["id"]: row["status"] for row in await chaos.query("intake", "SELECT id, status FROM requests")}
        assert all(statuses[tracked.id] == "submitted" for tracked in requests), "intake was not cut off"
        for message in reversed(captured):
            await amqp.publish(
                message.body,
                INTAKE_QUEUE,
                exchange="",
                message_id=message.message_id or "",
                headers=dict(message.headers or {}),
                correlation_id=message.correlation_id,
                content_type=message.content_type,
                message_type=message.type,
                user_id=message.user_id,
            )
        unknown = [
            _envelope(ReviewStarted(request_id=uuid.uuid4(), automatic=True)),
            _envelope(
                ShipmentDelivered(
                    request_id=uuid.uuid4(),
                    shipment_id=uuid.uuid4(),
                    airway_bill="0000000000000000",
                    receiver_name="Nobody",
                    delivered_at=datetime.now(UTC),
                )
            ),
        ]
        publishers = (("review.started.v1", "review"), ("shipment.delivered.v1", "shipping"))
        for (event_id, body), (key, producer) in zip(unknown, publishers, strict=True):
            await amqp.publish(body, key, message_id=event_id, user_id=chaos.broker_user(producer))

    mine = {tracked.id for tracked in requests}
    least = sum(len(tracked.expected_events) - 1 for tracked in requests)  # all but intake's own submission
    assert sum(m.correlation_id in mine for m in captured) >= least, "too few events were held"
    await settle_and_count(chaos, requests)
    for event_id, _ in unknown:
        parked = await wait_dead_letter(chaos, "intake", event_id)
        assert int(parked["attempts"]) == RETRIES + 1 and "unknown to intake" in str(parked["error"]), parked


async def _downstream_done(chaos: Chaos, requests: list[Tracked]) -> bool:
    rows = await chaos.query(
        "shipping",
        "SELECT count(*) AS n FROM shipments "
        "WHERE request_id = ANY($1) AND status IN ('delivered', 'ready_for_pickup')",
        [tracked.id for tracked in requests],
    )
    if rows[0]["n"] < len(requests):
        return False
    return all([await chaos.pending_outbox(service) == 0 for service in ("review", "documents", "shipping")])


@pytest.mark.timeout(300)
async def test_three_replicas_of_review_and_documents_process_each_request_once(chaos: Chaos, driver: Driver) -> None:
    """Two more replicas each of review and documents (same databases and vhost, ports of their own): every
    replica consumes; every request is reviewed, approved and documented once; the numbers of every document
    this system ever issued are unique and without gaps for each type and year."""
    replicas = [chaos.system.start_replica(service, index) for service in ("review", "documents") for index in (2, 3)]
    try:
        await asyncio.gather(*(chaos.system.wait_ready(name, timeout=90) for name in replicas))

        async def all_consuming() -> bool:
            stats = await asyncio.to_thread(broker.queue_stats, chaos.amqp_url)
            return all(
                queue in stats and stats[queue].consumers == REPLICAS
                for queue in ("dukcapil.review.requests", "dukcapil.documents.approvals")
            )

        await chaos.wait_until(f"{REPLICAS} consumers on review's and documents' queues", all_consuming, timeout=30)
        requests = await driver.run(45, concurrency=5)
        await settle_and_count(chaos, requests, timeout=180)
    finally:
        for name in replicas:
            if name in chaos.system.processes:
                chaos.system.stop(name)

    sequences: dict[tuple[str, str], list[int]] = defaultdict(list)
    for row in await chaos.query("documents", "SELECT number FROM documents"):
        match = NUMBER.match(row["number"])
        assert match, f"unexpected document number {row['number']}"
        sequences[(match["code"], match["year"])].append(int(match["sequence"]))
    for (code, year), found in sequences.items():
        assert sorted(found) == list(range(1, len(found) + 1)), f"{code} {year}: numbers not 1..n: {sorted(found)}"
    assert len(sequences) == 4, f"expected a sequence for each of the four types: {sorted(sequences)}"
