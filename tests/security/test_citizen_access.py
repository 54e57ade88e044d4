"""A citizen's request is theirs alone: the issue's takeover (a number and a NIK, then the id alone cancelling) fails,
guessing access codes locks the request whichever replica and whatever address the guesses come from, and the
limits per person hold across replicas. Two intake processes share PostgreSQL and Redis, as in compose."""

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from dukcapil_shared.messaging.access import SERVICES

from ..e2e.system import System, holder

pytestmark = [pytest.mark.e2e]

SITI = {"nik": "3602144107900001", "name": "Siti Aminah", "birth_date": "1990-07-01", "sex": "female"}
BIODATA = {
    "type": "biodata_wni",
    "applicant": SITI,
    "details": {},
    "delivery": {"method": "pickup", "pickup_kecamatan_code": "36.02.14"},
}
REPLICAS = ("intake", "intake#2")


@pytest.fixture(scope="module")
async def system(rabbitmq, postgres, redis_url, tmp_path_factory) -> AsyncIterator[System]:  # type: ignore[no-untyped-def]
    workdir: Path = tmp_path_factory.mktemp("citizen-access")
    system = System(
        workdir=workdir,
        amqp_url=rabbitmq.create(),
        database_urls={name: await postgres.create() for name in SERVICES},
        extra_env=rabbitmq.service_env()
        | {
            "INTAKE_NOTIFICATIONS_ENABLED": "false",
            "RATE_LIMIT_STORAGE_URL": redis_url,
            "RATE_LIMIT_KEY_PREFIX": f"test-{uuid.uuid4().hex}",
            # Even a proxy trusted to name the client cannot lift a limit counted per request or per person.
            "INTAKE_FORWARDED_ALLOW_IPS": "*",
            "INTAKE_SUBMISSIONS_PER_APPLICANT": "4/day",
        },
    )
    try:
        system.start("intake")
        await system.wait_ready("intake")
        system.start_replica("intake", 2)
        await system.wait_ready("intake#2")
        yield system
    finally:
        system.stop_all()
        rabbitmq.delete(system.amqp_url)


def _from(index: int) -> dict[str, str]:
    return {"X-Forwarded-For": f"203.0.113.{index % 250 + 1}"}


async def test_a_number_and_a_nik_open_nothing_and_the_id_alone_changes_nothing(system: System) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        submitted = await http.post(system.url("intake") + "/requests", json=BIODATA | {"applicant": SITI})
        assert submitted.status_code == 201, submitted.text
        request = submitted.json()
        by_nik = await http.post(
            system.url("intake#2") + "/requests/follow", json={"number": request["number"], "nik": SITI["nik"]}
        )
        assert by_nik.status_code == 422, "the issue's takeover: a number and a NIK no longer open a request"
        for action in ("cancel", "resubmit"):
            bare = await http.post(system.url("intake#2") + f"/requests/{request['id']}/{action}", json={})
            assert bare.status_code == 401 and bare.json()["error"]["code"] == "access_code_required"
        followed = await http.post(
            system.url("intake#2") + "/requests/follow",
            json={"number": request["number"], "access_code": request["access_code"]},
        )
        assert followed.status_code == 200 and followed.json()["status"] == "submitted", "nothing was changed"
        cancelled = await http.post(
            system.url("intake") + f"/requests/{request['id']}/cancel", json={}, headers=holder(request)
        )
        assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled", "the holder can"


async def test_guessing_codes_locks_the_request_across_replicas_and_addresses(system: System) -> None:
    async with httpx.AsyncClient(timeout=10) as http:
        request = (await http.post(system.url("intake") + "/requests", json=BIODATA)).json()
        other = (await http.post(system.url("intake") + "/requests", json=BIODATA)).json()
        answers = []
        for index in range(8):
            guess = {"number": request["number"], "access_code": other["access_code"]}
            replica = REPLICAS[index % 2]
            response = await http.post(system.url(replica) + "/requests/follow", json=guess, headers=_from(index))
            answers.append(response.status_code)
        assert answers == [404] * 5 + [429] * 3, "five wrong codes in all, then locked for everyone"
        locked = await http.post(
            system.url("intake#2") + "/requests/follow",
            json={"number": request["number"], "access_code": request["access_code"]},
            headers=_from(99),
        )
        assert locked.status_code == 429 and locked.json()["error"]["code"] == "access_code_locked"
        assert int(locked.headers["retry-after"]) > 0
        upload = await http.post(
            system.url("intake") + f"/requests/{request['id']}/cancel",
            json={},
            headers={"X-Access-Code": other["access_code"], **_from(7)},
        )
        assert upload.status_code == 404, "by id, a wrong code is a miss too"
        untouched = await http.post(
            system.url("intake") + "/requests/follow",
            json={"number": other["number"], "access_code": other["access_code"]},
        )
        assert untouched.status_code == 200, "only the request guessed at is locked"


async def test_submissions_for_one_person_are_limited_across_replicas_and_addresses(system: System) -> None:
    person = SITI | {"nik": "3602141205850003", "name": "Ahmad Fauzi", "birth_date": "1985-05-12", "sex": "male"}
    async with httpx.AsyncClient(timeout=10) as http:
        answers = [
            (
                await http.post(
                    system.url(REPLICAS[index % 2]) + "/requests",
                    json=BIODATA | {"applicant": person},
                    headers=_from(index),
                )
            )
            for index in range(6)
        ]
    assert [answer.status_code for answer in answers] == [201] * 4 + [429] * 2
    refusal = answers[-1].json()["error"]
    assert refusal["code"] == "too_many_requests" and "for this applicant" in refusal["message"]
    assert "Terlalu banyak" in refusal["message"], "in Indonesian too"
