"""Prometheus' configuration and Grafana's provisioning in deploy/, checked against the services themselves.

No Prometheus or Grafana runs on our machines: the files are parsed, and every metric a dashboard panel queries
must be one that the real service apps export (their GET /metrics, scraped in-process).
"""

import json
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
import yaml
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from dukcapil_shared.db import migrate

from .service_apps import SERVICES, build_service_app

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
PORTS = {"intake": 8001, "review": 8002, "documents": 8003, "shipping": 8004}
DASHBOARDS = sorted((DEPLOY / "grafana" / "dashboards").glob("*.json"))
DATASOURCE_UID = "prometheus"
# Metric names are the identifiers with these prefixes; what else a PromQL expression holds is functions, label
# names and Grafana's $__variables.
METRIC = re.compile(r"\b((?:dukcapil|http_server|faststream|process|python)_[a-zA-Z0-9_:]+)")
# The exporters compose runs beside the services, scraped as these jobs: RabbitMQ's own rabbitmq_prometheus plugin
# and postgres-exporter.
EXPORTERS = {"rabbitmq": "rabbitmq:15692", "postgres": "postgres-exporter:9187"}
# The series of theirs that the alerting rules read, as their documentation names them: RabbitMQ's monitoring
# guide (the alarms of rabbitmq_prometheus' core metrics) and postgres_exporter's README (pg_up).
EXPORTED_BY_EXPORTERS = {
    "rabbitmq_alarms_memory_used_watermark",
    "rabbitmq_alarms_free_disk_space_watermark",
    "pg_up",
}
ALERTS = DEPLOY / "prometheus" / "alerts.yml"
ANY_METRIC = re.compile(r"\b((?:dukcapil|http_server|faststream|process|python|rabbitmq|pg)_[a-zA-Z0-9_:]+|up)\b")


@pytest.fixture(scope="module")
async def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, set[str]]:
    """Every sample name each service's GET /metrics can show (a counter `x` as x_total, a histogram as x_bucket,
    x_count and x_sum), from the real apps."""
    workdir = tmp_path_factory.mktemp("monitoring")
    names = {}
    for service in SERVICES:
        app: FastAPI = build_service_app(service, workdir)
        await migrate(app.state.runtime.engine, f"dukcapil_{service}:migrations")
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://monitoring") as client:
            response = await client.get("/metrics")
        assert response.status_code == 200, response.text
        names[service] = {
            name
            for family in text_string_to_metric_families(response.text)
            for name in _sample_names(family.name, family.type)
        }
        await app.state.runtime.engine.dispose()
    return names


def _sample_names(family: str, kind: str) -> set[str]:
    if kind == "counter":
        return {f"{family}_total"}
    if kind == "histogram":
        return {f"{family}_bucket", f"{family}_count", f"{family}_sum"}
    if kind == "summary":
        return {family, f"{family}_count", f"{family}_sum"}
    return {family}


def test_prometheus_scrapes_every_replica_of_every_service_and_the_broker_and_database() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == set(SERVICES) | set(EXPORTERS)
    for job, target in EXPORTERS.items():
        assert jobs[job]["static_configs"] == [{"targets": [target]}], job
    for service, port in PORTS.items():
        [discovery] = jobs[service]["dns_sd_configs"]
        # One A record per replica of a service scaled with --scale: each becomes a target.
        assert discovery == discovery | {"names": [service], "type": "A", "port": port}
        assert jobs[service].get("metrics_path", "/metrics") == "/metrics"


