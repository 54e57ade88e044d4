"""A consumer that handles each event once, retries what may succeed later and parks what never will.

For every delivery:
- a malformed envelope or an event type the subscription does not know goes to the dead-letter queue;
- so does an event published by anyone but the producer its contract names (`untrusted_producer`): the broker
  vouches for the publisher (the AMQP user_id, see access.py), and such an event is never applied;
- otherwise the handler runs in one unit of work with the inbox row (consumer, event id): a duplicate
  delivery finds the row and is acked without effect. A lone delivery's row is written with the change its
  handler stores, in the same statement where the repository can (PostgreSQL), or else at the commit: a
  duplicate then runs its handler, fails at that statement or at the commit, and is acked with nothing stored.
  A subscription whose state records each event's id once already (intake's request history) goes without the
  inbox row (`inbox=False`): its handler finds a duplicate there and raises AlreadyApplied before it writes
  anything;
- a subscription may name, per event type, slow work to do before that unit of work opens (say, rendering a
  file), so that no transaction waits on it: its result reaches the handler as `prepared=`. It runs for
  duplicates too, so whatever it stores must come out the same every time (documents reserves a number per
  request), and it may be out of date by the time the handler runs, which checks it;
- a handler that finds its state changed under it (ConcurrentChange) is run again at once on fresh state, a few
  times, before the delivery counts as failed;
- deliveries that wait while the consumer's transaction is in flight are applied together, up to `batch_size`
  of them, in one unit of work with one inbox statement and one commit (group commit): under load a transaction,
  an inbox round trip and a commit serve many events, and a lone delivery goes through at once as before. If
  anything in a batch fails, nothing of it is stored, and each of its deliveries runs again on its own, with
  everything below (reruns, retries, dead letters) exactly as for a single delivery, so one bad message never
  holds back its neighbours. Within a batch, events are applied in the order they were delivered;
- the message is acked only after the commit;
- a failure is retried through the delay queues with growing delays, the attempt count in a header; when
  the attempts run out, or the handler says the failure is permanent, the message goes to the dead-letter
  queue with the error, the attempt count, the failure times and an id of its own (the service then parks it
  in its database for an operator: see dukcapil_shared.ops);
- if even that publish fails (broker trouble), the message is requeued: the quorum queue's delivery limit
  bounds how often.

Each delivery's outcome is counted per queue and event type (dukcapil_events_handled_total), dead letters with
their reason, and a processed event's stage latency (from its CloudEvents time) is observed. With tracing on,
FastStream's middleware has opened the delivery's span (continuing the publisher's trace from the AMQP header);
the consumer names the event on it.
"""

import asyncio
import contextlib
import random
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import anyio
import structlog
from faststream import AckPolicy
from faststream.rabbit import RabbitBroker, RabbitMessage, RabbitRouter
from opentelemetry import trace
from opentelemetry.trace import StatusCode
from pydantic import ValidationError

from dukcapil_shared.contracts import CONTENT_TYPE, Envelope, Event, UnknownEventType, event_class
from dukcapil_shared.db import as_utc
from dukcapil_shared.logging import mask_personal_data
from dukcapil_shared.messaging.access import PUBLISHER_HEADER, BrokerIdentities
from dukcapil_shared.messaging.topology import ServiceTopology
from dukcapil_shared.messaging.unit_of_work import AlreadyApplied, ConcurrentChange, UnitOfWork, caused_by
from dukcapil_shared.observability.metrics import ConsumerOutcome, DeadLetterReason, ServiceMetrics

log = structlog.get_logger(__name__)

UoW = TypeVar("UoW", bound=UnitOfWork)
Handler = Callable[[UoW, Any, Envelope], Awaitable[None]]
"""Called with `prepared=` too, the preparer's result, for an event type the subscription has a preparer for."""
Preparer = Callable[[Any, Envelope], Awaitable[Any]]


CONCURRENT_CHANGE_RERUNS = 8
"""How often a delivery whose unit of work lost to a concurrent change is run again at once before it counts as a
failed attempt."""


class PermanentFailure(Exception):
    """Raised by a handler when the event can never be processed: it is dead-lettered at once."""


@dataclass(frozen=True)
class RetryPolicy:
    delays_ms: tuple[int, ...] = (1_000, 5_000, 30_000, 120_000, 600_000)
    """Delay before each retry; their number is the number of retries."""

    @property
    def max_attempts(self) -> int:
        return len(self.delays_ms) + 1


