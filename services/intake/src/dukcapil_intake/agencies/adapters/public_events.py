"""Publishing the logs of events for agencies, each through an outbox relay of its own to its public exchange."""

import asyncio
from collections.abc import Sequence

from faststream.rabbit import RabbitBroker

from dukcapil_shared.messaging import OutboxRelay, declare_public_exchanges


async def relay_public_events(broker: RabbitBroker, relays: Sequence[OutboxRelay]) -> None:
    """Declare the agencies' exchanges, then relay both logs for as long as the service runs."""
    await declare_public_exchanges(broker)
    await asyncio.gather(*(relay.run() for relay in relays))
