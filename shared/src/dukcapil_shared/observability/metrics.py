"""The Prometheus metrics every service exports on GET /metrics.

One registry per service runtime (not prometheus_client's global one), so that several apps built in one test
process never collide. Labels are templates and names from small fixed sets (route templates, queues, event
types, outcomes), never ids, numbers or anything typed by a person: a label value is a new time series, and a
personal datum in one would be kept by Prometheus for as long as it keeps the series.

Gauges that describe the database (outbox backlog, parked dead letters, review's queue) are refreshed when
Prometheus scrapes, by the callbacks registered with `on_scrape`: no work happens while nobody is looking, and
each scrape sees current values. A callback that fails or is slow leaves its gauges at their last values and
counts the failure in dukcapil_metrics_refresh_failures_total.
"""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import anyio
import httpx
import structlog
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.exposition import choose_encoder

from dukcapil_shared.observability.outbound import CountedTransport

log = structlog.get_logger(__name__)

HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
# From a message that went straight through (tens of milliseconds) to one that waited in its queue while its
# service was down, or in the retry queues (hours).
STAGE_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 14400.0, 86400.0)

KNOWN_HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED_ROUTE = "unmatched"
"""The route label of a request no route matched (a 404): its path is not a label, whatever it was."""


class ConsumerOutcome:
    """What became of one delivery to an EventConsumer."""

    PROCESSED = "processed"
    DUPLICATE = "duplicate"
    RETRIED = "retried"
    DEAD_LETTERED = "dead_lettered"
    REQUEUED = "requeued"
    """Neither retried nor dead-lettered because the broker did not confirm the move: back in its queue."""


class DeadLetterReason:
    MALFORMED = "malformed"
    UNTRUSTED_PRODUCER = "untrusted_producer"
    """Published by someone other than the producer its contract names: never applied."""
    PERMANENT = "permanent"
    ATTEMPTS_EXHAUSTED = "attempts_exhausted"


Refresh = Callable[[], Awaitable[None]]


@dataclass(frozen=True)
class _ScrapeRefresh:
    source: str
    refresh: Refresh


