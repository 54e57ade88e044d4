"""Metrics, request ids, trace context and logs, without a broker or a database."""

import asyncio
import json
import logging
import uuid
from collections.abc import Iterator

import httpx
import pytest
import structlog
from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

from dukcapil_shared.logging import configure_logging
from dukcapil_shared.observability import ServiceMetrics, Tracing
from dukcapil_shared.observability import http as observability_http
from dukcapil_shared.observability.tracing import (
    PersonalDataScrubber,
    current_traceparent,
    traceparent_for_event,
    within_trace,
)
from dukcapil_shared.settings import ServiceSettings

NIK = "3602144107900001"


@pytest.fixture
def spans() -> Iterator[tuple[TracerProvider, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(PersonalDataScrubber())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield provider, exporter
    provider.shutdown()


def samples(exposition: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


def probe_app(metrics: ServiceMetrics, telemetry: dict | None = None) -> FastAPI:
    app = FastAPI(telemetry=telemetry or Tracing.disabled().fastapi_telemetry())
    observability_http.install(app, metrics)

    @app.get("/things/{thing_id}")
    async def show(thing_id: str) -> dict[str, str]:
        structlog.get_logger("probe").info("thing_shown", thing=thing_id)
        return {"id": thing_id}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


async def call(app: FastAPI, path: str, **kwargs) -> httpx.Response:  # type: ignore[no-untyped-def]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://probe") as client:
        return await client.get(path, **kwargs)


async def test_http_metrics_are_labelled_by_route_template_never_by_the_path() -> None:
    metrics = ServiceMetrics()
    app = probe_app(metrics)
    thing = str(uuid.uuid4())
    assert (await call(app, f"/things/{thing}")).status_code == 200
    assert (await call(app, f"/nowhere/{NIK}")).status_code == 404
    exposition = (await call(app, "/metrics")).text

    assert thing not in exposition and NIK not in exposition
    found = samples(exposition)
    ok = frozenset({("method", "GET"), ("route", "/things/{thing_id}"), ("status_code", "200")})
    unmatched = frozenset({("method", "GET"), ("route", "unmatched"), ("status_code", "404")})
    assert found[("http_server_request_duration_seconds_count", ok)] == 1
    assert found[("http_server_request_duration_seconds_count", unmatched)] == 1


async def test_metrics_answer_in_the_format_the_scraper_asks_for() -> None:
    app = probe_app(ServiceMetrics())
    plain = await call(app, "/metrics")
    assert plain.headers["content-type"].startswith("text/plain; version=0.0.4")
    open_metrics = await call(app, "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert open_metrics.headers["content-type"].startswith("application/openmetrics-text")
    assert open_metrics.text.rstrip().endswith("# EOF")


async def test_a_failing_or_slow_gauge_source_keeps_its_last_value_and_the_scrape_still_answers() -> None:
    metrics = ServiceMetrics(refresh_timeout=0.2)

    async def broken() -> None:
        raise OSError("database away")

    async def stuck() -> None:
        await asyncio.sleep(10)

    async def fine() -> None:
        metrics.outbox_pending.set(7)

    metrics.on_scrape("broken", broken)
    metrics.on_scrape("stuck", stuck)
    metrics.on_scrape("fine", fine)
    body, _ = await metrics.exposition()
    found = samples(body.decode())
    assert found[("dukcapil_outbox_pending_events", frozenset())] == 7
    assert found[("dukcapil_metrics_refresh_failures_total", frozenset({("source", "broken")}))] == 1
    assert found[("dukcapil_metrics_refresh_failures_total", frozenset({("source", "stuck")}))] == 1


async def test_the_callers_request_id_is_echoed_and_a_doubtful_one_replaced() -> None:
    app = probe_app(ServiceMetrics())
    assert (await call(app, "/healthz", headers={"X-Request-ID": "gw-7f3a:1"})).headers["x-request-id"] == "gw-7f3a:1"
    forged = (await call(app, "/healthz", headers={"X-Request-ID": "x\tlevel=error"})).headers["x-request-id"]
    assert str(uuid.UUID(forged)) == forged
    generated = (await call(app, "/healthz")).headers["x-request-id"]
    assert str(uuid.UUID(generated)) == generated


@pytest.fixture
def restore_logging():  # type: ignore[no-untyped-def]
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    root.handlers[:], root.level = handlers, level


async def test_log_lines_of_a_traced_request_carry_http_request_id_trace_and_span_ids_and_stay_masked(
    capsys, restore_logging, spans
) -> None:  # type: ignore[no-untyped-def]
    provider, exporter = spans
    configure_logging("probe", "INFO", json=True)
    app = probe_app(ServiceMetrics(), Tracing(provider).fastapi_telemetry())
    response = await call(app, f"/things/{NIK}", headers={"X-Request-ID": "req-42"})
    assert response.status_code == 200

    [line] = [json.loads(text) for text in capsys.readouterr().out.splitlines() if "thing_shown" in text]
    assert line["http_request_id"] == "req-42" and line["service"] == "probe"
    assert line["thing"] == "360214******0001"
    [server_span] = [span for span in exporter.get_finished_spans() if span.kind == trace.SpanKind.SERVER]
    assert line["trace_id"] == format(server_span.context.trace_id, "032x")
    assert len(line["span_id"]) == 16


def test_trace_ids_that_look_like_a_nik_are_not_masked(capsys, restore_logging) -> None:  # type: ignore[no-untyped-def]
    configure_logging("probe", "INFO", json=True)
    digits_only = "00-" + "1234567890123456" * 2 + "-3602144107900001-01"
    with within_trace(digits_only):
        structlog.get_logger("probe").info("inside", nik=NIK)
    line = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert line["trace_id"] == "1234567890123456" * 2 and line["span_id"] == "3602144107900001"
    assert line["nik"] == "360214******0001"


async def test_http_spans_are_named_by_route_with_personal_data_masked_and_probes_untraced(spans) -> None:  # type: ignore[no-untyped-def]
    provider, exporter = spans
    app = probe_app(ServiceMetrics(), Tracing(provider).fastapi_telemetry())
    await call(app, f"/things/{NIK}?phone=081234567890")
    await call(app, "/healthz")
    await call(app, "/metrics")

    servers = [span for span in exporter.get_finished_spans() if span.kind == trace.SpanKind.SERVER]
    assert [span.name for span in servers] == ["GET /things/{thing_id}"]
    attributes = json.dumps(dict(servers[0].attributes or {}))
    assert NIK not in attributes and "081234567890" not in attributes
    assert "360214******0001" in attributes


def test_an_event_joins_its_requests_trace(spans) -> None:  # type: ignore[no-untyped-def]
    provider, _ = spans
    tracer = provider.get_tracer("probe")
    with tracer.start_as_current_span("submission"):
        request_trace = current_traceparent()
        # The request's first event: the current span.
        assert traceparent_for_event(None) == request_trace
    assert request_trace is not None

    with within_trace(request_trace), tracer.start_as_current_span("review consumer"):
        same_trace = current_traceparent()
        # A span in the request's trace is the closer parent.
        assert traceparent_for_event(request_trace) == same_trace

    with tracer.start_as_current_span("scan upload") as upload:
        # Another trace: the event stays in the request's, and the upload span links to it.
        assert traceparent_for_event(request_trace) == request_trace
    [link] = upload.links
    assert format(link.context.trace_id, "032x") == request_trace.split("-")[1]

    # No span at all (tracing off, or a loop outside any): the request's trace as given, or none.
    assert traceparent_for_event(request_trace) == request_trace
    assert traceparent_for_event(None) is None


@pytest.mark.parametrize(
    ("variables", "endpoint"),
    [
        ({}, None),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": ""}, None),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318/"}, "http://collector:4318/v1/traces"),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://tempo:4318/v1/traces"}, "http://tempo:4318/v1/traces"),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_SDK_DISABLED": "true"}, None),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_TRACES_EXPORTER": "none"}, None),
    ],
)
def test_tracing_is_off_unless_an_otlp_endpoint_is_set(monkeypatch, variables, endpoint) -> None:  # type: ignore[no-untyped-def]
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_SDK_DISABLED"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    settings = ServiceSettings(database_url="sqlite+aiosqlite:///:memory:", port=1)
    assert settings.otlp_traces_endpoint == endpoint
    tracing = Tracing.exporting_to(service="probe", traces_endpoint=settings.otlp_traces_endpoint)
    assert tracing.enabled == (endpoint is not None)
    assert bool(tracing.broker_middlewares()) == (endpoint is not None)
    tracing.shutdown()
