"""The Kubernetes manifests (deploy/kubernetes, docs/kubernetes.md), rendered by kubectl's own kustomize and checked
without a cluster: every object against Kubernetes' schemas (kubernetes-validate) or, for the operators' resources,
against the schema in the operator's CRD (deploy/kubernetes/schemas), then against rules of our own."""

import copy
import fnmatch
import re
import subprocess
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import kubernetes_validate.utils
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
KUBERNETES = ROOT / "deploy" / "kubernetes"
OVERLAYS = {"base": KUBERNETES / "base", "production": KUBERNETES / "overlays" / "production"}
KUBERNETES_VERSION = "1.33.0"
CUSTOM_RESOURCES = {
    ("rabbitmq.com/v1beta1", "RabbitmqCluster"): "rabbitmq.com_rabbitmqclusters.yaml",
    ("postgresql.cnpg.io/v1", "Cluster"): "postgresql.cnpg.io_clusters.yaml",
    ("keda.sh/v1alpha1", "ScaledObject"): "keda.sh_scaledobjects.yaml",
    ("keda.sh/v1alpha1", "TriggerAuthentication"): "keda.sh_triggerauthentications.yaml",
}
SERVICES = {"intake": 8001, "review": 8002, "documents": 8003, "shipping": 8004}
PORTAL = 8000
# Each service's subscription queues (dukcapil.<service>.<subscription>, the `Subscription`s in its consumers).
SUBSCRIPTIONS = {
    "intake": ["lifecycle", "operations"],
    "review": ["requests"],
    "documents": ["approvals"],
    "shipping": ["requests", "documents"],
}
# Made by the operators, not by the office (the RabbitMQ cluster operator's administrator).
OPERATOR_SECRETS = {"broker-default-user"}
# Settings compose gives a service that the manifests leave out on purpose.
COMPOSE_ONLY = {
    "OTEL_EXPORTER_OTLP_ENDPOINT": "tracing is off unless set; compose passes an empty value through",
}