class ServiceMetrics:
    """The service's registry and the instruments the shared plumbing records into; a service adds its own
    instruments on `registry` (review's queue gauges, for one)."""

    def __init__(self, *, registry: CollectorRegistry | None = None, refresh_timeout: float = 2.0) -> None:
        # The *_created series double every counter and histogram for a timestamp Prometheus does not need.
        disable_created_metrics()
        self.registry = registry or CollectorRegistry()
        self._refresh_timeout = refresh_timeout
        self._refreshes: list[_ScrapeRefresh] = []
        # CPU, memory, open files, garbage collections: what the global registry would have had.
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)

        self.http_request_duration = Histogram(
            "http_server_request_duration_seconds",
            "HTTP requests served, by method, route template and status code, with their duration",
            ["method", "route", "status_code"],
            buckets=HTTP_BUCKETS,
            registry=self.registry,
        )
        self.events_handled = Counter(
            "dukcapil_events_handled",
            "Deliveries to this service's event consumers by queue, event type and outcome "
            "(processed, duplicate, retried, dead_lettered, requeued)",
            ["queue", "event_type", "outcome"],
            registry=self.registry,
        )
        self.events_dead_lettered = Counter(
            "dukcapil_events_dead_lettered",
            "Events sent to this service's dead-letter queue, by the queue they failed in, event type and reason "
            "(malformed, permanent, attempts_exhausted)",
            ["queue", "event_type", "reason"],
            registry=self.registry,
        )
        self.event_stage_latency = Histogram(
            "dukcapil_event_stage_latency_seconds",
            "Time from when an event happened (its CloudEvents time) to its processing here, by queue and event "
            "type: outbox, broker, queueing and retries included",
            ["queue", "event_type"],
            buckets=STAGE_BUCKETS,
            registry=self.registry,
        )
        self.consumer_batch_size = Histogram(
            "dukcapil_consumer_batch_size",
            "Deliveries applied together in one transaction, by queue (batches of two or more)",
            ["queue"],
            buckets=(2, 3, 5, 10, 20, 50, 100),
            registry=self.registry,
        )
        self.outbox_relayed = Counter(
            "dukcapil_outbox_relayed",
            "Outbox rows the relay tried to publish, by event type and outcome (published, failed)",
            ["event_type", "outcome"],
            registry=self.registry,
        )
        self.outbox_pending = Gauge(
            "dukcapil_outbox_pending_events",
            "Events committed to this service's outbox and not yet confirmed by the broker (replicas sharing a "
            "database all report the same backlog)",
            registry=self.registry,
        )
        self.outbox_oldest_pending_age = Gauge(
            "dukcapil_outbox_oldest_pending_age_seconds",
            "Age of the oldest event still waiting in the outbox; 0 when none waits",
            registry=self.registry,
        )
        self.dead_letters_parked = Gauge(
            "dukcapil_dead_letters_parked",
            "Dead letters parked for an operator (neither replayed nor discarded), by the queue they failed in",
            ["queue"],
            registry=self.registry,
        )
        self.queue_messages_ready = Gauge(
            "dukcapil_queue_messages_ready",
            "Messages waiting in each of this service's queues (subscriptions, retry delays, dead letters), as the "
            "broker reports them",
            ["queue"],
            registry=self.registry,
        )
        self.queue_consumers = Gauge(
            "dukcapil_queue_consumers",
            "Consumers attached to each of this service's queues, all replicas together",
            ["queue"],
            registry=self.registry,
        )
        self.outbound_requests = Counter(
            "dukcapil_outbound_requests",
            "Requests to the office's outside systems by integration (courier, sms_gateway) and outcome (ok, "
            "rejected: a 4xx, failed: a 5xx, unreachable: no connection or no answer in time)",
            ["integration", "outcome"],
            registry=self.registry,
        )
        self.refresh_failures = Counter(
            "dukcapil_metrics_refresh_failures",
            "Scrapes at which a database-backed gauge could not be refreshed and kept its last value, by source",
            ["source"],
            registry=self.registry,
        )

    def outbound_transport(
        self, integration: str, inner: httpx.AsyncBaseTransport | None = None
    ) -> httpx.AsyncBaseTransport:
        """The transport of an HTTP client that calls an outside system: each request counted by its outcome."""
        return CountedTransport(self.outbound_requests, integration, inner)

    def on_scrape(self, source: str, refresh: Refresh) -> None:
        """Run `refresh` (which sets some gauges) before each scrape, bounded by the refresh timeout."""
        self._refreshes.append(_ScrapeRefresh(source, refresh))

    async def refresh(self) -> None:
        await asyncio.gather(*(self._refresh_one(entry) for entry in self._refreshes))

    async def _refresh_one(self, entry: _ScrapeRefresh) -> None:
        try:
            with anyio.fail_after(self._refresh_timeout):
                await entry.refresh()
        except Exception as error:  # a gauge left stale must not fail the scrape of everything else
            self.refresh_failures.labels(source=entry.source).inc()
            log.warning("metrics_refresh_failed", source=entry.source, error=type(error).__name__)

    async def exposition(self, accept: str = "") -> tuple[bytes, str]:
        """The registry in the format the scraper accepts (Prometheus text, or OpenMetrics), and its content
        type; database-backed gauges refreshed first."""
        await self.refresh()
        encode, content_type = choose_encoder(accept)
        return encode(self.registry), content_type

    def observe_http(self, *, method: str, route: str, status_code: int, seconds: float) -> None:
        self.http_request_duration.labels(
            method=method if method in KNOWN_HTTP_METHODS else "_OTHER", route=route, status_code=str(status_code)
        ).observe(seconds)
