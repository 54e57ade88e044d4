"""The broker side of dead letters: the consumer that parks them, and the publisher that replays them."""

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

import aio_pika
import anyio
import structlog
from aio_pika.exceptions import PublishError
from faststream import AckPolicy
from faststream.rabbit import Channel, RabbitBroker, RabbitMessage, RabbitRouter

from dukcapil_shared.contracts import CONTENT_TYPE
from dukcapil_shared.messaging.access import PUBLISHER_HEADER
from dukcapil_shared.messaging.consumer import undecoded
from dukcapil_shared.messaging.topology import ServiceTopology
from dukcapil_shared.ops import service
from dukcapil_shared.ops.dead_letters import DeadLetter, parse_dead_letter
from dukcapil_shared.ops.service import ReplayFailed, ReplayUnroutable, Republisher
from dukcapil_shared.ops.store import OpsUnitOfWork

log = structlog.get_logger(__name__)


class DeadLetterParking:
    """Consumes the service's dead-letter queue and parks each message in the database, acking after the commit.

    Parking reads the message without judging it, so it does not fail on what the message contains; when the
    database is away the delivery is returned to the queue after a pause that grows while the outage lasts, so
    nothing is lost, nothing spins, and a long outage costs few redeliveries.
    """

    def __init__(
        self,
        *,
        topology: ServiceTopology,
        unit_of_work: Callable[[], OpsUnitOfWork],
        retry_pauses: tuple[float, ...] = (1, 2, 5, 10, 30),
    ) -> None:
        self._topology = topology
        self._unit_of_work = unit_of_work
        self._retry_pauses = retry_pauses
        self._failures_in_a_row = 0

    def attach(self, router: RabbitRouter) -> None:
        router.subscriber(
            self._topology.dead_letter_queue,
            ack_policy=AckPolicy.MANUAL,
            decoder=undecoded,  # a dead letter's body is whatever failed: never decode it by its content type
            description="Messages the service gave up on, parked in its dead_letters table for an operator",
        )(self.handle)

    async def handle(self, message: RabbitMessage) -> None:
        raw = message.raw_message
        headers = dict(message.headers or {})
        if PUBLISHER_HEADER not in headers:
            # Dead-lettered by the broker itself (the delivery limit): the properties are the publisher's own.
            headers[PUBLISHER_HEADER] = raw.user_id or ""
        try:
            letter = parse_dead_letter(
                body=message.body,
                headers=headers,
                message_id=raw.message_id,
                correlation_id=raw.correlation_id,
                content_type=raw.content_type,
                message_type=raw.type,
                routing_key=raw.routing_key,
                now=datetime.now(UTC),
            )
            parked = await service.park(letter, uow=self._unit_of_work(), service=self._topology.service)
        except Exception as error:  # the database is away: keep the message on the broker and try again later
            pause = self._retry_pauses[min(self._failures_in_a_row, len(self._retry_pauses) - 1)]
            self._failures_in_a_row += 1
            log.warning("dead_letter_not_parked_yet", error=f"{type(error).__name__}: {error}"[:300], retry_in=pause)
            await asyncio.sleep(pause)
            await message.nack(requeue=True)
            return
        self._failures_in_a_row = 0
        await message.ack()
        if parked:
            log.warning(
                "dead_letter_parked",
                dead_letter_id=str(letter.id),
                queue=letter.original_queue,
                routing_key=letter.routing_key,
                subject=letter.subject,
                attempts=letter.attempts,
                error=letter.error,
            )


class BrokerRepublisher(Republisher):
    """Publishes a replay through the service's retry exchange, whose bindings lead only to the original queue, as
    the service's own message (`user`) naming the publisher recorded when it was parked: a replay never makes an
    event trusted that was not (access.py)."""

    def __init__(self, *, broker: RabbitBroker, topology: ServiceTopology, timeout: float, user: str | None) -> None:
        self._user = user
        self._broker = broker
        self._topology = topology
        self._timeout = timeout
        # A channel of its own on the service's connection, on which an unroutable publish raises instead of
        # vanishing: a replay to a queue that no longer exists must leave the letter parked.
        self._channel = Channel(on_return_raises=True)

    async def republish(self, letter: DeadLetter) -> None:
        message = aio_pika.Message(
            letter.body,
            headers=letter.replay_headers(),
            message_id=letter.message_id,
            correlation_id=letter.subject,
            content_type=letter.content_type or CONTENT_TYPE,
            type=letter.routing_key or None,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            timestamp=datetime.now(UTC),
            user_id=self._user,
        )
        try:
            with anyio.fail_after(self._timeout):
                channel = await self._broker.config.channel_manager.get_channel(self._channel)
                exchange = await channel.get_exchange(self._topology.retry_exchange.name, ensure=False)
                await exchange.publish(message, routing_key=letter.original_queue, mandatory=True)
        except PublishError as error:
            raise ReplayUnroutable(
                f"no queue named {letter.original_queue!r} is bound to {self._topology.retry_exchange.name}"
            ) from error
        except Exception as error:  # unreachable, closed, or no confirm in time: all mean "not replayed"
            raise ReplayFailed(f"the broker did not confirm the replay: {type(error).__name__}: {error}") from error
