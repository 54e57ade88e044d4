import asyncio
import contextlib
import json
import subprocess
import sys

from dukcapil_shared.runtime import StopDeadline, periodically


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


async def wait_a_little(event: asyncio.Event) -> None:
    async with asyncio.timeout(10):
        await event.wait()


async def test_a_woken_loop_runs_its_next_round_at_once_and_wakes_during_a_round_make_one_more() -> None:
    rounds = 0
    in_round = asyncio.Event()
    release = asyncio.Event()

    async def book() -> None:
        nonlocal rounds
        rounds += 1
        in_round.set()
        if rounds == 2:
            await release.wait()

    loop = periodically(3600, "courier booking", book)
    task = asyncio.create_task(loop())
    try:
        await wait_a_little(in_round)
        assert rounds == 1  # the next round is an hour away
        in_round.clear()
        loop.wake()
        await wait_a_little(in_round)
        assert rounds == 2
        in_round.clear()
        for _ in range(3):  # while the second round runs
            loop.wake()
        release.set()
        await wait_a_little(in_round)
        assert rounds == 3
        for _ in range(20):  # and no fourth: the three wakes made one round
            await asyncio.sleep(0)
        assert rounds == 3
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def test_a_process_whose_stop_hangs_ends_itself_at_its_deadline_with_its_stacks() -> None:
    """Whatever still holds a stopping service past graceful_timeout + STOP_MARGIN is a bug: the process ends
    itself then, saying so and where each thread was, instead of waiting for the orchestrator's SIGKILL."""
    hanging = (
        "import threading\n"
        "from dukcapil_shared.logging import configure_logging\n"
        "from dukcapil_shared.runtime import StopDeadline\n"
        "configure_logging('probe')\n"
        "StopDeadline(0.5).start()\n"
        "def held_by_a_bug():\n"
        "    threading.Event().wait()\n"
        "held_by_a_bug()\n"
    )
    ended = subprocess.run([sys.executable, "-c", hanging], capture_output=True, text=True, timeout=60)
    assert ended.returncode == StopDeadline.EXIT_CODE, ended
    [line] = [json.loads(line) for line in ended.stdout.splitlines() if "stop_deadline_exceeded" in line]
    assert line["level"] == "error" and line["seconds"] == 0.5
    assert "held_by_a_bug" in ended.stderr, "the stacks show where the process was held"


SERVED = """
import asyncio, gc, sys
import uvicorn
from dukcapil_shared.runtime import _Server

async def app(scope, receive, send):
    assert scope["type"] == "lifespan"
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            started = "failed" if sys.argv[1] == "fails" else "complete"
            await send({"type": f"lifespan.startup.{started}", "message": ""})
        else:
            await send({"type": "lifespan.shutdown.complete"})
            return

async def main():
    server = _Server(uvicorn.Config(app, port=0, log_config=None), runtime=None, deadline=5)
    before = gc.get_freeze_count()

    async def stop_once_started():
        while not server.started:
            await asyncio.sleep(0.01)
        print(before, gc.get_freeze_count())
        server.should_exit = True

    watcher = asyncio.create_task(stop_once_started())
    try:
        await server.serve()
    except SystemExit:  # uvicorn's own exit after a failed start
        print(before, gc.get_freeze_count())
    watcher.cancel()

asyncio.run(main())
"""


def test_a_served_process_leaves_what_its_start_built_out_of_full_collections_once_started() -> None:
    """A full collection walked the whole heap (modules, app, schemas) with the event loop stopped, about 150 ms
    every few seconds under load: once the start succeeded, what it built is frozen; a failed start freezes nothing."""
    for start, frozen in (("succeeds", True), ("fails", False)):
        ran = subprocess.run([sys.executable, "-c", SERVED, start], capture_output=True, text=True, timeout=60)
        assert ran.returncode == 0, ran.stderr
        before, after = map(int, ran.stdout.split())
        assert before == 0
        assert (after > 10_000) is frozen, f"start {start}: {after} objects frozen"
