"""Download grants: a short-lived permission to fetch one document's PDF, handed to the person who opened the
request with its number and access code.

Intake checks the access code, so intake signs the grant, with the key it signs staff tokens with (a grant has
its own audience, so it is never taken for a token, nor a token for a grant). Documents checks it with intake's
published keys and serves the one document it names, until it expires minutes later. Documents never sees an
access code, and a grant leaked from a browser's history is useless soon after.
"""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt

from dukcapil_shared.auth.keys import ALGORITHM, PublishedKeys, SigningKey
from dukcapil_shared.auth.tokens import LEEWAY, InvalidToken

AUDIENCE = "dukcapil-document-download"


@dataclass(frozen=True)
class IssuedGrant:
    token: str
    expires_at: datetime


class DownloadGrants:
    def __init__(self, *, key: SigningKey, issuer: str, lifetime: timedelta = timedelta(minutes=10)) -> None:
        self._key = key
        self._issuer = issuer
        self.lifetime = lifetime

    def issue(self, document_id: uuid.UUID, *, now: datetime | None = None) -> IssuedGrant:
        now = now or datetime.now(UTC)
        expires_at = now + self.lifetime
        claims = {"iss": self._issuer, "aud": AUDIENCE, "sub": str(document_id), "iat": now, "exp": expires_at}
        token = jwt.encode(claims, self._key.private_key, algorithm=ALGORITHM, headers={"kid": self._key.kid})
        return IssuedGrant(token=token, expires_at=expires_at)


class GrantVerifier:
    """Checks a grant against intake's published keys: signed by intake, not expired, for this very document."""

    def __init__(self, *, keys: PublishedKeys, issuer: str) -> None:
        self._keys = keys
        self._issuer = issuer

    def verify(self, token: str, document_id: uuid.UUID) -> None:
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
                audience=AUDIENCE,
                leeway=LEEWAY,
                options={"require": ["exp", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidToken("the download link has expired: open the request again for a new one") from None
        except jwt.InvalidTokenError as error:
            raise InvalidToken(f"the download link is not valid ({type(error).__name__})") from None
        if claims["sub"] != str(document_id):
            raise InvalidToken("the download link is for another document")
