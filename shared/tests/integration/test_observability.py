"""Trace context and metrics through the outbox, the relay, the real RabbitMQ and the consumer."""

import asyncio
import time
import uuid
from pathlib import Path

import aio_pika
import pytest
from faststream.rabbit import RabbitBroker, RabbitRouter
from opentelemetry.context import Context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import MetaData, select

from dukcapil_shared.contracts import Envelope, RequestCancelled, ReviewStarted
from dukcapil_shared.db import create_engine
from dukcapil_shared.messaging import (
    EVENTS_EXCHANGE,
    EventConsumer,
    OutboxRelay,
    RetryPolicy,
    ServiceTopology,
    SqlUnitOfWork,
    Subscription,
    add_dead_letter_table,
    add_messaging_tables,
)
from dukcapil_shared.observability import ServiceMetrics, Tracing
from dukcapil_shared.observability.gauges import BrokerQueueDepths, OutboxBacklog, ParkedDeadLetters
from dukcapil_shared.observability.tracing import current_traceparent

pytestmark = pytest.mark.integration

metadata = MetaData()
outbox, inbox = add_messaging_tables(metadata)
dead_letters = add_dead_letter_table(metadata)


def trace_id(traceparent: str | None) -> str:
    assert traceparent is not None
    return traceparent.split("-")[1]


@pytest.fixture(params=["sqlite", "postgresql"])
async def engine(request, tmp_path: Path, postgres):  # type: ignore[no-untyped-def]
    url = f"sqlite+aiosqlite:///{tmp_path}/probe.db" if request.param == "sqlite" else await postgres.create()
    engine = create_engine(url)
    async with engine.begin() as connection:
        await connection.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


@pytest.fixture
def exporter():  # type: ignore[no-untyped-def]
    exporter = InMemorySpanExporter()
    yield exporter
    exporter.shutdown()


@pytest.fixture
def tracing(exporter: InMemorySpanExporter):  # type: ignore[no-untyped-def]
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield Tracing(provider)
    provider.shutdown()


def unit_of_work(engine, traced: bool = True) -> SqlUnitOfWork:  # type: ignore[no-untyped-def]
    return SqlUnitOfWork(engine, outbox_table=outbox, inbox_table=inbox, source="/probe", traced=traced)


def samples(exposition: bytes) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(exposition.decode())
        for sample in family.samples
    }


async def eventually(condition, timeout: float = 15.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not (result := await condition()):
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)
    return result


async def test_one_trace_follows_a_request_through_the_outbox_the_broker_and_the_next_stage(
    engine, amqp_url, tracing, exporter
) -> None:  # type: ignore[no-untyped-def]
    tracer = tracing.provider.get_tracer("probe")
    metrics = ServiceMetrics()
    request_id = uuid.uuid4()

    # The next stage: a consumer whose handler emits an event of its own, in the same outbox for brevity.
    emitted: list[Envelope] = []

    async def start_review(uow: SqlUnitOfWork, event: RequestCancelled, _envelope: Envelope) -> None:
        emitted.append(await uow.outbox.add(ReviewStarted(request_id=event.request_id, automatic=True)))
        await uow.commit()

    topology = ServiceTopology(f"probe{uuid.uuid4().hex[:6]}")
    retry = RetryPolicy(delays_ms=(100,))
    broker = RabbitBroker(amqp_url, graceful_timeout=5, middlewares=tracing.broker_middlewares())
    consumer = EventConsumer(
        topology=topology,
        subscription=Subscription(name="cancellations", handlers={RequestCancelled: start_review}),
        unit_of_work=lambda: unit_of_work(engine),
        broker=broker,
        retry=retry,
        metrics=metrics,
    )
    router = RabbitRouter()
    consumer.attach(router)
    broker.include_router(router)
    await broker.connect()
    await topology.declare(broker, {"cancellations": ["request.cancelled.v1"]}, list(retry.delays_ms))
    await broker.start()
    probe = await aio_pika.connect_robust(amqp_url)
    try:
        channel = await probe.channel()
        exchange = await channel.declare_exchange(EVENTS_EXCHANGE.name, aio_pika.ExchangeType.TOPIC, durable=True)
        watched = await channel.declare_queue(f"probe-{uuid.uuid4().hex[:8]}", exclusive=True)
        await watched.bind(exchange, "request.cancelled.v1")

        with tracer.start_as_current_span("POST /requests"):
            submission = current_traceparent()
            async with unit_of_work(engine) as uow:
                first = await uow.outbox.add(RequestCancelled(request_id=request_id))
                await uow.commit()
        assert first.traceparent == submission

        relay = OutboxRelay(engine=engine, outbox=outbox, broker=broker, source="/probe", metrics=metrics)
        assert await relay.publish_pending() == 1
        await relay.close()
        delivered = await eventually(lambda: watched.get(no_ack=True, fail=False))
        assert trace_id(delivered.headers["traceparent"]) == trace_id(submission), "the AMQP header continues it"

        await eventually(lambda: asyncio.sleep(0, result=bool(emitted)))
        assert trace_id(emitted[0].traceparent) == trace_id(submission), "the next stage's event continues it"

        # Later, a scan upload (a trace of its own) adds an event about the same request: it joins the request's
        # trace, and the upload's span is linked to it.
        with tracer.start_as_current_span("POST /requests/{request_id}/attachments") as upload:
            async with unit_of_work(engine) as uow:
                later = await uow.outbox.add(ReviewStarted(request_id=request_id, automatic=False))
                await uow.rollback()
        assert trace_id(later.traceparent) == trace_id(submission)
        assert [format(link.context.trace_id, "032x") for link in upload.links] == [trace_id(submission)]

        spans = exporter.get_finished_spans()
        process = [span for span in spans if span.name.endswith(" process")]
        assert process and all(format(span.context.trace_id, "032x") == trace_id(submission) for span in process)
        assert process[0].attributes["cloudevents.event_type"] == "request.cancelled.v1"
        assert process[0].attributes["cloudevents.event_subject"] == str(request_id)

        found = samples((await metrics.exposition())[0])
        queue = topology.subscription_queue("cancellations").name
        processed = {("queue", queue), ("event_type", "request.cancelled.v1")}
        assert found[("dukcapil_events_handled_total", frozenset(processed | {("outcome", "processed")}))] == 1
        assert found[("dukcapil_event_stage_latency_seconds_count", frozenset(processed))] == 1
        published = frozenset({("event_type", "request.cancelled.v1"), ("outcome", "published")})
        assert found[("dukcapil_outbox_relayed_total", published)] == 1
    finally:
        await probe.close()
        await broker.stop()


