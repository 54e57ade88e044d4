"""The four services as real processes, tracing to a collector stand-in: one trace follows a request from its
submission to its delivery, the metrics count what happened, and neither carries personal data."""

import asyncio
import json
import time
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from dukcapil_testing import minimal_pdf

from .otlp import Collector, ReceivedSpan
from .requests import BIODATA_WNI, registered_person, variant
from .system import SERVICES, Client, System, holder

pytestmark = pytest.mark.e2e

# Someone the population register knows: review approves by policy only requests whose people it found there.
APPLICANT = registered_person()
REQUEST = variant(BIODATA_WNI, applicant=APPLICANT, details={"person_nik": APPLICANT["nik"]})
PERSONAL_DATA = (APPLICANT["nik"], APPLICANT["name"], "081234567890", "Multatuli")
SCAN = ("scan.pdf", minimal_pdf(), "application/pdf")
OPERATIONAL_ROUTES = {"/metrics", "/healthz", "/readyz", "unmatched"}


@pytest.fixture(scope="module")
def collector():  # type: ignore[no-untyped-def]
    collector = Collector()
    collector.start()
    yield collector
    collector.stop()


@pytest.fixture(scope="module")
async def system(rabbitmq, collector: Collector, tmp_path_factory):  # type: ignore[no-untyped-def]
    workdir: Path = tmp_path_factory.mktemp("observed-system")
    system = System(
        workdir=workdir,
        amqp_url=rabbitmq.create(),
        database_urls={name: f"sqlite+aiosqlite:///{workdir}/var/{name}.db" for name in SERVICES},
        extra_env=rabbitmq.service_env()
        | {
            "OTEL_EXPORTER_OTLP_ENDPOINT": collector.endpoint,
            "OTEL_BSP_SCHEDULE_DELAY": "100",  # export within a tenth of a second rather than five
            "REVIEW_AUTO_APPROVE_TYPES": json.dumps(["biodata_wni"]),
            "INTAKE_NOTIFICATIONS_ENABLED": "false",
            "SHIPPING_BOOKING_INTERVAL": "0.3",
        },
    )
    try:
        await system.start_all()
        yield system
    finally:
        system.stop_all()
        rabbitmq.delete(system.amqp_url)


@pytest.fixture(scope="module")
async def delivered(system: System) -> dict:  # type: ignore[type-arg]
    """One request submitted with an id of the caller's, its scan uploaded, approved by policy and delivered."""
    client = Client(system)
    try:
        response = await client.call("POST", "intake", "/requests", json=REQUEST, headers={"X-Request-ID": "e2e-42"})
        assert response.status_code == 201, response.text
        assert response.headers["x-request-id"] == "e2e-42"
        request = response.json()
        for kind in request["checklist"]["required"]:
            upload = await client.call(
                "POST",
                "intake",
                f"/requests/{request['id']}/attachments",
                data={"kind": kind},
                files={"file": SCAN},
                headers=holder(request),
            )
            assert upload.status_code == 201, upload.text
        return await client.wait_status(request["id"], "delivered", timeout=45)
    finally:
        await client.close()


def server_span(spans: list[ReceivedSpan], service: str, name: str) -> ReceivedSpan:
    [span] = [span for span in spans if span.service == service and span.kind == "server" and span.name == name]
    return span


async def spans_until(collector: Collector, done, timeout: float = 20) -> list[ReceivedSpan]:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        spans = collector.received()
        if done(spans) or time.monotonic() > deadline:
            return spans
        await asyncio.sleep(0.2)


async def test_one_trace_follows_a_request_from_submission_to_delivery_through_all_four_services(
    collector: Collector, delivered: dict
) -> None:
    def submission_trace(spans: list[ReceivedSpan]) -> list[ReceivedSpan]:
        roots = [s for s in spans if s.service == "intake" and s.kind == "server" and s.name == "POST /requests"]
        return [span for span in spans if roots and span.trace_id == roots[0].trace_id]

    def consumed(trace: list[ReceivedSpan]) -> set[tuple[str, str]]:
        return {
            (span.service, span.attributes.get("cloudevents.event_type", ""))
            for span in trace
            if span.kind == "consumer" and span.name.endswith(" process")
        }

    expected = {
        ("review", "request.submitted.v1"),
        ("review", "request.attachment_added.v1"),
        ("documents", "request.approved.v1"),
        ("shipping", "document.issued.v1"),
        ("intake", "shipment.delivered.v1"),
    }
    spans = await spans_until(collector, lambda spans: expected <= consumed(submission_trace(spans)))
    trace = submission_trace(spans)
    assert {span.service for span in trace} == set(SERVICES)
    assert expected <= consumed(trace), f"consumed in the submission's trace: {sorted(consumed(trace))}"
    assert all(span.attributes.get("cloudevents.event_subject") in (None, delivered["id"]) for span in trace)

    # The scan upload is a trace of its own; the events it caused joined the request's trace, and the upload's
    # span that added them links there.
    upload = server_span(spans, "intake", "POST /requests/{request_id}/attachments")
    assert upload.trace_id != trace[0].trace_id
    links = {linked for span in spans if span.trace_id == upload.trace_id for linked in span.linked_trace_ids}
    assert links == {trace[0].trace_id}

    attributes = json.dumps([span.attributes for span in spans])
    assert not [datum for datum in PERSONAL_DATA if datum in attributes], "personal data in span attributes"


