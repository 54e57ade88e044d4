"""Signed access tokens (JWT) for staff: issued by intake's token endpoint, checked by every service.

Only intake can sign them: with its Ed25519 key (EdDSA, the key's id in the header); every other service holds
only the public keys (see keys.py), so no service can mint a token, for an existing user or a made-up one. Each
token belongs to a session (`sid`) that ends when its holder signs out, is deactivated or changes password;
every service learns of that from an event within seconds and refuses the token from then on (sessions.py).
When the office runs an OpenID Connect provider (Keycloak and the like), set `AUTH_OIDC_JWKS_URL`: tokens are
then checked against the provider's published keys instead, and the role and kecamatan are read from claims
the provider adds.
"""

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import jwt

from dukcapil_shared.auth.keys import ALGORITHM, PublishedKeys, SigningKey
from dukcapil_shared.auth.roles import KECAMATAN_BOUND, Principal, Role

LEEWAY = timedelta(seconds=30)  # clocks of the issuer and the services drift a little


class InvalidToken(Exception):
    """The token cannot be trusted; the message says why, without echoing the token."""


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int
    scope: str


class TokenIssuer:
    def __init__(self, *, key: SigningKey, issuer: str, audience: str, lifetime: timedelta) -> None:
        self._key = key
        self._issuer = issuer
        self._audience = audience
        self.lifetime = lifetime

    def issue(self, principal: Principal, *, session_id: uuid.UUID, now: datetime | None = None) -> IssuedToken:
        now = now or datetime.now(UTC)
        scope = " ".join(sorted(principal.scopes))
        claims: dict[str, Any] = {
            "iss": self._issuer,
            "aud": self._audience,
            "sub": principal.username,
            "role": principal.role.value,
            "scope": scope,
            "sid": str(session_id),
            "iat": now,
            "nbf": now,
            "exp": now + self.lifetime,
            "jti": str(uuid.uuid4()),
        }
        if principal.kecamatan_code:
            claims["kecamatan_code"] = principal.kecamatan_code
        token = jwt.encode(claims, self._key.private_key, algorithm=ALGORITHM, headers={"kid": self._key.kid})
        return IssuedToken(access_token=token, expires_in=int(self.lifetime.total_seconds()), scope=scope)

    def jwks(self) -> dict[str, Any]:
        """The public keys that check what this issuer signs."""
        return self._key.jwks()


class EndedSessionCheck(Protocol):
    async def ended(self, session_id: str) -> bool: ...


class TokenVerifier(Protocol):
    async def verify(self, token: str) -> Principal: ...


def _principal(claims: dict[str, Any], *, username_claim: str, role_claim: str, kecamatan_claim: str) -> Principal:
    username = claims.get(username_claim) or claims.get("sub")
    if not isinstance(username, str) or not username:
        raise InvalidToken(f"the token names no user ({username_claim})")
    try:
        role = Role(claims.get(role_claim))
    except ValueError:
        raise InvalidToken(f"the token's {role_claim} claim is not one of {', '.join(Role)}") from None
    kecamatan = claims.get(kecamatan_claim)
    if role in KECAMATAN_BOUND and not isinstance(kecamatan, str):
        raise InvalidToken(f"a {role.value} token must name the kecamatan served ({kecamatan_claim})")
    session = claims.get("sid")
    return Principal(
        username=username,
        role=role,
        kecamatan_code=kecamatan if isinstance(kecamatan, str) else None,
        session_id=session if isinstance(session, str) else None,
    )


class LocalTokenVerifier:
    """Checks tokens signed by intake with one of its published keys, whose session has not ended."""

    def __init__(self, *, keys: PublishedKeys, issuer: str, audience: str, sessions: EndedSessionCheck) -> None:
        self._keys = keys
        self._issuer = issuer
        self._audience = audience
        self._sessions = sessions

    async def verify(self, token: str) -> Principal:
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            key = self._keys.key(kid) if isinstance(kid, str) else None
            if key is None:
                raise InvalidToken("it is not signed with one of intake's published keys")
            claims = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM],
                issuer=self._issuer,
                audience=self._audience,
                leeway=LEEWAY,
                options={"require": ["exp", "iat", "sub", "iss", "aud", "sid"]},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("the token has expired: sign in again") from None
        except jwt.InvalidTokenError as error:
            raise InvalidToken(f"the token is not valid here ({type(error).__name__})") from None
        if await self._sessions.ended(str(claims["sid"])):
            raise InvalidToken("its session has ended (signed out, deactivated or the password changed): sign in again")
        return _principal(claims, username_claim="sub", role_claim="role", kecamatan_claim="kecamatan_code")


class OidcTokenVerifier:
    """Checks tokens from the office's OpenID Connect provider against its published signing keys."""

    def __init__(
        self,
        *,
        jwks_url: str,
        issuer: str,
        audience: str,
        username_claim: str = "preferred_username",
        role_claim: str = "dukcapil_role",
        kecamatan_claim: str = "kecamatan_code",
    ) -> None:
        self._keys = jwt.PyJWKClient(jwks_url, cache_keys=True, lifespan=300, timeout=5)
        self._issuer = issuer
        self._audience = audience
        self._claims = {"username_claim": username_claim, "role_claim": role_claim, "kecamatan_claim": kecamatan_claim}

    async def verify(self, token: str) -> Principal:
        try:
            # The key set is fetched over HTTP (then cached): keep that off the event loop.
            key = await asyncio.to_thread(self._keys.get_signing_key_from_jwt, token)
            claims = jwt.decode(
                token,
                key.key,
                algorithms=["RS256", "ES256", "EdDSA"],
                issuer=self._issuer,
                audience=self._audience,
                leeway=LEEWAY,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("the token has expired: sign in again") from None
        except jwt.PyJWKClientConnectionError:
            raise InvalidToken("the identity provider's keys cannot be fetched just now") from None
        except jwt.PyJWKClientError:
            raise InvalidToken("the token is not signed with one of the identity provider's keys") from None
        except jwt.InvalidTokenError as error:
            raise InvalidToken(f"the token is not valid here ({type(error).__name__})") from None
        return _principal(claims, **self._claims)