@dataclass(frozen=True)
class Subscription(Generic[UoW]):
    name: str
    handlers: Mapping[type[Event], Handler[UoW]]
    description: str = ""
    preparers: Mapping[type[Event], Preparer] = field(default_factory=dict)
    """Work for an event done outside any transaction, before its handler's unit of work opens."""
    retired: tuple[type[Event], ...] = ()
    """Events this subscription's queue was bound to in earlier versions: the queue is unbound from them at start,
    so that a broker set up by an earlier version stops delivering what no handler here takes any more."""
    inbox: bool = True
    """False: the handlers' own state holds each applied event's id once, under a unique index, and they raise
    AlreadyApplied for one applied before; the consumer then writes no inbox row, a round trip less a delivery. A
    concurrent duplicate (two replicas, a redelivery while the first is in flight) loses at the unique index or on
    the state's version, runs again, and finds the event applied."""

    @property
    def routing_keys(self) -> list[str]:
        return [event.routing_key() for event in self.handlers]

    @property
    def retired_routing_keys(self) -> list[str]:
        return [event.routing_key() for event in self.retired if event not in self.handlers]


class EventConsumer(Generic[UoW]):
    def __init__(
        self,
        *,
        topology: ServiceTopology,
        subscription: Subscription[UoW],
        unit_of_work: Callable[[], UoW],
        broker: RabbitBroker,
        retry: RetryPolicy,
        publish_timeout: float = 10.0,
        metrics: ServiceMetrics | None = None,
        publishers: BrokerIdentities | None = None,
        batch_size: int = 1,
    ) -> None:
        """`publishers`: the broker users of the services, to check each event's publisher against the producer
        its contract names. Without it every publisher is believed: only for tests that own their broker.
        `batch_size`: how many waiting deliveries one transaction applies at most (1: each on its own)."""
        self.topology = topology
        self.subscription = subscription
        self.queue = topology.subscription_queue(subscription.name)
        self._unit_of_work = unit_of_work
        self._broker = broker
        self._retry = retry
        self._publish_timeout = publish_timeout
        self._metrics = metrics or ServiceMetrics()
        self._publishers = publishers
        self._own_user = publishers.user(topology.service) if publishers is not None else None
        self._handlers = {event.routing_key(): handler for event, handler in subscription.handlers.items()}
        self._preparers = {event.routing_key(): prepare for event, prepare in subscription.preparers.items()}
        if unhandled := set(self._preparers) - set(self._handlers):
            raise ValueError(f"{subscription.name}: preparers for events it does not handle: {sorted(unhandled)}")
        self.in_hand = 0
        """Deliveries being handled now (a stopping service reports those it had to return unfinished)."""
        self._batch_size = batch_size
        self._waiting: list[_Pending] = []
        self._applier: asyncio.Task[None] | None = None

    def attach(self, router: RabbitRouter) -> None:
        router.subscriber(
            self.queue,
            ack_policy=AckPolicy.MANUAL,
            decoder=undecoded,
            description=self.subscription.description or None,
        )(self.handle)

    async def handle(self, message: RabbitMessage) -> None:
        self.in_hand += 1
        try:
            await self._handle(message)
        finally:
            self.in_hand -= 1

    async def _handle(self, message: RabbitMessage) -> None:
        headers = message.headers or {}
        attempt = _attempt(headers)
        event_type = _known_event_type(message)
        try:
            envelope = Envelope.model_validate_json(message.body)
            _describe_span(envelope, attempt)
            event = envelope.event()
            handler = self._handlers.get(envelope.type)
            if handler is None:
                raise UnknownEventType(f"{self.queue.name} does not handle {envelope.type}")
        except (ValidationError, UnknownEventType, ValueError) as error:
            await self._settle_by_dead_letter(
                message, attempt, f"malformed: {_short(error)}", event_type, DeadLetterReason.MALFORMED
            )
            return
        if (distrust := self._distrust(message, event, envelope)) is not None:
            await self._settle_by_dead_letter(
                message, attempt, distrust, envelope.type, DeadLetterReason.UNTRUSTED_PRODUCER
            )
            return

        try:
            processed = await self._process(handler, event, envelope)
        except PermanentFailure as error:
            await self._settle_by_dead_letter(
                message, attempt, f"permanent: {_short(error)}", envelope.type, DeadLetterReason.PERMANENT
            )
            return
        except Exception as error:  # any other failure may pass: retry it, never drop it
            if attempt < self._retry.max_attempts:
                await self._settle_by_retry(message, attempt, error, envelope.type)
            else:
                await self._settle_by_dead_letter(
                    message,
                    attempt,
                    f"attempts exhausted: {_short(error)}",
                    envelope.type,
                    DeadLetterReason.ATTEMPTS_EXHAUSTED,
                )
            return
        await message.ack()
        if processed:
            self._count(envelope.type, ConsumerOutcome.PROCESSED)
            self._metrics.event_stage_latency.labels(queue=self.queue.name, event_type=envelope.type).observe(
                max(0.0, (datetime.now(UTC) - as_utc(envelope.time)).total_seconds())
            )
        else:
            self._count(envelope.type, ConsumerOutcome.DUPLICATE)
            log.debug("duplicate_delivery", queue=self.queue.name, event_id=str(envelope.id))

    def publisher(self, message: RabbitMessage) -> str | None:
        """The broker user that published the message: the AMQP user_id, which the broker checked, or, on a message
        this service sent back to itself (a retry, a replay), the publisher checked when it first arrived."""
        user = message.raw_message.user_id
        headers = message.headers or {}
        if user is not None and user == self._own_user and PUBLISHER_HEADER in headers:
            return str(headers[PUBLISHER_HEADER]) or None  # empty: the first publisher gave no user
        return user

    def _distrust(self, message: RabbitMessage, event: Event, envelope: Envelope) -> str | None:
        """Why the event must not be applied, or None when its publisher is the producer its contract names."""
        if self._publishers is None:
            return None
        publisher = self.publisher(message)
        if self._publishers.service(publisher) == event.producer:
            return None
        expected = self._publishers.user(event.producer)
        log.warning(
            "untrusted_event",
            queue=self.queue.name,
            event_type=envelope.type,
            message_id=message.message_id,
            expected=expected,
            published_by=publisher,
            claimed_source=envelope.source,
        )
        return (
            f"untrusted producer: {envelope.type} comes from {event.producer} ({expected}); this one was published "
            f"by {publisher or 'an unnamed publisher'}, claiming to be {envelope.source}"
        )

    def _count(self, event_type: str, outcome: str) -> None:
        self._metrics.events_handled.labels(queue=self.queue.name, event_type=event_type, outcome=outcome).inc()

    async def _process(self, handler: Handler[UoW], event: Event, envelope: Envelope) -> bool:
        """True once applied, False for a duplicate; raises what the handler's last run raised."""
        prepare = self._preparers.get(envelope.type)
        prepared = {"prepared": await prepare(event, envelope)} if prepare is not None else {}
        pending = _Pending(handler, event, envelope, prepared, asyncio.get_running_loop().create_future())
        if self._batch_size <= 1:
            return await self._process_alone(pending)
        self._waiting.append(pending)
        if self._applier is None:
            self._applier = asyncio.create_task(self._apply_waiting(), name=f"apply-{self.queue.name}")
        outcome = await pending.outcome
        return outcome if outcome is not None else await self._process_alone(pending)

    async def _apply_waiting(self) -> None:
        """While deliveries wait, apply them: one alone at once, several (those that came meanwhile) together. A
        lone delivery's outcome, error included, is handed to its task; a batch that failed hands each delivery
        None, and each task runs its own alone."""
        batch: list[_Pending] = []
        try:
            while self._waiting:
                await asyncio.sleep(0)  # deliveries already dispatched join this round
                batch, self._waiting = self._waiting[: self._batch_size], self._waiting[self._batch_size :]
                # A delivery whose task was cancelled (the channel closed as the service stopped) is not applied:
                # it went back to its queue unacknowledged.
                batch = [pending for pending in batch if not pending.outcome.done()]
                if not batch:
                    continue
                if len(batch) == 1:
                    [pending] = batch
                    try:
                        pending.settle(await self._process_alone(pending))
                    except Exception as error:
                        pending.fail(error)
                else:
                    claimed = await self._apply_together(batch)
                    for pending in batch:
                        event_id = str(pending.envelope.id)
                        pending.settle(None if claimed is None else event_id in claimed)
                        if claimed is not None:
                            claimed.discard(event_id)  # the same event twice in one batch counts once
                batch = []
        finally:
            self._applier = None
            # Only when cancelled is anything left: whoever still waits runs alone (nothing of theirs was stored).
            for pending in [*batch, *self._waiting]:
                pending.settle(None)
            self._waiting = []

    async def stop_applying(self) -> None:
        """Once the subscriber has stopped (its deliveries in hand finished or returned): end the batch in progress,
        if any, rolled back. What it held went back to the queue with the channel, and comes again."""
        applier = self._applier
        if applier is not None:
            applier.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await applier

    async def _apply_together(self, batch: list["_Pending"]) -> set[str] | None:
        """The events of `batch` that were new to this consumer, applied in one unit of work; None when anything
        failed (nothing was stored)."""
        try:
            async with self._unit_of_work() as uow:
                event_ids = [str(pending.envelope.id) for pending in batch]
                if self.subscription.inbox:
                    claimed = await uow.inbox.claim_many(self.queue.name, event_ids)
                else:
                    claimed = set(event_ids)
                applied: set[str] = set()
                for pending in batch:
                    event_id = str(pending.envelope.id)
                    if event_id in claimed and event_id not in applied:
                        try:
                            with caused_by(self.queue.name, event_id):
                                await pending.handler(uow, pending.event, pending.envelope, **pending.prepared)
                        except AlreadyApplied:
                            claimed.discard(event_id)
                            continue
                        applied.add(event_id)
                await uow.commit()
        except Exception as error:  # each delivery runs again on its own, where its failure is settled
            log.info("batch_split", queue=self.queue.name, size=len(batch), error=_short(error))
            return None
        self._metrics.consumer_batch_size.labels(queue=self.queue.name).observe(len(batch))
        return claimed

    async def _process_alone(self, pending: "_Pending") -> bool:
        handler, event, envelope, prepared = pending.handler, pending.event, pending.envelope, pending.prepared
        event_id = str(envelope.id)
        for rerun in range(CONCURRENT_CHANGE_RERUNS + 1):
            deferred = False
            try:
                async with self._unit_of_work() as uow:
                    if self.subscription.inbox:
                        # The claim goes with the change the handler stores, where the unit of work can (a round
                        # trip less); a duplicate is then found there or at the commit, with nothing stored.
                        deferred = uow.inbox.defer_claim(self.queue.name, event_id)
                        if not deferred and not await uow.inbox.claim(self.queue.name, event_id):
                            return False
                    with caused_by(self.queue.name, event_id):
                        await handler(uow, event, envelope, **prepared)
                    await uow.commit()
                return True
            except AlreadyApplied:
                return False
            except Exception as error:
                # A deferred claim that met the event's claim failed the handler's statement: a duplicate.
                if deferred and await self._claimed_before(event_id):
                    return False
                if not isinstance(error, ConcurrentChange):
                    raise
                # Several events about one request (a request's scans, say) arriving together, or the same
                # request on two replicas, lose to each other here. Run again on fresh state after a short random
                # pause so that they fall into line, rather than send them all through the same delay queue, where
                # they would meet again and spend their retries on each other.
                if rerun == CONCURRENT_CHANGE_RERUNS:
                    raise
                log.info("concurrent_change_rerun", queue=self.queue.name, event_type=envelope.type, rerun=rerun + 1)
                await anyio.sleep(random.uniform(0, min(0.5, 0.01 * 2**rerun)))
        raise AssertionError("unreachable: the last rerun returns or raises")

    async def _claimed_before(self, event_id: str) -> bool:
        """Whether this consumer's inbox holds `event_id`, committed by an earlier or a concurrent delivery."""
        async with self._unit_of_work().reading() as uow:
            return await uow.inbox.has_claimed(self.queue.name, event_id)

    async def _settle_by_retry(self, message: RabbitMessage, attempt: int, error: Exception, event_type: str) -> None:
        delay_ms = self._retry.delays_ms[attempt - 1]
        headers = {
            **(message.headers or {}),
            **_first_failure(message),
            "x-attempt": attempt + 1,
            "x-last-error": _short(error),
            "x-last-failure-at": _now(),
        }
        published = await self._republish(message, self.topology.delay_exchange(delay_ms), headers)
        self._count(event_type, ConsumerOutcome.RETRIED if published else ConsumerOutcome.REQUEUED)
        _mark_span_failed(f"{'retry' if published else 'requeued after'} attempt {attempt}: {_short(error)}")
        log.warning(
            "event_retry_scheduled",
            queue=self.queue.name,
            message_id=message.message_id,
            attempt=attempt,
            delay_ms=delay_ms,
            error=_short(error),
            republished=published,
        )

    async def _settle_by_dead_letter(
        self, message: RabbitMessage, attempt: int, reason: str, event_type: str, reason_code: str
    ) -> None:
        headers = {
            **(message.headers or {}),
            **_first_failure(message),
            "x-error": reason,
            "x-attempts": attempt,
            "x-original-queue": self.queue.name,
            "x-last-failure-at": _now(),
            # Parking is idempotent by this id: a redelivered dead letter is parked once.
            "x-dead-letter-id": str(uuid.uuid4()),
        }
        published = await self._republish(message, self.topology.dead_letter_exchange, headers)
        if published:
            self._count(event_type, ConsumerOutcome.DEAD_LETTERED)
            self._metrics.events_dead_lettered.labels(
                queue=self.queue.name, event_type=event_type, reason=reason_code
            ).inc()
            _mark_span_failed(f"dead-lettered: {reason}")
        else:
            self._count(event_type, ConsumerOutcome.REQUEUED)
            _mark_span_failed(f"requeued, the dead letter was not confirmed: {reason}")
        log.error(
            "event_dead_lettered",
            queue=self.queue.name,
            message_id=message.message_id,
            attempts=attempt,
            reason=reason,
            republished=published,
        )

    async def _republish(self, message: RabbitMessage, exchange: Any, headers: dict[str, Any]) -> bool:
        """Move the message on, then ack it; if the broker does not confirm, requeue it instead. It goes as this
        service's own message, naming who published it first."""
        headers = {**headers, PUBLISHER_HEADER: self.publisher(message) or ""}
        try:
            with anyio.fail_after(self._publish_timeout):
                await self._broker.publish(
                    message.body,
                    exchange=exchange,
                    routing_key=self.queue.name,
                    persist=True,
                    mandatory=True,
                    headers=headers,
                    user_id=self._own_user,
                    message_id=message.message_id,
                    correlation_id=message.correlation_id,
                    content_type=message.content_type or CONTENT_TYPE,
                    message_type=message.raw_message.type,
                )
        except Exception:  # the broker is in trouble; the delivery limit bounds the requeues
            await message.nack(requeue=True)
            return False
        await message.ack()
        return True


