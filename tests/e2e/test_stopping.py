"""SIGTERM with work in hand, on SQLite and on PostgreSQL: every service stops within its graceful timeout plus
the margin it has to close its connections (the product's promise, kept on a loaded machine), and what it had
not finished is done once after it starts again."""

import asyncio
import signal
import sqlite3
import time
import uuid
from pathlib import Path
from typing import Any

import aio_pika
import asyncpg
import httpx
import pytest

from dukcapil_shared.contracts import Envelope, RequestApproved
from dukcapil_shared.runtime import STOP_MARGIN

from ..chaos.harness import CHAOS_ENV, Chaos, Driver, Tracked
from .requests import AKTA_KEMATIAN, SURAT_PINDAH
from .system import FAST, SERVICES, System

pytestmark = pytest.mark.e2e

APPROVALS = 200
"""More documents than any machine draws in the moments between the first one and the signal."""
APPLICANT = {"nik": "3602141205850003", "name": "Ahmad Fauzi", "birth_date": "1985-05-12", "sex": "male"}
DETAILS = {
    "kartu_keluarga": {"reason": "split"},
    "biodata_wni": {"person_nik": APPLICANT["nik"]},
    "surat_pindah": SURAT_PINDAH["details"],
    "akta_kematian": AKTA_KEMATIAN["details"],
}


@pytest.fixture(params=["sqlite", "postgresql"])
async def make_system(request, rabbitmq, postgres, tmp_path: Path):  # type: ignore[no-untyped-def]
    systems: list[System] = []

    async def make(extra_env: dict[str, str]) -> System:
        if request.param == "sqlite":
            databases = {name: f"sqlite+aiosqlite:///{tmp_path}/var/{name}.db" for name in SERVICES}
        else:
            databases = {name: await postgres.create() for name in SERVICES}
        system = System(
            workdir=tmp_path,
            amqp_url=rabbitmq.create(),
            database_urls=databases,
            extra_env=rabbitmq.service_env() | extra_env,
        )
        systems.append(system)
        return system

    try:
        yield make
    finally:
        for system in systems:
            system.stop_all()
            rabbitmq.delete(system.amqp_url)


def _bound(system: System, service: str) -> float:
    graceful = system.extra_env.get(f"{service.upper()}_GRACEFUL_TIMEOUT", FAST["GRACEFUL_TIMEOUT"])
    return float(graceful) + STOP_MARGIN


async def _sigterm_at_once(system: System, names: list[str]) -> dict[str, tuple[float, str]]:
    """SIGTERM to each process at the same moment; for each, the seconds it took to end and what it logged from
    the signal on. One still running 30 s past its bound is killed (and shows as taking that long)."""
    offsets = {name: _log_size(system, name) for name in names}
    processes = {name: system.processes.pop(name) for name in names}
    started = time.monotonic()
    for process in processes.values():
        process.send_signal(signal.SIGTERM)
    took: dict[str, float] = {}
    while len(took) < len(processes):
        for name, process in processes.items():
            if name not in took and process.poll() is not None:
                took[name] = time.monotonic() - started
            elif name not in took and time.monotonic() - started > _bound(system, name) + 30:
                process.kill()
                process.wait()
                took[name] = time.monotonic() - started
        await asyncio.sleep(0.05)
    return {name: (took[name], _log_since(system, name, offsets[name])) for name in names}


def _log_size(system: System, name: str) -> int:
    path = system.workdir / f"{name}.log"
    return path.stat().st_size if path.exists() else 0


def _log_since(system: System, name: str, offset: int) -> str:
    with open(system.workdir / f"{name}.log", "rb") as log:
        log.seek(offset)
        return log.read().decode(errors="replace")


def _assert_stopped_in_time(system: System, stops: dict[str, tuple[float, str]]) -> None:
    for name, (seconds, log) in stops.items():
        assert seconds <= _bound(system, name), f"{name} took {seconds:.1f}s to stop on SIGTERM:\n{log[-3000:]}"
        assert "service_stopped" in log and "stop_deadline_exceeded" not in log, (
            f"{name} did not stop by itself:\n{log}"
        )


async def _processed(system: System, service: str, queue: str) -> float:
    """Deliveries the service's consumer on `queue` has processed, from its metrics."""
    async with httpx.AsyncClient(timeout=5) as client:
        metrics = (await client.get(system.url(service) + "/metrics")).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("dukcapil_events_handled_total{")
        and f'queue="{queue}"' in line
        and 'outcome="processed"' in line
    )


