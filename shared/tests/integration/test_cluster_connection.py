"""A broker given several nodes connects to the first live one and, when its node goes, to another, with its
consumers, against the real RabbitMQ. The "nodes" are TCP relays to the machine's broker, each of which the test
can cut like a node that dies (every connection through it reset, nothing listening any more); the three-node
cluster itself is tested end to end in tests/cluster."""

import asyncio
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator

import pytest
from faststream.rabbit import RabbitBroker, RabbitQueue
from yarl import URL

from dukcapil_shared.messaging.cluster import connect_to_any_node

pytestmark = pytest.mark.integration


class Relay:
    """Listens on a port of its own and relays every connection to the broker, until cut."""

    def __init__(self, target: URL) -> None:
        self.target = target
        self.server: asyncio.Server | None = None
        self.port = 0
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> "Relay":
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    def url(self) -> URL:
        return self.target.with_port(self.port).with_host("127.0.0.1")

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        broker_reader, broker_writer = await asyncio.open_connection(self.target.host, self.target.port)
        self._writers |= {client_writer, broker_writer}
        await asyncio.gather(
            self._pipe(client_reader, broker_writer), self._pipe(broker_reader, client_writer), return_exceptions=True
        )

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()

    async def cut(self) -> None:
        """Like a node killed: nothing listens any more, and every connection through it is reset."""
        assert self.server is not None
        self.server.close()
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()


def _unused_address(template: URL) -> URL:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return template.with_host("127.0.0.1").with_port(port)  # nothing listens there once the probe is closed


@pytest.fixture
async def relays(amqp_url: str) -> AsyncIterator[list[Relay]]:
    started = [await Relay(URL(amqp_url)).start() for _ in range(2)]
    yield started
    for relay in started:
        with contextlib.suppress(Exception):
            await relay.cut()


def _connected_port(broker: RabbitBroker) -> int | None:
    connection = broker._connection  # which node the test's broker is on
    return connection.url.port if connection is not None else None


async def test_a_dead_first_node_is_skipped_at_start(amqp_url: str, relays: list[Relay]) -> None:
    addresses = [_unused_address(URL(amqp_url)), relays[0].url()]
    broker = RabbitBroker(str(addresses[0]))
    connect_to_any_node(broker, addresses)
    try:
        async with asyncio.timeout(30):
            await broker.connect()
        assert _connected_port(broker) == relays[0].port
    finally:
        await broker.stop()


async def test_when_its_node_dies_the_broker_moves_to_another_and_consumes_there(
    amqp_url: str, relays: list[Relay]
) -> None:
    addresses = [relays[0].url(), relays[1].url()]
    broker = RabbitBroker(str(addresses[0]), graceful_timeout=5)
    connect_to_any_node(broker, addresses)
    received: asyncio.Queue[str] = asyncio.Queue()
    queue = RabbitQueue(f"cluster-connection-{uuid.uuid4().hex[:8]}", durable=False, auto_delete=True)

    @broker.subscriber(queue)
    async def handle(body: str) -> None:
        await received.put(body)

    try:
        async with asyncio.timeout(30):
            await broker.start()
            await broker.publish("before", queue=queue)
            assert await received.get() == "before"
        assert _connected_port(broker) == relays[0].port
        reconnected = asyncio.Event()
        broker._connection.reconnect_callbacks.add(lambda *_: reconnected.set())

        await relays[0].cut()
        async with asyncio.timeout(60):
            await reconnected.wait()
            assert _connected_port(broker) == relays[1].port
            await broker.publish("after", queue=queue)
            assert await received.get() == "after"
    finally:
        await broker.stop()
