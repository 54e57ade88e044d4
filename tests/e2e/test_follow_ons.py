"""A death leads to the family card without the deceased, through the whole system as real processes (the four
services, the courier simulator, the population register simulator, a real broker): the akta kematian of a resident
of the register is issued, intake makes a Kartu Keluarga change draft filled from the register, the family confirms
it with the token of the link they were sent (twice: it is submitted once), and the new request, which follows the
akta kematian, is reviewed, issued as its own document and delivered by courier."""

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from dukcapil_intake.follow_ons.domain.links import FollowOnLinks
from dukcapil_shared.auth.roles import Role

from .requests import COURIER, register
from .system import SERVICES, Client, System, as_staff

pytestmark = pytest.mark.e2e

OFFICE_KEY = "end-to-end-office-key-for-follow-on-links"


@pytest.fixture(scope="module")
async def system(rabbitmq, tmp_path_factory):  # type: ignore[no-untyped-def]
    workdir: Path = tmp_path_factory.mktemp("follow-ons")
    system = System(
        workdir=workdir,
        amqp_url=rabbitmq.create(),
        database_urls={name: f"sqlite+aiosqlite:///{workdir}/var/{name}.db" for name in SERVICES},
        extra_env=rabbitmq.service_env() | {"INTAKE_ACCESS_CODE_KEY": OFFICE_KEY, "INTAKE_FOLLOW_ON_INTERVAL": "0.3"},
    )
    try:
        await system.start_all()
        yield system
    finally:
        system.stop_all()
        rabbitmq.delete(system.amqp_url)


@pytest.fixture
async def client(system: System):  # type: ignore[no-untyped-def]
    client = Client(system)
    yield client
    await client.close()


def as_given(resident: Any) -> dict[str, str]:
    return {
        "nik": resident.nik,
        "name": resident.nama.title(),
        "birth_date": resident.tanggal_lahir.isoformat(),
        "sex": "female" if resident.jenis_kelamin == "P" else "male",
    }


def a_family_with_a_death() -> tuple[Any, Any, Any]:
    """A living family of the register: (its card, the member who dies, the adult member who reports it)."""
    for family in register().families.values():
        alive = [member for member in family.anggota if member.alive]
        adults = [member for member in alive if member.tanggal_lahir.year <= 2000]
        if len(alive) == len(family.anggota) >= 3 and len(adults) >= 2:
            return family, adults[0], adults[1]
    raise AssertionError("the register simulator has no family to test with")


def witnesses(family: Any) -> list[dict[str, str]]:
    others = [
        resident
        for resident in register().residents.values()
        if resident.alive and resident.no_kk != family.no_kk and resident.tanggal_lahir.year <= 2000
    ]
    return [{"nik": w.nik, "name": w.nama.title()} for w in others[:2]]


async def wait_for(what: str, probe: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = await probe()
        if found:
            return found
        assert time.monotonic() < deadline, f"{what} never came"
        await asyncio.sleep(0.3)


async def test_an_akta_kematian_leads_to_a_family_card_change_the_family_confirms_and_receives(
    client: Client, system: System
) -> None:
    family, deceased, reporter = a_family_with_a_death()
    kecamatan = family.kode_kecamatan
    akta = await client.submit(
        {
            "type": "akta_kematian",
            "applicant": as_given(reporter),
            "details": {
                "deceased": {"nik": deceased.nik, "name": deceased.nama.title()},
                "date_of_death": time.strftime("%Y-%m-%d", time.gmtime(time.time() - 3 * 86400)),
                "place_of_death": "RSUD dr. Adjidarmo, Rangkasbitung",
                "reporter_relation": "famili_lain",
                "witnesses": witnesses(family),
            },
            "delivery": COURIER | {"recipient_name": reporter.nama.title()},
            "kecamatan_code": kecamatan,
        }
    )
    await client.approve(akta["id"])
    await client.wait_status(akta["id"], "document_issued", "shipped", "delivered")

    supervisor = as_staff(Role.SUPERVISOR, "sari")

    async def offered() -> dict[str, Any] | None:
        response = await client.call(
            "GET", "intake", "/follow-ons", params={"kecamatan": kecamatan}, headers=supervisor
        )
        assert response.status_code == 200, response.text
        mine = [d for d in response.json() if d["follows"]["id"] == akta["id"]]
        return mine[0] if mine and mine[0]["status"] == "offered" else None

    draft = await wait_for("the family card draft", offered)
    assert draft["kind"] == "kk_remove_deceased" and draft["details"]["kk_number"] == family.no_kk
    assert [m["removed"] for m in draft["family"]] == [m.nik == deceased.nik for m in family.anggota]

    token = str(FollowOnLinks(OFFICE_KEY.encode(), "http://portal.test").token(draft["id"]))
    wrong = await client.call("POST", "intake", f"/follow-ons/{draft['id']}/confirm", json={"token": "0" * 16 + "0"})
    assert wrong.status_code == 404, wrong.text
    confirmed = [
        (await client.call("POST", "intake", f"/follow-ons/{draft['id']}/confirm", json={"token": token}))
        for _ in range(2)
    ]
    assert [answer.status_code for answer in confirmed] == [200, 200], confirmed[0].text
    first, second = (answer.json() for answer in confirmed)
    assert first["led_to"] == second["led_to"] and first["access_code"] == second["access_code"]
    new_id = first["led_to"]["id"]

    new = await client.request(new_id)
    assert new["type"] == "kartu_keluarga" and new["follows"]["id"] == akta["id"]
    origin = await client.request(akta["id"])
    assert [link["id"] for link in origin["led_to"]] == [new_id]
    assert "request.led_to.v1" in [entry["event_type"] for entry in origin["history"]]

    await client.approve(new_id)
    delivered = await client.wait_status(new_id, "delivered", timeout=90)
    follow = await client.call(
        "POST", "intake", "/requests/follow", json={"number": delivered["number"], "access_code": first["access_code"]}
    )
    assert follow.status_code == 200, follow.text
    document = follow.json()["document"]
    assert document is not None and document["number"].startswith("KK/")
    # The link's token is in no service's log (nor the deceased's whole NIK).
    for log in system.workdir.glob("*.log"):
        text = log.read_text(errors="replace")
        assert token not in text and token.replace("-", "") not in text, log.name
        assert deceased.nik not in text, log.name
