"""Staff tokens, passwords, rate limits and the production guard on development secrets."""

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError
from structlog.testing import capture_logs

from dukcapil_shared.auth.keys import PublishedKeys, SigningKey, development_signing_key
from dukcapil_shared.auth.passwords import hash_password, password_matches, password_problem
from dukcapil_shared.auth.ratelimit import RateLimits, SweptMemoryStorage
from dukcapil_shared.auth.roles import ROLE_SCOPES, Principal, Role, Scope
from dukcapil_shared.auth.tokens import InvalidToken, LocalTokenVerifier, OidcTokenVerifier, TokenIssuer
from dukcapil_shared.settings import ServiceSettings
from dukcapil_shared.web import ApiError

ISSUER, AUDIENCE = "dukcapil-lebak", "dukcapil-lebak-staff"
KEY = SigningKey(Ed25519PrivateKey.generate())


def issuer(key: SigningKey = KEY, lifetime: timedelta = timedelta(minutes=5)) -> TokenIssuer:
    return TokenIssuer(key=key, issuer=ISSUER, audience=AUDIENCE, lifetime=lifetime)


class Ended:
    def __init__(self, *session_ids: str) -> None:
        self.session_ids = set(session_ids)

    async def ended(self, session_id: str) -> bool:
        return session_id in self.session_ids


ENDED = Ended()
VERIFIER = LocalTokenVerifier(
    keys=PublishedKeys(document=json.dumps(KEY.jwks())), issuer=ISSUER, audience=AUDIENCE, sessions=ENDED
)


def signed(key: Any = None, kid: str | None = None, algorithm: str = "EdDSA", **claims: object) -> str:
    """A token made by hand, as a forger would (with another key, another algorithm, odd claims)."""
    now = datetime.now(UTC)
    claims = {"iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + timedelta(minutes=5), "sid": "s1"} | claims
    key = KEY.private_key if key is None else key
    return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid or KEY.kid})


def token_of(principal: Principal, **kwargs: Any) -> str:
    return issuer(**kwargs).issue(principal, session_id=uuid.uuid4()).access_token


async def test_a_token_carries_the_user_role_kecamatan_and_session_and_the_roles_scopes() -> None:
    session = uuid.uuid4()
    principal = Principal(username="op.bayah", role=Role.KECAMATAN_OPERATOR, kecamatan_code="36.02.03")
    token = issuer().issue(principal, session_id=session)
    assert jwt.get_unverified_header(token.access_token) == {"alg": "EdDSA", "kid": KEY.kid, "typ": "JWT"}
    verified = await VERIFIER.verify(token.access_token)
    assert verified == Principal(
        username="op.bayah", role=Role.KECAMATAN_OPERATOR, kecamatan_code="36.02.03", session_id=str(session)
    )
    assert set(token.scope.split()) == set(verified.scopes) == set(ROLE_SCOPES[Role.KECAMATAN_OPERATOR])
    assert verified.serves("36.02.03") and not verified.serves("36.02.14") and not verified.serves(None)
    reviewer = Principal(username="rina", role=Role.REVIEWER)
    assert reviewer.serves("36.02.14") and not reviewer.kecamatan_bound


ANOTHER_KEY = SigningKey(Ed25519PrivateKey.generate())


@pytest.mark.parametrize(
    ("token", "why"),
    [
        (token_of(Principal("rina", Role.REVIEWER), lifetime=timedelta(minutes=-5)), "expired"),
        (token_of(Principal("rina", Role.REVIEWER), key=ANOTHER_KEY), "not signed with one of intake's published keys"),
        (signed(ANOTHER_KEY.private_key, kid=KEY.kid, sub="rina", role="admin"), "InvalidSignature"),
        (signed(sub="rina", role="reviewer", aud="someone-else"), "InvalidAudience"),
        (signed(sub="rina", role="superuser"), "role claim"),
        (signed(sub="op", role="kecamatan_operator"), "kecamatan"),
        (signed(sub="rina", role="admin", sid=None), "MissingRequiredClaim|InvalidToken"),
        (signed("a-secret-every-service-shares-12345678", algorithm="HS256", sub="rina", role="admin"), "Algorithm"),
        (signed("", algorithm="none", sub="rina", role="admin"), "InvalidAlgorithm"),
        ("not-a-jwt", "DecodeError"),
    ],
)  # fmt: skip
async def test_a_token_that_cannot_be_trusted_is_refused_with_the_reason(token: str, why: str) -> None:
    with pytest.raises(InvalidToken, match=why):
        await VERIFIER.verify(token)


