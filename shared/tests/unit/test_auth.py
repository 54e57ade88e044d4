"""Staff tokens, passwords, rate limits and the production guard on development secrets."""

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from pydantic import ValidationError

from dukcapil_shared.auth import (
    ROLE_SCOPES,
    InvalidToken,
    LocalTokenVerifier,
    OidcTokenVerifier,
    Principal,
    RateLimits,
    Role,
    Scope,
    TokenIssuer,
)
from dukcapil_shared.auth.passwords import hash_password, password_matches, password_problem
from dukcapil_shared.settings import ServiceSettings
from dukcapil_shared.web import ApiError

SECRET = "a-test-secret-that-is-long-enough-for-hs256"
ISSUER, AUDIENCE = "dukcapil-lebak", "dukcapil-lebak-staff"


def issuer(secret: str = SECRET, lifetime: timedelta = timedelta(minutes=5)) -> TokenIssuer:
    return TokenIssuer(secret=secret, issuer=ISSUER, audience=AUDIENCE, lifetime=lifetime)


VERIFIER = LocalTokenVerifier(secret=SECRET, issuer=ISSUER, audience=AUDIENCE)


def signed(**claims: object) -> str:
    now = datetime.now(UTC)
    return jwt.encode({"iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + timedelta(minutes=5)} | claims, SECRET)


async def test_a_token_carries_the_user_role_and_kecamatan_and_the_roles_scopes() -> None:
    token = issuer().issue(Principal(username="op.bayah", role=Role.KECAMATAN_OPERATOR, kecamatan_code="36.02.03"))
    principal = await VERIFIER.verify(token.access_token)
    assert principal == Principal(username="op.bayah", role=Role.KECAMATAN_OPERATOR, kecamatan_code="36.02.03")
    assert set(token.scope.split()) == set(principal.scopes) == set(ROLE_SCOPES[Role.KECAMATAN_OPERATOR])
    assert principal.serves("36.02.03") and not principal.serves("36.02.14") and not principal.serves(None)
    reviewer = Principal(username="rina", role=Role.REVIEWER)
    assert reviewer.serves("36.02.14") and not reviewer.kecamatan_bound


@pytest.mark.parametrize(
    ("token", "why"),
    [
        (issuer(lifetime=timedelta(minutes=-5)).issue(Principal("rina", Role.REVIEWER)).access_token, "expired"),
        (issuer(secret="x" * 40).issue(Principal("rina", Role.REVIEWER)).access_token, "InvalidSignature"),
        (signed(sub="rina", role="reviewer", aud="someone-else"), "InvalidAudience"),
        (signed(sub="rina", role="superuser"), "role claim"),
        (signed(sub="op", role="kecamatan_operator"), "kecamatan"),
        (jwt.encode({"sub": "rina", "role": "admin"}, SECRET), "MissingRequiredClaim"),
        (jwt.encode({"sub": "rina", "role": "admin"}, "", algorithm="none"), "InvalidAlgorithm"),
        ("not-a-jwt", "DecodeError"),
    ],
)  # fmt: skip
async def test_a_token_that_cannot_be_trusted_is_refused_with_the_reason(token: str, why: str) -> None:
    with pytest.raises(InvalidToken, match=why):
        await VERIFIER.verify(token)


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
    local = issuer().issue(Principal("rina", Role.REVIEWER)).access_token
    with pytest.raises(InvalidToken):
        await verifier.verify(local)  # HS256 tokens of the built-in issuer are no good once a provider is in charge


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


class ProbeSettings(ServiceSettings):
    model_config = ServiceSettings.model_config | {"env_prefix": "PROBE_"}
    database_url: str = "sqlite+aiosqlite:///probe.db"
    port: int = 9999


def test_production_refuses_development_secrets_and_names_the_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AUTH_JWT_SECRET", "AUTH_OIDC_JWKS_URL", "ENVIRONMENT"):
        monkeypatch.delenv(name, raising=False)
    assert ProbeSettings().environment == "development"  # development defaults are fine in development

    monkeypatch.setenv("ENVIRONMENT", "production")
    with pytest.raises(ValidationError, match="AUTH_JWT_SECRET still has its development-only default"):
        ProbeSettings()
    monkeypatch.setenv("AUTH_JWT_SECRET", "too-short")
    with pytest.raises(ValidationError, match="AUTH_JWT_SECRET needs at least 32 characters"):
        ProbeSettings()
    monkeypatch.setenv("AUTH_JWT_SECRET", "x" * 48)
    assert ProbeSettings().environment == "production"


def test_an_identity_provider_needs_its_issuer_and_audience(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTH_OIDC_JWKS_URL", "https://sso.example/certs")
    monkeypatch.delenv("AUTH_OIDC_ISSUER", raising=False)
    with pytest.raises(ValidationError, match="AUTH_OIDC_ISSUER and AUTH_OIDC_AUDIENCE"):
        ProbeSettings()


def test_every_role_has_scopes_and_only_the_admin_runs_operations() -> None:
    assert set(ROLE_SCOPES) == set(Role)
    assert {role for role, scopes in ROLE_SCOPES.items() if Scope.OPERATIONS in scopes} == {Role.ADMIN}
    assert {role for role, scopes in ROLE_SCOPES.items() if Scope.DOCUMENTS_MANAGE in scopes} == {Role.DOCUMENT_OFFICER}
    assert Scope.REVIEWS_DECIDE not in ROLE_SCOPES[Role.ADMIN], "the admin runs the system, not the registry"