async def test_without_tracing_an_event_keeps_the_traceparent_it_was_given_and_has_none_otherwise(engine) -> None:  # type: ignore[no-untyped-def]
    given = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"
    async with unit_of_work(engine, traced=False) as uow:
        explicit = await uow.outbox.add(RequestCancelled(request_id=uuid.uuid4()), traceparent=given)
        untraced = await uow.outbox.add(RequestCancelled(request_id=uuid.uuid4()))
        await uow.commit()
    assert explicit.traceparent == given and untraced.traceparent is None


async def test_consumer_outcomes_dead_letters_backlog_and_queue_depths_are_counted(engine, amqp_url) -> None:  # type: ignore[no-untyped-def]
    metrics = ServiceMetrics()
    topology = ServiceTopology(f"probe{uuid.uuid4().hex[:6]}")
    retry = RetryPolicy(delays_ms=(100,))

    async def refuse_nothing(uow: SqlUnitOfWork, event: RequestCancelled, _envelope: Envelope) -> None:
        await uow.commit()

    broker = RabbitBroker(amqp_url, graceful_timeout=5)
    consumer = EventConsumer(
        topology=topology,
        subscription=Subscription(name="cancellations", handlers={RequestCancelled: refuse_nothing}),
        unit_of_work=lambda: unit_of_work(engine),
        broker=broker,
        retry=retry,
        metrics=metrics,
    )
    router = RabbitRouter()
    consumer.attach(router)
    broker.include_router(router)
    await broker.connect()
    await topology.declare(broker, {"cancellations": ["request.cancelled.v1"]}, list(retry.delays_ms))
    await broker.start()
    queue = topology.subscription_queue("cancellations").name
    try:
        envelope = Envelope.wrap(RequestCancelled(request_id=uuid.uuid4()), source="/probe")
        deliveries = [
            (envelope.to_json(), "request.cancelled.v1"),
            (envelope.to_json(), "request.cancelled.v1"),  # a duplicate
            (b"{not json", "free text from a stranger"),
        ]
        for body, message_type in deliveries:
            await broker.publish(
                body,
                exchange=EVENTS_EXCHANGE,
                routing_key="request.cancelled.v1",
                message_id=str(envelope.id),
                message_type=message_type,
                persist=True,
            )

        def handled(outcome: str, event_type: str = "request.cancelled.v1"):  # type: ignore[no-untyped-def]
            labels = frozenset({("queue", queue), ("event_type", event_type), ("outcome", outcome)})
            return ("dukcapil_events_handled_total", labels)

        async def all_three() -> dict:
            found = samples((await metrics.exposition())[0])
            outcomes = (handled("processed"), handled("duplicate"), handled("dead_lettered", "unknown"))
            return found if all(found.get(outcome) for outcome in outcomes) else {}

        found = await eventually(all_three)
        assert found[handled("processed")] == 1 and found[handled("duplicate")] == 1
        malformed = frozenset({("queue", queue), ("event_type", "unknown"), ("reason", "malformed")})
        assert found[("dukcapil_events_dead_lettered_total", malformed)] == 1
        assert "free text" not in (await metrics.exposition())[0].decode()

        # The gauges read at scrape time: the outbox backlog, letters parked for an operator, the broker's queues.
        async with unit_of_work(engine) as uow:
            await uow.outbox.add(RequestCancelled(request_id=uuid.uuid4()))
            await uow.commit()
        async with engine.begin() as connection:
            row = {column.name: None for column in dead_letters.columns}
            await connection.execute(
                dead_letters.insert().values(
                    row
                    | {
                        "id": str(uuid.uuid4()),
                        "original_queue": queue,
                        "routing_key": "request.cancelled.v1",
                        "body": "{}",
                        "body_encoding": "utf-8",
                        "headers": {},
                        "error": "malformed",
                        "attempts": 1,
                        "first_failure_at": envelope.time,
                        "last_failure_at": envelope.time,
                        "parked_at": envelope.time,
                        "status": "parked",
                    }
                )
            )
        metrics.on_scrape("outbox", OutboxBacklog(engine=engine, outbox=outbox, metrics=metrics).refresh)
        metrics.on_scrape(
            "dead_letters", ParkedDeadLetters(engine=engine, dead_letters=dead_letters, metrics=metrics).refresh
        )
        depths = BrokerQueueDepths(
            connection=broker.connect,
            queues=lambda: [queue, topology.dead_letter_queue.name],
            metrics=metrics,
        )
        metrics.on_scrape("broker_queues", depths.refresh)
        found = samples((await metrics.exposition())[0])
        assert found[("dukcapil_outbox_pending_events", frozenset())] == 1
        assert found[("dukcapil_outbox_oldest_pending_age_seconds", frozenset())] >= 0
        assert found[("dukcapil_dead_letters_parked", frozenset({("queue", queue)}))] == 1
        assert found[("dukcapil_queue_consumers", frozenset({("queue", queue)}))] == 1
        assert found[("dukcapil_queue_messages_ready", frozenset({("queue", topology.dead_letter_queue.name)}))] == 1
        assert not any(name == "dukcapil_metrics_refresh_failures_total" for name, _ in found)

        async with engine.begin() as connection:
            await connection.execute(dead_letters.update().values(status="replayed"))
        found = samples((await metrics.exposition())[0])
        assert found[("dukcapil_dead_letters_parked", frozenset({("queue", queue)}))] == 0
    finally:
        await broker.stop()


