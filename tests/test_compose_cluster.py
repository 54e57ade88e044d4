"""deploy/compose/rabbitmq-cluster.yml, the three-node broker for compose, checked as compose would merge it over
docker-compose.yml (no Docker engine runs on our machines)."""

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from dukcapil_shared.messaging.cluster import broker_addresses

ROOT = Path(__file__).resolve().parents[1]
BASE = ROOT / "docker-compose.yml"
OVERRIDE = ROOT / "deploy" / "compose" / "rabbitmq-cluster.yml"
NODES = ("rabbitmq", "rabbitmq-2", "rabbitmq-3")
SERVICES = ("intake", "review", "documents", "shipping")
COOKIE = "/var/lib/rabbitmq/.erlang.cookie"


def merge(base: Any, override: Any) -> Any:
    """Compose's merge, as far as these files need it: mappings key by key, sequences appended (configs and
    secrets of the same target are the override's)."""
    if isinstance(base, dict) and isinstance(override, dict):
        return {key: merge(base[key], value) if key in base else value for key, value in override.items()} | {
            key: value for key, value in base.items() if key not in override
        }
    if isinstance(base, list) and isinstance(override, list):
        targets = {item.get("target") for item in override if isinstance(item, dict)}
        return [item for item in base if not (isinstance(item, dict) and item.get("target") in targets)] + override
    return override


@pytest.fixture(scope="module")
def merged() -> dict[str, Any]:
    return merge(yaml.safe_load(BASE.read_text()), yaml.safe_load(OVERRIDE.read_text()))


def test_the_override_and_the_merged_file_are_valid_against_the_compose_specification(
    merged: dict[str, Any], tmp_path: Path
) -> None:
    merged_file = tmp_path / "merged.yml"
    merged_file.write_text(yaml.safe_dump(merged))
    checker = Path(sys.executable).parent / "check-jsonschema"
    for path in (OVERRIDE, merged_file):
        result = subprocess.run(
            [str(checker), "--builtin-schema", "vendor.compose-spec", str(path)],
            capture_output=True,
            text=True,
            env=os.environ | {"PUBLIC_HOSTNAME": "x"},
            timeout=120,
        )
        assert result.returncode == 0, f"{path.name}: {result.stdout}{result.stderr}"


def test_three_nodes_of_one_broker_each_with_its_own_name_and_data(merged: dict[str, Any]) -> None:
    nodes = {name: merged["services"][name] for name in NODES}
    assert len({node["image"] for node in nodes.values()}) == 1, "every node runs the same RabbitMQ"
    assert [node["hostname"] for node in nodes.values()] == list(NODES), "a node's name is rabbit@<its hostname>"
    data = [next(v for v in node["volumes"] if v.endswith(":/var/lib/rabbitmq")) for node in nodes.values()]
    assert len(set(data)) == 3, f"each node keeps its own data: {data}"
    for name, node in nodes.items():
        targets = {config["target"]: config["source"] for config in node["configs"]}
        assert targets["/etc/rabbitmq/conf.d/30-cluster.conf"] == "rabbitmq-cluster", name
        assert targets["/etc/rabbitmq/conf.d/20-dukcapil.conf"] == "rabbitmq", f"{name} loads the same definitions"
        assert node["healthcheck"]["test"], name
        assert node["read_only"] is True and node["cap_drop"] == ["ALL"], f"{name} is hardened as the first node is"
    assert "ports" not in nodes["rabbitmq-2"] and "ports" not in nodes["rabbitmq-3"], "only the first is published"


def test_the_nodes_share_one_cookie_from_a_secret_and_find_each_other_by_name(merged: dict[str, Any]) -> None:
    for name in NODES:
        [cookie] = [s for s in merged["services"][name]["secrets"] if s["source"] == "rabbitmq-erlang-cookie"]
        assert cookie["target"] == COOKIE and cookie["mode"] == 0o400 and cookie["uid"] == "999", name
    assert merged["secrets"]["rabbitmq-erlang-cookie"]["file"].startswith("./secrets/"), "a secret, never committed"
    settings = dict(
        line.split(" = ", 1)
        for line in merged["configs"]["rabbitmq-cluster"]["content"].splitlines()
        if " = " in line and not line.startswith("#")
    )
    assert settings["cluster_formation.peer_discovery_backend"] == "classic_config"
    peers = sorted(value for key, value in settings.items() if key.startswith("cluster_formation.classic_config"))
    assert peers == sorted(f"rabbit@{merged['services'][name]['hostname']}" for name in NODES)


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_knows_every_node_and_starts_once_all_run(merged: dict[str, Any], service: str) -> None:
    spec = merged["services"][service]
    hosts = [address.host for address in broker_addresses(spec["environment"]["AMQP_URL"])]
    assert hosts == list(NODES)
    for node in NODES:
        assert spec["depends_on"][node]["condition"] == "service_healthy", f"{service} must wait for {node}"
    assert spec["depends_on"]["setup"]["condition"] == "service_completed_successfully", "the base file's stay"
