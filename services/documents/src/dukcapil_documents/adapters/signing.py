"""The office's electronic signature: Ed25519 (`cryptography`), detached, over each document's signed payload.

The private key comes from configuration as PEM. Without one, a development key is generated on first start
into a file beside the database (never committed: `var/` is ignored) and the log says so. Retired keys stay
trusted for verification, so documents signed before a key change still verify.
"""

import base64
import binascii
import hashlib
import os
from pathlib import Path

import structlog
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from dukcapil_documents.service_layer.ports import DocumentSigner, PublicKey

log = structlog.get_logger(__name__)

ALGORITHM = "Ed25519"


class SigningKeyError(ValueError):
    pass


def key_id(public_key: Ed25519PublicKey) -> str:
    """The first 16 hex digits of the SHA-256 of the raw public key: short enough to print, unique enough."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


class Ed25519Signer(DocumentSigner):
    def __init__(self, private_key: Ed25519PrivateKey, retired: list[Ed25519PublicKey] | None = None) -> None:
        self._private_key = private_key
        self._key_id = key_id(private_key.public_key())
        self._trusted = {key_id(public_key): public_key for public_key in retired or []}
        self._trusted[self._key_id] = private_key.public_key()

    @classmethod
    def from_pem(cls, private_pem: str | bytes, retired_pems: list[str] | None = None) -> "Ed25519Signer":
        return cls(_private_key(private_pem), [_public_key(pem) for pem in retired_pems or []])

    @property
    def key_id(self) -> str:
        return self._key_id

    def sign(self, payload: bytes) -> str:
        return base64.b64encode(self._private_key.sign(payload)).decode()

    def verify(self, payload: bytes, signature: str, key_id: str) -> bool:
        public_key = self._trusted.get(key_id)
        if public_key is None or not signature:
            return False
        try:
            public_key.verify(base64.b64decode(signature, validate=True), payload)
        except (InvalidSignature, binascii.Error, ValueError):
            return False
        return True

    def public_keys(self) -> list[PublicKey]:
        return [
            PublicKey(
                key_id=identifier,
                algorithm=ALGORITHM,
                pem=public_key.public_bytes(
                    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
                ).decode(),
                current=identifier == self._key_id,
            )
            for identifier, public_key in self._trusted.items()
        ]


def development_key(path: str | Path) -> str:
    """The PEM in `path`, generated there on first use (mode 0600); safe when several processes start at once."""
    path = Path(path)
    if path.exists():
        return path.read_text()
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = (
        Ed25519PrivateKey.generate()
        .private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        .decode()
    )
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(pem)
    try:
        # A hard link fails if another process got there first: then its key is the one.
        os.link(temporary, path)
    except FileExistsError:
        return path.read_text()
    finally:
        temporary.unlink(missing_ok=True)
    log.warning(
        "signing_key_generated",
        path=str(path),
        detail="A development signing key was generated. Documents signed with it are for development only: "
        "set DOCUMENTS_SIGNING_KEY (an Ed25519 private key, PEM) in production.",
    )
    return pem


def _private_key(pem: str | bytes) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(pem.encode() if isinstance(pem, str) else pem, password=None)
    except (ValueError, TypeError) as error:
        raise SigningKeyError(f"the signing key is not a readable, unencrypted PEM private key: {error}") from error
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError(f"the signing key must be an Ed25519 key, not {type(key).__name__}")
    return key


def _public_key(pem: str) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except ValueError as error:
        raise SigningKeyError(f"a trusted public key is not a readable PEM public key: {error}") from error
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError(f"trusted public keys must be Ed25519 keys, not {type(key).__name__}")
    return key
