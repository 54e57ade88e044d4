"""Staff accounts on a real database: the first admin from the command line, signing in over HTTP, accounts
made by the admin, deactivation, password guessing slowed down, and the token accepted by another service."""

import asyncio
import io
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from dukcapil_intake import tables
from dukcapil_intake.accounts import cli as accounts_cli
from dukcapil_intake.bootstrap import build_app
from dukcapil_intake.settings import IntakeSettings
from dukcapil_review.bootstrap import build_app as build_review
from dukcapil_review.settings import ReviewSettings
from dukcapil_shared.db import migrate

pytestmark = pytest.mark.integration

ADMIN_PASSWORD = "kantor-capil-lebak-2026"
APPLICANT = {"nik": "3602144107900001", "name": "Siti Aminah", "birth_date": "1990-07-01", "sex": "female"}


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request, tmp_path: Path, postgres) -> str:  # type: ignore[no-untyped-def]
    return f"sqlite+aiosqlite:///{tmp_path}/intake.db" if request.param == "sqlite" else await postgres.create()


async def intake_app(database_url: str, tmp_path: Path, **settings: object):  # type: ignore[no-untyped-def]
    app = build_app(
        IntakeSettings(
            database_url=database_url,
            attachments_dir=str(tmp_path / "attachments"),
            development_accounts=False,
            notifications_enabled=False,
            log_json=False,
            **settings,
        )
    )
    await migrate(app.state.runtime.engine, "dukcapil_intake:migrations")
    return app


async def cli(argv: list[str]) -> int:
    """The command line runs its own event loop: give it a thread."""
    return await asyncio.to_thread(accounts_cli.main, argv)


async def sign_in(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post("/auth/token", data={"grant_type": "password", "username": username, "password": password})


async def test_the_first_admin_signs_in_and_makes_an_operator_who_submits_for_their_kecamatan(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INTAKE_DATABASE_URL", database_url)
    monkeypatch.setattr("sys.stdin", io.StringIO(ADMIN_PASSWORD + "\n"))
    assert await cli(["create", "kadis", "--role", "admin", "--name", "Kepala Dinas", "--password-stdin"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert await cli(["create", "weak", "--role", "reviewer", "--password-stdin"]) == 1

    app = await intake_app(database_url, tmp_path)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake") as client:
        wrong = await sign_in(client, "kadis", "not-the-password")
        assert wrong.status_code == 400 and wrong.json()["error"]["code"] == "invalid_grant"
        unknown = await sign_in(client, "nobody", ADMIN_PASSWORD)
        assert unknown.json()["error"] == wrong.json()["error"], "an unknown user is told the same"

        signed_in = await sign_in(client, "kadis", ADMIN_PASSWORD)
        assert signed_in.status_code == 200, signed_in.text
        token = signed_in.json()
        assert token["token_type"] == "bearer" and token["expires_in"] == 3600
        admin = {"Authorization": f"Bearer {token['access_token']}"}
        me = (await client.get("/auth/me", headers=admin)).json()
        assert (me["username"], me["role"]) == ("kadis", "admin") and "accounts:manage" in me["scopes"]

        operator = {
            "username": "op.bayah",
            "full_name": "Operator Bayah",
            "role": "kecamatan_operator",
            "kecamatan_code": "36.02.03",
            "password": "bayah-kantor-kecamatan",
        }
        created = await client.post("/accounts", json=operator, headers=admin)
        assert created.status_code == 201, created.text
        assert "bayah-kantor-kecamatan" not in created.text and "argon2" not in created.text
        assert (await client.post("/accounts", json=operator, headers=admin)).status_code == 409
        no_kecamatan = await client.post(
            "/accounts", json=operator | {"username": "op.x", "kecamatan_code": None}, headers=admin
        )
        assert no_kecamatan.status_code == 422 and no_kecamatan.json()["error"]["code"] == "kecamatan_required"

        op_token = (await sign_in(client, "op.bayah", "bayah-kantor-kecamatan")).json()["access_token"]
        as_operator = {"Authorization": f"Bearer {op_token}"}
        assert (await client.get("/accounts", headers=as_operator)).status_code == 403
        body = {"type": "biodata_wni", "applicant": APPLICANT, "delivery": {"method": "pickup"}}
        at_bayah = await client.post("/requests", json=body | {"kecamatan_code": "36.02.03"}, headers=as_operator)
        assert at_bayah.status_code == 201, at_bayah.text
        assert at_bayah.json()["channel"] == "assisted"
        elsewhere = await client.post("/requests", json=body | {"kecamatan_code": "36.02.14"}, headers=as_operator)
        assert elsewhere.status_code == 403 and elsewhere.json()["error"]["code"] == "outside_your_kecamatan"

        deactivated = await client.patch("/accounts/op.bayah", json={"active": False}, headers=admin)
        assert deactivated.status_code == 200 and deactivated.json()["active"] is False
        assert (await sign_in(client, "op.bayah", "bayah-kantor-kecamatan")).status_code == 400
        self_lockout = await client.patch("/accounts/kadis", json={"active": False}, headers=admin)
        assert self_lockout.status_code == 409


async def test_password_guessing_is_slowed_down_per_address(tmp_path: Path) -> None:
    app = await intake_app(f"sqlite+aiosqlite:///{tmp_path}/intake.db", tmp_path, sign_in_rate_limit="3/minute")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake") as client:
        answers = [(await sign_in(client, "kadis", f"guess-{n}")).status_code for n in range(4)]
    assert answers == [400, 400, 400, 429]


async def test_a_token_from_intake_opens_review_and_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    database_url = f"sqlite+aiosqlite:///{tmp_path}/intake.db"
    monkeypatch.setenv("INTAKE_DATABASE_URL", database_url)
    monkeypatch.setattr("sys.stdin", io.StringIO("review-desk-password\n"))
    assert await cli(["create", "rina", "--role", "reviewer", "--password-stdin"]) == 0
    intake = await intake_app(database_url, tmp_path)
    review = build_review(ReviewSettings(database_url=f"sqlite+aiosqlite:///{tmp_path}/review.db", log_json=False))
    await migrate(review.state.runtime.engine, "dukcapil_review:migrations")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=intake), base_url="http://intake") as client:
        token = (await sign_in(client, "rina", "review-desk-password")).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "X-Access-Reason": "morning queue"}
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=review), base_url="http://review") as client:
        assert (await client.get("/reviews", params={"status": "pending"}, headers=headers)).status_code == 200
        assert (await client.get("/dead-letters", headers=headers)).status_code == 403
        tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
        refused = await client.get("/reviews", headers={**headers, "Authorization": f"Bearer {tampered}"})
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_token"


