import asyncio
import contextlib

from dukcapil_shared.runtime import periodically


async def test_a_failing_round_does_not_end_a_background_loop() -> None:
    rounds = 0

    async def database_away() -> None:
        nonlocal rounds
        rounds += 1
        raise OSError("database is away")

    task = asyncio.create_task(periodically(0.01, "probe", database_away)())
    await asyncio.sleep(0.1)
    assert not task.done()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert rounds >= 3
