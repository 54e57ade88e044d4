import asyncio
import contextlib

from dukcapil_shared.contracts.regions import find_kecamatan
from dukcapil_shipping.entrypoints.tracking import tracking_loop
from dukcapil_shipping.service_layer.unit_of_work import ShippingUnitOfWork

from ..fakes import FakeCourier


async def test_a_failing_round_does_not_end_the_loop() -> None:
    rounds = 0

    def database_away() -> ShippingUnitOfWork:
        nonlocal rounds
        rounds += 1
        raise OSError("database is away")

    run = tracking_loop(
        unit_of_work=database_away, courier=FakeCourier(), find_office=find_kecamatan, interval=0.01, batch_size=10
    )
    task = asyncio.create_task(run())
    await asyncio.sleep(0.1)
    assert not task.done()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert rounds >= 3