async def test_log_lines_carry_the_request_id_and_the_trace_id(system: System, collector: Collector) -> None:
    async with httpx.AsyncClient(base_url=system.url("intake"), timeout=10) as http:
        response = await http.post(
            "/auth/token", data={"username": "nobody.here", "password": "wrong"}, headers={"X-Request-ID": "e2e-log"}
        )
    assert response.headers["x-request-id"] == "e2e-log"
    spans = await spans_until(collector, lambda spans: any(s.name == "POST /auth/token" for s in spans))
    trace_id = server_span(spans, "intake", "POST /auth/token").trace_id

    def lines() -> list[dict]:  # type: ignore[type-arg]
        found = []
        for text in (system.workdir / "intake.log").read_text().splitlines():
            if '"e2e-log"' in text:
                found.append(json.loads(text))
        return found

    assert lines(), "no log line of the sign-in"
    assert all(line["http_request_id"] == "e2e-log" and line["trace_id"] == trace_id for line in lines())


def scrape(exposition: str) -> dict[tuple[str, frozenset], float]:  # type: ignore[type-arg]
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:  # type: ignore[type-arg]
    """The sum over the series of `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(found for (sample, labels_), found in samples.items() if sample == name and wanted <= labels_)


async def test_every_service_exports_what_the_request_did_on_its_metrics_endpoint(
    system: System, delivered: dict
) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        scraped = {service: (await http.get(system.url(service) + "/metrics")) for service in SERVICES}
        openapi = {service: (await http.get(system.url(service) + "/openapi.json")).json() for service in SERVICES}
    for service, response in scraped.items():
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
        assert not [datum for datum in PERSONAL_DATA if datum in response.text], f"personal data in {service}"
        assert delivered["id"] not in response.text, f"a request id is a label in {service}'s metrics"
    metrics = {service: scrape(response.text) for service, response in scraped.items()}

    intake, review, documents, shipping = (metrics[service] for service in SERVICES)
    http_count = "http_server_request_duration_seconds_count"
    assert value(intake, http_count, method="POST", route="/requests", status_code="201") == 1
    assert value(intake, http_count, route="/requests/{request_id}/attachments", status_code="201") >= 1
    for service, samples in metrics.items():
        routes = {dict(labels)["route"] for name, labels in samples if name == http_count}
        assert routes <= set(openapi[service]["paths"]) | OPERATIONAL_ROUTES, f"{service}: {routes}"

    processed = "dukcapil_events_handled_total"
    assert value(review, processed, event_type="request.submitted.v1", outcome="processed") == 1
    assert value(documents, processed, event_type="request.approved.v1", outcome="processed") == 1
    assert value(shipping, processed, event_type="document.issued.v1", outcome="processed") == 1
    # Intake reads the delivery once, on its lifecycle queue: the incidents (a flag it clears) follow the history in
    # that transaction; the operations queue takes dead letters only.
    delivery = {"event_type": "shipment.delivered.v1", "outcome": "processed"}
    assert value(intake, processed, queue="dukcapil.intake.lifecycle", **delivery) == 1
    assert value(intake, processed, queue="dukcapil.intake.operations", **delivery) == 0
    assert value(documents, "dukcapil_event_stage_latency_seconds_count", event_type="request.approved.v1") == 1
    assert value(intake, "dukcapil_outbox_relayed_total", event_type="request.submitted.v1", outcome="published") == 1
    assert value(review, "faststream_received_messages_total", app_name="review") >= 2
    assert value(shipping, "faststream_published_messages_total", app_name="shipping", status="success") >= 1

    for samples in metrics.values():
        assert ("dukcapil_outbox_pending_events", frozenset()) in samples
        assert value(samples, "dukcapil_metrics_refresh_failures_total") == 0
    assert value(review, "dukcapil_reviews_pending", request_type="biodata_wni") == 0
    assert value(review, "dukcapil_reviews_overdue", request_type="biodata_wni") == 0
    assert value(documents, "dukcapil_queue_consumers", queue="dukcapil.documents.approvals") == 1
    assert value(documents, "dukcapil_queue_messages_ready", queue="dukcapil.documents.dead-letter") == 0
