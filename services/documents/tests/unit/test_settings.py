import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from dukcapil_documents.adapters import pki
from dukcapil_documents.settings import DocumentsSettings
from dukcapil_shared.auth.keys import SigningKey

from ..certificates import PASSPHRASE, an_office_chain

JWKS = json.dumps(SigningKey(Ed25519PrivateKey.generate()).jwks())


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """ENVIRONMENT=production with every shared secret set, and nothing of documents' own."""
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("AUTH_JWKS", JWKS)
    monkeypatch.setenv("DOCUMENTS_BROKER_PASSWORD", "documents-broker-password")
    monkeypatch.setenv("AMQP_URL", "amqp://rabbitmq:5672/dukcapil")
    monkeypatch.setenv("DOCUMENTS_DATABASE_URL", "postgresql+asyncpg://documents@postgres:5432/documents")
    monkeypatch.setenv("DOCUMENTS_PUBLIC_BASE_URL", "https://dukcapil.lebakkab.go.id")
    for variable in ("SIGNING_KEY", "CERTIFICATE_P12_FILE", "CERTIFICATE_KEY_FILE", "CERTIFICATE_FILE"):
        monkeypatch.delenv(f"DOCUMENTS_{variable}", raising=False)
    return tmp_path


def office_settings(directory: Path, **changes: object) -> dict[str, object]:
    key = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return {
        "signing_key": key.decode(),
        "signer_name": "Drs. H. Contoh Pejabat, M.Si.",
        "signer_nip": "197001011990011001",
        "certificate_p12_file": str(an_office_chain().pkcs12(directory / "office.p12")),
        "certificate_passphrase": PASSPHRASE,
        "pki_dir": str(directory / "pki"),
        **changes,
    }


def refusal(**settings: object) -> str:
    with pytest.raises(ValidationError) as refused:
        DocumentsSettings(**settings)
    return str(refused.value)


def test_production_lists_every_problem_in_one_message(production: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AUTH_JWKS")
    monkeypatch.delenv("DOCUMENTS_BROKER_PASSWORD")
    monkeypatch.chdir(production)  # no var/auth/jwks.json here
    message = refusal(signing_key_file=str(production / "absent.pem"), pki_dir=str(production / "pki"))
    assert message.count("ENVIRONMENT=production") == 1
    for problem in (
        "set AUTH_JWKS",
        "set DOCUMENTS_BROKER_PASSWORD",
        "DOCUMENTS_SIGNING_KEY_FILE names no file",
        "set DOCUMENTS_SIGNER_NAME and DOCUMENTS_SIGNER_NIP",
        "set DOCUMENTS_CERTIFICATE_P12_FILE and DOCUMENTS_CERTIFICATE_PASSPHRASE",
        "production never signs with the development CA",
    ):
        assert problem in message, problem
    assert not (production / "pki").exists(), "production makes no development certificate"


def test_production_refuses_the_development_ca(production: Path) -> None:
    development = pki.development_certificate(production / "pki")
    message = refusal(
        **office_settings(
            production,
            certificate_p12_file=None,
            certificate_key_file=str(production / "pki" / pki.KEY_FILE),
            certificate_file=str(production / "pki" / pki.CERTIFICATE_FILE),
            certificate_chain_file=str(production / "pki" / pki.CA_FILE),
            certificate_passphrase=None,
        )
    )
    assert development.development and "the configured certificate is a development one" in message


def test_production_says_what_is_wrong_with_the_certificate_never_the_secrets(production: Path) -> None:
    wrong = refusal(**office_settings(production, certificate_passphrase="tebakan-yang-salah"))
    assert "office.p12 cannot be opened: a wrong passphrase, or not a PKCS#12 file" in wrong
    both = refusal(**office_settings(production, certificate_key_file=str(production / "k.pem"), certificate_file=None))
    assert "not both" in both and "DOCUMENTS_CERTIFICATE_KEY_FILE names no file" in both
    for message in (wrong, both):
        assert "tebakan-yang-salah" not in message and PASSPHRASE not in message and "PRIVATE KEY" not in message
        assert "documents-broker-password" not in message


def test_production_starts_with_the_offices_certificate(production: Path) -> None:
    settings = DocumentsSettings(**office_settings(production))
    certificate = settings.office_certificate()
    assert not certificate.development and certificate.subject.startswith("CN=Kepala Dinas")
    assert not (production / "pki").exists()


def test_pem_files_with_a_chain_and_named_trust_roots_are_accepted(tmp_path: Path) -> None:
    chain = an_office_chain()
    key, certificate, chain_file = chain.pem_files(tmp_path)
    (tmp_path / "roots.pem").write_bytes(chain.root.certificate.public_bytes(serialization.Encoding.PEM))
    settings = DocumentsSettings(
        certificate_key_file=str(key),
        certificate_file=str(certificate),
        certificate_chain_file=str(chain_file),
        certificate_passphrase=PASSPHRASE,
        trust_roots_file=str(tmp_path / "roots.pem"),
    )
    office = settings.office_certificate()
    assert office.certificate == chain.office.certificate and office.trust_roots == (chain.root.certificate,)


def test_a_broken_certificate_stops_development_too(tmp_path: Path) -> None:
    settings = DocumentsSettings(certificate_file=str(tmp_path / "office.pem"))
    with pytest.raises(pki.CertificateError) as refused:
        settings.office_certificate()
    assert refused.value.problems == [
        "DOCUMENTS_CERTIFICATE_KEY_FILE and DOCUMENTS_CERTIFICATE_FILE go together",
        f"DOCUMENTS_CERTIFICATE_FILE names no file: {tmp_path / 'office.pem'}",
    ]
