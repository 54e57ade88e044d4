"""docker-compose.yml is checked by tools that parse it, since no Docker engine runs on our machines."""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from pydantic import AliasChoices, SecretStr

ROOT = Path(__file__).resolve().parents[1]
SECRETS = (
    "INTAKE_SMTP_HOST",
    "INTAKE_SMS_GATEWAY_URL",
    "INTAKE_SMS_API_KEY",
    "SHIPPING_COURIER_URL",
    "DOCUMENTS_PUBLIC_BASE_URL",
    "SHIPPING_COURIER_API_KEY",
    "SHIPPING_COURIER_USERNAME",
    "SHIPPING_COURIER_BRANCH",
    "SHIPPING_COURIER_CUSTOMER",
    "REVIEW_REGISTER_URL",
    "REVIEW_REGISTER_API_KEY",
    "DOCUMENTS_SIGNING_KEY_FILE",
    "DOCUMENTS_CERTIFICATE_P12_FILE",
    "DOCUMENTS_CERTIFICATE_PASSPHRASE",
    "DOCUMENTS_SIGNER_NAME",
    "DOCUMENTS_SIGNER_NIP",
    "GRAFANA_ADMIN_PASSWORD",
    "PUBLIC_HOSTNAME",
)
SERVICES = {"intake": 8001, "review": 8002, "documents": 8003, "shipping": 8004}
PORTAL = 8000
CADDYFILE = ROOT / "deploy" / "gateway" / "Caddyfile"
SERVICE_USER = "10001"  # the Dockerfile's
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def secret_names(spec: dict) -> set[str]:
    """The secrets a container is given, whether named (short form) or with their owner and mode (long form)."""
    return {secret if isinstance(secret, str) else secret["source"] for secret in spec.get("secrets", [])}


def site_block(address: str) -> str:
    """A site's block in the gateway's Caddyfile."""
    block = re.search(r"^" + re.escape(address) + r" \{\n(.*?)\n\}", CADDYFILE.read_text(), re.DOTALL | re.MULTILINE)
    assert block is not None, f"no site {address} in {CADDYFILE}"
    return block.group(1)


def reads(fields: dict, name: str) -> bool:
    """Whether a settings class reads this setting: a field, or a secret field's file (`<VARIABLE>_FILE`)."""
    if name in fields:
        return True
    secret = fields.get(name.removesuffix("_file")) if name.endswith("_file") else None
    return secret is not None and SecretStr in {secret.annotation, *getattr(secret.annotation, "__args__", ())}


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
    assert spec["depends_on"][f"migrate-{service}"]["condition"] == "service_completed_successfully"
    assert set(spec["depends_on"]) == {"setup", "rabbitmq", "postgres", "redis", f"migrate-{service}"}, (
        "no service waits on a stand-in"
    )
    assert spec["environment"]["RATE_LIMIT_STORAGE_URL"] == "async+redis://redis:6379", "one count for all replicas"
    assert "ports" not in compose["services"]["redis"], "the counters are nobody else's business"


