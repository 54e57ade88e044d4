"""Names and declarations of everything on the broker.

Domain events go to one durable topic exchange. Each consuming service owns, per subscription, a durable
quorum queue bound by routing key. Retries wait in per-service delay queues (one per delay, since a queue's
TTL only expires the message at its head) and are dead-lettered back through the service's retry exchange
to the queue they came from. What cannot be processed ends in the service's dead-letter queue. Events for
other agencies leave through separate public exchanges.
"""

from dataclasses import dataclass

from faststream.rabbit import ExchangeType, QueueType, RabbitBroker, RabbitExchange, RabbitQueue

from dukcapil_shared.contracts import exchanges

# The shared exchanges are declared by provisioning (access.py): a service only checks they exist (a passive
# declare), since declaring them would take a configure permission that would also let it delete them.
EVENTS_EXCHANGE = RabbitExchange(exchanges.EVENTS, type=ExchangeType.TOPIC, durable=True, declare=False)

# Events for other agencies (contracts/public.py), minimised for outsiders: identity numbers masked on the
# first, in full on the second for the agencies entitled to them. Agencies bind their own queues here, never to
# dukcapil.events; each agency's broker user can read only its own queues (see the agencies' onboarding).
PUBLIC_EXCHANGE = RabbitExchange(exchanges.PUBLIC, type=ExchangeType.TOPIC, durable=True, declare=False)
IDENTIFIED_PUBLIC_EXCHANGE = RabbitExchange(
    exchanges.IDENTIFIED_PUBLIC, type=ExchangeType.TOPIC, durable=True, declare=False
)
PUBLIC_EXCHANGES = (PUBLIC_EXCHANGE, IDENTIFIED_PUBLIC_EXCHANGE)

# Quorum queues dead-letter at least once only with reject-publish overflow.
_AT_LEAST_ONCE = {"x-dead-letter-strategy": "at-least-once", "x-overflow": "reject-publish"}


@dataclass(frozen=True)
class ServiceTopology:
    service: str
    delivery_limit: int = 20
    """Redeliveries the broker allows (a consumer crashing on a message) before dead-lettering it."""

    @property
    def retry_exchange(self) -> RabbitExchange:
        return RabbitExchange(f"dukcapil.{self.service}.retry", type=ExchangeType.DIRECT, durable=True)

    @property
    def dead_letter_exchange(self) -> RabbitExchange:
        return RabbitExchange(f"dukcapil.{self.service}.dead-letter", type=ExchangeType.FANOUT, durable=True)

    @property
    def dead_letter_queue(self) -> RabbitQueue:
        return RabbitQueue(f"dukcapil.{self.service}.dead-letter", queue_type=QueueType.QUORUM, durable=True)

    def delay_exchange(self, delay_ms: int) -> RabbitExchange:
        return RabbitExchange(f"dukcapil.{self.service}.delay.{delay_ms}ms", type=ExchangeType.FANOUT, durable=True)

    def delay_queue(self, delay_ms: int) -> RabbitQueue:
        return RabbitQueue(
            f"dukcapil.{self.service}.delay.{delay_ms}ms",
            queue_type=QueueType.QUORUM,
            durable=True,
            arguments={
                "x-message-ttl": delay_ms,
                "x-dead-letter-exchange": self.retry_exchange.name,
                **_AT_LEAST_ONCE,
            },
        )

    def subscription_queue(self, subscription: str) -> RabbitQueue:
        return RabbitQueue(
            f"dukcapil.{self.service}.{subscription}",
            queue_type=QueueType.QUORUM,
            durable=True,
            arguments={
                "x-delivery-limit": self.delivery_limit,
                "x-dead-letter-exchange": self.dead_letter_exchange.name,
                **_AT_LEAST_ONCE,
            },
        )

    async def declare(
        self,
        broker: RabbitBroker,
        subscriptions: dict[str, list[str]],
        delays_ms: list[int],
        retired: dict[str, list[str]] | None = None,
    ) -> None:
        """Declare the service's exchanges, queues and bindings (the shared exchange must exist); idempotent, and
        safe for several replicas at once. `retired`: routing keys a subscription's queue no longer takes, unbound
        (RabbitMQ accepts unbinding what is not bound)."""
        events = await broker.declare_exchange(EVENTS_EXCHANGE)
        retry = await broker.declare_exchange(self.retry_exchange)
        dead_letter = await broker.declare_exchange(self.dead_letter_exchange)
        dead_letter_queue = await broker.declare_queue(self.dead_letter_queue)
        await dead_letter_queue.bind(dead_letter, routing_key="")
        for delay_ms in delays_ms:
            delay_exchange = await broker.declare_exchange(self.delay_exchange(delay_ms))
            delay_queue = await broker.declare_queue(self.delay_queue(delay_ms))
            await delay_queue.bind(delay_exchange, routing_key="")
        for subscription, routing_keys in subscriptions.items():
            queue_spec = self.subscription_queue(subscription)
            queue = await broker.declare_queue(queue_spec)
            await queue.bind(retry, routing_key=queue_spec.name)
            for routing_key in routing_keys:
                await queue.bind(events, routing_key=routing_key)
            for routing_key in (retired or {}).get(subscription, []):
                await queue.unbind(events, routing_key=routing_key)


async def declare_public_exchanges(broker: RabbitBroker) -> None:
    """Check the agencies' exchanges exist (provisioning declares them). The agencies' queues are declared by
    their onboarding."""
    for exchange in PUBLIC_EXCHANGES:
        await broker.declare_exchange(exchange)
