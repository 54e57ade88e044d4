"""In-memory stand-ins for the messaging abstractions, for the services' unit tests of handlers."""

from dukcapil_shared.contracts import Envelope, Event
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
