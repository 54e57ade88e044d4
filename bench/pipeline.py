"""Requests through the whole system, from `POST /requests` and its scan uploads to `shipped`.

"Shipped" is the moment shipping hands the document on: `shipment.created.v1` (the courier booked the parcel
and gave an airway bill) or `shipment.ready_for_pickup.v1` (the document waits at the kecamatan office). Its
time is the event's own time (set by shipping); the start is taken by the client before its `POST /requests`,
so the figure includes the scan uploads, every hop and the booking round. The tracker reads them from intake's
history, where every stage's events end up.
"""

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import asyncpg
import httpx

from bench.citizens import SCAN, Citizens

SHIPPED = ("shipment.created.v1", "shipment.ready_for_pickup.v1")
REORDER_MARGIN = 500
"""A history row's id is taken when it is inserted and the row is seen when its transaction commits, so rows appear
out of id order: each poll reads again this many ids below the highest seen (seconds of history at full load) and
skips the rows it has. Reading only above the highest, the tracker missed a row now and then, and the run waited
for a request that had shipped until its timeout (12 minutes)."""


@dataclass
class Submission:
    request_id: str
    type: str
    started: float  # wall clock, before POST /requests
    accepted: float  # wall clock, 201 received
    uploaded: float  # wall clock, last scan accepted
    scans: int
    shipped: float | None = None


class Tracker:
    """Watches intake's history for shipped events of the requests the benchmark submitted."""

    def __init__(self, intake_dsn: str) -> None:
        self.dsn = intake_dsn
        self.submissions: dict[str, Submission] = {}
        self.shipped_at: dict[str, float] = {}
        self._waiters: dict[str, asyncio.Future[float]] = {}
        self._highest_id = 0
        self._seen: set[int] = set()
        self._task: asyncio.Task[None] | None = None
        self.shipped_times: list[float] = []  # every shipped event seen, in wall clock

    async def start(self) -> None:
        self._connection = await asyncpg.connect(self.dsn)
        self._task = asyncio.create_task(self._watch())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._connection.close()

    def add(self, submission: Submission) -> None:
        self.submissions[submission.request_id] = submission
        if submission.request_id in self.shipped_at:
            submission.shipped = self.shipped_at[submission.request_id]

    def wait_shipped(self, request_id: str) -> "asyncio.Future[float]":
        future = self._waiters.get(request_id)
        if future is None:
            future = self._waiters[request_id] = asyncio.get_running_loop().create_future()
            if request_id in self.shipped_at:
                future.set_result(self.shipped_at[request_id])
        return future

    async def _watch(self) -> None:
        while True:
            rows = await self._connection.fetch(
                "SELECT id, request_id, occurred_at FROM request_history WHERE id > $1 AND event_type = ANY($2) "
                "ORDER BY id",
                max(0, self._highest_id - REORDER_MARGIN),
                list(SHIPPED),
            )
            for row in rows:
                if row["id"] in self._seen:
                    continue
                self._seen.add(row["id"])
                self._highest_id = max(self._highest_id, row["id"])
                when = row["occurred_at"].timestamp()
                self.shipped_at[row["request_id"]] = when
                self.shipped_times.append(when)
                if (submission := self.submissions.get(row["request_id"])) is not None:
                    submission.shipped = when
                if (future := self._waiters.get(row["request_id"])) is not None and not future.done():
                    future.set_result(when)
            await asyncio.sleep(0.25)

    def count_shipped(self) -> int:
        return len(self.shipped_at)


