"""In-memory stand-ins for the messaging abstractions and the broker, for the services' unit tests."""

from collections.abc import Callable
from typing import Any

from faststream.rabbit import RabbitBroker, RabbitRouter, TestRabbitBroker

from dukcapil_shared.contracts import Envelope, Event
from dukcapil_shared.messaging import EventConsumer, RetryPolicy, ServiceTopology, Subscription
from dukcapil_shared.messaging.unit_of_work import Inbox, Outbox, UnitOfWork


class FakeOutbox(Outbox):
    def __init__(self) -> None:
        self.pending: list[Envelope] = []
        self.committed: list[Envelope] = []

    async def add(self, event: Event, *, traceparent: str | None = None) -> Envelope:
        envelope = Envelope.wrap(event, source="/test", traceparent=traceparent)
        self.pending.append(envelope)
        return envelope

    @property
    def events(self) -> list[Event]:
        return [envelope.event() for envelope in self.committed]


class FakeInbox(Inbox):
    def __init__(self) -> None:
        self.seen: set[tuple[str, str]] = set()
        self.pending: set[tuple[str, str]] = set()

    async def claim(self, consumer: str, event_id: str) -> bool:
        key = (consumer, event_id)
        if key in self.seen or key in self.pending:
            return False
        self.pending.add(key)
        return True


class FakeUnitOfWork(UnitOfWork):
    """Subclasses keep their fake repositories' state across units of work and commit them in `commit`."""

    def __init__(self) -> None:
        self.outbox = FakeOutbox()
        self.inbox = FakeInbox()
        self.commits = 0

    async def commit(self) -> None:
        self.outbox.committed += self.outbox.pending
        self.outbox.pending = []
        self.inbox.seen |= self.inbox.pending
        self.inbox.pending = set()
        self.commits += 1

    async def rollback(self) -> None:
        self.outbox.pending = []
        self.inbox.pending = set()


class InMemoryEventBus:
    """A service's subscriptions on FastStream's in-memory TestRabbitBroker.

    `publish` delivers an event the way the topic exchange would: to the queue of every subscription bound to
    its routing key, through the real EventConsumer (parsing, inbox, handler, commit). Acks, retries and dead
    letters do nothing in memory; the real broker's tests cover them.
    """

    def __init__(self, service: str, subscriptions: list[Subscription[Any]], unit_of_work: Callable[[], Any]) -> None:
        self._broker = RabbitBroker()
        router = RabbitRouter()
        self._consumers = [
            EventConsumer(
                topology=ServiceTopology(service),
                subscription=subscription,
                unit_of_work=unit_of_work,
                broker=self._broker,
                retry=RetryPolicy(),
            )
            for subscription in subscriptions
        ]
        for consumer in self._consumers:
            consumer.attach(router)
        self._broker.include_router(router)
        self._test_broker = TestRabbitBroker(self._broker)

    async def __aenter__(self) -> "InMemoryEventBus":
        await self._test_broker.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self._test_broker.__aexit__(*exc_info)

    async def publish(self, event: Event) -> list[str]:
        """Deliver the event; returns the queues that received it (none if the service does not subscribe)."""
        envelope = Envelope.wrap(event, source="/test")
        queues = [c.queue.name for c in self._consumers if event.routing_key() in c.subscription.routing_keys]
        for queue in queues:
            await self._broker.publish(envelope.to_json(), queue=queue, message_id=str(envelope.id))
        return queues
