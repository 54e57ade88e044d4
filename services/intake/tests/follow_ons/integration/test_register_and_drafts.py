"""Intake's register client against the register simulator running as its own process, a draft filled from it,
and the drafts' SQL repository on SQLite and PostgreSQL."""

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import cache

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from dukcapil_devtools.register_simulator.population import MATI, Population, generate
from dukcapil_intake import tables
from dukcapil_intake.dispatch import follow_drafts
from dukcapil_intake.follow_ons.adapters.register import HttpRegister
from dukcapil_intake.follow_ons.adapters.unit_of_work import SqlFollowOnsUnitOfWork
from dukcapil_intake.follow_ons.domain.follow_ons import (
    DraftStatus,
    FollowOnDraft,
    FollowOnKind,
    Origin,
    PrefillSchedule,
)
from dukcapil_intake.follow_ons.service_layer import follow_ons
from dukcapil_intake.follow_ons.service_layer.register import RegisterUnavailable
from dukcapil_intake.follow_ons.service_layer.repository import DraftChanged, DraftFilter
from dukcapil_intake.notifications.adapters.unit_of_work import SqlNotificationsUnitOfWork
from dukcapil_shared.contracts import Delivery, Person
from dukcapil_testing.fakes import FixedClock

SEED, RESIDENTS, KEY = 23, 300, "intake-register-integration-key"
T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
_LAUNCH = (
    "import ctypes, runpy, signal\n"
    "try:\n"
    "    ctypes.CDLL(None).prctl(1, signal.SIGKILL)\n"  # killed with this process (PR_SET_PDEATHSIG)
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


@pytest.fixture(scope="module")
def simulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port, log = free_port(), tmp_path_factory.mktemp("register") / "simulator.log"
    env = os.environ | {
        "REGISTER_SIM_PORT": str(port),
        "REGISTER_SIM_API_KEY": KEY,
        "REGISTER_SIM_SEED": str(SEED),
        "REGISTER_SIM_RESIDENTS": str(RESIDENTS),
    }
    with log.open("ab") as output:
        process = subprocess.Popen([sys.executable, "-c", _LAUNCH], env=env, stdout=output, stderr=output)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"the simulator did not start:\n{log.read_text()}"
            time.sleep(0.1)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def register(url: str, key: str = KEY) -> HttpRegister:
    return HttpRegister(httpx.AsyncClient(timeout=5.0), url=url, api_key=key)


def a_deceased_with_family():  # type: ignore[no-untyped-def]
    return next(
        r
        for r in population().residents.values()
        if r.status_hidup == MATI and len(population().families[r.no_kk].anggota) >= 2
    )


async def test_a_resident_and_their_family_card_are_read_as_the_register_has_them(simulator: str) -> None:
    dead = a_deceased_with_family()
    found = await register(simulator).person(dead.nik)
    assert found is not None
    assert (found.nik, found.name, found.alive, found.kk_number) == (dead.nik, dead.nama, False, dead.no_kk)
    assert (found.birth_date, found.relation, found.kecamatan_code) == (
        dead.tanggal_lahir,
        dead.hubungan_keluarga,
        dead.kode_kecamatan,
    )
    family = await register(simulator).family(dead.no_kk)
    assert family is not None and family.kk_number == dead.no_kk
    assert [m.nik for m in family.members] == [m.nik for m in population().families[dead.no_kk].anggota]


async def test_an_unknown_number_is_none_and_a_refused_or_missing_register_is_unavailable(
    simulator: str,
) -> None:
    unknown = "3602140101990009"
    assert unknown not in population().residents
    assert await register(simulator).person(unknown) is None
    assert await register(simulator).family("3602140101990009") is None
    with pytest.raises(RegisterUnavailable):
        await register(simulator, key="not-the-key").person(unknown)
    with pytest.raises(RegisterUnavailable):
        await register(f"http://127.0.0.1:{free_port()}").person(unknown)


def a_draft(nik: str, *, kecamatan: str = "36.02.14", now: datetime = T0) -> FollowOnDraft:
    return FollowOnDraft(
        id=uuid.uuid4(),
        kind=FollowOnKind.family_card_without_deceased,
        origin=Origin(uuid.uuid4(), "360214-20261201-0001", "akta_kematian", "AKM/3602/2026/000001"),
        kecamatan_code=kecamatan,
        applicant=Person(nik="3602141205850003", name="Ahmad Fauzi"),
        delivery=Delivery.model_validate(
            {"method": "pickup", "pickup_kecamatan_code": kecamatan, "phone": "0812345678"}
        ),
        subject_niks=[nik],
        status=DraftStatus.awaiting_register,
        created_at=now,
        expires_at=now + timedelta(days=30),
        next_prefill_at=now,
    )


def unit_of_work(engine: AsyncEngine) -> SqlFollowOnsUnitOfWork:
    """As the composition root makes it: the family's notice is queued in the transaction that offers a draft."""
    made = SqlFollowOnsUnitOfWork(
        engine, outbox_table=tables.outbox, inbox_table=tables.inbox, source="/dukcapil/lebak/intake"
    )
    made.followers = follow_drafts(notifications=SqlNotificationsUnitOfWork.joining, notify=True)
    return made


async def test_a_draft_is_filled_from_the_running_register(simulator: str, engine: AsyncEngine) -> None:
    dead = a_deceased_with_family()
    draft = a_draft(dead.nik)
    async with unit_of_work(engine) as uow:
        await uow.drafts.add(draft)
        await uow.commit()
    clock = FixedClock(T0)
    offered = await follow_ons.fill_from_register(
        unit_of_work=lambda: unit_of_work(engine), register=register(simulator), schedule=PrefillSchedule(), clock=clock
    )
    assert offered == 1
    async with unit_of_work(engine) as uow:
        filled = await uow.drafts.get(draft.id)
    assert filled is not None and filled.status == DraftStatus.offered
    assert filled.details is not None and filled.details["kk_number"] == dead.no_kk
    assert [m["nik"] for m in filled.details["members"]] == [dead.nik]
    assert [m.nik for m in filled.family] == [m.nik for m in population().families[dead.no_kk].anggota]
    notifications = SqlNotificationsUnitOfWork(
        engine, outbox_table=tables.outbox, inbox_table=tables.inbox, source="/dukcapil/lebak/intake"
    )
    async with notifications as told:
        offers = await told.notifications.about(draft.origin.request_id)
    assert [(n.kind, n.channel.value, n.event_id) for n in offers] == [("follow_on_offered", "sms", str(draft.id))]
    assert f"[[tautan-lanjutan:{draft.id}]]" in offers[0].body


async def test_the_drafts_repository_keeps_finds_and_guards_drafts(engine: AsyncEngine) -> None:
    early, late, elsewhere = (
        a_draft("3602140101500001"),
        a_draft("3602140101500002"),
        a_draft("3602010101500003", kecamatan="36.02.01"),
    )
    late = replace(late, next_prefill_at=T0 + timedelta(minutes=5), created_at=T0 + timedelta(minutes=1))
    async with unit_of_work(engine) as uow:
        for draft in (early, late, elsewhere):
            await uow.drafts.add(draft)
        await uow.commit()
    async with unit_of_work(engine) as uow:
        assert await uow.drafts.exists(early.origin.request_id, FollowOnKind.family_card_without_deceased)
        assert not await uow.drafts.exists(early.origin.request_id, FollowOnKind.ektp_recording)
        due = await uow.drafts.due_for_prefill(T0 + timedelta(minutes=1), limit=10)
        assert late.id not in {d.id for d in due} and early.id in {d.id for d in due}
        office = await uow.drafts.list(DraftFilter(kecamatan_code="36.02.14"), limit=10, offset=0)
        assert elsewhere.id not in {d.id for d in office} and {early.id, late.id} <= {d.id for d in office}
        stored = await uow.drafts.get(early.id)
        assert stored == early
        expiring = await uow.drafts.due_to_expire(T0 + timedelta(days=30), limit=100)
        assert {early.id, late.id, elsewhere.id} <= {d.id for d in expiring}
    # Two rounds that loaded the same draft: the second one's save is refused.
    async with unit_of_work(engine) as uow:
        one = await uow.drafts.get(early.id)
    assert one is not None
    other = replace(one)
    async with unit_of_work(engine) as uow:
        one.expire(T0 + timedelta(days=31))
        await uow.drafts.save(one)
        await uow.commit()
    async with unit_of_work(engine) as uow:
        other.register_unavailable(T0, PrefillSchedule())
        with pytest.raises(DraftChanged):
            await uow.drafts.save(other)