async def test_a_token_whose_session_ended_is_refused() -> None:
    session = uuid.uuid4()
    token = issuer().issue(Principal("rina", Role.REVIEWER), session_id=session).access_token
    verifier = LocalTokenVerifier(
        keys=PublishedKeys(document=json.dumps(KEY.jwks())),
        issuer=ISSUER,
        audience=AUDIENCE,
        sessions=Ended(str(session)),
    )
    with pytest.raises(InvalidToken, match="session has ended"):
        await verifier.verify(token)


def test_published_keys_are_read_again_when_a_token_names_a_new_one(tmp_path: Path) -> None:
    path = tmp_path / "jwks.json"
    keys = PublishedKeys(path=path)
    assert keys.key(KEY.kid) is None, "no file yet: nothing is known"
    path.write_text(json.dumps(KEY.jwks()))
    time.sleep(1.05)  # the file is read again at most once a second
    assert keys.key(KEY.kid) is not None
    rotated = SigningKey(ANOTHER_KEY.private_key, retired=(KEY.private_key.public_key(),))
    assert {key["kid"] for key in rotated.jwks()["keys"]} == {KEY.kid, ANOTHER_KEY.kid}, "the retired key is kept"


def test_a_development_key_is_made_once_with_its_public_keys_beside_it(tmp_path: Path) -> None:
    key = development_signing_key(tmp_path / "auth" / "signing-key.pem")
    assert (tmp_path / "auth" / "signing-key.pem").stat().st_mode & 0o777 == 0o600
    assert json.loads((tmp_path / "auth" / "jwks.json").read_text()) == key.jwks()
    assert development_signing_key(tmp_path / "auth" / "signing-key.pem").kid == key.kid