@pytest.mark.parametrize("service", SERVICES)
def test_services_can_be_scaled(compose: dict, service: str) -> None:
    spec = compose["services"][service]
    assert "container_name" not in spec, "a fixed container name forbids --scale"
    assert "ports" not in spec, "a fixed host port forbids --scale; the gateway publishes the ports"
    assert compose["configs"]["gateway"]["file"] == "./deploy/gateway/Caddyfile"
    assert f"reverse_proxy {service}:{SERVICES[service]}" in site_block(f"{service}.{{$PUBLIC_HOSTNAME}}")


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
        assert reads(settings, variable.removeprefix(prefix).lower()), f"{variable} is not a setting of {service}"


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
    given = secret_names(spec)
    assert {f"broker-{service}", f"db-{service}"} <= given
    others = {f"{kind}-{other}" for kind in ("broker", "db") for other in SERVICES if other != service}
    assert not others & given, "a service is given only its own passwords"
    assert f"db-{service}-owner" not in given, "the database's owner password is the migrations' alone"
    if service == "intake":
        assert "staff-token-key" in given, "intake alone signs staff tokens"
    else:
        assert "staff-token-key" not in given and environment["AUTH_JWKS_FILE"] == "/keys/jwks.json"
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
    stand_ins = {
        "courier-simulator": ("courier_simulator", 8010),
        "register-simulator": ("register_simulator", 8012),
        "notification-sinks": ("message_sinks", 8011),
    }
    for stand_in, (module, port) in stand_ins.items():
        spec = compose["services"][stand_in]
        assert spec["profiles"] == ["dev"]
        # Built from the development tools' package, never from a service's image.
        assert spec["build"]["args"] == {"SERVICE": "devtools", "PORT": str(port)}
        assert spec["command"] == ["python", "-m", f"dukcapil_devtools.{module}"]
    for name, spec in compose["services"].items():
        for port in spec.get("ports", []):
            published = str(port)
            if name == "gateway" or (name, published) == ("rabbitmq", "5671:5671"):  # HTTPS; agencies' AMQPS
                continue
            assert published.startswith("127.0.0.1:"), f"{name} publishes {published} on every interface"
    gateway_ports = {str(port) for port in compose["services"]["gateway"]["ports"]}
    assert gateway_ports == {"80:80", "443:443", "443:443/udp"}, "HTTPS (and HTTP, redirected to it) only"


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


def test_postgres_makes_a_database_with_an_owner_role_and_a_service_role_for_each_service(compose: dict) -> None:
    assert compose["configs"]["create-databases"]["file"] == "./deploy/postgres/create-databases.sh"
    assert compose["configs"]["service-database"]["file"] == "./deploy/postgres/service-database.sql"
    mounted = {config["source"]: config["target"] for config in compose["services"]["postgres"]["configs"]}
    assert mounted == {
        "create-databases": "/docker-entrypoint-initdb.d/create-databases.sh",
        "service-database": "/etc/dukcapil/service-database.sql",  # where the script runs it from
    }
    assert (
        'CREATE DATABASE :"database" OWNER :"owner";'
        in (ROOT / "deploy" / "postgres" / "service-database.sql").read_text()
    )
    used = {
        compose["services"][service]["environment"][f"{service.upper()}_DATABASE_URL"].rsplit("/", 1)[1]
        for service in SERVICES
    }
    assert used == set(SERVICES)


@pytest.mark.parametrize("service", [*SERVICES, "web"])
def test_the_gateway_refuses_the_metrics_endpoint(service: str) -> None:
    """GET /metrics answers without a token, for Prometheus on the internal network; the public never reaches it."""
    address = "{$PUBLIC_HOSTNAME}" if service == "web" else f"{service}.{{$PUBLIC_HOSTNAME}}"
    directives = [line.strip() for line in site_block(address).splitlines()]
    assert "import front" in directives, "every site imports the front snippet"
    assert "respond /metrics* 404" in [line.strip() for line in site_block("(front)").splitlines()]


def test_prometheus_and_grafana_start_with_their_provisioning(compose: dict) -> None:
    files = {name: spec["file"] for name, spec in compose["configs"].items() if "file" in spec}
    for name, path in files.items():
        assert (ROOT / path).is_file(), f"config {name}: {path} is missing"
    mounted = {
        service: {config["source"]: config["target"] for config in compose["services"][service]["configs"]}
        for service in ("prometheus", "grafana")
    }
    assert files[next(iter(mounted["prometheus"]))].endswith("prometheus.yml")
    assert mounted["prometheus"] == {
        "prometheus": "/etc/prometheus/prometheus.yml",
        "prometheus-alerts": "/etc/prometheus/alerts.yml",  # prometheus.yml's rule_files
    }
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
    assert env["WEB_SESSION_SECRET_FILE"] == "/run/secrets/web-session-secret"
    assert secret_names(spec) == {"web-session-secret"}
    assert not any(name.endswith(("DATABASE_URL", "BROKER_PASSWORD_FILE")) or name == "AMQP_URL" for name in env)
    from dukcapil_web.settings import WebSettings

    for variable in env:
        if variable.startswith("WEB_"):
            assert reads(WebSettings.model_fields, variable.removeprefix("WEB_").lower()), f"{variable} is no setting"
    assert "reverse_proxy web:8000" in site_block("{$PUBLIC_HOSTNAME}"), "the portal is the front door"
    documents = site_block("documents.{$PUBLIC_HOSTNAME}")
    assert "reverse_proxy @browser web:8000" in documents, "a QR code opened in a browser shows the portal's page"


