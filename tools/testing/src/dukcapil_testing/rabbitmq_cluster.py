"""A RabbitMQ cluster of three nodes on this machine, started and stopped by the tests.

Each node is the machine's own RabbitMQ installation run under another name (`dukcapil-a-<run>@localhost`...),
with its own AMQP and distribution ports, its own data and log directories under one temporary directory, and no
management plugin. The nodes share an Erlang cookie of this run's own and form the cluster at boot from their
configuration (classic peer discovery); they load a definitions document at boot too (virtual host, users,
permissions, exchanges), as compose's nodes do. A RabbitMQ already running on this machine (rabbit@localhost on
5672, its epmd) is never touched: every `rabbitmqctl` call names one of this cluster's nodes, with this run's
cookie.

`rabbitmq_cluster` (a module-scoped pytest fixture) starts one and, whatever happens, stops its nodes and deletes
their directories.
"""

import contextlib
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

# Debian's /usr/sbin scripts switch to the rabbitmq user and its home (and so its cookie); the real scripts run as
# whoever calls them, with the environment given here.
DEBIAN_SCRIPTS = Path("/usr/lib/rabbitmq/bin")
NODE_LETTERS = ("a", "b", "c")
KEEP_LOGS = "DUKCAPIL_TEST_CLUSTER_LOGS"
"""A directory where the nodes' logs are copied before their directories are deleted (to look into a failure)."""


class ClusterFailed(RuntimeError):
    pass