async def test_the_outbox_finds_the_requests_trace_in_its_first_row(engine, tracing) -> None:  # type: ignore[no-untyped-def]
    tracer = tracing.provider.get_tracer("probe")
    request_id = uuid.uuid4()
    with tracer.start_as_current_span("first"):
        async with unit_of_work(engine) as uow:
            first = await uow.outbox.add(RequestCancelled(request_id=request_id))
            await uow.commit()
    with tracer.start_as_current_span("second, another trace"):
        async with unit_of_work(engine) as uow:
            second = await uow.outbox.add(RequestCancelled(request_id=request_id))
            await uow.commit()
    assert second.traceparent == first.traceparent
    # A background loop, outside any span (shipping's tracking): its event joins the request's trace too.
    async with unit_of_work(engine) as uow:
        from_a_loop = await uow.outbox.add(RequestCancelled(request_id=request_id))
        await uow.commit()
    assert from_a_loop.traceparent == first.traceparent
    async with engine.connect() as connection:
        stored = (await connection.execute(select(outbox.c.body).where(outbox.c.id == str(second.id)))).scalar_one()
    assert Envelope.model_validate_json(stored).traceparent == first.traceparent
    # A request's first events added together in one unit of work, written only at its commit, share one trace.
    another_request = uuid.uuid4()
    with tracer.start_as_current_span("third"):
        async with unit_of_work(engine) as uow:
            opening = await uow.outbox.add(RequestCancelled(request_id=another_request))
            with tracer.start_as_current_span("fourth, another trace", context=Context()):
                following = await uow.outbox.add(RequestCancelled(request_id=another_request))
            await uow.commit()
    assert trace_id(following.traceparent) == trace_id(opening.traceparent) != trace_id(first.traceparent)
