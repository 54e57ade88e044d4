"""docker-compose.yml is checked by tools that parse it, since no Docker engine runs on our machines."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pydantic import AliasChoices

ROOT = Path(__file__).resolve().parents[1]
SECRETS = (
    "INTAKE_SMTP_HOST",
    "INTAKE_SMS_GATEWAY_URL",
    "INTAKE_SMS_API_KEY",
    "SHIPPING_COURIER_URL",
    "DOCUMENTS_PUBLIC_BASE_URL",
    "SHIPPING_COURIER_API_KEY",
    "DOCUMENTS_SIGNING_KEY_FILE",
    "DOCUMENTS_CERTIFICATE_P12_FILE",
    "DOCUMENTS_CERTIFICATE_PASSPHRASE",
    "DOCUMENTS_SIGNER_NAME",
    "DOCUMENTS_SIGNER_NIP",
    "GRAFANA_ADMIN_PASSWORD",
)
SERVICES = {"intake": 8001, "review": 8002, "documents": 8003, "shipping": 8004}
PORTAL = 8000


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def settings_class(service: str):  # type: ignore[no-untyped-def]
    module = __import__(f"dukcapil_{service}.settings", fromlist=["*"])
    return next(
        value
        for name, value in vars(module).items()
        if name.endswith("Settings") and name != "ServiceSettings" and isinstance(value, type)
    )


def test_the_file_is_valid_against_the_compose_specification() -> None:
    env = os.environ | {secret: "x" for secret in SECRETS}
    checker = Path(sys.executable).parent / "check-jsonschema"
    result = subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", str(ROOT / "docker-compose.yml")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_secrets_are_required_not_defaulted() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    for secret in SECRETS:
        uses = re.findall(r"\$\{" + secret + r"([^}]*)\}", text)
        assert uses and all(use.startswith(":?") for use in uses), f"{secret} must be required with ${{{secret}:?...}}"


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_is_built_healthchecked_and_started_after_its_dependencies(compose: dict, service: str) -> None:
    spec = compose["services"][service]
    assert spec["build"]["context"] == "." and "dockerfile" not in spec["build"], "the one Dockerfile at the root"
    assert spec["build"]["args"] == {"SERVICE": service, "PORT": str(SERVICES[service])}, "it builds this service"
    assert f"{SERVICES[service]}/readyz" in " ".join(spec["healthcheck"]["test"])
    for dependency in ("rabbitmq", "postgres", "redis"):
        assert spec["depends_on"][dependency]["condition"] == "service_healthy"
        assert "healthcheck" in compose["services"][dependency]
    assert spec["depends_on"]["setup"]["condition"] == "service_completed_successfully"
    assert set(spec["depends_on"]) == {"setup", "rabbitmq", "postgres", "redis"}, "no service waits on a stand-in"
    assert spec["environment"]["RATE_LIMIT_STORAGE_URL"] == "async+redis://redis:6379", "one count for all replicas"
    assert "ports" not in compose["services"]["redis"], "the counters are nobody else's business"


@pytest.mark.parametrize("service", SERVICES)
def test_services_can_be_scaled(compose: dict, service: str) -> None:
    spec = compose["services"][service]
    assert "container_name" not in spec, "a fixed container name forbids --scale"
    assert "ports" not in spec, "a fixed host port forbids --scale; the gateway publishes the ports"
    upstreams = compose["configs"]["gateway"]["content"]
    assert f":{SERVICES[service]} {{\n  reverse_proxy {service}:{SERVICES[service]}" in upstreams


@pytest.mark.parametrize("service", SERVICES)
def test_every_environment_variable_is_a_setting_the_service_reads(compose: dict, service: str) -> None:
    settings = settings_class(service).model_fields
    shared = {  # variables read under the same name by every service (AMQP_URL, ENVIRONMENT, AUTH_...)
        str(choice) for field in settings.values() if isinstance(field.validation_alias, AliasChoices)
        for choice in field.validation_alias.choices
    }  # fmt: skip
    prefix = f"{service.upper()}_"
    for variable in compose["services"][service]["environment"]:
        if variable in shared:
            continue
        assert variable.startswith(prefix), variable
        assert variable.removeprefix(prefix).lower() in settings, f"{variable} is not a setting of {service}"


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_signs_in_as_its_own_broker_and_database_user_with_secrets_from_files(
    compose: dict, service: str
) -> None:
    spec = compose["services"][service]
    environment, prefix = spec["environment"], service.upper()
    assert environment["ENVIRONMENT"] == "${ENVIRONMENT:-production}"
    assert environment["AMQP_URL"] == "amqp://rabbitmq:5672/", "no credentials in the broker's URL"
    assert environment[f"{prefix}_BROKER_PASSWORD_FILE"] == f"/run/secrets/broker-{service}"
    assert environment[f"{prefix}_DATABASE_URL"] == f"postgresql+asyncpg://{service}@postgres:5432/{service}"
    assert environment[f"{prefix}_DATABASE_PASSWORD_FILE"] == f"/run/secrets/db-{service}"
    assert {f"broker-{service}", f"db-{service}"} <= set(spec["secrets"])
    others = {f"{kind}-{other}" for kind in ("broker", "db") for other in SERVICES if other != service}
    assert not others & set(spec["secrets"]), "a service is given only its own passwords"
    if service == "intake":
        assert "staff-token-key" in spec["secrets"], "intake alone signs staff tokens"
    else:
        assert "staff-token-key" not in spec["secrets"] and environment["AUTH_JWKS_FILE"] == "/keys/jwks.json"
        assert "staff-token-keys:/keys:ro" in spec["volumes"], "the others hold only the public keys"


def test_the_broker_loads_each_services_user_from_the_setup_and_keeps_its_ui_on_this_machine(compose: dict) -> None:
    setup, rabbitmq = compose["services"]["setup"], compose["services"]["rabbitmq"]
    assert setup["command"][:4] == ["python", "-m", "dukcapil_shared.deploy", "setup"]
    assert compose["configs"]["broker-access"]["file"] == "./deploy/rabbitmq/access.json"
    assert "load_definitions = /etc/rabbitmq/definitions/definitions.json" in compose["configs"]["rabbitmq"]["content"]
    assert "broker-definitions:/etc/rabbitmq/definitions:ro" in rabbitmq["volumes"]
    assert rabbitmq["depends_on"]["setup"]["condition"] == "service_completed_successfully"
    assert "RABBITMQ_DEFAULT_USER" not in rabbitmq.get("environment", {}), "no service uses a default administrator"


def test_development_stand_ins_run_only_in_the_dev_profile_and_internal_ports_stay_on_this_machine(
    compose: dict,
) -> None:
    stand_ins = {"courier-simulator": ("courier_simulator", 8010), "notification-sinks": ("message_sinks", 8011)}
    for stand_in, (module, port) in stand_ins.items():
        spec = compose["services"][stand_in]
        assert spec["profiles"] == ["dev"]
        # Built from the development tools' package, never from a service's image.
        assert spec["build"]["args"] == {"SERVICE": "devtools", "PORT": str(port)}
        assert spec["command"] == ["python", "-m", f"dukcapil_devtools.{module}"]
    for name, spec in compose["services"].items():
        for port in spec.get("ports", []):
            published = str(port)
            if name == "gateway" or published == "5672:5672":  # the public API; agencies' AMQP
                continue
            assert published.startswith("127.0.0.1:"), f"{name} publishes {published} on every interface"
    gateway_ports = {str(port) for port in compose["services"]["gateway"]["ports"]}
    assert gateway_ports == {f"{port}:{port}" for port in [*SERVICES.values(), PORTAL]}, (
        "the gateway serves the four APIs and the portal only"
    )


def test_secrets_are_files_made_once_and_the_dev_env_names_every_required_variable() -> None:
    from dukcapil_shared.deploy import secret_names

    compose_file = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    made = {name for name, spec in compose_file["secrets"].items() if spec["file"].startswith("./secrets/")}
    assert made == set(secret_names())
    dev = dict(
        line.split("=", 1)
        for line in (ROOT / "deploy" / "compose" / "dev.env").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert set(SECRETS) - {"GRAFANA_ADMIN_PASSWORD"} <= set(dev), "a dev trial needs no other variable"
    assert dev["ENVIRONMENT"] == "development"


def test_postgres_makes_a_role_and_a_database_for_each_service(compose: dict) -> None:
    script = compose["configs"]["create-databases"]["content"]
    assert "for service in intake review documents shipping; do" in script
    assert 'CREATE DATABASE :"service" OWNER :"service";' in script
    used = {
        compose["services"][service]["environment"][f"{service.upper()}_DATABASE_URL"].rsplit("/", 1)[1]
        for service in SERVICES
    }
    assert used == set(SERVICES)


@pytest.mark.parametrize("service", SERVICES)
def test_the_gateway_refuses_the_metrics_endpoint(compose: dict, service: str) -> None:
    """GET /metrics answers without a token, for Prometheus on the internal network; the public never reaches it."""
    upstreams = compose["configs"]["gateway"]["content"]
    block = re.search(r":" + str(SERVICES[service]) + r" \{\n(.*?)\n\}", upstreams, re.DOTALL)
    assert block is not None
    directives = [line.strip() for line in block.group(1).splitlines()]
    assert "respond /metrics* 404" in directives, "a service's block must refuse /metrics"


def test_prometheus_and_grafana_start_with_their_provisioning(compose: dict) -> None:
    files = {name: spec["file"] for name, spec in compose["configs"].items() if "file" in spec}
    for name, path in files.items():
        assert (ROOT / path).is_file(), f"config {name}: {path} is missing"
    mounted = {
        service: {config["source"]: config["target"] for config in compose["services"][service]["configs"]}
        for service in ("prometheus", "grafana")
    }
    assert files[next(iter(mounted["prometheus"]))].endswith("prometheus.yml")
    assert mounted["prometheus"] == {"prometheus": "/etc/prometheus/prometheus.yml"}
    targets = set(mounted["grafana"].values())
    assert "/etc/grafana/provisioning/datasources/prometheus.yml" in targets
    assert "/etc/grafana/provisioning/dashboards/dukcapil.yml" in targets
    dashboards = {target for target in targets if target.startswith("/etc/grafana/dashboards/")}
    assert {Path(target).name for target in dashboards} == {
        path.name for path in (ROOT / "deploy" / "grafana" / "dashboards").glob("*.json")
    }, "every dashboard in deploy/grafana/dashboards is mounted"
    home = compose["services"]["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home in dashboards
    assert compose["services"]["grafana"]["depends_on"]["prometheus"]["condition"] == "service_healthy"


def test_the_portal_sits_behind_the_gateway_with_its_sessions_in_redis_and_no_database_or_broker(compose: dict) -> None:
    spec = compose["services"]["web"]
    assert spec["build"]["args"] == {"SERVICE": "web", "PORT": str(PORTAL)}
    assert "ports" not in spec, "the gateway publishes it"
    assert f"{PORTAL}/readyz" in " ".join(spec["healthcheck"]["test"])
    env = spec["environment"]
    assert env["WEB_SESSION_STORE_URL"].startswith("redis://redis:") and env["RATE_LIMIT_STORAGE_URL"].startswith(
        "async+redis://redis:"
    )
    assert env["WEB_SESSION_SECRET_FILE"] == "/run/secrets/web-session-secret" and spec["secrets"] == [
        "web-session-secret"
    ]
    assert not any(name.endswith(("DATABASE_URL", "BROKER_PASSWORD_FILE")) or name == "AMQP_URL" for name in env)
    from dukcapil_web.settings import WebSettings

    for variable in env:
        if variable.startswith("WEB_"):
            assert variable.removeprefix("WEB_").lower() in WebSettings.model_fields, f"{variable} is no setting"
    upstreams = compose["configs"]["gateway"]["content"]
    block = re.search(r":8000 \{\n(.*?)\n\}", upstreams, re.DOTALL)
    assert (
        block is not None and "reverse_proxy web:8000" in block.group(1) and "respond /metrics* 404" in block.group(1)
    )
    assert "reverse_proxy @browser web:8000" in upstreams, "a QR code opened in a browser shows the portal's page"
