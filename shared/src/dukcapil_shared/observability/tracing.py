"""OpenTelemetry tracing: off unless an OTLP endpoint is configured, and then one trace per service request.

Spans come from FastAPI's own instrumentation (HTTP server spans named by route template) and FastStream's
RabbitTelemetryMiddleware (publish and process spans, W3C `traceparent` in the AMQP headers). What they cannot
do on their own is carry the context across the outbox: an event is committed in one task (an HTTP request, a
consumer) and published later by the relay in another. So the outbox keeps, in each envelope, the traceparent of
the context that produced the event, and the relay publishes the row inside that context again.

One trace follows a citizen's request from submission to delivery. The stages are not all caused by the
submission: review approves when the last scan arrives (another HTTP request, another trace), a reviewer decides
days later. So an event about a request continues *the request's trace*, the trace of this service's first event
about it, and when the work that produced it belongs to another trace, that span gets a link to the request's
trace (see `traceparent_for_event`).

The standard variables configure the exporter: OTEL_EXPORTER_OTLP_ENDPOINT (or ..._TRACES_ENDPOINT), and
OTEL_EXPORTER_OTLP_HEADERS, OTEL_TRACES_SAMPLER, OTEL_BSP_SCHEDULE_DELAY and the rest as the SDK reads them.
"""

import contextlib
from collections.abc import Iterator, MutableMapping
from typing import Any

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanContext
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from dukcapil_shared.logging import mask_personal_data

_PROPAGATOR = TraceContextTextMapPropagator()
_HEALTH_PATHS = frozenset({"/metrics", "/healthz", "/readyz"})
SERVICE_NAMESPACE = "dukcapil-lebak"


class PersonalDataScrubber(SpanProcessor):
    """Masks NIKs, phone numbers and e-mail addresses in the attributes a span starts with (`url.path` and
    `url.query` of HTTP server spans, chiefly), as the logs do. Attributes added later are ours, and carry no
    personal data: route templates, queue names, event types and ids."""

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        for key, value in list((span.attributes or {}).items()):
            if isinstance(value, str):
                masked = mask_personal_data(value)
                if masked != value:
                    span.set_attribute(key, masked)

    def on_end(self, span: ReadableSpan) -> None:
        pass

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class Tracing:
    """The service's tracer provider when tracing is on; without one, every hook below is a no-op."""

    def __init__(self, provider: TracerProvider | None) -> None:
        self.provider = provider

    @classmethod
    def disabled(cls) -> "Tracing":
        return cls(None)

    @classmethod
    def exporting_to(cls, *, service: str, traces_endpoint: str | None) -> "Tracing":
        """Spans of `service` batched to the OTLP/HTTP endpoint; tracing off when there is none."""
        if not traces_endpoint:
            return cls.disabled()
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        resource = Resource.create({"service.name": service, "service.namespace": SERVICE_NAMESPACE})
        # shutdown_on_exit=False: the runtime shuts it down (flushing the last spans) when the service stops.
        provider = TracerProvider(resource=resource, shutdown_on_exit=False)
        provider.add_span_processor(PersonalDataScrubber())
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=traces_endpoint)))
        return cls(provider)

    @property
    def enabled(self) -> bool:
        return self.provider is not None

    def fastapi_telemetry(self) -> dict[str, Any]:
        """FastAPI(telemetry=...): server spans with our provider; no OTel metrics or logs (Prometheus and
        structlog do those); health probes and scrapes are not traced."""
        if self.provider is None:
            return {"tracing": False, "metrics": False, "logs": False, "auto_configure": False}
        return {
            "tracer_provider": self.provider,
            "tracing": True,
            "metrics": False,
            "logs": False,
            "auto_configure": False,
            "exclude": lambda scope: scope.get("path") in _HEALTH_PATHS,
        }

    def broker_middlewares(self) -> list[Any]:
        if self.provider is None:
            return []
        from faststream.rabbit.opentelemetry import RabbitTelemetryMiddleware

        return [RabbitTelemetryMiddleware(tracer_provider=self.provider)]

    def shutdown(self) -> None:
        """Export what is still buffered; blocking (up to the exporter's timeout)."""
        if self.provider is not None:
            self.provider.shutdown()


def current_traceparent() -> str | None:
    """The W3C traceparent of the current span, or None outside a (recorded or sampled-out) span."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier)
    return carrier.get("traceparent")


def span_context_of(traceparent: str | None) -> SpanContext | None:
    if not traceparent:
        return None
    span_context = trace.get_current_span(_PROPAGATOR.extract({"traceparent": traceparent})).get_span_context()
    return span_context if span_context.is_valid else None


def context_of(traceparent: str | None) -> Context:
    """A context whose parent span is `traceparent` (an empty context if it is missing or invalid)."""
    if not traceparent:
        return Context()
    return _PROPAGATOR.extract({"traceparent": traceparent})


def inject_traceparent(headers: MutableMapping[str, Any], traceparent: str | None) -> None:
    if traceparent:
        headers["traceparent"] = traceparent


def traceparent_for_event(request_traceparent: str | None) -> str | None:
    """The traceparent an event about a request is published under.

    `request_traceparent` is the request's trace as this service knows it (the traceparent of its first event
    about the request, or the one the caller passed). The current span is the better parent when it belongs to
    that trace (it descends from it) or when the request has no trace yet; when it belongs to another trace (a
    scan upload, a reviewer's decision), the event stays in the request's trace and the current span is linked
    to it, so each trace leads to the other.
    """
    current_span = trace.get_current_span()
    current = current_span.get_span_context()
    request = span_context_of(request_traceparent)
    if not current.is_valid:
        return request_traceparent if request is not None else None
    if request is None or request.trace_id == current.trace_id:
        return current_traceparent()
    current_span.add_link(request, {"dukcapil.link": "request_trace"})
    return request_traceparent


@contextlib.contextmanager
def within_trace(traceparent: str | None) -> Iterator[None]:
    """Run the block with `traceparent` as the current parent span (the relay publishing a row in the context
    that committed it); without one, in the context as it is."""
    if not traceparent:
        yield
        return
    token = otel_context.attach(context_of(traceparent))
    try:
        yield
    finally:
        otel_context.detach(token)
