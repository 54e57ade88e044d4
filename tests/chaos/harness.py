"""What every chaos scenario shares: the system with automatic approval, a driver that streams requests of mixed
types through intake's API (retrying through faults without ever creating a request twice), and
`settle_and_count`, which waits for the system to come to rest and then counts every request id.

Requests are valid and approved by policy: every applicant (and every deceased person) has a NIK of their own,
so the `no_duplicate` pre-check passes, and the driver uploads every scan on the request's checklist, so
`attachments_complete` passes. Review therefore approves each of them without a person, and the only way a
request ends anywhere but `ready_for_pickup` (pickup) or `delivered` (courier) is a fault the system did not
survive.
"""

import asyncio
import itertools
import json
import random
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import httpx

from dukcapil_shared.auth.roles import Role
from dukcapil_testing import minimal_pdf, staff_headers

from ..e2e.requests import AKTA_KEMATIAN, BIODATA_WNI, COURIER, KARTU_KELUARGA, PICKUP, SURAT_PINDAH, variant
from ..e2e.system import SERVICES, System
from . import broker

TYPES = ("biodata_wni", "kartu_keluarga", "surat_pindah", "akta_kematian")

# Settings every chaos system runs with (on top of System's fast retries and courier steps).
CHAOS_ENV = {
    "REVIEW_AUTO_APPROVE_TYPES": json.dumps(list(TYPES)),
    # Notices to citizens are not what is tested here; their sender would only knock at absent sinks.
    "INTAKE_NOTIFICATIONS_ENABLED": "false",
    # Nor is the population register: the driver's people are made up (unknown to it, they would never be approved
    # by policy), and its own failures are review's tests' (services/review/tests/integration/test_register_client.py).
    "REVIEW_REGISTER_URL": "",
    "SHIPPING_BOOKING_INTERVAL": "0.3",
    "SHIPPING_TRACKING_INTERVAL": "0.3",
    # A replica killed during a booking round keeps its claim this long; short, so the test need not wait.
    "SHIPPING_BOOKING_LEASE": "5",
}

# Tokens the services accept (signed with the tests' key): a supervisor reads requests, reviews, documents and
# shipments; an admin reads dead letters.
SUPERVISOR = staff_headers(Role.SUPERVISOR, username="chaos.supervisor", reason="chaos test: counting requests")
ADMIN = staff_headers(Role.ADMIN, username="chaos.admin", reason="chaos test: counting dead letters")

PICKUP_EVENTS = (
    "request.submitted.v1",
    "review.started.v1",
    "request.approved.v1",
    "document.issued.v1",
    "shipment.ready_for_pickup.v1",
)
COURIER_EVENTS = (
    "request.submitted.v1",
    "review.started.v1",
    "request.approved.v1",
    "document.issued.v1",
    "shipment.created.v1",
    "shipment.delivered.v1",
)
ATTACHMENT_ADDED = "request.attachment_added.v1"
STATUS_CHANGED = "shipment.status_changed.v1"
SCAN = ("scan.pdf", minimal_pdf(), "application/pdf")
WIB = ZoneInfo("Asia/Jakarta")

_serials = itertools.count(random.randrange(1, 4000))


def _nik(region: str, birth: date, female: bool, serial: int) -> str:
    day = birth.day + (40 if female else 0)
    return f"{region}{day:02d}{birth:%m%y}{serial % 9999 + 1:04d}"


