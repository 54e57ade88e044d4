"""The broker side of the faults: rabbitmqctl for what only the server can do (stop, close connections, list),
and a plain AMQP client for what a test publishes or reads itself (captured, poisoned, dead letters)."""

import asyncio
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aio_pika
import aiormq

EVENTS_EXCHANGE = "dukcapil.events"


def vhost_of(amqp_url: str) -> str:
    return urlsplit(amqp_url).path.lstrip("/")


def rabbitmqctl(*args: str, timeout: float = 60) -> str:
    return subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, text=True, timeout=timeout).stdout


@dataclass(frozen=True)
class QueueStats:
    ready: int
    unacked: int
    consumers: int


def queue_stats(amqp_url: str) -> dict[str, QueueStats]:
    """Every queue of the test's vhost: messages ready, delivered but not acked, and consumers."""
    output = rabbitmqctl(
        "list_queues",
        "-p",
        vhost_of(amqp_url),
        "name",
        "messages_ready",
        "messages_unacknowledged",
        "consumers",
        "--no-table-headers",
        "--quiet",
    )
    stats = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) == 4:
            stats[parts[0]] = QueueStats(int(parts[1]), int(parts[2]), int(parts[3]))
    return stats


def busy_queues(amqp_url: str) -> dict[str, QueueStats]:
    """Queues with work left: anything but dead letters and the tests' own capture queues."""
    return {
        name: stats
        for name, stats in queue_stats(amqp_url).items()
        if (stats.ready or stats.unacked) and not name.endswith(".dead-letter") and not name.startswith("chaos.")
    }


def connections(amqp_url: str) -> list[dict[str, Any]]:
    """The vhost's client connections, each with its pid (for close_connection) and client-given name."""
    vhost = vhost_of(amqp_url)
    # The JSON formatter shows the client's properties but not a pid close_connection takes; the table does.
    pids = {}
    for line in rabbitmqctl("list_connections", "pid", "name", "vhost", "--no-table-headers", "--quiet").splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and parts[2] == vhost:
            pids[parts[1]] = parts[0]
    output = rabbitmqctl("list_connections", "name", "vhost", "client_properties", "--formatter", "json")
    found = []
    for connection in json.loads(output or "[]"):
        if connection.get("vhost") != vhost or connection.get("name") not in pids:
            continue
        properties = connection.get("client_properties") or []
        # The JSON formatter renders the AMQP table as [name, type, value] triples.
        given = next((item[2] for item in properties if isinstance(item, list) and item[0] == "connection_name"), None)
        found.append({"pid": pids[connection["name"]], "name": connection["name"], "client_name": given})
    return found


def close_connections(amqp_url: str, client_name: str) -> int:
    """Close, from the broker side, every connection the named service holds; returns how many."""
    closed = 0
    for connection in connections(amqp_url):
        if connection["client_name"] == client_name:
            rabbitmqctl("close_connection", connection["pid"], "chaos test: closed by the broker")
            closed += 1
    return closed


def memory_watermark() -> list[str]:
    """The broker's memory high watermark as `set_vm_memory_high_watermark` takes it: a fraction of the machine's
    memory (`0.4`) or `absolute <bytes>`."""
    value = rabbitmqctl("eval", "vm_memory_monitor:get_vm_memory_high_watermark().").strip()
    if value.startswith("{absolute,"):
        return ["absolute", value.removeprefix("{absolute,").rstrip("}").strip()]
    return [str(float(value))]


def block_publishers() -> None:
    """Raise RabbitMQ's memory alarm (watermark 0): it stops reading from every connection that publishes until
    the watermark is set back (`set_memory_watermark`). Services' publishes wait; nothing is refused."""
    rabbitmqctl("set_vm_memory_high_watermark", "0")


def set_memory_watermark(watermark: list[str]) -> None:
    rabbitmqctl("set_vm_memory_high_watermark", *watermark)


def rabbitmqctl_later(seconds: float, *args: str) -> subprocess.Popen[bytes]:
    """A detached process that runs `rabbitmqctl args` after `seconds`, whatever happens to this one: a scenario
    that changes the machine's broker puts it back even if the test run dies. Kill it once put back."""
    return subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import subprocess, time; time.sleep({seconds}); subprocess.run(['rabbitmqctl', *{list(args)!r}])",
        ],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop_broker() -> None:
    rabbitmqctl("stop_app", timeout=120)