def rabbitmq_script(name: str) -> str | None:
    debian = DEBIAN_SCRIPTS / name
    return str(debian) if debian.exists() else shutil.which(name)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _die_with_parent() -> None:
    """In the child before exec: Linux sends it SIGKILL when the test process dies, so no node outlives the run."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


@dataclass
class Node:
    name: str
    amqp_port: int
    dist_port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        found = []
        for path in (self.directory / "stdout.log", *sorted((self.directory / "log").glob("*.log"))):
            if path.exists():
                found += [f"--- {path.name}", *path.read_text(errors="replace").splitlines()[-lines:]]
        return "\n".join(found)


@dataclass
class RabbitCluster:
    """Three RabbitMQ nodes forming one cluster (see the module's docstring). `start()` returns once every node
    runs and sees the others; `stop()` ends them and removes their directories."""

    definitions: Mapping[str, Any]
    size: int = 3
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:6])
    base: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="dukcapil-rabbitmq-cluster-")))
    nodes: list[Node] = field(default_factory=list)
    started_in: float = 0.0
    """Seconds from launching the nodes until the cluster was formed."""

    def __post_init__(self) -> None:
        for letter in NODE_LETTERS[: self.size]:
            directory = self.base / letter
            directory.mkdir(parents=True)
            self.nodes.append(
                Node(f"dukcapil-{letter}-{self.run}@localhost", free_port(), free_port(), directory=directory)
            )
        cookie = self.base / ".erlang.cookie"
        cookie.write_text(uuid.uuid4().hex)
        cookie.chmod(0o400)
        # An empty environment file instead of /etc/rabbitmq/rabbitmq-env.conf, which names the machine's node.
        (self.base / "rabbitmq-env.conf").write_text("")
        (self.base / "definitions.json").write_text(json.dumps(self.definitions))
        peers = "\n".join(
            f"cluster_formation.classic_config.nodes.{index} = {node.name}"
            for index, node in enumerate(self.nodes, start=1)
        )
        for node in self.nodes:
            (node.directory / "rabbitmq.conf").write_text(
                f"listeners.tcp.1 = 127.0.0.1:{node.amqp_port}\n"
                "cluster_formation.peer_discovery_backend = classic_config\n"
                f"{peers}\n"
                "cluster_partition_handling = pause_minority\n"
                f"load_definitions = {self.base / 'definitions.json'}\n"
                "log.console = false\n"
                "log.file.level = info\n"
            )
            (node.directory / "enabled_plugins").write_text("[].\n")

    def _environment(self, node: Node | None = None) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("RABBITMQ_", "ERL_")) and key not in {"NODENAME", "HOME"}
        }
        env |= {"HOME": str(self.base), "RABBITMQ_CONF_ENV_FILE": str(self.base / "rabbitmq-env.conf")}
        if node is not None:
            env |= {
                "RABBITMQ_NODENAME": node.name,
                "RABBITMQ_DIST_PORT": str(node.dist_port),
                "RABBITMQ_CONFIG_FILE": str(node.directory / "rabbitmq.conf"),
                "RABBITMQ_ADVANCED_CONFIG_FILE": str(node.directory / "advanced.config"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(node.directory / "enabled_plugins"),
                "RABBITMQ_MNESIA_BASE": str(node.directory / "mnesia"),
                "RABBITMQ_LOG_BASE": str(node.directory / "log"),
                "RABBITMQ_PID_FILE": str(node.directory / "rabbitmq.pid"),
                # The Erlang VM replaces the script (exec), so the process started is the node itself.
                "RUNNING_UNDER_SYSTEMD": "true",
                "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
            }
        return env

    def start(self, timeout: float = 90) -> None:
        server = rabbitmq_script("rabbitmq-server")
        if server is None or rabbitmq_script("rabbitmqctl") is None:
            raise ClusterFailed("rabbitmq-server and rabbitmqctl are not installed (apt-get install rabbitmq-server)")
        launched = time.monotonic()
        for node in self.nodes:
            self.launch(node)
        deadline = launched + timeout
        for node in self.nodes:
            self._await_startup(node, deadline)
        while sorted(self.running_nodes(self.nodes[0])) != sorted(node.name for node in self.nodes):
            if time.monotonic() > deadline:
                raise ClusterFailed(f"the nodes did not form one cluster in {timeout:g} s: {self.describe()}")
            time.sleep(0.5)
        self.started_in = time.monotonic() - launched

    def launch(self, node: Node) -> None:
        server = rabbitmq_script("rabbitmq-server")
        assert server is not None
        with open(node.directory / "stdout.log", "ab") as output:
            node.process = subprocess.Popen(
                [server],
                env=self._environment(node),
                cwd=node.directory,
                stdout=output,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent,
            )

    def _await_startup(self, node: Node, deadline: float) -> None:
        while True:
            if not node.alive:
                raise ClusterFailed(f"{node.name} exited while starting:\n{node.log_tail()}")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ClusterFailed(f"{node.name} did not start in time:\n{node.log_tail()}")
            result = self._ctl(node, "await_startup", "--timeout", str(max(1, int(remaining))), check=False)
            if result.returncode == 0:
                return
            time.sleep(0.5)  # the node is not reachable yet: await_startup answers at once until it is

    def _ctl(
        self, node: Node, *arguments: str, check: bool = True, timeout: float = 120, tool: str = "rabbitmqctl"
    ) -> subprocess.CompletedProcess[str]:
        script = rabbitmq_script(tool)
        assert script is not None
        result = subprocess.run(
            [script, "-n", node.name, *arguments],
            env=self._environment(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise ClusterFailed(f"{tool} -n {node.name} {' '.join(arguments)}: {result.stderr or result.stdout}")
        return result

    def ctl(self, node: Node, *arguments: str) -> str:
        """`rabbitmqctl -n <node> ...`: its output."""
        return self._ctl(node, *arguments).stdout

    def running_nodes(self, node: Node) -> list[str]:
        result = self._ctl(node, "cluster_status", "--formatter", "json", check=False)
        if result.returncode != 0:
            return []
        return list(json.loads(result.stdout).get("running_nodes", []))

    def live_node(self) -> Node:
        for node in self.nodes:
            if node.alive:
                return node
        raise ClusterFailed("no node of the cluster is running")

    def queues(self, vhost: str) -> list[dict[str, Any]]:
        """The virtual host's queues as a live node sees them: name, messages, leader, members, online members."""
        output = self.ctl(
            self.live_node(), "list_queues", "-p", vhost,
            "name", "type", "state", "messages", "leader", "members", "online", "--formatter", "json",
        )  # fmt: skip
        return list(json.loads(output))

    def node_named(self, name: str) -> Node:
        return next(node for node in self.nodes if node.name == name)

    def kill(self, node: Node) -> None:
        """SIGKILL the node's Erlang VM: no goodbye to its peers or its clients."""
        assert node.process is not None
        node.process.kill()
        node.process.wait(timeout=30)

    def amqp_urls(self, vhost: str, *, user: str | None = None, password: str | None = None) -> str:
        """AMQP_URL for every node, comma-separated, in the cluster's order."""
        credentials = f"{user}:{password}@" if user else ""
        return ",".join(f"amqp://{credentials}127.0.0.1:{node.amqp_port}/{vhost}" for node in self.nodes)

    def describe(self) -> str:
        return "; ".join(
            f"{node.name} amqp {node.amqp_port} {'running' if node.alive else 'stopped'}" for node in self.nodes
        )

    def stop(self) -> None:
        """Stop every node (SIGTERM, which the VM takes as a clean stop; SIGKILL after 30 s) and delete the
        directories."""
        try:
            for node in self.nodes:
                if node.alive:
                    assert node.process is not None
                    node.process.terminate()
            for node in self.nodes:
                if node.process is not None:
                    try:
                        node.process.wait(timeout=30)
                    except subprocess.TimeoutExpired:
                        node.process.kill()
                        node.process.wait(timeout=30)
        finally:
            if kept := os.environ.get(KEEP_LOGS):
                for node in self.nodes:
                    with contextlib.suppress(OSError):
                        shutil.copytree(node.directory / "log", Path(kept) / node.name, dirs_exist_ok=True)
            shutil.rmtree(self.base, ignore_errors=True)


def start_cluster(definitions: Mapping[str, Any], *, size: int = 3, timeout: float = 90) -> RabbitCluster:
    cluster = RabbitCluster(definitions=definitions, size=size)
    try:
        cluster.start(timeout=timeout)
    except BaseException:
        cluster.stop()
        raise
    return cluster


@contextlib.contextmanager
def running_cluster(definitions: Mapping[str, Any], *, size: int = 3, timeout: float = 90) -> Iterator[RabbitCluster]:
    cluster = start_cluster(definitions, size=size, timeout=timeout)
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def rabbitmq_cluster(cluster_definitions: Mapping[str, Any]) -> Iterator[RabbitCluster]:
    """A three-node cluster for the test module (skipped where RabbitMQ is not installed, failed in CI), loading
    the `cluster_definitions` fixture's document at boot; stopped and deleted afterwards, whatever happened."""
    if rabbitmq_script("rabbitmq-server") is None:
        message = "rabbitmq-server is not installed on this machine"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}; CI must have it (.ci/run installs it)")
        pytest.skip(message)
    with running_cluster(cluster_definitions) as cluster:
        yield cluster