@dataclass
class _Pending:
    """A delivery waiting to be applied, and where its outcome goes: True applied, False a duplicate, None run it
    alone (its batch failed)."""

    handler: Handler[Any]
    event: Event
    envelope: Envelope
    prepared: dict[str, Any]
    outcome: "asyncio.Future[bool | None]"

    def settle(self, outcome: bool | None) -> None:
        if not self.outcome.done():
            self.outcome.set_result(outcome)

    def fail(self, error: Exception) -> None:
        if not self.outcome.done():
            self.outcome.set_exception(error)


async def undecoded(message: RabbitMessage) -> RabbitMessage:
    """The message itself, handed to the handler as it came. FastStream would otherwise decode the body by its
    content type before the handler runs, and a body that is not what its content type says (invalid JSON, text that
    is not UTF-8) would fail there, where no one settles the message: it would hold a prefetch slot until the
    channel closes, then come back, again and again. The handler reads the body itself and dead-letters what it
    cannot read. The broker runs without FastStream's dependency injection (apply_types=False, see runtime.py), so
    what this returns is the handler's one argument."""
    return message


def _attempt(headers: Mapping[str, Any]) -> int:
    """Which attempt this delivery is, from the header the retries write. A message can arrive with anything in
    it (or the header mangled): that counts as a first attempt, never as a reason to leave the message unsettled."""
    try:
        return max(1, int(headers.get("x-attempt", 1)))
    except (TypeError, ValueError, OverflowError):
        return 1