async def _until(what: str, condition: Any, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, f"timed out after {timeout}s waiting for {what}"
        await asyncio.sleep(0.05)


async def _rows(system: System, service: str, sql: str) -> list[tuple[Any, ...]]:
    url = system.database_urls[service]
    if url.startswith("sqlite"):
        with sqlite3.connect(url.split(":///", 1)[1]) as connection:
            return connection.execute(sql).fetchall()
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    try:
        return [tuple(row) for row in await connection.fetch(sql)]
    finally:
        await connection.close()


async def _publish_approvals(rabbitmq: Any, amqp_url: str, count: int) -> set[str]:
    """As review publishes them: as its own broker user."""
    kinds = list(DETAILS)
    request_ids = set()
    connection = await aio_pika.connect(rabbitmq.url_as(amqp_url, "review"))
    async with connection:
        channel = await connection.channel()
        exchange = await channel.get_exchange("dukcapil.events")
        for index in range(count):
            kind = kinds[index % len(kinds)]
            event = RequestApproved(
                request_id=uuid.uuid4(), request_number=f"360214-20261203-{index:04d}", request_type=kind,
                applicant=APPLICANT, details=DETAILS[kind], kecamatan_code="36.02.14", reviewer="policy:auto",
                delivery={"method": "pickup", "pickup_kecamatan_code": "36.02.14"}, automatic=True,
            )  # fmt: skip
            envelope = Envelope.wrap(event, source="/dukcapil/lebak/review")
            message = aio_pika.Message(
                envelope.to_json(),
                message_id=str(envelope.id),
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                user_id=rabbitmq.user("review"),
            )
            await exchange.publish(message, routing_key=event.routing_key())
            request_ids.add(str(event.request_id))
    return request_ids


@pytest.mark.timeout(300)
async def test_documents_stops_in_time_with_approvals_in_hand_and_issues_each_once_after(make_system, rabbitmq) -> None:  # type: ignore[no-untyped-def]
    """No graceful time at all: the approvals documents has in hand when the signal comes (a full prefetch) go
    back to their queue unfinished, the process still ends in time, and after the restart every approval has
    exactly one document, the numbers of each type run 1..n, and no number is left reserved."""
    system = await make_system({"DOCUMENTS_GRACEFUL_TIMEOUT": "0"})
    system.start("documents")
    await system.wait_ready("documents", timeout=120)
    requests = await _publish_approvals(rabbitmq, system.amqp_url, APPROVALS)
    await _until("documents at work", lambda: _documents_at_work(system))

    stops = await _sigterm_at_once(system, ["documents"])
    [(issued_at_stop,)] = await _rows(system, "documents", "SELECT count(*) FROM documents")
    _assert_stopped_in_time(system, stops)
    assert issued_at_stop < APPROVALS, "the signal came after all the work: it tested nothing"
    assert "deliveries_returned_unfinished" in stops["documents"][1], "nothing was in hand at the signal"

    system.start("documents")
    await system.wait_ready("documents", timeout=120)
    await _until("every approval issued", lambda: _count_is(system, "SELECT count(*) FROM documents", APPROVALS))
    rows = await _rows(system, "documents", "SELECT request_id, number FROM documents")
    assert {request_id for request_id, _ in rows} == requests, "one document for each approval, none for another"
    sequences: dict[str, list[int]] = {}
    for _, number in rows:
        code, _regency, _year, sequence = number.split("/")
        sequences.setdefault(code, []).append(int(sequence))
    for code, found in sequences.items():
        assert sorted(found) == list(range(1, len(found) + 1)), f"{code}: numbers not 1..n: {sorted(found)}"
    assert await _rows(system, "documents", "SELECT count(*) FROM number_reservations") == [(0,)]


async def _documents_at_work(system: System) -> bool:
    return await _processed(system, "documents", "dukcapil.documents.approvals") > 0


async def _count_is(system: System, sql: str, expected: int) -> bool:
    [(found,)] = await _rows(system, "documents", sql)
    return found == expected


@pytest.mark.timeout(420)
async def test_every_service_stops_in_time_under_load_and_nothing_is_lost_or_done_twice(make_system) -> None:  # type: ignore[no-untyped-def]
    """Requests stream in and flow through every stage; all four services get SIGTERM at once. Each stops within
    its bound, the driver's submissions wait for intake to return, and after the restart every request ends
    final with one document and one shipment."""
    system = await make_system(CHAOS_ENV)
    await system.start_all()
    chaos = Chaos(system)
    driver = Driver(chaos)
    try:
        batch = driver.start(16, concurrency=4)
        await _until("documents at work", lambda: _documents_at_work(system))
        stops = await _sigterm_at_once(system, list(SERVICES))
        for name in SERVICES:
            system.start(name)
        await asyncio.gather(*(system.wait_ready(name, timeout=120) for name in SERVICES))
        requests = await asyncio.wait_for(batch, 240)
        _assert_stopped_in_time(system, stops)
        for tracked in requests:
            await _each_once(chaos, tracked)
    finally:
        await driver.close()
        await chaos.close()


async def _each_once(chaos: Chaos, tracked: Tracked, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while (request := await chaos.get("intake", f"/requests/{tracked.id}"))["status"] != tracked.final_status:
        assert time.monotonic() < deadline, f"{tracked} is {request['status']}: {request['history']}"
        await asyncio.sleep(0.2)
    documents = await chaos.get("documents", "/documents", request_id=tracked.id)
    shipments = await chaos.get("shipping", "/shipments", request_id=tracked.id)
    assert (len(documents), len(shipments)) == (1, 1), f"{tracked}: {documents}, {shipments}"
    events = [entry["event_type"] for entry in request["history"]]
    assert all(events.count(event) == 1 for event in tracked.expected_events), f"{tracked}: {events}"
