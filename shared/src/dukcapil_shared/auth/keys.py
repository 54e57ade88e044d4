"""The keys of staff tokens: intake alone holds the private key (Ed25519, EdDSA); every service verifies with the
public keys intake publishes as a JWK Set (at GET /.well-known/jwks.json, and in a file or variable the services
are given). Each key has an id (`kid`) named in every token's header, so a new key can be introduced beside the
old one and the old one retired once its last tokens have expired.
"""

import base64
import hashlib
import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALGORITHM = "EdDSA"


class SigningKeyError(ValueError):
    pass


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_jwk(public_key: Ed25519PublicKey) -> dict[str, str]:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": base64.urlsafe_b64encode(raw).rstrip(b"=").decode(),
        "kid": key_id(public_key),
        "alg": ALGORITHM,
        "use": "sig",
    }


@dataclass(frozen=True)
class SigningKey:
    """The private key tokens are signed with, and the public keys that verify them (this one and any retired)."""

    private_key: Ed25519PrivateKey
    retired: tuple[Ed25519PublicKey, ...] = ()

    @classmethod
    def from_pem(cls, pem: str | bytes, retired_jwks: str | None = None) -> "SigningKey":
        try:
            key = serialization.load_pem_private_key(pem.encode() if isinstance(pem, str) else pem, password=None)
        except (ValueError, TypeError) as error:
            raise SigningKeyError("the staff-token signing key is not an unencrypted PEM private key") from error
        if not isinstance(key, Ed25519PrivateKey):
            raise SigningKeyError(
                "the staff-token signing key must be an Ed25519 key (openssl genpkey -algorithm ed25519)"
            )
        retired = tuple(Jwks.parse(retired_jwks).public_keys()) if retired_jwks else ()
        return cls(key, retired)

    @property
    def kid(self) -> str:
        return key_id(self.private_key.public_key())

    def jwks(self) -> dict[str, Any]:
        current = self.private_key.public_key()
        keys = [public_jwk(current), *(public_jwk(key) for key in self.retired if key_id(key) != key_id(current))]
        return {"keys": keys}


class Jwks:
    """A JWK Set's Ed25519 keys, by key id."""

    def __init__(self, keys: Mapping[str, jwt.PyJWK]) -> None:
        self._keys = dict(keys)

    @classmethod
    def parse(cls, document: str) -> "Jwks":
        try:
            keys = json.loads(document)["keys"]
            found = {key["kid"]: jwt.PyJWK(key, algorithm=ALGORITHM) for key in keys if key.get("kty") == "OKP"}
        except (ValueError, KeyError, TypeError, jwt.PyJWKError) as error:
            raise SigningKeyError("the staff-token public keys are not a JWK Set of Ed25519 keys") from error
        return cls(found)

    def key(self, kid: str) -> jwt.PyJWK | None:
        return self._keys.get(kid)

    def public_keys(self) -> list[Ed25519PublicKey]:
        return [key.key for key in self._keys.values()]

    def __len__(self) -> int:
        return len(self._keys)


class PublishedKeys:
    """The public keys a service verifies with: given as a JWK Set (AUTH_JWKS), or read from a file
    (AUTH_JWKS_FILE) and read again when a token names a key not seen yet, at most once a second, so that a key
    intake introduced (or made on its first start in development) is picked up without a restart."""

    def __init__(self, *, document: str | None = None, path: str | Path | None = None) -> None:
        self._path = Path(path) if path is not None and document is None else None
        self._jwks = Jwks.parse(document) if document is not None else Jwks({})
        self._read_at = 0.0
        if self._path is not None:
            self._read()

    def key(self, kid: str) -> jwt.PyJWK | None:
        found = self._jwks.key(kid)
        if found is None and self._path is not None and time.monotonic() - self._read_at >= 1.0:
            self._read()
            found = self._jwks.key(kid)
        return found

    def _read(self) -> None:
        self._read_at = time.monotonic()
        assert self._path is not None
        try:
            self._jwks = Jwks.parse(self._path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            pass


def development_signing_key(path: str | Path) -> SigningKey:
    """The key in `path`, generated there on first use (mode 0600), with the public keys beside it in
    `jwks.json`; safe when several processes start at once. For development only: production is given its key."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # made by another process meanwhile
        else:
            with os.fdopen(descriptor, "wb") as file:
                file.write(pem)
    key = SigningKey.from_pem(path.read_bytes())
    jwks_path = path.parent / "jwks.json"
    published = json.dumps(key.jwks(), indent=2)
    if not jwks_path.exists() or jwks_path.read_text(encoding="utf-8") != published:
        partial = jwks_path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(published, encoding="utf-8")
        partial.replace(jwks_path)
    return key