UNKNOWN_EVENT_TYPE = "unknown"


def _known_event_type(message: RabbitMessage) -> str:
    """The event type to label a delivery with before its envelope is read: its AMQP type when that is one of our
    event types, else `unknown` (a malformed message's type is whatever its sender wrote; as a label it would be
    a new time series each)."""
    declared = message.raw_message.type or ""
    return declared if event_class(declared) is not None else UNKNOWN_EVENT_TYPE


def _describe_span(envelope: Envelope, attempt: int) -> None:
    """The CloudEvents attributes (semantic conventions) on the delivery's span: ids and the type, nothing from
    the payload."""
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attributes(
            {
                "cloudevents.event_id": str(envelope.id),
                "cloudevents.event_source": envelope.source,
                "cloudevents.event_type": envelope.type,
                "cloudevents.event_subject": envelope.subject,
                "dukcapil.delivery_attempt": attempt,
            }
        )


def _mark_span_failed(description: str) -> None:
    span = trace.get_current_span()
    if span.is_recording():
        # Errors can quote what they failed on: masked, as in the logs.
        span.set_status(StatusCode.ERROR, mask_personal_data(description))


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _first_failure(message: RabbitMessage) -> dict[str, Any]:
    """Kept from the first failure on: after a retry the routing key is the queue's name, not the event type."""
    headers = message.headers or {}
    return {
        "x-first-failure-at": headers.get("x-first-failure-at") or _now(),
        "x-original-routing-key": headers.get("x-original-routing-key") or message.raw_message.routing_key,
    }


def _short(error: BaseException) -> str:
    text = f"{type(error).__name__}: {error}"
    return text if len(text) <= 500 else text[:497] + "..."