@cache
def render(directory: Path) -> list[dict[str, Any]]:
    kubectl = Path(sys.executable).parent / "kubectl"
    result = subprocess.run(
        [str(kubectl), "kustomize", str(directory)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    return [document for document in yaml.load_all(result.stdout, Loader=yaml.CSafeLoader) if document]


@pytest.fixture(scope="module", autouse=True)
def schemas_read_once() -> Iterator[None]:
    """kubernetes-validate reads and parses its schema files (one of them several megabytes) on every call: once is
    enough here, which keeps this module within its time budget."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(kubernetes_validate.utils, "schema_contents", cache(kubernetes_validate.utils.schema_contents))
        patch.setattr(kubernetes_validate.utils, "all_versions", cache(kubernetes_validate.utils.all_versions))
        yield


@pytest.fixture(scope="module", params=list(OVERLAYS))
def rendered(request: pytest.FixtureRequest) -> list[dict[str, Any]]:
    return render(OVERLAYS[request.param])


@pytest.fixture(scope="module")
def production() -> list[dict[str, Any]]:
    return render(OVERLAYS["production"])


def of_kind(objects: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [found for found in objects if found["kind"] == kind]


def named(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [found for found in of_kind(objects, kind) if found["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}, found {len(matches)}"
    return matches[0]


def pod_templates(objects: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    for workload in objects:
        if workload["kind"] in {"Deployment", "Job"}:
            yield workload, workload["spec"]["template"]


def selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    """A Kubernetes label selector (matchLabels and matchExpressions) applied to a pod's labels."""
    if any(labels.get(key) != value for key, value in selector.get("matchLabels", {}).items()):
        return False
    for expression in selector.get("matchExpressions", []):
        key, operator, values = expression["key"], expression["operator"], expression.get("values", [])
        present = key in labels
        if operator == "In" and not (present and labels[key] in values):
            return False
        if operator == "NotIn" and present and labels[key] in values:
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


@cache
def crd_schema(filename: str, version: str) -> dict[str, Any]:
    crd = yaml.load((KUBERNETES / "schemas" / filename).read_text(encoding="utf-8"), Loader=yaml.CSafeLoader)
    (served,) = [entry for entry in crd["spec"]["versions"] if entry["name"] == version]
    return closed(served["schema"]["openAPIV3Schema"])


def closed(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with unknown fields refused, as the API server's strict field validation refuses them, except where
    the CRD keeps unknown fields on purpose (x-kubernetes-preserve-unknown-fields)."""
    schema = copy.deepcopy(schema)

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            if (
                "properties" in node
                and "additionalProperties" not in node
                and not node.get("x-kubernetes-preserve-unknown-fields")
            ):
                node["additionalProperties"] = False
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit(schema)
    return schema


def test_every_object_is_valid_against_its_schema(rendered: list[dict[str, Any]]) -> None:
    problems = []
    for found in rendered:
        what = f"{found['kind']} {found['metadata']['name']}"
        custom = CUSTOM_RESOURCES.get((found["apiVersion"], found["kind"]))
        try:
            if custom:
                schema = crd_schema(custom, found["apiVersion"].rsplit("/", 1)[1])
                jsonschema.Draft7Validator(schema).validate(found)
            else:
                kubernetes_validate.validate(found, KUBERNETES_VERSION, strict=True)
        except jsonschema.ValidationError as error:
            problems.append(f"{what}: {error.message} at {'/'.join(map(str, error.absolute_path))}")
        except kubernetes_validate.SchemaNotFoundError as error:
            problems.append(f"{what}: {error.message}")
    assert not problems, "\n".join(problems)


def test_a_typo_in_a_custom_resource_is_caught() -> None:
    """The CRD schemas refuse unknown fields here as the API server does (otherwise they would pass anything)."""
    broker = {"apiVersion": "rabbitmq.com/v1beta1", "kind": "RabbitmqCluster", "metadata": {"name": "b"}}
    schema = crd_schema(CUSTOM_RESOURCES[("rabbitmq.com/v1beta1", "RabbitmqCluster")], "v1beta1")
    jsonschema.Draft7Validator(schema).validate(broker | {"spec": {"replicas": 3}})
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(schema).validate(broker | {"spec": {"replica": 3}})


def test_every_container_runs_locked_down_with_probes_and_limits(rendered: list[dict[str, Any]]) -> None:
    problems = []
    for workload, template in pod_templates(rendered):
        name = f"{workload['kind']} {workload['metadata']['name']}"
        pod = template["spec"]
        security = pod.get("securityContext", {})
        if not (security.get("runAsNonRoot") and security.get("runAsUser") == 10001):
            problems.append(f"{name}: the pod does not run as the non-root uid 10001")
        if security.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            problems.append(f"{name}: no RuntimeDefault seccomp profile")
        if pod.get("automountServiceAccountToken") is not False:
            problems.append(f"{name}: mounts a service account token it has no use for")
        for container in pod["containers"] + pod.get("initContainers", []):
            where = f"{name}/{container['name']}"
            context = container.get("securityContext", {})
            if context.get("readOnlyRootFilesystem") is not True:
                problems.append(f"{where}: root filesystem writable")
            if context.get("allowPrivilegeEscalation") is not False:
                problems.append(f"{where}: privilege escalation allowed")
            if context.get("capabilities", {}).get("drop") != ["ALL"]:
                problems.append(f"{where}: capabilities not all dropped")
            resources = container.get("resources", {})
            for bound in ("requests", "limits"):
                if set(resources.get(bound, {})) < {"cpu", "memory"}:
                    problems.append(f"{where}: no cpu and memory {bound}")
            if workload["kind"] == "Deployment" and not (
                container.get("livenessProbe") and container.get("readinessProbe")
            ):
                problems.append(f"{where}: no liveness and readiness probes")
    assert not problems, "\n".join(problems)


def test_services_and_portal_are_probed_on_healthz_and_readyz(rendered: list[dict[str, Any]]) -> None:
    for name, port in SERVICES.items() | {("web", PORTAL)}:
        (container,) = named(rendered, "Deployment", name)["spec"]["template"]["spec"]["containers"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["ports"] == [{"name": "http", "containerPort": port}]
        service = named(rendered, "Service", name)
        assert service["spec"]["ports"][0]["port"] == port
        assert selects({"matchLabels": service["spec"]["selector"]}, container_labels(rendered, name))


def container_labels(objects: list[dict[str, Any]], deployment: str) -> dict[str, str]:
    return named(objects, "Deployment", deployment)["spec"]["template"]["metadata"]["labels"]


def pods(objects: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """Every kind of pod the manifests make, by a name, with its labels: ours, and those the operators make."""
    found = {
        workload["metadata"]["name"]: template["metadata"]["labels"] for workload, template in pod_templates(objects)
    }
    for broker in of_kind(objects, "RabbitmqCluster"):
        found[broker["metadata"]["name"]] = {"app.kubernetes.io/name": broker["metadata"]["name"]}
    for cluster in of_kind(objects, "Cluster"):
        found[cluster["metadata"]["name"]] = {"cnpg.io/cluster": cluster["metadata"]["name"]}
    return found


def test_every_workload_has_a_disruption_budget_and_a_network_policy(rendered: list[dict[str, Any]]) -> None:
    policies = [policy for policy in of_kind(rendered, "NetworkPolicy") if policy["spec"]["podSelector"]]
    budgets = of_kind(rendered, "PodDisruptionBudget")
    # Each Deployment's autoscaler (KEDA's ScaledObject, or a HorizontalPodAutoscaler) and its fewest replicas.
    scaled = {
        found["spec"]["scaleTargetRef"]["name"]: found["spec"]["minReplicaCount"]
        for found in of_kind(rendered, "ScaledObject")
    }
    scaled |= {
        found["spec"]["scaleTargetRef"]["name"]: found["spec"]["minReplicas"]
        for found in of_kind(rendered, "HorizontalPodAutoscaler")
    }
    problems = []
    for name, labels in pods(rendered).items():
        if not any(selects(policy["spec"]["podSelector"], labels) for policy in policies):
            problems.append(f"{name}: no NetworkPolicy of its own")
    for deployment in of_kind(rendered, "Deployment"):
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        if not any(selects(budget["spec"]["selector"], labels) for budget in budgets):
            problems.append(f"{deployment['metadata']['name']}: no PodDisruptionBudget")
        name = deployment["metadata"]["name"]
        if name in scaled:
            if "replicas" in deployment["spec"]:
                problems.append(f"{name}: replicas set beside its autoscaler (each apply would reset them)")
            if scaled[name] < 2:
                problems.append(f"{name}: fewer than two replicas cannot keep a budget of one available")
        elif name != "redis":
            problems.append(f"{name}: no autoscaler")
    assert not problems, "\n".join(problems)


def test_everything_is_denied_unless_a_policy_allows_it(rendered: list[dict[str, Any]]) -> None:
    deny = named(rendered, "NetworkPolicy", "default-deny")["spec"]
    assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}


def reachable(objects: list[dict[str, Any]], source: str, direction: str) -> dict[str, set[int | str]]:
    """Within the namespace: the pods `source` may reach (egress) or be reached from (ingress), with the ports."""
    everyone = pods(objects)
    labels = everyone[source]
    peers_key = "to" if direction == "egress" else "from"
    allowed: dict[str, set[int | str]] = {}
    for policy in of_kind(objects, "NetworkPolicy"):
        spec = policy["spec"]
        if not spec["podSelector"] or not selects(spec["podSelector"], labels):
            continue
        for rule in spec.get(direction, []):
            ports = {port["port"] for port in rule.get("ports", [])} or {"any"}
            for peer in rule.get(peers_key, []):
                if "podSelector" not in peer or "namespaceSelector" in peer:
                    continue
                for other, other_labels in everyone.items():
                    if selects(peer["podSelector"], other_labels):
                        allowed.setdefault(other, set()).update(ports)
    return allowed


def outside(objects: list[dict[str, Any]], source: str, direction: str) -> list[dict[str, Any]]:
    """The peers of `source`'s rules that are not pods of this namespace (other namespaces, addresses)."""
    labels = pods(objects)[source]
    peers_key = "to" if direction == "egress" else "from"
    found = []
    for policy in of_kind(objects, "NetworkPolicy"):
        spec = policy["spec"]
        if spec["podSelector"] and selects(spec["podSelector"], labels):
            for rule in spec.get(direction, []):
                found += [
                    peer | {"ports": rule.get("ports")}
                    for peer in rule.get(peers_key, [])
                    if "podSelector" not in peer or "namespaceSelector" in peer
                ]
    return found


def test_each_service_reaches_only_the_broker_its_database_and_redis(rendered: list[dict[str, Any]]) -> None:
    for service in SERVICES:
        expected: dict[str, set[int | str]] = {"broker": {5672}, f"{service}-db": {5432}, "redis": {6379}}
        if service == "intake":
            expected["broker"].add(15672)  # agencies' onboarding through the management API
        assert reachable(rendered, service, "egress") == expected
        # Outside the namespace: only the integrations, on their ports (no pod of another namespace).
        for peer in outside(rendered, service, "egress"):
            assert "ipBlock" in peer, peer
            assert service in {"intake", "review", "shipping"}
        assert reachable(rendered, service, "ingress") == {"web": {SERVICES[service]}}
        namespaces = {
            peer["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
            for peer in outside(rendered, service, "ingress")
        }
        assert namespaces == {"ingress-nginx", "monitoring"}
    # A service's migrations reach its database and nothing else.
    for service in SERVICES:
        assert reachable(rendered, f"{service}-migrations", "egress") == {f"{service}-db": {5432}}
        assert outside(rendered, f"{service}-migrations", "egress") == []
    # A database is reached by its own service, its migrations and its own instances only.
    for service in SERVICES:
        assert set(reachable(rendered, f"{service}-db", "ingress")) == {
            service,
            f"{service}-migrations",
            f"{service}-db",
        }


def test_the_portal_reaches_the_four_services_and_redis_only(rendered: list[dict[str, Any]]) -> None:
    expected = {name: {port} for name, port in SERVICES.items()} | {"redis": {6379}}
    assert reachable(rendered, "web", "egress") == expected
    assert outside(rendered, "web", "egress") == []
    assert reachable(rendered, "web", "ingress") == {}


def referenced_secrets(objects: list[dict[str, Any]]) -> set[str]:
    names: set[str] = set()

    def visit(node: Any, parent: str | None = None) -> None:
        if isinstance(node, dict):
            if parent in {"secretKeyRef", "secret", "passwordSecret", "superuserSecret"} and "name" in node:
                names.add(node["name"])
            if "secretName" in node and parent != "tls":
                names.add(node["secretName"])
            if parent == "secretTargetRef":
                names.add(node["name"])
            for key, value in node.items():
                visit(value, key)
        elif isinstance(node, list):
            for value in node:
                visit(value, parent)

    for found in objects:
        if found["kind"] != "Ingress":  # its TLS Secret is cert-manager's
            visit(found)
    return names


def test_no_secret_is_committed_and_every_secret_used_is_documented(rendered: list[dict[str, Any]]) -> None:
    assert of_kind(rendered, "Secret") == []
    for path in KUBERNETES.rglob("*.yaml"):
        if path.parent.name != "schemas":
            assert not re.search(r"^kind:\s*Secret\s*$", path.read_text(encoding="utf-8"), re.MULTILINE), path
    guide = (ROOT / "docs" / "kubernetes.md").read_text(encoding="utf-8")
    secrets = referenced_secrets(rendered) - OPERATOR_SECRETS
    assert {"intake-database", "intake-database-owner", "intake-broker", "web-session"} <= secrets
    assert [name for name in sorted(secrets) if f"`{name}`" not in guide] == []


def test_each_service_gets_every_setting_compose_gives_it(production: list[dict[str, Any]]) -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    common = {
        key
        for config in of_kind(production, "ConfigMap")
        if config["metadata"]["name"].startswith("common-settings")
        for key in config["data"]
    }
    for name in [*SERVICES, "web"]:
        (container,) = named(production, "Deployment", name)["spec"]["template"]["spec"]["containers"]
        given = {variable["name"] for variable in container["env"]}
        if container.get("envFrom"):
            given |= common
        wanted = set(compose["services"][name]["environment"]) - set(COMPOSE_ONLY)
        assert sorted(wanted - given) == [], f"{name} lacks settings compose gives it"


def test_settings_files_point_at_mounted_files(rendered: list[dict[str, Any]]) -> None:
    for workload, template in pod_templates(rendered):
        for container in template["spec"]["containers"]:
            mounts = [mount["mountPath"] for mount in container.get("volumeMounts", [])]
            for variable in container.get("env", []):
                if variable["name"].endswith("_FILE"):
                    assert any(variable["value"].startswith(mount + "/") for mount in mounts), (
                        f"{workload['metadata']['name']}: {variable['name']} names {variable['value']}, not mounted"
                    )


def test_each_service_migrates_as_its_owner_and_runs_as_its_row_only_role(rendered: list[dict[str, Any]]) -> None:
    for service in SERVICES:
        job = named(rendered, "Job", f"{service}-migrations")
        (container,) = job["spec"]["template"]["spec"]["containers"]
        assert container["command"] == [
            "python",
            "-m",
            "dukcapil_shared.deploy",
            "migrate",
            f"dukcapil_{service}:migrations",
        ]
        env = {variable["name"]: variable.get("value") for variable in container["env"]}
        assert env["MIGRATE_DATABASE_URL"].startswith(f"postgresql+asyncpg://{service}_owner@{service}-db-rw:")
        (server,) = named(rendered, "Deployment", service)["spec"]["template"]["spec"]["containers"]
        settings = {variable["name"]: variable.get("value") for variable in server["env"]}
        prefix = service.upper()
        assert settings[f"{prefix}_DATABASE_URL"].startswith(f"postgresql+asyncpg://{service}@{service}-db-rw:")
        assert settings[f"{prefix}_MIGRATE_ON_START"] == "false"
        cluster = named(rendered, "Cluster", f"{service}-db")["spec"]
        assert cluster["bootstrap"]["initdb"]["owner"] == f"{service}_owner"
        assert [role["name"] for role in cluster["managed"]["roles"]] == [service]
        assert cluster["instances"] == 3


def test_each_consumer_scales_on_its_own_subscription_queues(rendered: list[dict[str, Any]]) -> None:
    for service, subscriptions in SUBSCRIPTIONS.items():
        scaled = named(rendered, "ScaledObject", service)["spec"]
        assert scaled["scaleTargetRef"]["name"] == service
        assert scaled["minReplicaCount"] >= 2  # the disruption budget keeps one of them
        (queues,) = [trigger for trigger in scaled["triggers"] if trigger["type"] == "rabbitmq"]
        pattern = re.compile(queues["metadata"]["queueName"])
        assert queues["metadata"]["useRegex"] == "true" and queues["metadata"]["operation"] == "sum"
        for subscription in subscriptions:
            assert pattern.fullmatch(f"dukcapil.{service}.{subscription}")
        every_subscription = {name for names in SUBSCRIPTIONS.values() for name in names}
        for queue in ["dead-letter", "delay.1000ms", *sorted(every_subscription - set(subscriptions))]:
            assert not pattern.fullmatch(f"dukcapil.{service}.{queue}"), queue
        for other_service in set(SUBSCRIPTIONS) - {service}:
            for subscription in subscriptions:
                assert not pattern.fullmatch(f"dukcapil.{other_service}.{subscription}")
        assert queues["authenticationRef"]["name"] in {
            t["metadata"]["name"] for t in of_kind(rendered, "TriggerAuthentication")
        }


def test_the_broker_is_a_three_node_rabbitmq_cluster(rendered: list[dict[str, Any]]) -> None:
    (broker,) = of_kind(rendered, "RabbitmqCluster")
    assert broker["spec"]["replicas"] == 3
    assert "cluster_partition_handling = pause_minority" in broker["spec"]["rabbitmq"]["additionalConfig"]
    common = next(c for c in of_kind(rendered, "ConfigMap") if c["metadata"]["name"].startswith("common-settings"))
    assert common["data"]["AMQP_URL"].startswith(f"amqp://{broker['metadata']['name']}:5672/")


def test_the_ingress_serves_every_host_over_tls_and_refuses_metrics(production: list[dict[str, Any]]) -> None:
    (ingress,) = of_kind(production, "Ingress")
    assert ingress["metadata"]["annotations"]["cert-manager.io/cluster-issuer"]
    hosts = {rule["host"] for rule in ingress["spec"]["rules"]}
    assert hosts == {host for tls in ingress["spec"]["tls"] for host in tls["hosts"]}
    assert not any(fnmatch.fnmatch(host, "*.invalid") for host in hosts)
    backends = {}
    for rule in ingress["spec"]["rules"]:
        paths = {path["path"]: path["backend"]["service"]["name"] for path in rule["http"]["paths"]}
        assert paths["/metrics"] == "refused", rule["host"]
        backends[rule["host"]] = paths["/"]
    assert sorted(backends.values()) == sorted([*SERVICES, "web"])
    refused = named(production, "Service", "refused")
    assert "selector" not in refused["spec"]


def test_production_replaces_every_placeholder(production: list[dict[str, Any]]) -> None:
    site = next(c for c in of_kind(production, "ConfigMap") if c["metadata"]["name"].startswith("site-settings"))
    assert [key for key, value in site["data"].items() if "example.invalid" in value or "set-in" in value] == []
    images = {
        container["image"] for _, template in pod_templates(production) for container in template["spec"]["containers"]
    }
    assert all(":" in image and not image.endswith(":latest") for image in images), images


def test_a_policy_opening_another_services_database_is_seen(production: list[dict[str, Any]]) -> None:
    """The reach the tests above compute follows every policy that selects a pod, not only the one named after it."""
    opening = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "review-reporting"},
        "spec": {
            "podSelector": {
                "matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "In", "values": ["review"]}]
            },
            "policyTypes": ["Egress"],
            "egress": [
                {"to": [{"podSelector": {"matchLabels": {"cnpg.io/cluster": "intake-db"}}}], "ports": tcp(5432)}
            ],
        },
    }
    assert "intake-db" not in reachable(production, "review", "egress")
    assert reachable([*production, opening], "review", "egress")["intake-db"] == {5432}


def tcp(*ports: int) -> list[dict[str, Any]]:
    return [{"protocol": "TCP", "port": port} for port in ports]
