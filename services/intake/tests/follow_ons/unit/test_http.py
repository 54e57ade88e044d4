"""Follow-on drafts over HTTP, on fakes: the link's token opens its draft only (wrong ones are counted and lock it
for a while), NIKs are shown masked, confirming twice answers with one request whose access code opens it, and a
kecamatan operator sees and confirms their own kecamatan's drafts only."""

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from dukcapil_intake.dispatch import RequestsDesk
from dukcapil_intake.follow_ons.entrypoints import http as follow_ons_http
from dukcapil_intake.requests.domain.access_codes import AccessCodes
from dukcapil_intake.requests.entrypoints import http as requests_http
from dukcapil_intake.settings import IntakeSettings
from dukcapil_shared.auth.roles import Role
from dukcapil_shared.web import install_error_handlers
from dukcapil_testing import download_grants_for_tests, install_test_auth, staff_headers
from dukcapil_testing.fakes import FixedClock

from .test_follow_ons import DEATH, DECEASED, LINKS, FakeRegister, RequestsWithFollowOns, drafts, fill, issue

CODES = AccessCodes(b"access-code-key-for-the-tests")
RANGKASBITUNG = staff_headers(Role.KECAMATAN_OPERATOR, kecamatan="36.02.14", username="op-rkb")
MALINGPING = staff_headers(Role.KECAMATAN_OPERATOR, kecamatan="36.02.01", username="op-mlp")


@pytest.fixture
async def world() -> RequestsWithFollowOns:
    world = RequestsWithFollowOns(FixedClock())
    await issue(world, "akta_kematian", DEATH)
    await fill(world, FakeRegister())
    return world


@pytest.fixture
async def api(world: RequestsWithFollowOns) -> AsyncIterator[httpx.AsyncClient]:
    app = FastAPI()
    install_error_handlers(app)
    app.state.clock = world.clock
    app.state.settings = IntakeSettings(environment="development")
    install_test_auth(app)
    requests_http.install(
        app,
        unit_of_work=lambda: world,
        notifications=lambda: world.notices,
        access_codes=CODES,
        download_grants=download_grants_for_tests(),
    )
    follow_ons_http.install(
        app,
        unit_of_work=lambda: world.follow_ons,
        submissions=RequestsDesk(lambda: world, recording_capacity=40, clock=world.clock),
        links=LINKS,
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        yield client


def token(world: RequestsWithFollowOns) -> tuple[str, str]:
    [draft] = drafts(world)
    return str(draft.id), str(LINKS.token(draft.id))


async def test_the_link_opens_its_draft_with_every_nik_masked(
    api: httpx.AsyncClient, world: RequestsWithFollowOns
) -> None:
    draft_id, code = token(world)
    opened = await api.post(f"/follow-ons/{draft_id}/open", json={"token": code})
    assert opened.status_code == 200, opened.text
    view = opened.json()
    assert view["status"] == "offered" and view["kind"] == "kk_remove_deceased"
    assert [m["removed"] for m in view["family"]] == [True, False, False]
    assert DECEASED.nik not in opened.text and "360214******0001" in opened.text


async def test_wrong_tokens_open_nothing_and_lock_the_draft_for_a_while(
    api: httpx.AsyncClient, world: RequestsWithFollowOns
) -> None:
    draft_id, code = token(world)
    mistyped = await api.post(f"/follow-ons/{draft_id}/open", json={"token": "not-a-token"})
    assert mistyped.status_code == 422 and mistyped.json()["error"]["code"] == "token_mistyped"
    other = str(LINKS.token(next(iter(world.requests.committed))))  # a token, of something else
    for _ in range(5):
        wrong = await api.post(f"/follow-ons/{draft_id}/confirm", json={"token": other})
        assert wrong.status_code == 404 and wrong.json()["error"]["code"] == "not_found"
    locked = await api.post(f"/follow-ons/{draft_id}/open", json={"token": code})
    assert locked.status_code == 429 and "Retry-After" in locked.headers
    assert len(world.requests.committed) == 1


async def test_confirming_twice_answers_with_one_request_its_access_code_opens(
    api: httpx.AsyncClient, world: RequestsWithFollowOns
) -> None:
    draft_id, code = token(world)
    first, second = [await api.post(f"/follow-ons/{draft_id}/confirm", json={"token": code}) for _ in range(2)]
    assert first.status_code == second.status_code == 200, first.text
    assert first.json()["led_to"] == second.json()["led_to"]
    number, access_code = first.json()["led_to"]["number"], first.json()["access_code"]
    followed = await api.post("/requests/follow", json={"number": number, "access_code": access_code})
    assert followed.status_code == 200, followed.text
    assert followed.json()["follows"]["type"] == "akta_kematian" and followed.json()["type"] == "kartu_keluarga"


async def test_an_operator_sees_and_confirms_their_own_kecamatans_drafts_only(
    api: httpx.AsyncClient, world: RequestsWithFollowOns
) -> None:
    draft_id, _ = token(world)
    mine = await api.get("/follow-ons", headers=RANGKASBITUNG)
    assert [d["id"] for d in mine.json()] == [draft_id]
    assert (await api.get("/follow-ons", headers=MALINGPING)).json() == []
    elsewhere = await api.get("/follow-ons", params={"kecamatan": "36.02.14"}, headers=MALINGPING)
    assert elsewhere.status_code == 403 and elsewhere.json()["error"]["code"] == "outside_your_kecamatan"
    assert (await api.get(f"/follow-ons/{draft_id}", headers=MALINGPING)).status_code == 404
    assert (await api.post(f"/follow-ons/{draft_id}/confirm-at-counter", headers=MALINGPING)).status_code == 404

    confirmed = await api.post(f"/follow-ons/{draft_id}/confirm-at-counter", headers=RANGKASBITUNG)
    assert confirmed.status_code == 200, confirmed.text
    assert confirmed.json()["confirmed_by"] == "op-rkb"
    new = world.requests.committed[uuid.UUID(confirmed.json()["led_to"]["id"])]
    assert (new.channel, new.operator, new.office) == ("assisted", "op-rkb", "Kantor Kecamatan Rangkasbitung")