class _Jwks(BaseHTTPRequestHandler):
    document: bytes = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.document)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def identity_provider() -> Iterator[tuple[str, rsa.RSAPrivateKey]]:
    """A JWKS endpoint over real HTTP, publishing one RSA key, as an OpenID Connect provider does."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    _Jwks.document = json.dumps({"keys": [public | {"kid": "office-1", "use": "sig", "alg": "RS256"}]}).encode()
    server = HTTPServer(("127.0.0.1", 0), _Jwks)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/certs", key
    server.shutdown()


async def test_with_an_identity_provider_tokens_are_checked_against_its_published_keys(identity_provider) -> None:  # type: ignore[no-untyped-def]
    jwks_url, key = identity_provider
    verifier = OidcTokenVerifier(jwks_url=jwks_url, issuer="https://sso.lebakkab.go.id", audience="dukcapil")
    now = datetime.now(UTC)
    claims = {
        "iss": "https://sso.lebakkab.go.id",
        "aud": "dukcapil",
        "sub": "f3a1",
        "preferred_username": "sari",
        "dukcapil_role": "supervisor",
        "iat": now,
        "exp": now + timedelta(minutes=5),
    }
    token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "office-1"})
    assert await verifier.verify(token) == Principal(username="sari", role=Role.SUPERVISOR)

    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(claims, stranger, algorithm="RS256", headers={"kid": "office-1"})
    with pytest.raises(InvalidToken, match="InvalidSignature"):
        await verifier.verify(forged)
    with pytest.raises(InvalidToken):
        await verifier.verify(jwt.encode(claims | {"iss": "https://elsewhere"}, key, "RS256", {"kid": "office-1"}))
    local = token_of(Principal("rina", Role.REVIEWER))
    with pytest.raises(InvalidToken):
        await verifier.verify(local)  # intake's own tokens are no good once a provider is in charge


def test_passwords_are_hashed_with_argon2id_and_weak_ones_refused() -> None:
    hashed = hash_password("kantor-capil-lebak-2026")
    assert hashed.startswith("$argon2id$") and "kantor" not in hashed
    assert password_matches(hashed, "kantor-capil-lebak-2026")
    assert not password_matches(hashed, "kantor-capil-lebak-2025")
    assert not password_matches(None, "kantor-capil-lebak-2026"), "an unknown user never signs in"
    assert password_problem("short", "rina") and password_problem("rina-rina-rina-rina", "rina")
    assert password_problem("kantor-capil-lebak-2026", "rina") is None


async def test_rate_limits_count_per_address_and_say_when_to_come_back() -> None:
    limits = RateLimits()
    for _ in range(3):
        await limits.hit("follow", "3/minute", "10.0.0.1")
    with pytest.raises(ApiError) as refused:
        await limits.hit("follow", "3/minute", "10.0.0.1")
    assert refused.value.status == 429 and refused.value.code == "too_many_requests"
    assert 0 < int(refused.value.headers["Retry-After"]) <= 60
    await limits.hit("follow", "3/minute", "10.0.0.2")  # another address has its own count
    await limits.hit("verify", "3/minute", "10.0.0.1")  # and another endpoint too


async def test_the_memory_store_forgets_expired_counts_in_its_own_sweep_without_limits_own() -> None:
    limits = RateLimits()
    store = limits._limiter.storage
    assert isinstance(store, SweptMemoryStorage)
    for key in ("3201012345670001", "3201012345670002"):
        await limits.hit("nik", "2/minute", key)
    assert store.timer is None, "limits' own sweep, a worker-thread hop per key after every hit, never starts"
    assert await limits.allow("nik", "2/minute", "3201012345670001")
    assert not await limits.allow("nik", "2/minute", "3201012345670001"), "the moving window still counts"

    store.sweep(time.time() + 30)
    assert len(store.events) == 2, "counts within their window stay"
    store.sweep(time.time() + 61)
    assert store.events == {} and store.locks == {}, "counts past their window are dropped with their keys"
    assert await limits.allow("nik", "2/minute", "3201012345670001")


async def test_the_memory_store_drops_expired_keys_as_counts_come_a_few_at_a_time() -> None:
    limits = RateLimits()
    store = limits._limiter.storage
    old = [f"old-{index}" for index in range(40)]
    for key in old:
        await limits.hit("phone", "5/second", key)
    assert len(store.events) == 40
    deadline = time.monotonic() + 10
    fresh = 0
    while any(key in event_key for event_key in store.events for key in old):
        assert time.monotonic() < deadline, "keys past their window stay"
        fresh += 1
        await limits.hit("phone", "5/second", f"new-{fresh}")
        await asyncio.sleep(0.01)
    assert not any(key in lock_key for lock_key in store.locks for key in old), "their locks go with them"


class ProbeSettings(ServiceSettings):
    model_config = ServiceSettings.model_config | {"env_prefix": "PROBE_"}
    database_url: str = "sqlite+aiosqlite:///probe.db"
    port: int = 9999


def test_production_is_the_default_and_refuses_development_stand_ins_naming_each_without_secrets(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AUTH_JWKS", "AUTH_JWKS_FILE", "AUTH_OIDC_JWKS_URL", "ENVIRONMENT", "PROBE_BROKER_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no var/auth/jwks.json here
    with pytest.raises(ValidationError) as refused:
        ProbeSettings(amqp_url="amqp://guest:hunter2-secret@localhost/")
    message = str(refused.value)
    assert "PROBE_BROKER_PASSWORD" in message and "AUTH_JWKS" in message, message
    assert "hunter2" not in message, "a refusal never prints a secret"

    monkeypatch.setenv("ENVIRONMENT", "development")
    assert ProbeSettings().environment == "development"  # development stand-ins are fine in development

    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("PROBE_BROKER_PASSWORD", "probe-broker-password")
    monkeypatch.setenv("AUTH_JWKS", json.dumps(KEY.jwks()))
    monkeypatch.setenv("AMQP_URL", "amqp://rabbitmq:5672/dukcapil")
    monkeypatch.setenv("PROBE_DATABASE_URL", "postgresql+asyncpg://probe@postgres:5432/probe")
    assert ProbeSettings().environment == "production"


def test_an_identity_provider_needs_its_issuer_and_audience(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH_OIDC_JWKS_URL", "https://sso.example/certs")
    monkeypatch.delenv("AUTH_OIDC_ISSUER", raising=False)
    with pytest.raises(ValidationError, match="AUTH_OIDC_ISSUER and AUTH_OIDC_AUDIENCE"):
        ProbeSettings()


def test_every_role_has_scopes_and_only_the_admin_and_the_supervisor_handle_dead_letters() -> None:
    assert set(ROLE_SCOPES) == set(Role)
    assert {role for role, scopes in ROLE_SCOPES.items() if Scope.OPERATIONS in scopes} == {
        Role.ADMIN,
        Role.SUPERVISOR,
    }
    assert {role for role, scopes in ROLE_SCOPES.items() if Scope.DOCUMENTS_MANAGE in scopes} == {Role.DOCUMENT_OFFICER}
    assert Scope.REVIEWS_DECIDE not in ROLE_SCOPES[Role.ADMIN], "the admin runs the system, not the registry"


async def test_limits_let_citizens_through_when_their_store_is_down_and_say_so() -> None:
    down = RateLimits("async+redis://127.0.0.1:1", key_prefix="nowhere")
    with capture_logs() as logs:
        assert [await down.allow("follow", "1/minute", "k") for _ in range(3)] == [True] * 3
        assert await down.exhausted("follow", "1/minute", "k") is None
        await down.hit("follow", "1/minute", "k")
    assert {entry["event"] for entry in logs} == {"rate_limit_store_unavailable"}
    assert all(entry["log_level"] == "error" and entry["limit"] == "follow" for entry in logs)