# The deployment's own rules (issue 19): what a host on the internet needs, checked on the resolved file (YAML
# anchors and merges applied, as compose applies them).

ONE_SHOT = {"setup", *(f"migrate-{service}" for service in SERVICES)}


def _long_running(compose: dict) -> dict[str, dict]:
    return {name: spec for name, spec in compose["services"].items() if name not in ONE_SHOT}


def test_one_shot_steps_run_once_and_every_other_container_is_long_running(compose: dict) -> None:
    for name in ONE_SHOT:
        assert compose["services"][name]["restart"] == "no", name
    for name, spec in _long_running(compose).items():
        assert spec.get("restart") in {"unless-stopped", "always"}, f"{name} is not started again after a crash"


def test_every_long_running_container_is_healthchecked_limited_rotated_read_only_and_unprivileged(
    compose: dict,
) -> None:
    for name, spec in _long_running(compose).items():
        assert spec.get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
        limits = spec.get("deploy", {}).get("resources", {}).get("limits", {})
        assert limits.get("cpus") and limits.get("memory"), f"{name} has no CPU and memory limits"
        logging = spec.get("logging", {})
        assert logging.get("driver") == "json-file", f"{name}'s log is not rotated"
        assert {"max-size", "max-file"} <= set(logging.get("options", {})), f"{name}'s log is not rotated"
        assert spec.get("read_only") is True, f"{name} can write its root filesystem"
        assert "/tmp" in spec.get("tmpfs", []), f"{name}: its writable paths are named (a tmpfs /tmp at least)"
        assert spec.get("cap_drop") == ["ALL"], f"{name} keeps Linux capabilities"
        assert set(spec.get("cap_add", [])) <= {"NET_BIND_SERVICE"}, f"{name} adds capabilities back"
        assert "no-new-privileges:true" in spec.get("security_opt", []), f"{name} may gain privileges"
    assert compose["services"]["gateway"]["cap_add"] == ["NET_BIND_SERVICE"], "caddy's binary needs it to start"


def test_only_the_gateway_faces_the_internet(compose: dict) -> None:
    public = {
        (name, str(port))
        for name, spec in compose["services"].items()
        for port in spec.get("ports", [])
        if not str(port).startswith("127.0.0.1:")
    }
    assert public == {
        ("gateway", "80:80"),
        ("gateway", "443:443"),
        ("gateway", "443:443/udp"),
        ("rabbitmq", "5671:5671"),  # agencies, over AMQPS with the gateway's certificate
    }
    for name in ("rabbitmq", "prometheus", "grafana"):
        for port in compose["services"][name].get("ports", []):
            assert str(port).startswith("127.0.0.1:") or str(port) == "5671:5671", f"{name}: {port}"
    rabbitmq = compose["configs"]["rabbitmq"]["content"]
    assert "listeners.ssl.default = 5671" in rabbitmq and "ssl_options.certfile = /tls/certificate.pem" in rabbitmq
    assert "${TLS_DIR:-./secrets/tls}:/tls:ro" in compose["services"]["rabbitmq"]["volumes"]
    assert "${TLS_DIR:-./secrets/tls}:/tls:ro" in compose["services"]["gateway"]["volumes"]


def test_stand_ins_run_only_in_the_dev_profile_and_nothing_else_waits_for_them(compose: dict) -> None:
    stand_ins = {
        name
        for name, spec in compose["services"].items()
        if spec.get("build", {}).get("args", {}).get("SERVICE") == "devtools"
    }
    assert {"courier-simulator", "notification-sinks"} <= stand_ins
    for name in stand_ins:
        assert compose["services"][name]["profiles"] == ["dev"], f"{name} runs outside the dev profile"
    for name, spec in compose["services"].items():
        if "dev" in spec.get("profiles", []):
            continue
        assert not stand_ins & set(spec.get("depends_on", {})), f"{name} waits for a stand-in"
        for variable, value in (spec.get("environment") or {}).items():
            assert not any(stand_in in str(value) for stand_in in stand_ins), f"{name}: {variable} names a stand-in"


