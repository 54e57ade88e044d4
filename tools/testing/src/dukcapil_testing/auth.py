"""Staff tokens for tests: signed with a key of the test run's own, which the services the tests build or start
trust."""

import json
import uuid
from datetime import timedelta

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI

from dukcapil_shared.auth.access import MemoryAccessLog
from dukcapil_shared.auth.grants import DownloadGrants, GrantVerifier
from dukcapil_shared.auth.http import REASON_HEADER, StaffAuth, install_auth
from dukcapil_shared.auth.keys import PublishedKeys, SigningKey
from dukcapil_shared.auth.ratelimit import RateLimits
from dukcapil_shared.auth.roles import KECAMATAN_BOUND, Principal, Role
from dukcapil_shared.auth.tokens import LocalTokenVerifier, TokenIssuer
from dukcapil_shared.settings import ServiceSettings

_DEFAULTS = ServiceSettings.model_fields

TEST_SIGNING_KEY = SigningKey(Ed25519PrivateKey.generate())
"""The tests' own staff-token key (one per test run): tokens they mint are signed with it, and the services they
build or start check tokens with its public half (`auth_env_for_tests`)."""


def auth_env_for_tests() -> dict[str, str]:
    """The environment under which services accept the tests' tokens, and intake signs its own with the same key."""
    pem = TEST_SIGNING_KEY.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return {"AUTH_JWKS": json.dumps(TEST_SIGNING_KEY.jwks()), "INTAKE_SIGNING_KEY": pem}


def development_token(role: Role, *, kecamatan: str | None = None, username: str | None = None) -> str:
    """A token as intake issues it, signed with the tests' key (which every service under `auth_env_for_tests`
    accepts), in a session of its own."""
    if role in KECAMATAN_BOUND and kecamatan is None:
        kecamatan = "36.02.14"  # Rangkasbitung
    issuer = TokenIssuer(
        key=TEST_SIGNING_KEY,
        issuer=_DEFAULTS["auth_token_issuer"].default,
        audience=_DEFAULTS["auth_token_audience"].default,
        lifetime=timedelta(hours=2),
    )
    principal = Principal(username=username or f"test.{role.value}", role=role, kecamatan_code=kecamatan)
    return issuer.issue(principal, session_id=uuid.uuid4()).access_token


def staff_headers(
    role: Role, *, kecamatan: str | None = None, reason: str | None = "testing", username: str | None = None
) -> dict[str, str]:
    """Authorization (and, unless reason is None, X-Access-Reason) headers for a member of staff in `role`."""
    headers = {"Authorization": f"Bearer {development_token(role, kecamatan=kecamatan, username=username)}"}
    if reason is not None:
        headers[REASON_HEADER] = reason
    return headers


class NoEndedSessions:
    async def ended(self, session_id: str) -> bool:
        return False


def install_test_auth(app: FastAPI, *, citizen_rate: str = "1000/minute") -> MemoryAccessLog:
    """Staff authentication as the services run it, with the access log kept in memory for the test to read."""
    access_log = MemoryAccessLog()
    install_auth(
        app,
        StaffAuth(
            verifier=LocalTokenVerifier(
                keys=PublishedKeys(document=json.dumps(TEST_SIGNING_KEY.jwks())),
                issuer=_DEFAULTS["auth_token_issuer"].default,
                audience=_DEFAULTS["auth_token_audience"].default,
                sessions=NoEndedSessions(),
            ),
            access_log=access_log,
            rate_limits=RateLimits(),
            citizen_rate=citizen_rate,
        ),
    )
    return access_log


def download_grants_for_tests() -> DownloadGrants:
    """Download grants as intake signs them, with the key the test tokens are signed with."""
    return DownloadGrants(key=TEST_SIGNING_KEY, issuer=_DEFAULTS["auth_token_issuer"].default)


def grant_verifier_for_tests() -> GrantVerifier:
    """Documents' check of download grants, trusting the test key."""
    return GrantVerifier(
        keys=PublishedKeys(document=json.dumps(TEST_SIGNING_KEY.jwks())), issuer=_DEFAULTS["auth_token_issuer"].default
    )