@dataclass
class Submitter:
    """Submits requests like a citizen: `POST /requests`, then each scan on its checklist."""

    intake_url: str
    citizens: Citizens
    tracker: Tracker
    http: httpx.AsyncClient = field(
        # Idle connections are let go well before uvicorn closes them (after 5 s): reusing one the server is closing
        # at that moment fails the request with a ReadError, as happened between two phases.
        default_factory=lambda: httpx.AsyncClient(
            timeout=30, limits=httpx.Limits(max_connections=64, keepalive_expiry=1.0)
        )
    )
    failures: int = 0
    calls: int = 0
    conflicts: int = 0  # 409 concurrent_update answers to a scan upload, each followed by a retry
    errors: dict[str, int] = field(default_factory=dict)

    def fail(self, what: str) -> None:
        self.failures += 1
        self.errors[what] = self.errors.get(what, 0) + 1

    async def close(self) -> None:
        await self.http.aclose()

    async def _upload(self, request_id: str, access_code: str, kind: str, attempts: int = 20) -> bool:
        """One scan. Intake answers 409 when an event about the request (review.started, say) is being recorded
        at that moment; its message says to try again, and a citizen's browser would."""
        for _ in range(attempts):
            self.calls += 1
            try:
                upload = await self.http.post(
                    f"{self.intake_url}/requests/{request_id}/attachments",
                    data={"kind": kind},
                    files={"file": SCAN},
                    headers={"X-Access-Code": access_code},
                )
            except httpx.TransportError as error:
                self.fail(f"POST /requests/{{id}}/attachments {type(error).__name__}")
                return False
            if upload.status_code == 201:
                return True
            if upload.status_code != 409:
                break
            self.conflicts += 1
            await asyncio.sleep(0.2)
        self.fail(f"POST /requests/{{id}}/attachments {upload.status_code} {upload.text[:300]}")
        return False

    async def submit(self) -> Submission | None:
        body = self.citizens.next_body()
        started = time.time()
        self.calls += 1
        try:
            response = await self.http.post(f"{self.intake_url}/requests", json=body)
        except httpx.TransportError as error:
            self.fail(f"POST /requests {type(error).__name__}")
            return None
        if response.status_code != 201:
            self.fail(f"POST /requests {response.status_code} {response.text[:300]}")
            return None
        accepted = time.time()
        created = response.json()
        missing = created["checklist"]["missing"]
        for kind in missing:
            if not await self._upload(created["id"], created["access_code"], kind):
                return None
        submission = Submission(created["id"], body["type"], started, accepted, time.time(), len(missing))
        self.tracker.add(submission)
        return submission


async def closed_window(
    submitter: Submitter, *, window: int, duration: float, on_progress: Callable[[], None] | None = None
) -> list[Submission]:
    """Keep `window` requests between submission and shipped for `duration` seconds: the rate they ship at is
    the pipeline's saturation throughput (its slowest stage always has work queued)."""
    deadline = time.monotonic() + duration
    done: list[Submission] = []

    async def citizen() -> None:
        while time.monotonic() < deadline:
            submission = await submitter.submit()
            if submission is None:
                await asyncio.sleep(0.1)
                continue
            done.append(submission)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    asyncio.shield(submitter.tracker.wait_shipped(submission.request_id)),
                    timeout=max(0.1, deadline - time.monotonic()),
                )
            if on_progress:
                on_progress()

    await asyncio.gather(*(citizen() for _ in range(window)))
    return done


async def open_loop(
    submitter: Submitter, *, rate: float, duration: float, on_progress: Callable[[], None] | None = None
) -> list[Submission]:
    """Start a submission every 1/rate seconds for `duration` seconds, whatever the system does."""
    started = time.monotonic()
    done: list[Submission] = []
    tasks: set[asyncio.Task[None]] = set()

    async def one() -> None:
        submission = await submitter.submit()
        if submission is not None:
            done.append(submission)
        if on_progress:
            on_progress()

    for index in range(int(rate * duration)):
        delay = started + index / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(one())
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    if tasks:
        await asyncio.wait(tasks)
    return done


async def submit_many(
    submitter: Submitter, count: int, *, concurrency: int = 16, on_progress: Callable[[], None] | None = None
) -> list[Submission]:
    remaining = iter(range(count))
    done: list[Submission] = []

    async def worker() -> None:
        for _ in remaining:
            submission = await submitter.submit()
            if submission is not None:
                done.append(submission)
            if on_progress:
                on_progress()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done


async def wait_all_shipped(
    tracker: Tracker, submissions: list[Submission], *, timeout: float, on_progress: Callable[[int], None] | None = None
) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        shipped = sum(1 for submission in submissions if submission.request_id in tracker.shipped_at)
        if on_progress:
            on_progress(shipped)
        if shipped == len(submissions):
            for submission in submissions:
                submission.shipped = tracker.shipped_at[submission.request_id]
            return True
        await asyncio.sleep(0.5)
    for submission in submissions:
        submission.shipped = tracker.shipped_at.get(submission.request_id)
    return False