def test_grafana_is_provisioned_with_the_prometheus_datasource_and_the_dashboards() -> None:
    provisioning = DEPLOY / "grafana" / "provisioning"
    [datasource] = yaml.safe_load((provisioning / "datasources" / "prometheus.yml").read_text())["datasources"]
    assert datasource["type"] == "prometheus" and datasource["uid"] == DATASOURCE_UID
    assert datasource["url"] == "http://prometheus:9090"
    [provider] = yaml.safe_load((provisioning / "dashboards" / "dukcapil.yml").read_text())["providers"]
    assert provider["type"] == "file" and provider["options"]["path"] == "/etc/grafana/dashboards"
    assert DASHBOARDS, "no dashboard in deploy/grafana/dashboards"


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda path: path.name)
def test_the_dashboard_is_well_formed(path: Path) -> None:
    dashboard = json.loads(path.read_text())
    assert dashboard["uid"] and dashboard["title"] and isinstance(dashboard["schemaVersion"], int)
    panels = dashboard["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels), "panel ids must be unique"
    for panel in panels:
        position = panel["gridPos"]
        assert position["x"] + position["w"] <= 24 and position["h"] > 0, panel["title"]
        if panel["type"] == "row":
            continue
        assert panel["title"] and panel["description"], "every panel says what it shows"
        assert panel["datasource"] == {"type": "prometheus", "uid": DATASOURCE_UID}, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["expr"].count("(") == target["expr"].count(")"), target["expr"]
            assert METRIC.search(target["expr"]), f"{panel['title']}: no metric in {target['expr']}"
    _no_overlaps(panels)


def _no_overlaps(panels: list[dict]) -> None:  # type: ignore[type-arg]
    taken: dict[tuple[int, int], str] = {}
    for panel in panels:
        position = panel["gridPos"]
        for x in range(position["x"], position["x"] + position["w"]):
            for y in range(position["y"], position["y"] + position["h"]):
                assert (x, y) not in taken, f"{panel['title']} overlaps {taken[(x, y)]}"
                taken[(x, y)] = panel["title"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda path: path.name)
def test_the_dashboard_covers_throughput_backlog_service_levels_and_errors(path: Path) -> None:
    queried = " ".join(target["expr"] for panel in _panels(path) for target in panel.get("targets", []))
    for metric in (
        "dukcapil_events_handled_total",  # stage throughput
        "dukcapil_queue_messages_ready",  # backlog per queue
        "dukcapil_outbox_pending_events",
        "dukcapil_reviews_overdue",  # service levels
        "dukcapil_events_dead_lettered_total",  # errors
        "dukcapil_dead_letters_parked",
    ):
        assert metric in queried, f"no panel shows {metric}"


def _panels(path: Path) -> list[dict]:  # type: ignore[type-arg]
    return json.loads(path.read_text())["panels"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda path: path.name)
async def test_every_metric_the_dashboard_queries_is_exported_by_the_services(
    path: Path, exported: dict[str, set[str]]
) -> None:
    everywhere = set().union(*exported.values())
    for panel in _panels(path):
        for target in panel.get("targets", []):
            unknown = set(METRIC.findall(target["expr"])) - everywhere
            assert not unknown, f"{panel['title']}: {sorted(unknown)} are exported by no service"
            # A panel restricted to one service's job must query what that service exports.
            for job in re.findall(r'job="(\w+)"', target["expr"]):
                missing = set(METRIC.findall(target["expr"])) - exported[job]
                assert not missing, f"{panel['title']}: {job} does not export {sorted(missing)}"


async def test_every_service_exports_the_shared_series_and_review_its_service_levels(
    exported: dict[str, set[str]],
) -> None:
    shared = {
        "http_server_request_duration_seconds_count",
        "dukcapil_events_handled_total",
        "dukcapil_events_dead_lettered_total",
        "dukcapil_event_stage_latency_seconds_bucket",
        "dukcapil_outbox_relayed_total",
        "dukcapil_outbox_pending_events",
        "dukcapil_outbox_oldest_pending_age_seconds",
        "dukcapil_dead_letters_parked",
        "dukcapil_queue_messages_ready",
        "faststream_received_messages_total",
        "faststream_published_messages_total",
        "process_resident_memory_bytes",
    }
    for service, names in exported.items():
        assert shared <= names, f"{service} lacks {sorted(shared - names)}"
    assert {"dukcapil_reviews_pending", "dukcapil_reviews_overdue"} <= exported["review"]


def _promtool() -> str:
    promtool = shutil.which("promtool") or "/usr/bin/promtool"
    assert Path(promtool).is_file(), "promtool is missing: apt-get install prometheus (.ci/run does)"
    return promtool


def test_the_alerting_rules_are_valid_and_loaded_by_prometheus(tmp_path: Path) -> None:
    result = subprocess.run([_promtool(), "check", "rules", str(ALERTS)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"], "compose mounts alerts.yml there"
    # The whole configuration, with the rules where this machine has them.
    shutil.copy(ALERTS, tmp_path / "alerts.yml")
    config["rule_files"] = [str(tmp_path / "alerts.yml")]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [_promtool(), "check", "config", str(tmp_path / "prometheus.yml")], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_alerts_fire_on_what_they_are_for() -> None:
    """deploy/prometheus/alerts.test.yml: series in, alerts out, by promtool's own rule evaluation."""
    result = subprocess.run(
        [_promtool(), "test", "rules", "alerts.test.yml"],
        cwd=DEPLOY / "prometheus",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_alerts_cover_what_an_operator_must_act_on() -> None:
    alerts = {rule["alert"]: rule for group in yaml.safe_load(ALERTS.read_text())["groups"] for rule in group["rules"]}
    for alert, metric in {
        "DeadLetterWaiting": "dukcapil_dead_letters_parked",
        "OutboxEventsOld": "dukcapil_outbox_oldest_pending_age_seconds",
        "OutboxGrowing": "dukcapil_outbox_pending_events",
        "ReviewsOverdue": "dukcapil_reviews_overdue",
        "StageWithoutConsumers": "dukcapil_queue_consumers",
        "IntegrationFailing": "dukcapil_outbound_requests_total",
        "ServiceDown": "up",
        "BrokerDown": "up",
        "DatabaseDown": "pg_up",
    }.items():
        assert metric in alerts[alert]["expr"], f"{alert} does not read {metric}"
    for alert, rule in alerts.items():
        assert rule["labels"]["severity"] in {"warning", "critical"}, alert
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], alert


async def test_every_metric_the_alerts_read_is_exported(exported: dict[str, set[str]]) -> None:
    everywhere = set().union(*exported.values())
    jobs = {
        job["job_name"]
        for job in yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())["scrape_configs"]
    }
    for group in yaml.safe_load(ALERTS.read_text())["groups"]:
        for rule in group["rules"]:
            expression = rule["expr"]
            used = set(ANY_METRIC.findall(expression))
            assert used, f"{rule['alert']}: no metric found in {expression}"
            unknown = used - everywhere - EXPORTED_BY_EXPORTERS - {"up"}
            assert not unknown, f"{rule['alert']}: {sorted(unknown)} are exported by no service and no exporter"
            for job in re.findall(r'job="(\w+)"', expression) + re.findall(r'job=~"([\w|]+)"', expression):
                assert set(job.split("|")) <= jobs, f"{rule['alert']}: Prometheus scrapes no job {job}"
