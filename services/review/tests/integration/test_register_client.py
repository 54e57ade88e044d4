"""Review's register client against the register simulator running as its own process: found, unknown, slow,
stopped and started again."""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import httpx
import pytest

from dukcapil_devtools.register_simulator.population import MATI, Population, generate
from dukcapil_review.adapters.register import SiakRegister
from dukcapil_review.domain.model import ReviewPolicy, ReviewStatus
from dukcapil_review.domain.prechecks import CheckStatus
from dukcapil_review.service_layer import handlers
from dukcapil_review.service_layer.register import RegisterLookups, RegisterUnavailable
from dukcapil_shared.contracts import Envelope, RequestSubmitted

from ..fakes import FakeReviewUnitOfWork

SEED, RESIDENTS, KEY = 17, 400, "register-integration-key"
AUTO = ReviewPolicy(auto_approve_types=frozenset({"biodata_wni"}))
T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)

# `python -m <module>`, after asking Linux to SIGKILL the process when this one dies (PR_SET_PDEATHSIG).
_LAUNCH = (
    "import ctypes, runpy, signal\n"
    "try:\n"
    "    ctypes.CDLL(None).prctl(1, signal.SIGKILL)\n"
    "except (OSError, AttributeError):\n"
    "    pass\n"
    "runpy.run_module('dukcapil_devtools.register_simulator', run_name='__main__', alter_sys=True)\n"
)


@cache
def population() -> Population:
    return generate(SEED, RESIDENTS)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Simulator:
    port: int
    log: Path
    delay_ms: int = 0
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = os.environ | {
            "REGISTER_SIM_PORT": str(self.port),
            "REGISTER_SIM_API_KEY": KEY,
            "REGISTER_SIM_SEED": str(SEED),
            "REGISTER_SIM_RESIDENTS": str(RESIDENTS),
            "REGISTER_SIM_DELAY_MS": str(self.delay_ms),
        }
        with self.log.open("ab") as log:
            self.process = subprocess.Popen([sys.executable, "-c", _LAUNCH], env=env, stdout=log, stderr=log)

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            assert self.process is not None and self.process.poll() is None, self.log.read_text()
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"the simulator did not start:\n{self.log.read_text()}"
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None


@pytest.fixture(scope="module")
def simulators(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Simulator, Simulator]]:
    """One register answering at once and one answering every lookup 1.5 s late, started side by side."""
    folder = tmp_path_factory.mktemp("register")
    prompt = Simulator(free_port(), folder / "prompt.log")
    slow = Simulator(free_port(), folder / "slow.log", delay_ms=1500)
    try:
        prompt.start()
        slow.start()
        prompt.wait_ready()
        slow.wait_ready()
        yield prompt, slow
    finally:
        prompt.stop()
        slow.stop()


def client(url: str, key: str = KEY, timeout: float = 5.0) -> SiakRegister:
    return SiakRegister(httpx.AsyncClient(base_url=url, timeout=timeout), api_key=key, pause=0)


def biodata(nik: str, name: str) -> RequestSubmitted:
    return RequestSubmitted(
        request_id=uuid.uuid4(),
        request_number="360214-20261201-0001",
        request_type="biodata_wni",
        applicant={"nik": nik, "name": name},
        details={},
        delivery={"method": "pickup", "pickup_kecamatan_code": "36.02.14"},
        kecamatan_code="36.02.14",
        channel="online",
    )


async def test_residents_and_cards_are_read_with_their_registered_facts(simulators) -> None:  # type: ignore[no-untyped-def]
    prompt, _ = simulators
    register = client(prompt.url)
    dead = next(r for r in population().residents.values() if r.status_hidup == MATI)
    found = await register.person(dead.nik)
    assert found is not None
    assert (found.name, found.alive, found.died_on, found.kk_number) == (
        dead.nama,
        False,
        dead.tanggal_kematian,
        dead.no_kk,
    )
    assert found.female == (dead.jenis_kelamin == "P") and found.birth_date == dead.tanggal_lahir
    family = await register.family(dead.no_kk)
    assert family is not None and family.member_niks == {m.nik for m in population().families[dead.no_kk].anggota}
    assert await register.person("3602144107909999") is None
    assert await register.family("3602140101209999") is None


