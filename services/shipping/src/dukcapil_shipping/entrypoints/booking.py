"""The courier is booked by a background loop, never inside the consumer's transaction."""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import timedelta

import structlog

from dukcapil_shipping.service_layer import handlers
from dukcapil_shipping.service_layer.courier import CourierClient
from dukcapil_shipping.service_layer.unit_of_work import ShippingUnitOfWork

log = structlog.get_logger(__name__)


def booking_loop(
    *,
    unit_of_work: Callable[[], ShippingUnitOfWork],
    courier: CourierClient,
    interval: float,
    batch_size: int,
    lease: timedelta,
) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        while True:
            try:
                await handlers.book_shipments(
                    unit_of_work=unit_of_work, courier=courier, batch_size=batch_size, lease=lease
                )
            except Exception as error:  # e.g. the database is away: the next round tries again
                log.warning("booking_round_failed", error=f"{type(error).__name__}: {error}")
            await asyncio.sleep(interval)

    return run
