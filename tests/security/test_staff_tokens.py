"""Only intake signs staff tokens, and a session it ends is refused by every service within seconds: the four
services run as processes, each checking tokens with intake's published keys only."""

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from dukcapil_shared.auth.keys import SigningKey
from dukcapil_shared.auth.roles import Role
from dukcapil_shared.messaging.access import SERVICES

from ..e2e.system import System, as_staff

pytestmark = [pytest.mark.e2e]

ADMIN = as_staff(Role.ADMIN, "security.admin")
REFUSED_WITHIN = 10.0
"""Seconds: intake's relay publishes at once, each service records the event, and replicas read it every 2 s."""
# What a supervisor may open at each service (a reason given where data is shown).
PROBES = {
    "intake": "/auth/me",
    "review": "/reviews?status=pending",
    "documents": "/documents?request_id=00000000-0000-0000-0000-000000000000",
    "shipping": "/shipments?request_id=00000000-0000-0000-0000-000000000000",
}


@pytest.fixture(scope="module")
async def system(rabbitmq, tmp_path_factory) -> AsyncIterator[System]:  # type: ignore[no-untyped-def]
    workdir: Path = tmp_path_factory.mktemp("tokens")
    system = System(
        workdir=workdir,
        amqp_url=rabbitmq.create(),
        database_urls={name: f"sqlite+aiosqlite:///{workdir}/var/{name}.db" for name in SERVICES},
        extra_env=rabbitmq.service_env() | {"INTAKE_NOTIFICATIONS_ENABLED": "false"},
    )
    try:
        await system.start_all()
        yield system
    finally:
        system.stop_all()
        rabbitmq.delete(system.amqp_url)


async def _answers(system: System, http: httpx.AsyncClient, token: str) -> dict[str, int]:
    headers = {"Authorization": f"Bearer {token}", "X-Access-Reason": "security test"}
    return {
        service: (await http.get(system.url(service) + path, headers=headers)).status_code
        for service, path in PROBES.items()
    }


async def test_a_deactivated_accounts_token_is_refused_by_every_service_within_seconds(system: System) -> None:
    username = f"sari.{uuid.uuid4().hex[:6]}"
    async with httpx.AsyncClient(timeout=10) as http:
        created = await http.post(
            system.url("intake") + "/accounts",
            json={"username": username, "full_name": "Rina", "role": "supervisor", "password": "review-desk-password"},
            headers=ADMIN,
        )
        assert created.status_code == 201, created.text
        signed_in = await http.post(
            system.url("intake") + "/auth/token", data={"username": username, "password": "review-desk-password"}
        )
        token = signed_in.json()["access_token"]
        assert await _answers(system, http, token) == dict.fromkeys(SERVICES, 200)

        deactivated = await http.patch(
            system.url("intake") + f"/accounts/{username}", json={"active": False}, headers=ADMIN
        )
        assert deactivated.status_code == 200, deactivated.text
        started = time.monotonic()
        while (answers := await _answers(system, http, token)) != dict.fromkeys(SERVICES, 401):
            assert time.monotonic() - started < REFUSED_WITHIN, f"still accepted after {REFUSED_WITHIN}s: {answers}"
            await asyncio.sleep(0.2)


def _forged(key: Ed25519PrivateKey, kid: str, role: str = "admin") -> str:
    now = datetime.now(UTC)
    claims = {
        "iss": "dukcapil-lebak",
        "aud": "dukcapil-lebak-staff",
        "sub": "nobody.at.all",
        "role": role,
        "sid": str(uuid.uuid4()),
        "iat": now,
        "exp": now + timedelta(minutes=5),
    }
    return jwt.encode(claims, key, algorithm="EdDSA", headers={"kid": kid})


async def test_a_token_not_signed_by_intake_is_refused_everywhere(system: System) -> None:
    """A key of one's own, presented under intake's key id or another, and a shared-secret token as the services
    used to accept: refused by all four, for a user that does not exist as much as for one who does."""
    async with httpx.AsyncClient(timeout=10) as http:
        published = (await http.get(system.url("intake") + "/.well-known/jwks.json")).json()
        intake_kid = published["keys"][0]["kid"]
        stranger = SigningKey(Ed25519PrivateKey.generate())
        for token in (
            _forged(stranger.private_key, intake_kid),
            _forged(stranger.private_key, stranger.kid),
            jwt.encode({"sub": "admin", "role": "admin"}, "development-only-jwt-secret-not-for-real-use"),
        ):
            answers = await _answers(system, http, token)
            assert answers == dict.fromkeys(SERVICES, 401), answers
    assert json.dumps(published).count('"d"') == 0, "only public keys are published"