def start_broker(timeout: float = 120) -> None:
    """start_app, then wait until it takes AMQP connections again."""
    rabbitmqctl("start_app", timeout=timeout)
    rabbitmqctl("await_startup", timeout=timeout)


def broker_running() -> bool:
    try:
        rabbitmqctl("await_startup", "--timeout", "5", timeout=30)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
        return False
    return True


async def wait_broker_accepts(amqp_url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            connection = await asyncio.wait_for(aio_pika.connect(amqp_url), timeout=5)
            await connection.close()
            return
        except (OSError, TimeoutError, aiormq.exceptions.AMQPError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


def bindings_to(amqp_url: str, queue: str, exchange: str = EVENTS_EXCHANGE) -> list[str]:
    """The routing keys that bind `queue` to `exchange`."""
    output = rabbitmqctl(
        "list_bindings",
        "-p",
        vhost_of(amqp_url),
        "source_name",
        "destination_name",
        "routing_key",
        "--no-table-headers",
        "--quiet",
    )
    keys = []
    for line in output.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0] == exchange and parts[1] == queue:
            keys.append(parts[2])
    return keys


class Amqp:
    """A test's own AMQP connection to the vhost."""

    def __init__(self, amqp_url: str) -> None:
        self.url = amqp_url
        self.connection: aio_pika.abc.AbstractRobustConnection | None = None
        self.channel: aio_pika.abc.AbstractChannel | None = None

    async def __aenter__(self) -> "Amqp":
        self.connection = await asyncio.wait_for(aio_pika.connect_robust(self.url), timeout=15)
        self.channel = await self.connection.channel(publisher_confirms=True)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self.connection is not None:
            await asyncio.wait_for(self.connection.close(), timeout=15)

    async def events(self) -> aio_pika.abc.AbstractExchange:
        assert self.channel is not None
        return await self.channel.get_exchange(EVENTS_EXCHANGE, ensure=True)

    async def publish(
        self,
        body: bytes,
        routing_key: str,
        *,
        message_id: str,
        exchange: str = EVENTS_EXCHANGE,
        headers: dict[str, Any] | None = None,
        correlation_id: str | None = None,
        content_type: str | None = "application/cloudevents+json",
        message_type: str | None = None,
        user_id: str | None = None,
    ) -> None:
        """Publish persistent, with a publisher confirm (the call returns once the broker has it). `user_id` names
        the publisher as the consumers check it: the test's connection may name any (see `Chaos.amqp_admin_url`)."""
        assert self.channel is not None
        target = self.channel.default_exchange if exchange == "" else await self.channel.get_exchange(exchange)
        message = aio_pika.Message(
            body,
            message_id=message_id,
            correlation_id=correlation_id,
            content_type=content_type,
            type=message_type or routing_key,
            headers=headers or {},
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            user_id=user_id,
        )
        await asyncio.wait_for(target.publish(message, routing_key=routing_key, mandatory=False), timeout=15)

    async def capture(self, name: str, routing_keys: list[str]) -> aio_pika.abc.AbstractQueue:
        """A durable queue of the test's own, bound to the events exchange: it keeps a copy of each event."""
        assert self.channel is not None
        queue = await self.channel.declare_queue(name, durable=True)
        events = await self.events()
        for key in routing_keys:
            await queue.bind(events, routing_key=key)
        return queue

    async def drain(self, name: str) -> list[aio_pika.abc.AbstractIncomingMessage]:
        """Take (and ack) every message in one of the test's own queues."""
        assert self.channel is not None
        queue = await self.channel.declare_queue(name, durable=True)
        taken = []
        while (message := await queue.get(no_ack=False, fail=False, timeout=10)) is not None:
            taken.append(message)
            await message.ack()
        return taken

    async def browse(self, name: str) -> list[dict[str, Any]]:
        """Look at every message in a queue and leave them there (they go back when the channel closes)."""
        assert self.connection is not None
        channel = await self.connection.channel()
        try:
            queue = await channel.declare_queue(name, passive=True)
            seen = []
            while (message := await queue.get(no_ack=False, fail=False, timeout=10)) is not None:
                seen.append(
                    {
                        "message_id": message.message_id,
                        "routing_key": message.routing_key,
                        "headers": dict(message.headers or {}),
                        "body": message.body,
                    }
                )
        finally:
            await channel.close()
        return seen
