import base64
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from dukcapil_documents.adapters.signing import Ed25519Signer, SigningKeyError, development_key, key_id


def pem(key: Ed25519PrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def public_pem(key: Ed25519PrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def test_a_signature_verifies_for_its_payload_only() -> None:
    signer = Ed25519Signer(Ed25519PrivateKey.generate())
    signature = signer.sign(b"payload")
    assert len(base64.b64decode(signature)) == 64
    assert signer.verify(b"payload", signature, signer.key_id)
    assert not signer.verify(b"payload!", signature, signer.key_id)
    assert not signer.verify(b"payload", signature, "0000000000000000")
    assert not signer.verify(b"payload", "", signer.key_id)
    assert not signer.verify(b"payload", "not base64!", signer.key_id)
    assert not signer.verify(b"payload", base64.b64encode(b"x" * 64).decode(), signer.key_id)


def test_a_key_from_pem_has_a_stable_short_id() -> None:
    key = Ed25519PrivateKey.generate()
    signer = Ed25519Signer.from_pem(pem(key))
    assert signer.key_id == key_id(key.public_key()) == Ed25519Signer.from_pem(pem(key)).key_id
    assert len(signer.key_id) == 16 and int(signer.key_id, 16) >= 0


def test_documents_signed_with_a_retired_key_still_verify() -> None:
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    old_signer = Ed25519Signer(old)
    signature = old_signer.sign(b"payload")

    assert not Ed25519Signer(new).verify(b"payload", signature, old_signer.key_id)
    rotated = Ed25519Signer.from_pem(pem(new), [public_pem(old)])
    assert rotated.verify(b"payload", signature, old_signer.key_id)
    assert rotated.key_id == key_id(new.public_key())
    assert {(key.key_id, key.current) for key in rotated.public_keys()} == {
        (old_signer.key_id, False),
        (rotated.key_id, True),
    }
    assert all(key.pem.startswith("-----BEGIN PUBLIC KEY-----") for key in rotated.public_keys())


def test_only_an_unencrypted_ed25519_key_is_accepted() -> None:
    ecdsa = generate_private_key(SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(SigningKeyError, match="Ed25519"):
        Ed25519Signer.from_pem(ecdsa)
    with pytest.raises(SigningKeyError, match="PEM"):
        Ed25519Signer.from_pem("-----BEGIN PRIVATE KEY-----\nnonsense\n-----END PRIVATE KEY-----\n")
    with pytest.raises(SigningKeyError, match="public key"):
        Ed25519Signer.from_pem(pem(Ed25519PrivateKey.generate()), ["not a key"])


def test_a_development_key_is_generated_once_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "var" / "documents-signing-key.pem"
    first = development_key(path)
    assert first.startswith("-----BEGIN PRIVATE KEY-----")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert development_key(path) == first
    assert Ed25519Signer.from_pem(first).key_id == Ed25519Signer.from_pem(path.read_text()).key_id
    assert [p.name for p in path.parent.iterdir()] == [path.name], "no temporary file left behind"