async def test_repeated_failures_lock_the_user_name_whatever_the_address_and_for_longer_each_time(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INTAKE_DATABASE_URL", database_url)
    monkeypatch.setattr("sys.stdin", io.StringIO(ADMIN_PASSWORD + "\n"))
    assert await cli(["create", "kadis", "--role", "admin", "--password-stdin"]) == 0
    app = await intake_app(
        database_url,
        tmp_path,
        sign_in_lockout_after=3,
        sign_in_lockout_seconds=[60, 600],
        sign_in_rate_limit="1000/minute",
    )
    transport = httpx.ASGITransport(app=app)
    clients = [
        httpx.AsyncClient(transport=transport, base_url="http://intake", headers={"X-Forwarded-For": f"10.0.0.{n}"})
        for n in range(3)
    ]
    try:
        for guess, client in enumerate(clients):  # three guesses, from three addresses
            assert (await sign_in(client, "kadis", f"guess-{guess}")).status_code == 400
        locked = await sign_in(clients[0], "kadis", ADMIN_PASSWORD)
        assert locked.status_code == 429 and locked.json()["error"]["code"] == "sign_in_locked", locked.text
        assert 50 < int(locked.headers["Retry-After"]) <= 60, "the right password does not open a locked name"
        unknown = [await sign_in(client, "nobody", "x") for client in clients] + [
            await sign_in(clients[0], "nobody", "x")
        ]
        assert [answer.status_code for answer in unknown] == [400, 400, 400, 429], "names that do not exist alike"
    finally:
        for client in clients:
            await client.aclose()

    # When the lockout is over, three more failures lock it for the next, longer, period; a success clears it.
    async with app.state.accounts_unit_of_work() as uow:
        failures = await uow.failures.for_update("kadis")
        failures.locked_until = None
        await uow.failures.save(failures)
        await uow.commit()
    async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
        for guess in range(3):
            await sign_in(client, "kadis", f"again-{guess}")
        again = await sign_in(client, "kadis", ADMIN_PASSWORD)
        assert again.status_code == 429 and int(again.headers["Retry-After"]) > 500


async def test_signing_out_ends_the_session_and_its_token_is_refused(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INTAKE_DATABASE_URL", database_url)
    monkeypatch.setattr("sys.stdin", io.StringIO("review-desk-password\n"))
    assert await cli(["create", "rina", "--role", "reviewer", "--password-stdin"]) == 0
    app = await intake_app(database_url, tmp_path)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake") as client:
        keys = (await client.get("/.well-known/jwks.json")).json()
        assert [key["alg"] for key in keys["keys"]] == ["EdDSA"] and "d" not in keys["keys"][0], "public keys only"
        first = (await sign_in(client, "rina", "review-desk-password")).json()["access_token"]
        second = (await sign_in(client, "rina", "review-desk-password")).json()["access_token"]
        as_first, as_second = ({"Authorization": f"Bearer {token}"} for token in (first, second))
        assert (await client.get("/auth/me", headers=as_first)).status_code == 200
        assert (await client.post("/auth/sign-out", headers=as_first)).status_code == 204
        refused = await client.get("/auth/me", headers=as_first)
        assert refused.status_code == 401 and "session has ended" in refused.json()["error"]["message"]
        assert (await client.get("/auth/me", headers=as_second)).status_code == 200, "only that session ended"
    async with app.state.runtime.engine.connect() as connection:
        outbox = (await connection.execute(select(tables.outbox))).all()
    [announced] = [row for row in outbox if row.routing_key == "staff.sessions_ended.v1"]
    assert '"signed_out"' in announced.body and '"rina"' in announced.body, "every service hears of it"