async def test_a_refused_key_is_a_register_unavailable_not_an_unknown_person(simulators) -> None:  # type: ignore[no-untyped-def]
    prompt, _ = simulators
    nik = next(iter(population().residents))
    with pytest.raises(RegisterUnavailable, match="HTTP 401"):
        await client(prompt.url, key="guess").person(nik)


async def test_a_slow_register_leaves_the_checks_not_done_within_the_time_limit(simulators) -> None:  # type: ignore[no-untyped-def]
    _, slow = simulators
    resident = next(r for r in population().residents.values() if r.status_hidup != MATI)
    uow = FakeReviewUnitOfWork()
    event = biodata(resident.nik, resident.nama.title())
    started = time.monotonic()
    async with uow:
        await handlers.queue_submitted_request(
            uow,
            event,
            Envelope.wrap(event, source="/test"),
            policy=AUTO,
            clock=lambda: T0,
            register=RegisterLookups(client(slow.url), timeout=0.5),
        )
        await uow.commit()
    assert time.monotonic() - started < 1.4, "the lookups are given up on at the time limit, not the register's delay"
    review = await uow.reviews.get(event.request_id)
    assert review is not None and review.status == ReviewStatus.pending
    assert {check.status for check in review.register_checks} == {CheckStatus.not_done}
    # With time enough, the same slow register answers.
    assert await client(slow.url).person(resident.nik) is not None


async def test_a_stopped_register_leaves_the_checks_not_done_and_the_retry_after_it_is_back_does_them(
    simulators, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    resident = next(r for r in population().residents.values() if r.status_hidup != MATI)
    register = Simulator(free_port(), tmp_path / "restarted.log")
    lookups = RegisterLookups(client(register.url, timeout=2.0), timeout=3.0)
    uow, now = FakeReviewUnitOfWork(), [T0]
    event = biodata(resident.nik, resident.nama.title())
    async with uow:  # nothing listens on the register's port yet: it is down
        await handlers.queue_submitted_request(
            uow, event, Envelope.wrap(event, source="/test"), policy=AUTO, clock=lambda: now[0], register=lookups
        )
        await uow.commit()
    review = await uow.reviews.get(event.request_id)
    assert review is not None and {c.status for c in review.register_checks} == {CheckStatus.not_done}
    assert "no connection" in review.register_checks[0].message_en
    assert review.status == ReviewStatus.pending and review.register_retry_at is not None

    try:
        register.start()
        await asyncio.to_thread(register.wait_ready)
        now[0] = review.register_retry_at + timedelta(seconds=1)
        retried = await handlers.retry_register_checks(
            unit_of_work=lambda: uow, register=lookups, policy=AUTO, clock=lambda: now[0]
        )
    finally:
        register.stop()
    assert retried == 1
    review = await uow.reviews.get(event.request_id)
    assert review is not None
    assert {c.status for c in review.register_checks} == {CheckStatus.passed}
    assert review.status == ReviewStatus.approved and review.register_retry_at is None


async def test_after_a_failure_the_register_rests_instead_of_being_asked_for_every_request() -> None:
    moments = [100.0]
    register = SiakRegister(
        httpx.AsyncClient(base_url=f"http://127.0.0.1:{free_port()}", timeout=1),
        api_key=KEY,
        pause=10,
        monotonic=lambda: moments[0],
    )
    with pytest.raises(RegisterUnavailable, match="no connection"):
        await register.person("3602144107900001")
    moments[0] += 5
    with pytest.raises(RegisterUnavailable, match="not asked again for 10 s"):
        await register.person("3602144107900001")
    moments[0] += 6
    with pytest.raises(RegisterUnavailable, match=r"^no connection$"):
        await register.person("3602144107900001")
