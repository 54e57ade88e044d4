"""The courier has no webhooks: a background loop asks it about every shipment on its way."""

import asyncio
from collections.abc import Awaitable, Callable

import structlog

from dukcapil_shipping.service_layer import handlers
from dukcapil_shipping.service_layer.courier import CourierClient
from dukcapil_shipping.service_layer.unit_of_work import ShippingUnitOfWork

log = structlog.get_logger(__name__)


def tracking_loop(
    *,
    unit_of_work: Callable[[], ShippingUnitOfWork],
    courier: CourierClient,
    find_office: handlers.FindOffice,
    interval: float,
    batch_size: int,
) -> Callable[[], Awaitable[None]]:
    async def run() -> None:
        while True:
            try:
                await handlers.track_shipments(
                    unit_of_work=unit_of_work, courier=courier, find_office=find_office, batch_size=batch_size
                )
            except Exception as error:  # e.g. the database is away: the next round tries again
                log.warning("tracking_round_failed", error=f"{type(error).__name__}: {error}")
            await asyncio.sleep(interval)

    return run
