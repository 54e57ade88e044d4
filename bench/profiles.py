"""CPU profiles of the running services with py-spy (sampling from outside, no change to the process), and a
summary of each: where the samples fell by package (SQLAlchemy, FastStream, aio-pika, pydantic, the service's
own code...) and the functions with the most samples of their own and in total."""

import asyncio
import re
import shutil
import sys
from collections import Counter
from pathlib import Path
from typing import Any

_FRAME = re.compile(r"^(?P<function>.*) \((?P<path>.*?)(?::\d+)?\)$")


def py_spy() -> str | None:
    found = Path(sys.executable).with_name("py-spy")
    return str(found) if found.exists() else shutil.which("py-spy")


async def record(pid: int, seconds: float, out: Path, rate: int = 67) -> bool:
    """Record `pid` for `seconds` into `out` (collapsed stacks); False if py-spy is missing or may not attach."""
    executable = py_spy()
    if executable is None:
        return False
    process = await asyncio.create_subprocess_exec(
        executable,
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(int(seconds)),
        "--rate",
        str(rate),
        "--nonblocking",
        "--format",
        "raw",
        "--output",
        str(out),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, error = await process.communicate()
    if process.returncode != 0:
        await asyncio.to_thread(out.with_suffix(".error.txt").write_bytes, error)
        return False
    return True


def package_of(path: str) -> str:
    """`sqlalchemy/sql/elements.py` -> sqlalchemy, `asyncio/events.py` -> stdlib asyncio (py-spy shortens
    paths to the part after site-packages or the standard library's folder)."""
    for marker in ("site-packages/", "/src/", "/lib/python3.11/"):
        if marker in path:
            path = path.split(marker, 1)[1]
    if path.startswith("<"):
        return path
    top = path.split("/", 1)[0].removesuffix(".py")
    return f"stdlib {top}" if top in sys.stdlib_module_names else top


def parse_frame(frame: str) -> tuple[str, str]:
    match = _FRAME.match(frame.strip())
    if match is None:
        return frame.strip(), ""
    return match["function"], match["path"]


def summarize(collapsed: str, top: int = 15) -> dict[str, Any]:
    """From py-spy's raw output (`frame;frame;... count` per line, outermost first): samples, the share of the
    leaf frames by package (own time), and the top functions by own and by total time."""
    own_by_package: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        samples += count
        frames = [parse_frame(frame) for frame in stack.split(";")]
        frames = [frame for frame in frames if frame[1]]  # drops py-spy's "process"/"thread" pseudo-frames
        if not frames:
            continue
        function, path = frames[-1]
        own_by_package[package_of(path)] += count
        own[f"{function} ({_short(path)})"] += count
        for name in {f"{function} ({_short(path)})" for function, path in frames if not _plumbing(function, path)}:
            total[name] += count

    def share(counter: Counter[str], limit: int) -> list[list[Any]]:
        if not samples:
            return []
        return [[name, round(100 * count / samples, 1)] for name, count in counter.most_common(limit)]

    return {
        "samples": samples,
        "own_time_by_package_pct": share(own_by_package, top),
        "top_own_time_pct": share(own, top),
        "top_total_time_pct": share(total, top),
    }


def _plumbing(function: str, path: str) -> bool:
    """Frames every sample passes through (the interpreter's start, the event loop, uvicorn's server)."""
    package = package_of(path)
    return (
        package.startswith("stdlib")
        or path.startswith("<")
        or path.endswith("__main__.py")
        or (package == "uvicorn" and ("/main.py" in path or "/server.py" in path or "_compat" in path))
        or (path.endswith("dukcapil_shared/runtime.py") and function == "serve")
    )


def _short(path: str) -> str:
    for marker in ("site-packages/", "/src/", "/lib/python3.11/"):
        if marker in path:
            return path.split(marker, 1)[1]
    return path


def as_text(name: str, summary: dict[str, Any]) -> str:
    lines = [f"{name}: {summary['samples']} samples (on CPU only)", "", "Own time by package:"]
    lines += [f"  {pct:5.1f}%  {package}" for package, pct in summary["own_time_by_package_pct"]]
    lines += ["", "Top functions by own time:"]
    lines += [f"  {pct:5.1f}%  {function}" for function, pct in summary["top_own_time_pct"]]
    lines += ["", "Top functions by total time (the function or anything it calls):"]
    lines += [f"  {pct:5.1f}%  {function}" for function, pct in summary["top_total_time_pct"]]
    return "\n".join(lines) + "\n"
