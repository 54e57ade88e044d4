"""A lean HTTP/1.1 load generator for `POST <path>` with JSON bodies, run as its own process.

httpx costs about a millisecond of CPU per call, as much as the endpoint under test: on two cores the client
would be measured as much as the server. This client writes the request bytes itself over keep-alive
connections and reads the answer by its Content-Length, a few tens of microseconds per call, and it is the same
client for intake and for the bare baseline.

- closed loop: `concurrency` clients, each sending its next request when the last one is answered; the rate
  they reach is the endpoint's saturation throughput.
- open loop: requests start on a fixed schedule at `rate` per second whatever the answers do; the latency of
  each is measured from its scheduled start, so a stalled server shows as latency (no coordinated omission).

Progress goes to stdout as one JSON line every half second; the samples (start offset, latency, status) go to
`--out` as JSON.
"""

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from bench.citizens import Citizens


class HttpConnection:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes, timeout: float) -> tuple[int, bytes]:
        reused = self.reader is not None and not self.reader.at_eof()
        if not reused:  # new, or closed by the server while idle (uvicorn ends keep-alives idle for 5 s)
            self.close()
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None and self.writer is not None
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        self.writer.write(head + body)
        try:
            return await asyncio.wait_for(self._read_response(), timeout)
        except (asyncio.IncompleteReadError, ConnectionResetError) as error:
            self.close()
            if reused and not getattr(error, "partial", b""):
                # The server closed the idle connection as the request went out: the request never reached the
                # app. Sent again on a new connection, as HTTP clients do, rather than counted as the app's error.
                return await self.post(path, body, timeout)
            raise
        except BaseException:
            self.close()
            raise

    async def _read_response(self) -> tuple[int, bytes]:
        assert self.reader is not None
        header = await self.reader.readuntil(b"\r\n\r\n")
        lines = header.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                name, value = line.split(":", 1)
                headers[name.strip().lower()] = value.strip()
        if "content-length" in headers:
            body = await self.reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding") == "chunked":
            body = b""
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                body += (await self.reader.readexactly(size + 2))[:-2]
                if size == 0:
                    break
        else:
            body = await self.reader.read()
        if headers.get("connection", "").lower() == "close":
            self.close()
        return status, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


class Recorder:
    """Samples (start offset in seconds, latency in seconds, status; 0 for no answer) and a progress line."""

    def __init__(self) -> None:
        self.samples: list[tuple[float, float, int]] = []
        self.started = time.monotonic()
        self.started_wall = time.time()

    def add(self, started: float, latency: float, status: int) -> None:
        self.samples.append((round(started - self.started, 6), round(latency, 6), status))

    async def report_progress(self) -> None:
        while True:
            await asyncio.sleep(0.5)
            ok = sum(1 for sample in self.samples if 200 <= sample[2] < 300)
            line = {"elapsed": time.monotonic() - self.started, "done": len(self.samples), "ok": ok}
            print(json.dumps(line), flush=True)


async def closed_loop(
    url: str, bodies: Callable[[], bytes], *, concurrency: int, duration: float, timeout: float = 10
) -> Recorder:
    parts = urlsplit(url)
    recorder = Recorder()
    deadline = recorder.started + duration

    async def client() -> None:
        connection = HttpConnection(parts.hostname or "127.0.0.1", parts.port or 80)
        while time.monotonic() < deadline:
            body = bodies()
            started = time.monotonic()
            try:
                status, _ = await connection.post(parts.path, body, timeout)
            except (OSError, TimeoutError, asyncio.IncompleteReadError):
                status = 0
                await asyncio.sleep(0.05)
            recorder.add(started, time.monotonic() - started, status)
        connection.close()

    progress = asyncio.create_task(recorder.report_progress())
    await asyncio.gather(*(client() for _ in range(concurrency)))
    progress.cancel()
    return recorder


async def open_loop(
    url: str,
    bodies: Callable[[], bytes],
    *,
    rate: float,
    duration: float,
    max_connections: int = 256,
    timeout: float = 10,
) -> Recorder:
    parts = urlsplit(url)
    recorder = Recorder()
    idle: list[HttpConnection] = []
    opened = 0
    in_flight: set[asyncio.Task[None]] = set()

    async def one(scheduled: float, body: bytes) -> None:
        nonlocal opened
        connection = idle.pop() if idle else None
        if connection is None:
            opened += 1
            connection = HttpConnection(parts.hostname or "127.0.0.1", parts.port or 80)
        try:
            status, _ = await connection.post(parts.path, body, timeout)
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            status = 0
        recorder.add(scheduled, time.monotonic() - scheduled, status)
        if connection.writer is not None:
            idle.append(connection)

    progress = asyncio.create_task(recorder.report_progress())
    interval = 1.0 / rate
    count = int(duration * rate)
    for index in range(count):
        scheduled = recorder.started + index * interval
        delay = scheduled - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        if len(in_flight) >= max_connections:  # the server is far behind: record the miss rather than pile up
            recorder.add(scheduled, time.monotonic() - scheduled, 0)
            continue
        task = asyncio.create_task(one(scheduled, bodies()))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
    if in_flight:
        await asyncio.wait(in_flight, timeout=timeout + 1)
    progress.cancel()
    for connection in idle:
        connection.close()
    return recorder


def body_source(mix: dict[str, float], courier_share: float, serial_start: int) -> Callable[[], bytes]:
    citizens = Citizens(mix=mix, courier_share=courier_share, serial_start=serial_start)

    def next_body() -> bytes:
        return json.dumps(citizens.next_body()).encode()

    return next_body


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--mode", choices=("closed", "open"), required=True)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rate", type=float, default=0.0)
    parser.add_argument("--duration", type=float, default=20)
    parser.add_argument("--mix", default="{}", help="JSON: request type -> weight")
    parser.add_argument("--courier-share", type=float, default=0.2)
    parser.add_argument("--serial-start", type=int, default=1)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    bodies = body_source(json.loads(args.mix), args.courier_share, args.serial_start)
    if args.mode == "closed":
        recorder = asyncio.run(closed_loop(args.url, bodies, concurrency=args.concurrency, duration=args.duration))
    else:
        recorder = asyncio.run(open_loop(args.url, bodies, rate=args.rate, duration=args.duration))
    result: dict[str, Any] = {
        "mode": args.mode,
        "duration": args.duration,
        "started_wall": recorder.started_wall,
        "samples": recorder.samples,
    }
    with open(args.out, "w") as out:
        json.dump(result, out)
    print(json.dumps({"finished": len(recorder.samples)}), flush=True)
    sys.exit(0)


if __name__ == "__main__":
    main()