def _person(region: str, name: str, *, first_year: int, female: bool) -> dict[str, str]:
    """A person with a NIK nobody else in the test run has (and a birth date and sex that agree with it)."""
    serial = next(_serials)
    birth = date(first_year + (serial // 9999) % 15, 1 + serial % 12, 1 + serial % 28)
    return {
        "nik": _nik(region, birth, female, serial),
        "name": name,
        "birth_date": birth.isoformat(),
        "sex": "female" if female else "male",
    }


def request_body(index: int, *, courier: bool) -> dict[str, Any]:
    """Request `index` of a batch: the types in turn, each for people of its own."""
    kind = TYPES[index % len(TYPES)]
    female = index % 2 == 0
    if kind == "biodata_wni":
        applicant = _person("360214", "Siti Aminah", first_year=1975, female=female)
        body = variant(BIODATA_WNI, applicant=applicant, details={"person_nik": applicant["nik"]})
    elif kind == "kartu_keluarga":
        applicant = _person("360214", "Ahmad Fauzi", first_year=1970, female=False)
        body = variant(KARTU_KELUARGA, applicant=applicant)
    elif kind == "surat_pindah":
        applicant = _person("360203", "Yusuf Maulana", first_year=1980, female=False)
        details = {**SURAT_PINDAH["details"], "moving_members": [applicant["nik"]]}
        body = variant(SURAT_PINDAH, applicant=applicant, details=details)
    else:
        applicant = _person("360214", "Siti Aminah", first_year=1978, female=True)
        deceased = _person("360214", "Sarmadi", first_year=1940, female=False)
        died = datetime.now(WIB).date() - timedelta(days=3)
        details = {
            **AKTA_KEMATIAN["details"],
            "deceased": {"nik": deceased["nik"], "name": deceased["name"]},
            "date_of_death": died.isoformat(),
        }
        body = variant(AKTA_KEMATIAN, applicant=applicant, details=details)
    if courier:
        body["delivery"] = {**COURIER, "recipient_name": body["applicant"]["name"]}
    else:
        body["delivery"] = dict(PICKUP)
    return body


# uvicorn closes a connection idle for 5 s; reusing one at that very moment fails with a ReadError that says nothing
# about the system under test. Idle connections are let go well before.
IDLE_CONNECTIONS_LET_GO = httpx.Limits(keepalive_expiry=1.0)


@dataclass
class Tracked:
    """A request the test submitted and got a 201 for."""

    id: str
    type: str
    courier: bool
    index: int
    access_code: str = field(repr=False)

    @property
    def final_status(self) -> str:
        return "delivered" if self.courier else "ready_for_pickup"

    @property
    def expected_events(self) -> tuple[str, ...]:
        return COURIER_EVENTS if self.courier else PICKUP_EVENTS

    def __str__(self) -> str:
        return f"{self.id} ({self.type}, {'courier' if self.courier else 'pickup'})"


class Chaos:
    """A running system plus what the tests need around it: every request id it was given, its databases."""

    def __init__(self, system: System, *, amqp_admin_url: str = "", broker_user: Any = None) -> None:
        self.system = system
        self.amqp_admin_url = amqp_admin_url or system.amqp_url
        """For the test's own AMQP connection: a user with RabbitMQ's impersonator tag, which may publish under
        any service's name (re-delivering captured events as their publishers sent them)."""
        self.broker_user = broker_user or (lambda service: service)
        """A service's broker user: the user_id its events carry."""
        self.known: dict[str, Tracked] = {}
        self.http = httpx.AsyncClient(timeout=15, limits=IDLE_CONNECTIONS_LET_GO)

    async def close(self) -> None:
        await self.http.aclose()

    @property
    def amqp_url(self) -> str:
        return self.system.amqp_url

    def dsn(self, service: str) -> str:
        return self.system.database_urls[service].replace("postgresql+asyncpg://", "postgresql://", 1)

    async def query(self, service: str, sql: str, *args: Any) -> list[asyncpg.Record]:
        connection = await asyncio.wait_for(asyncpg.connect(self.dsn(service)), timeout=10)
        try:
            return await asyncio.wait_for(connection.fetch(sql, *args), timeout=30)
        finally:
            await connection.close()

    async def pending_outbox(self, service: str) -> int:
        [row] = await self.query(service, "SELECT count(*) AS n FROM outbox WHERE published_at IS NULL")
        return row["n"]

    async def get(self, service: str, path: str, **params: Any) -> Any:
        response = await self.http.get(self.system.url(service) + path, params=params, headers=SUPERVISOR)
        assert response.status_code == 200, f"GET {service}{path} {params}: {response.status_code} {response.text}"
        return response.json()

    async def restart(self, name: str, *, kill: bool = True, ready_within: float = 60) -> None:
        """kill -9 (or SIGTERM) a process, start it again and wait until it is ready."""
        if name in self.system.processes:
            if kill:
                self.system.kill(name)
            else:
                self.system.stop(name)
        self.system.start(name)
        await self.system.wait_ready(name, timeout=ready_within)

    async def ensure_running(self) -> None:
        """After a scenario, whatever it stopped is started again for the next one on this system."""
        for name in list(self.system.ports):
            if name not in self.system.processes and "#" not in name:
                self.system.start(name)
        await asyncio.gather(*(self.system.wait_ready(name, timeout=90) for name in self.system.processes))

    async def wait_until(self, what: str, condition: Any, timeout: float = 60, interval: float = 0.2) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = await condition()
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}")
            await asyncio.sleep(interval)

    async def count_rows(self, service: str, table: str) -> int:
        [row] = await self.query(service, f"SELECT count(*) AS n FROM {table}")
        return row["n"]


class Driver:
    """Submits requests like a patient citizen: a request that got no answer is sent again with the same
    Idempotency-Key (so a lost 201 never makes a second request), and a scan is uploaded again only if intake
    does not show it yet. Every call is bounded in time."""

    def __init__(self, chaos: Chaos, *, courier_every: int = 5, give_up_after: float = 120) -> None:
        self.chaos = chaos
        self.courier_every = courier_every
        self.give_up_after = give_up_after
        self.http = httpx.AsyncClient(timeout=httpx.Timeout(10, connect=3), limits=IDLE_CONNECTIONS_LET_GO)
        self.submitted: list[Tracked] = []
        self.failed_calls = Counter[str]()
        self._next = itertools.count()

    async def close(self) -> None:
        await self.http.aclose()

    def _url(self, path: str) -> str:
        return self.chaos.system.url("intake") + path

    async def _try(self, method: str, path: str, **kwargs: Any) -> httpx.Response | None:
        """One call; None if intake gave no answer or a server error (the outcome is then unknown)."""
        try:
            response = await self.http.request(method, self._url(path), **kwargs)
        except httpx.TransportError as error:
            self.failed_calls[f"{method} {type(error).__name__}"] += 1
            return None
        if response.status_code >= 500:
            self.failed_calls[f"{method} {response.status_code}"] += 1
            return None
        return response

    async def _call(self, method: str, path: str, deadline: float, **kwargs: Any) -> httpx.Response:
        """A call that is safe to repeat, repeated until intake answers."""
        while (response := await self._try(method, path, **kwargs)) is None:
            self._check(deadline, f"{method} {path}")
            await asyncio.sleep(0.3)
        return response

    def _check(self, deadline: float, what: str) -> None:
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: intake did not answer for {self.give_up_after}s ({self.failed_calls})")

    async def submit_one(self, *, courier: bool | None = None) -> Tracked:
        index = next(self._next)
        courier = (index % self.courier_every == self.courier_every - 1) if courier is None else courier
        body = request_body(index, courier=courier)
        deadline = time.monotonic() + self.give_up_after
        key = str(uuid.uuid4())
        response = await self._call("POST", "/requests", deadline, json=body, headers={"Idempotency-Key": key})
        assert response.status_code == 201, f"{body['type']} refused: {response.text}"
        created = response.json()
        tracked = Tracked(
            id=created["id"], type=body["type"], courier=courier, index=index, access_code=created["access_code"]
        )
        self.chaos.known[tracked.id] = tracked
        for kind in created["checklist"]["missing"]:
            await self._upload_scan(tracked, kind, deadline)
        self.submitted.append(tracked)
        return tracked

    async def submit_once(self, *, timeout: float) -> tuple[int | None, float, Tracked | None]:
        """One POST /requests bounded by `timeout`, not retried: (status, or None if it hung; seconds; the
        request if it was accepted, its scans then uploaded as usual)."""
        index = next(self._next)
        body = request_body(index, courier=False)
        started = time.monotonic()
        try:
            response = await self.http.post(self._url("/requests"), json=body, timeout=timeout)
        except httpx.TimeoutException:
            return None, time.monotonic() - started, None
        elapsed = time.monotonic() - started
        if response.status_code != 201:
            return response.status_code, elapsed, None
        created = response.json()
        tracked = Tracked(
            id=created["id"], type=body["type"], courier=False, index=index, access_code=created["access_code"]
        )
        self.chaos.known[tracked.id] = tracked
        deadline = time.monotonic() + self.give_up_after
        for kind in created["checklist"]["missing"]:
            await self._upload_scan(tracked, kind, deadline)
        return response.status_code, elapsed, tracked

    async def _upload_scan(self, tracked: Tracked, kind: str, deadline: float) -> None:
        """Upload one scan; when the answer is lost or intake was busy with the request (409), look whether it
        was kept before trying again, so that no scan is uploaded twice."""
        path = f"/requests/{tracked.id}/attachments"
        while True:
            response = await self._try(
                "POST", path, data={"kind": kind}, files={"file": SCAN}, headers={"X-Access-Code": tracked.access_code}
            )
            if response is not None and response.status_code == 201:
                return
            if response is not None and response.status_code != 409:
                raise AssertionError(f"scan {kind} of {tracked} refused: {response.status_code} {response.text}")
            shown = await self._call("GET", f"/requests/{tracked.id}", deadline, headers=SUPERVISOR)
            if kind in {attachment["kind"] for attachment in shown.json()["attachments"]}:
                return
            self._check(deadline, f"scan {kind} of {tracked}")
            await asyncio.sleep(0.2)

    async def run(self, count: int, *, concurrency: int = 4, courier: bool | None = None) -> list[Tracked]:
        """Submit `count` requests, `concurrency` at a time; returns them once every one got its 201."""
        remaining = iter(range(count))
        done: list[Tracked] = []

        async def worker() -> None:
            for _ in remaining:
                done.append(await self.submit_one(courier=courier))

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return done

    def start(self, count: int, *, concurrency: int = 4, courier: bool | None = None) -> "asyncio.Task[list[Tracked]]":
        return asyncio.create_task(self.run(count, concurrency=concurrency, courier=courier), name="chaos-driver")

    def start_until(self, stop: asyncio.Event, *, concurrency: int = 4) -> "asyncio.Task[list[Tracked]]":
        """Submit requests, `concurrency` at a time, until `stop` is set; each worker then finishes the request in
        hand (its 201 and its scans). For a fault that must meet submissions in flight: a batch of fixed size can
        be over before the fault when the system is fast."""

        async def worker(done: list[Tracked]) -> None:
            while not stop.is_set():
                done.append(await self.submit_one())

        async def run() -> list[Tracked]:
            done: list[Tracked] = []
            await asyncio.gather(*(worker(done) for _ in range(concurrency)))
            return done

        return asyncio.create_task(run(), name="chaos-driver-until")

    async def wait_submitted(self, count: int, timeout: float = 120) -> None:
        await self.chaos.wait_until(
            f"{count} submissions", lambda: _true(len(self.submitted) >= count), timeout=timeout, interval=0.1
        )


async def _true(value: bool) -> bool:
    return value


@dataclass
class Tally:
    """What `settle_and_count` found, by request id."""

    lost: dict[str, str] = field(default_factory=dict)
    duplicated: dict[str, str] = field(default_factory=dict)
    unexpected: dict[str, str] = field(default_factory=dict)
    counted: int = 0
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    shipments: dict[str, dict[str, Any]] = field(default_factory=dict)
    settled_in: float = 0.0

    @property
    def clean(self) -> bool:
        return not (self.lost or self.duplicated or self.unexpected)

    def describe(self, limit: int = 15) -> str:
        lines = [f"{self.counted} requests counted after {self.settled_in:.1f}s"]
        for title, found in (("LOST", self.lost), ("DUPLICATED", self.duplicated), ("UNEXPECTED", self.unexpected)):
            if found:
                lines.append(f"{title} ({len(found)}):")
                lines += [f"  {key}: {why}" for key, why in itertools.islice(found.items(), limit)]
                if len(found) > limit:
                    lines.append(f"  ... and {len(found) - limit} more")
        return "\n".join(lines)

    def assert_clean(self) -> None:
        assert self.clean, self.describe()


async def _fingerprint(chaos: Chaos) -> tuple[Any, ...]:
    """Everything that moves while the system works; equal twice in a row (and nothing queued) means at rest."""
    outbox = [await chaos.pending_outbox(service) for service in SERVICES]
    rows = (
        await chaos.count_rows("intake", "request_history"),
        await chaos.count_rows("documents", "documents"),
        await chaos.count_rows("shipping", "shipments"),
        await chaos.count_rows("shipping", "tracking"),
    )
    busy = await asyncio.to_thread(broker.busy_queues, chaos.amqp_url)
    return (tuple(outbox), rows, tuple(sorted(busy.items())))


async def _statuses(chaos: Chaos) -> dict[str, str]:
    return {row["id"]: row["status"] for row in await chaos.query("intake", "SELECT id, status FROM requests")}


async def settle(chaos: Chaos, requests: list[Tracked], *, timeout: float = 120) -> float:
    """Wait until every request is in its final state and the system is at rest: no outbox row unpublished,
    no message queued or unacknowledged (dead letters aside), nothing changing for a second. Returns the time
    it took; on timeout returns anyway, and the count says what is missing."""
    started = time.monotonic()
    deadline = started + timeout
    previous: tuple[Any, ...] | None = None
    while time.monotonic() < deadline:
        try:
            statuses = await _statuses(chaos)
            if all(statuses.get(r.id) == r.final_status for r in requests):
                current = await _fingerprint(chaos)
                quiet = not any(current[0]) and not current[2]
                if quiet and current == previous:
                    break
                previous = current
        except (OSError, asyncpg.PostgresError, TimeoutError):
            previous = None  # a database or the broker is away for a moment: look again
        await asyncio.sleep(0.5)
    return time.monotonic() - started


async def count(chaos: Chaos, requests: list[Tracked], *, concurrency: int = 8) -> Tally:
    """For every request id: its final state, one document, one shipment (with one airway bill for a courier
    parcel), and each event of its lifecycle once in intake's history; then ids the test never submitted."""
    tally = Tally(counted=len(requests))
    limit = asyncio.Semaphore(concurrency)

    async def one(tracked: Tracked) -> None:
        async with limit:
            request = await chaos.get("intake", f"/requests/{tracked.id}")
            documents = await chaos.get("documents", "/documents", request_id=tracked.id)
            shipments = await chaos.get("shipping", "/shipments", request_id=tracked.id)
        _count_one(tally, tracked, request, documents, shipments)

    await asyncio.gather(*(one(tracked) for tracked in requests))
    for tracked in requests:
        if str(tracked) in tally.lost:
            tally.lost[str(tracked)] += f"; where it stopped: {await _diagnose(chaos, tracked)}"
    await _count_unexpected(chaos, tally)
    return tally


async def _diagnose(chaos: Chaos, tracked: Tracked) -> str:
    """For a request that did not arrive: what review made of it, and what any service parked about it."""
    found = []
    review = await chaos.http.get(chaos.system.url("review") + f"/reviews/{tracked.id}", headers=SUPERVISOR)
    if review.status_code == 200:
        body = review.json()
        failed = [check["code"] for check in body.get("prechecks", []) if not check["passed"]]
        found.append(f"review {body['status']}, failed pre-checks {failed}, {len(body.get('attachments', []))} scans")
    else:
        found.append(f"review: {review.status_code}")
    for service in SERVICES:
        letters = await chaos.http.get(
            chaos.system.url(service) + "/dead-letters",
            params={"subject": tracked.id, "status": "parked"},
            headers=ADMIN,
        )
        if letters.status_code == 200:
            found += [
                f"parked at {service}: {letter['routing_key']} after {letter['attempts']} attempts: {letter['error']}"
                for letter in letters.json()
            ]
    return "; ".join(found)


def _count_one(
    tally: Tally,
    tracked: Tracked,
    request: dict[str, Any],
    documents: list[dict[str, Any]],
    shipments: list[dict[str, Any]],
) -> None:
    history = [entry["event_type"] for entry in request["history"]]
    seen = Counter(history)
    lost, duplicated, unexpected = [], [], []
    if request["status"] != tracked.final_status:
        lost.append(f"status {request['status']}, not {tracked.final_status}")
    for event_type in tracked.expected_events:
        if seen[event_type] == 0:
            lost.append(f"no {event_type}")
        elif seen[event_type] > 1:
            duplicated.append(f"{event_type} x{seen[event_type]}")
    for event_type, times in seen.items():
        if event_type not in tracked.expected_events and event_type not in (ATTACHMENT_ADDED, STATUS_CHANGED):
            unexpected.append(f"{event_type} x{times}")
    scans = len(request["attachments"])
    if seen[ATTACHMENT_ADDED] != scans:
        duplicated.append(f"{seen[ATTACHMENT_ADDED]} {ATTACHMENT_ADDED} for {scans} scans")
    if request["checklist"]["missing"]:
        lost.append(f"scans missing {request['checklist']['missing']}")
    steps = [(entry["time"], entry["note"]) for entry in request["history"] if entry["event_type"] == STATUS_CHANGED]
    if len(steps) != len(set(steps)):
        duplicated.append(f"the same {STATUS_CHANGED} twice")

    if not documents:
        lost.append("no document")
    elif len(documents) > 1:
        duplicated.append(f"{len(documents)} documents: {[d['number'] for d in documents]}")
    else:
        tally.documents[tracked.id] = documents[0]
    if not shipments:
        lost.append("no shipment")
    elif len(shipments) > 1:
        duplicated.append(f"{len(shipments)} shipments: {[s['airway_bill'] for s in shipments]}")
    else:
        shipment = shipments[0]
        tally.shipments[tracked.id] = shipment
        if tracked.courier:
            if not shipment["airway_bill"]:
                lost.append(f"shipment {shipment['status']} without an airway bill")
            courier_steps = [step for step in shipment["tracking"] if step.get("courier_code")]
            if courier_steps and len(steps) > len(shipment["tracking"]):
                duplicated.append(f"{len(steps)} {STATUS_CHANGED} for {len(shipment['tracking'])} tracking steps")
    if lost:
        tally.lost[str(tracked)] = "; ".join(lost) + f" (history: {history})"
    if duplicated:
        tally.duplicated[str(tracked)] = "; ".join(duplicated) + f" (history: {history})"
    if unexpected:
        tally.unexpected[str(tracked)] = "; ".join(unexpected) + f" (history: {history})"


async def _count_unexpected(chaos: Chaos, tally: Tally) -> None:
    """Requests, reviews, documents or shipments for an id no test submitted."""
    sources = {
        "intake": "SELECT id AS request_id FROM requests",
        "review": "SELECT request_id FROM reviews",
        "documents": "SELECT request_id FROM documents",
        "shipping": "SELECT request_id FROM shipments",
    }
    for service, sql in sources.items():
        for row in await chaos.query(service, sql):
            request_id = str(row["request_id"])
            if request_id not in chaos.known:
                tally.unexpected[request_id] = f"{service} has it, but no test submitted it"


async def settle_and_count(chaos: Chaos, requests: list[Tracked], *, timeout: float = 120, check: bool = True) -> Tally:
    """Wait for the system to come to rest, then count every request id (see `count`); by default assert that
    nothing was lost, duplicated or unexpected, with a message naming each id and what is wrong with it."""
    assert requests, "a scenario without requests proves nothing"
    ids = [tracked.id for tracked in requests]
    assert len(set(ids)) == len(ids), "the driver got the same id for two submissions"
    settled_in = await settle(chaos, requests, timeout=timeout)
    tally = await count(chaos, requests)
    tally.settled_in = settled_in
    if check:
        tally.assert_clean()
    return tally


async def side_effects(chaos: Chaos, requests: list[Tracked]) -> dict[str, int]:
    """Every row the services wrote for these requests: a duplicate side effect or downstream event shows here."""
    ids = [tracked.id for tracked in requests]
    sql = {
        "intake history": ("intake", "SELECT count(*) AS n FROM request_history WHERE request_id = ANY($1)"),
        "intake events": ("intake", "SELECT count(*) AS n FROM outbox WHERE subject = ANY($1)"),
        "reviews": ("review", "SELECT count(*) AS n FROM reviews WHERE request_id = ANY($1)"),
        "review audit": ("review", "SELECT count(*) AS n FROM review_audit WHERE request_id = ANY($1)"),
        "review events": ("review", "SELECT count(*) AS n FROM outbox WHERE subject = ANY($1)"),
        "documents": ("documents", "SELECT count(*) AS n FROM documents WHERE request_id = ANY($1)"),
        "documents events": ("documents", "SELECT count(*) AS n FROM outbox WHERE subject = ANY($1)"),
        "shipments": ("shipping", "SELECT count(*) AS n FROM shipments WHERE request_id = ANY($1)"),
        "tracking": (
            "shipping",
            "SELECT count(*) AS n FROM tracking JOIN shipments ON shipments.id = tracking.shipment_id "
            "WHERE shipments.request_id = ANY($1)",
        ),
        "shipping events": ("shipping", "SELECT count(*) AS n FROM outbox WHERE subject = ANY($1)"),
    }
    counts = {}
    for what, (service, query) in sql.items():
        [row] = await chaos.query(service, query, ids)
        counts[what] = row["n"]
    return counts


async def find_dead_letter(chaos: Chaos, service: str, message_id: str) -> dict[str, Any] | None:
    """The dead letter of a message at a service: parked, as its `GET /dead-letters` shows it (error, attempts,
    first and last failure); on a service without that API, still in its `dukcapil.<service>.dead-letter` queue."""
    response = await chaos.http.get(
        chaos.system.url(service) + "/dead-letters",
        params={"status": "parked", "limit": 1000},
        headers=ADMIN,
    )
    if response.status_code != 404:
        assert response.status_code == 200, f"GET {service}/dead-letters: {response.status_code} {response.text}"
        found = [letter for letter in response.json() if letter["message_id"] == message_id]
        assert len(found) <= 1, f"{message_id} is parked {len(found)} times at {service}: {found}"
        return found[0] if found else None
    async with broker.Amqp(chaos.amqp_admin_url) as amqp:
        for message in await amqp.browse(f"dukcapil.{service}.dead-letter"):
            if message["message_id"] == message_id:
                headers = message["headers"]
                return {
                    "error": headers.get("x-error"),
                    "attempts": headers.get("x-attempts"),
                    "first_failure_at": headers.get("x-first-failure-at"),
                    "last_failure_at": headers.get("x-last-failure-at"),
                }
    return None


async def wait_dead_letter(chaos: Chaos, service: str, message_id: str, timeout: float = 45) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (found := await find_dead_letter(chaos, service, message_id)) is None:
        if time.monotonic() > deadline:
            raise AssertionError(f"message {message_id} is not among {service}'s dead letters after {timeout}s")
        await asyncio.sleep(1.0)
    return found
