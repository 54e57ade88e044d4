"""CPU profiles of the running services with py-spy (sampling from outside, no change to the process), and a
summary of each: where the samples fell by package (SQLAlchemy, FastStream, aio-pika, pydantic, the service's
own code...) and by kind of work (round trips to PostgreSQL, RabbitMQ, HTTP, the PDF...), and the functions with the
most samples of their own and in total."""

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


WORK = (
    "PostgreSQL: round trips, asyncpg",
    "SQLAlchemy",
    "RabbitMQ: FastStream, aiormq, socket writes",
    "HTTP: FastAPI, Starlette, uvicorn",
    "PDF: render, QR code, seal",
    "files written (scans, PDFs), fsync waits too",
    "our code, pydantic",
    "event loop, socket reads",
    "the rest (standard library, metrics, logs)",
)
"""The kinds of work a sample is counted under (`kind_of_work`), in the order they are reported. A thread blocked in
fsync looks busy to py-spy (it sees the Python frame that called it, not the wait), so the files' share is an upper
bound and the others' a little low."""

_AMQP = ("faststream", "fast_depends", "aio_pika", "aiormq", "pamqp")
_HTTP = ("fastapi", "starlette", "uvicorn", "h11", "python_multipart", "multipart", "anyio")
_PDF = ("fpdf", "qrcode", "PIL", "pyhanko", "sign", "pdf_utils", "asn1crypto", "cryptography", "fontTools")
"""pyHanko's frames come as `sign/...` and `pdf_utils/...`: py-spy shortens their paths past the package's folder."""
_RENDERING = tuple(
    f"dukcapil_documents/adapters/{module}.py" for module in ("pdf", "pades", "layout", "fonts", "signing")
)


def kind_of_work(frames: list[tuple[str, str]]) -> str | None:
    """The kind of work (one of `WORK`) of a sample, from its stack of (function, path), outermost first; None for a
    thread that waits (a worker thread's condition, the event loop's epoll): py-spy's sampling counts some of them,
    the kernel's CPU time does not."""
    function, path = frames[-1]
    if (path.startswith("threading.py") and function.endswith(".wait")) or function == "EpollSelector.select":
        return None
    paths = [frame_path for _, frame_path in frames]
    if any(frame_path.startswith("dukcapil_shared/files.py") for frame_path in paths):
        return "files written (scans, PDFs), fsync waits too"
    package = package_of(path)
    if package in _PDF or any(frame_path.startswith(_RENDERING) for frame_path in paths):
        return "PDF: render, QR code, seal"
    if function.endswith("Transport.write") or function.startswith("socket.send"):
        callers = {package_of(frame_path) for frame_path in paths}
        if "asyncpg" in callers:
            return "PostgreSQL: round trips, asyncpg"
        if callers & set(_AMQP):
            return "RabbitMQ: FastStream, aiormq, socket writes"
        return "HTTP: FastAPI, Starlette, uvicorn"
    if package == "asyncpg":
        return "PostgreSQL: round trips, asyncpg"
    if package == "sqlalchemy":
        return "SQLAlchemy"
    if package in _AMQP:
        return "RabbitMQ: FastStream, aiormq, socket writes"
    if package in _HTTP:
        return "HTTP: FastAPI, Starlette, uvicorn"
    if package.startswith(("dukcapil", "pydantic")):
        return "our code, pydantic"
    if package in ("stdlib asyncio", "stdlib selectors"):
        return "event loop, socket reads"
    return "the rest (standard library, metrics, logs)"


def summarize(collapsed: str, top: int = 15) -> dict[str, Any]:
    """From py-spy's raw output (`frame;frame;... count` per line, outermost first): samples, the share of the
    leaf frames by package (own time), the share of each kind of work among the samples not waiting (`WORK`), and
    the top functions by own and by total time."""
    by_work: Counter[str] = Counter()
    waiting = 0
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
        work = kind_of_work(frames)
        if work is None:
            waiting += count
        else:
            by_work[work] += count
        own_by_package[package_of(path)] += count
        own[f"{function} ({_short(path)})"] += count
        for name in {f"{function} ({_short(path)})" for function, path in frames if not _plumbing(function, path)}:
            total[name] += count

    def share(counter: Counter[str], limit: int) -> list[list[Any]]:
        if not samples:
            return []
        return [[name, round(100 * count / samples, 1)] for name, count in counter.most_common(limit)]

    working = sum(by_work.values())
    return {
        "samples": samples,
        "waiting_samples": waiting,
        "by_work_pct": [[kind, round(100 * by_work[kind] / working, 1)] for kind in WORK if working],
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
    lines += ["", f"By kind of work ({summary['waiting_samples']} samples of threads waiting left out):"]
    lines += [f"  {pct:5.1f}%  {kind}" for kind, pct in summary["by_work_pct"]]
    lines += ["", "Top functions by own time:"]
    lines += [f"  {pct:5.1f}%  {function}" for function, pct in summary["top_own_time_pct"]]
    lines += ["", "Top functions by total time (the function or anything it calls):"]
    lines += [f"  {pct:5.1f}%  {function}" for function, pct in summary["top_total_time_pct"]]
    return "\n".join(lines) + "\n"
