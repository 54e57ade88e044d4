"""Connecting to a RabbitMQ cluster: every node's address, the first live one, another when it goes.

AMQP_URL names one broker, or every node of a cluster separated by commas
(`amqp://rabbit-1:5672/,amqp://rabbit-2:5672/,amqp://rabbit-3:5672/`). aio-pika's robust connection knows one
address and, when its node dies, would knock at that node until it came back; `NodeRotatingConnection` is that
connection with the node list: each attempt to connect tries every node once, beginning with the one it is on, and
once a connection is lost the next attempt begins with the next node, so the lost one is tried last. The channels,
queues and consumers are then restored on the new node as aio-pika restores them after any reconnection; the quorum
queues they use have members on every node and elected a new leader meanwhile.

The queue arguments, the user and the virtual host are the same on every node: the addresses differ only by host and
port (and may differ in scheme, amqps on some), which is why a list with different virtual hosts is refused.
"""

import asyncio
import functools
from collections.abc import Sequence
from typing import Any

import structlog
from aio_pika import RobustConnection
from faststream.rabbit import RabbitBroker
from yarl import URL

log = structlog.get_logger(__name__)

SCHEMES = ("amqp", "amqps")

SETTLE_AFTER_LOSS = 5.0
"""Seconds a connection waits, after losing its node, before it connects to another. The quorum queues whose leader
was on the lost node elect a new one meanwhile; a channel that publishes to such a queue during the election is
answered with basic.nack for as long as it lives (seen on RabbitMQ 3.10: every publish of a channel opened 0.3 s
after the kill was refused, every publish of one opened 5 s after accepted), which would leave the outboxes' rows
pending for good."""

# The robust connection's one step that makes a connection (name-mangled, hence the spelled-out name): the only
# place where a new attempt can choose its node. A newer aio-pika without it must fail here, at import, rather than
# leave the services knocking at a dead node.
_CONNECT_TRANSPORT = "_RobustConnection__connect_transport"
if not callable(getattr(RobustConnection, _CONNECT_TRANSPORT, None)):
    raise ImportError(
        "aio_pika.RobustConnection no longer has __connect_transport: NodeRotatingConnection must be adapted to "
        "this aio-pika version before the services can fail over between RabbitMQ nodes"
    )


class BrokerAddressesInvalid(ValueError):
    pass


def broker_addresses(amqp_url: str) -> list[URL]:
    """The nodes named by AMQP_URL (one URL, or several separated by commas), in order."""
    addresses = [URL(part.strip()) for part in amqp_url.split(",") if part.strip()]
    if not addresses:
        raise BrokerAddressesInvalid(
            "AMQP_URL names no broker: give amqp://host:5672/vhost, or several, comma-separated"
        )
    for address in addresses:
        if address.scheme not in SCHEMES or not address.host:
            raise BrokerAddressesInvalid(
                f"AMQP_URL: {address.with_user(None)} is not an amqp://host:port/vhost or amqps://host:port/vhost "
                "address"
            )
    vhosts = {address.path for address in addresses}
    if len(vhosts) > 1:
        raise BrokerAddressesInvalid(
            f"AMQP_URL names the nodes of one cluster, which share one virtual host, but gives {sorted(vhosts)}"
        )
    return addresses


def node_urls(amqp_url: str, *, signed_in_as: URL) -> list[URL]:
    """Every node AMQP_URL names, with the user and password of `signed_in_as` (the service's own broker user, or
    the first URL's user when no password is given)."""
    return [
        address.with_user(signed_in_as.user).with_password(signed_in_as.password) if signed_in_as.user else address
        for address in broker_addresses(amqp_url)
    ]


class BrokerNodes:
    """A cluster's addresses and the one to try first; shared by every connection a broker makes (FastStream makes a
    new one when the first attempt at start failed)."""

    def __init__(self, addresses: Sequence[URL]) -> None:
        if not addresses:
            raise BrokerAddressesInvalid("a cluster has at least one node")
        self.addresses = tuple(addresses)
        self._current = 0

    @property
    def current(self) -> URL:
        return self.addresses[self._current]

    def move_on(self) -> URL:
        self._current = (self._current + 1) % len(self.addresses)
        return self.current

    def on(self, template: URL) -> URL:
        """`template` (the user, password, virtual host and connection options) at the current node."""
        node = self.current
        url = template.with_scheme(node.scheme).with_host(node.host or "localhost")
        return url.with_port(node.port) if node.explicit_port else url.with_port(None)


class NodeRotatingConnection(RobustConnection):
    """aio-pika's robust connection over the nodes of a cluster (see the module's docstring)."""

    def __init__(
        self, url: URL, *args: Any, nodes: BrokerNodes, settle_after_loss: float = SETTLE_AFTER_LOSS, **kwargs: Any
    ) -> None:
        super().__init__(url, *args, **kwargs)
        self._nodes = nodes
        self._settle_after_loss = settle_after_loss
        self._lost_a_node = False
        self._template = self.url
        self.url = nodes.on(self._template)

    async def _on_connection_close(self, closing: Any) -> None:
        # Also called when an attempt fails, before it was ever connected: the attempt moves on by itself then.
        lost = self.url
        if self.connected.is_set() and not (self._close_called or self.is_closed):
            self._nodes.move_on()
            self._lost_a_node = True
            log.warning("broker_node_lost", node=_node(lost), next_node=_node(self._nodes.current))
        await super()._on_connection_close(closing)

    async def _RobustConnection__connect_transport(self) -> None:
        if self._lost_a_node:
            self._lost_a_node = False
            log.info("broker_failover_settling", seconds=self._settle_after_loss)
            await asyncio.sleep(self._settle_after_loss)
        last_error: Exception | None = None
        for _ in self._nodes.addresses:
            self.url = self._nodes.on(self._template)
            try:
                await getattr(super(), _CONNECT_TRANSPORT)()
            except Exception as error:  # aiormq and the socket raise several unrelated types: try the next node
                last_error = error
                log.warning("broker_node_unreachable", node=_node(self.url), error=type(error).__name__)
                self._nodes.move_on()
                continue
            log.info("broker_node_connected", node=_node(self.url))
            return
        assert last_error is not None
        raise last_error


def _node(url: URL) -> str:
    return f"{url.host}:{url.port}"


def connect_to_any_node(broker: RabbitBroker, addresses: Sequence[URL]) -> None:
    """Make `broker` (built with the first address) connect to the first live node of `addresses` and move to
    another when its node is lost. FastStream has no option for a connection class, so this sets the one argument it
    passes on to aio-pika's `connect_robust`."""
    if len(addresses) < 2:
        return
    broker._connection_kwargs["connection_class"] = functools.partial(
        NodeRotatingConnection, nodes=BrokerNodes(addresses)
    )