def test_every_image_is_pinned_by_digest(compose: dict) -> None:
    for name, spec in compose["services"].items():
        if "image" in spec:
            assert DIGEST.search(spec["image"]), f"{name}: {spec['image']} is not pinned by digest"
        else:
            assert spec["build"]["context"] == ".", f"{name} is built from the Dockerfile, whose base is pinned"


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_is_migrated_by_the_owner_role_and_runs_as_its_own(compose: dict, service: str) -> None:
    migrate = compose["services"][f"migrate-{service}"]
    assert migrate["build"] == compose["services"][service]["build"], "the service's own image and migrations"
    assert migrate["command"] == ["python", "-m", "dukcapil_shared.deploy", "migrate", f"dukcapil_{service}:migrations"]
    assert migrate["environment"] == {
        "MIGRATE_DATABASE_URL": f"postgresql+asyncpg://{service}_owner@postgres:5432/{service}",
        "MIGRATE_DATABASE_PASSWORD_FILE": f"/run/secrets/db-{service}-owner",
    }
    assert secret_names(migrate) == {f"db-{service}-owner"}
    assert migrate["depends_on"]["postgres"]["condition"] == "service_healthy"
    environment = compose["services"][service]["environment"]
    assert environment[f"{service.upper()}_MIGRATE_ON_START"] == "false", "its role could not migrate anyway"


def test_secrets_are_given_to_the_user_each_container_runs_as(compose: dict) -> None:
    users = {"postgres": "999", "postgres-exporter": "65534"}
    for name, spec in compose["services"].items():
        if name == "setup":  # runs as root to fill the volumes
            continue
        for secret in spec.get("secrets", []):
            assert isinstance(secret, dict), f"{name}: {secret} in the long form, with its owner and mode"
            owner = users.get(name, SERVICE_USER)
            assert (secret["uid"], secret["gid"], secret["mode"]) == (owner, owner, 0o400), f"{name}: {secret}"


def _caddy() -> str:
    caddy = shutil.which("caddy") or "/usr/bin/caddy"
    assert Path(caddy).is_file(), "caddy is missing: apt-get install caddy (.ci/run does)"
    return caddy


def _adapted(tls: str) -> dict:
    result = subprocess.run(
        [_caddy(), "adapt", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
        env=os.environ | {"PUBLIC_HOSTNAME": "layanan.example.go.id", "GATEWAY_TLS": tls},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_gateway_serves_every_name_over_https_from_the_certificate_files_and_redirects_http(compose: dict) -> None:
    default = compose["services"]["gateway"]["environment"]["GATEWAY_TLS"]
    assert default == "${GATEWAY_TLS:-/tls/certificate.pem /tls/key.pem}"
    config = _adapted("/tls/certificate.pem /tls/key.pem")
    [server] = config["apps"]["http"]["servers"].values()
    assert server["listen"] == [":443"], "HTTPS only; Caddy's automatic HTTPS redirects port 80 to it"
    assert not server.get("automatic_https", {}).get("disable") and not server.get("automatic_https", {}).get(
        "disable_redirects"
    )
    hosts = {host for route in server["routes"] for match in route["match"] for host in match["host"]}
    assert hosts == {"layanan.example.go.id", *(f"{service}.layanan.example.go.id" for service in SERVICES)}
    [files] = config["apps"]["tls"]["certificates"]["load_files"]
    assert (files["certificate"], files["key"]) == ("/tls/certificate.pem", "/tls/key.pem")
    documents = json.dumps(
        next(r for r in server["routes"] if r["match"][0]["host"] == ["documents.layanan.example.go.id"])
    )
    assert '"/verify/*"' in documents and '"*text/html*"' in documents and '"web:8000"' in documents


def test_the_gateway_can_get_its_certificates_from_the_offices_acme_account() -> None:
    config = _adapted("ops@example.go.id")
    policies = config["apps"]["tls"]["automation"]["policies"]
    issuers = [issuer for policy in policies for issuer in policy.get("issuers", [])]
    assert issuers and all(
        issuer.get("email") == "ops@example.go.id" for issuer in issuers if issuer["module"] == "acme"
    )
