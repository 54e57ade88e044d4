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
