"""In-memory stand-ins for the clock, the messaging abstractions, the dead-letter desk's store and republisher, and the
broker."""

import copy
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from faststream.rabbit import RabbitBroker, RabbitRouter, TestRabbitBroker

from dukcapil_shared.contracts import Envelope, Event
from dukcapil_shared.messaging import EventConsumer, RetryPolicy, ServiceTopology, Subscription
from dukcapil_shared.messaging.unit_of_work import Inbox, Outbox, UnitOfWork, consequent_event_id
from dukcapil_shared.ops.dead_letters import DeadLetter, DeadLetterStatus, LetterAlreadyResolved
from dukcapil_shared.ops.service import ReplayFailed, Republisher
from dukcapil_shared.ops.store import DeadLetterQuery, DeadLetterRepository, OpsUnitOfWork


class FixedClock:
    """A Clock that says what the test sets, and moves only when the test moves it."""

    def __init__(self, now: datetime = datetime(2026, 11, 28, 2, 0, tzinfo=UTC)) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def set(self, now: datetime) -> None:
        self.now = now

    def advance(self, delta: timedelta | None = None, /, **parts: float) -> None:
        self.now += (delta or timedelta()) + timedelta(**parts)


class UndeclaredEvent(AssertionError):
    """A handler added an event its unit of work does not declare in `publishes`."""


class FakeOutbox(Outbox):
    def __init__(self, declared: tuple[type[Event], ...] | None = None) -> None:
        self.pending: list[Envelope] = []
        self.committed: list[Envelope] = []
        self._declared = declared

    async def add(self, event: Event, *, traceparent: str | None = None) -> Envelope:
        if self._declared is not None and type(event) not in self._declared:
            raise UndeclaredEvent(
                f"{type(event).__name__} ({event.routing_key()}) is not in the unit of work's `publishes`: declare "
                "it there, so that the service's AsyncAPI document lists it, then run `make asyncapi`"
            )
        envelope = Envelope.wrap(
            event,
            source="/test",
            traceparent=traceparent,
            id=consequent_event_id("/test", event.subject, event.routing_key()),
        )
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

    async def has_claimed(self, consumer: str, event_id: str) -> bool:
        return (consumer, event_id) in self.seen


class FakeUnitOfWork(UnitOfWork):
    """Subclasses keep their fake repositories' state across units of work and commit them in `commit`."""

    def __init__(self) -> None:
        self.outbox = FakeOutbox(declared=self.publishes)
        self.inbox = FakeInbox()
        self.commits = 0

    async def commit(self) -> None:
        self.outbox.committed += self.outbox.pending
        self.outbox.pending = []
        self.inbox.seen |= self.inbox.pending
        self.inbox.pending = set()
        self.commits += 1
        self._committed()

    async def rollback(self) -> None:
        self._rolled_back()
        self.outbox.pending = []
        self.inbox.pending = set()


class FakeDeadLetterRepository(DeadLetterRepository):
    def __init__(self) -> None:
        self.committed: dict[uuid.UUID, DeadLetter] = {}
        self.pending: dict[uuid.UUID, DeadLetter] = {}

    async def add(self, letter: DeadLetter) -> bool:
        if letter.id in self.committed or letter.id in self.pending:
            return False
        self.pending[letter.id] = copy.deepcopy(letter)
        return True

    async def get(self, letter_id: uuid.UUID) -> DeadLetter | None:
        found = self.pending.get(letter_id) or self.committed.get(letter_id)
        return copy.deepcopy(found)

    async def list(self, query: DeadLetterQuery) -> list[DeadLetter]:
        found = [
            letter
            for letter in sorted(self.committed.values(), key=lambda letter: (letter.parked_at, str(letter.id)))
            if (query.status is None or letter.status == query.status)
            and (query.original_queue is None or letter.original_queue == query.original_queue)
            and (query.routing_key is None or letter.routing_key == query.routing_key)
            and (query.subject is None or letter.subject == query.subject)
        ]
        return copy.deepcopy(found[query.offset : query.offset + query.limit])

    async def save_resolution(self, letter: DeadLetter) -> None:
        current = self.pending.get(letter.id) or self.committed[letter.id]
        if current.status != DeadLetterStatus.parked:
            raise LetterAlreadyResolved(copy.deepcopy(current))
        self.pending[letter.id] = copy.deepcopy(letter)

    def commit(self) -> None:
        self.committed |= self.pending
        self.pending = {}


class FakeOpsUnitOfWork(FakeUnitOfWork, OpsUnitOfWork):
    def __init__(self) -> None:
        super().__init__()
        self.dead_letters = FakeDeadLetterRepository()

    async def commit(self) -> None:
        await super().commit()
        self.dead_letters.commit()

    async def rollback(self) -> None:
        await super().rollback()
        self.dead_letters.pending = {}


class FakeRepublisher(Republisher):
    """Records what it would send back; set `failure` to make the broker refuse."""

    def __init__(self) -> None:
        self.sent: list[DeadLetter] = []
        self.failure: ReplayFailed | None = None

    async def republish(self, letter: DeadLetter) -> None:
        if self.failure is not None:
            raise self.failure
        self.sent.append(copy.deepcopy(letter))


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
        return await self.deliver(Envelope.wrap(event, source="/test"))

    async def deliver(self, envelope: Envelope) -> list[str]:
        """Deliver this envelope (again, for a duplicate); returns the queues that received it."""
        queues = [c.queue.name for c in self._consumers if envelope.type in c.subscription.routing_keys]
        for queue in queues:
            await self._broker.publish(envelope.to_json(), queue=queue, message_id=str(envelope.id))
        return queues
