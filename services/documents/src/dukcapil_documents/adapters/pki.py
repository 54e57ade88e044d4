"""The office's document-signing certificate, for the signature inside each PDF (PAdES), and the certificates
that a PDF's signature must chain to (`cryptography`).

Production: the office's own certificate (e.g. issued by BSrE, the government's signing authority), from a
PKCS#12 file and its passphrase, or from PEM files (key, certificate, chain). Development: a development CA and a
document-signing certificate it issued, made on first start under `var/pki/` (keys mode 0600, never committed);
both say in their names that they are for development only, and production refuses them.
"""

import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

log = structlog.get_logger(__name__)

OFFICE = "Dinas Kependudukan dan Pencatatan Sipil Kabupaten Lebak"
DEVELOPMENT_UNIT = "PENGEMBANGAN - development certificate, not for production"
"""The organisational unit of every development certificate: how production recognises and refuses them."""
CA_FILE, CA_KEY_FILE = "development-ca.pem", "development-ca-key.pem"
CERTIFICATE_FILE, KEY_FILE = "document-signing.pem", "document-signing-key.pem"
CA_YEARS, CERTIFICATE_YEARS = 10, 3

SigningKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey | ed448.Ed448PrivateKey


class CertificateError(ValueError):
    """The configured certificate cannot sign documents; `problems` says every reason, no secret in any."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = list(problems)


@dataclass(frozen=True)
class OfficeCertificate:
    key: SigningKey
    certificate: x509.Certificate
    chain: tuple[x509.Certificate, ...]
    """The certificates between the signer's and its root, the root included where it is known."""
    trust_roots: tuple[x509.Certificate, ...]
    """The roots a PDF's signature must chain to: given, or else the self-signed certificates of the chain."""

    @property
    def development(self) -> bool:
        return any(is_development(certificate) for certificate in (self.certificate, *self.chain, *self.trust_roots))

    @property
    def subject(self) -> str:
        return self.certificate.subject.rfc4514_string()

    def problems(self, at: datetime | None = None) -> list[str]:
        """Why this certificate cannot sign documents that verify, if it cannot."""
        at = at or datetime.now(UTC)
        problems = []
        if self.key.public_key() != self.certificate.public_key():
            problems.append("the private key does not belong to the certificate")
        if not self.certificate.not_valid_before_utc <= at <= self.certificate.not_valid_after_utc:
            problems.append(
                f"the certificate is valid from {self.certificate.not_valid_before_utc:%Y-%m-%d} to "
                f"{self.certificate.not_valid_after_utc:%Y-%m-%d} only"
            )
        if not self.trust_roots:
            problems.append(
                "no root certificate to trust: add the issuing CA's certificates (up to its root) to the chain or name "
                "a trust roots file"
            )
        elif chain_to_root(self.certificate, [*self.chain, *self.trust_roots], self.trust_roots) is None:
            problems.append("the certificate does not chain to a trusted root through the certificates given")
        return problems


def is_development(certificate: x509.Certificate) -> bool:
    units = certificate.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    return any(unit.value == DEVELOPMENT_UNIT for unit in units)


def chain_to_root(
    certificate: x509.Certificate, candidates: Sequence[x509.Certificate], roots: Sequence[x509.Certificate]
) -> list[x509.Certificate] | None:
    """The path from `certificate` up to one of `roots` through `candidates`, checked signature by signature."""
    path, current = [certificate], certificate
    for _ in range(len(candidates) + 1):
        if current in roots:
            return path
        issuer = next((candidate for candidate in candidates if _issued(current, candidate)), None)
        if issuer is None or issuer in path:
            return None
        path.append(issuer)
        current = issuer
    return None


def _issued(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    if certificate == issuer and certificate.issuer != certificate.subject:
        return False
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def read_certificates(path: str | Path) -> list[x509.Certificate]:
    """Every certificate in a PEM file (several may follow one another), or the one in a DER file."""
    data = Path(path).read_bytes()
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificates(data)
        return [x509.load_der_x509_certificate(data)]
    except ValueError as error:
        raise CertificateError([f"{path} holds no readable certificate ({error})"]) from error


def self_signed(certificates: Sequence[x509.Certificate]) -> tuple[x509.Certificate, ...]:
    return tuple(certificate for certificate in certificates if certificate.issuer == certificate.subject)


def from_pkcs12(
    path: str | Path, passphrase: bytes | None, *, chain: Sequence[x509.Certificate] = (), trust_roots=()
) -> OfficeCertificate:
    """The key, certificate and chain of a PKCS#12 file (.p12, .pfx), e.g. as BSrE hands them out."""
    try:
        key, certificate, included = pkcs12.load_key_and_certificates(Path(path).read_bytes(), passphrase)
    except ValueError as error:
        # cryptography's message names neither the passphrase nor the key.
        raise CertificateError([f"{path} cannot be opened: a wrong passphrase, or not a PKCS#12 file"]) from error
    if key is None or certificate is None:
        raise CertificateError([f"{path} must hold the private key and its certificate"])
    return _office_certificate(key, certificate, [*included, *chain], trust_roots)


def from_pem(
    key_path: str | Path,
    certificate_path: str | Path,
    passphrase: bytes | None,
    *,
    chain: Sequence[x509.Certificate] = (),
    trust_roots: Sequence[x509.Certificate] = (),
) -> OfficeCertificate:
    """The key and certificate in PEM (or DER) files, with the chain given apart."""
    data = Path(key_path).read_bytes()
    try:
        if b"-----BEGIN" in data:
            key = serialization.load_pem_private_key(data, passphrase)
        else:
            key = serialization.load_der_private_key(data, passphrase)
    except (ValueError, TypeError) as error:
        raise CertificateError(
            [f"{key_path} cannot be read as a private key: a wrong or missing passphrase, or not a key"]
        ) from error
    [certificate, *rest] = read_certificates(certificate_path)
    return _office_certificate(key, certificate, [*rest, *chain], trust_roots)


def _office_certificate(
    key: object,
    certificate: x509.Certificate,
    chain: Sequence[x509.Certificate],
    trust_roots: Sequence[x509.Certificate],
) -> OfficeCertificate:
    if not isinstance(key, SigningKey):
        raise CertificateError([f"a {type(key).__name__} cannot sign documents: use an RSA, ECDSA or EdDSA key"])
    unique = tuple(dict.fromkeys(candidate for candidate in chain if candidate != certificate))
    return OfficeCertificate(
        key=key,
        certificate=certificate,
        chain=unique,
        trust_roots=tuple(trust_roots) or self_signed(unique),
    )


def development_certificate(directory: str | Path) -> OfficeCertificate:
    """The development CA and its document-signing certificate in `directory`, made there on first use; safe when
    several processes start at once (each makes a set in a folder of its own and the first one moved into place
    wins)."""
    directory = Path(directory)
    if not (directory / CERTIFICATE_FILE).exists():
        _make_development_pki(directory)
    key = serialization.load_pem_private_key((directory / KEY_FILE).read_bytes(), None)
    [certificate] = read_certificates(directory / CERTIFICATE_FILE)
    ca = read_certificates(directory / CA_FILE)
    return _office_certificate(key, certificate, ca, ca)


def _make_development_pki(directory: Path) -> None:
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", dir=directory.parent))
    try:
        for name, content, private in _development_files():
            descriptor = os.open(staging / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600 if private else 0o644)
            with os.fdopen(descriptor, "wb") as file:
                file.write(content)
        staging.chmod(0o700)
        try:
            # Fails if another process got there first (or the folder holds something): then its set is the one.
            os.rename(staging, directory)
        except OSError:
            if not (directory / CERTIFICATE_FILE).exists():
                raise
            return
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.warning(
        "signing_certificate_generated",
        path=str(directory),
        detail="A development CA and document-signing certificate were made. PDFs signed with them are for "
        "development only: set DOCUMENTS_CERTIFICATE_P12_FILE (or _KEY_FILE and _FILE) to the office's certificate "
        "in production.",
    )


def _development_files() -> list[tuple[str, bytes, bool]]:
    now = datetime.now(UTC) - timedelta(minutes=5)  # a clock slightly behind ours still accepts it
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("Disdukcapil Lebak Development CA")
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=365 * CA_YEARS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(certificates=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(_name("Disdukcapil Lebak Document Signing (development)"))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=365 * CERTIFICATE_YEARS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(certificates=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return [
        (CA_FILE, ca.public_bytes(serialization.Encoding.PEM), False),
        (CA_KEY_FILE, _pem(ca_key), True),
        (CERTIFICATE_FILE, certificate.public_bytes(serialization.Encoding.PEM), False),
        (KEY_FILE, _pem(key), True),
    ]


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "ID"),
            x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "Banten"),
            x509.NameAttribute(NameOID.LOCALITY_NAME, "Kabupaten Lebak"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, OFFICE),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, DEVELOPMENT_UNIT),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key_usage(*, certificates: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not certificates,
        content_commitment=not certificates,  # non-repudiation: what a document signature is checked for
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=certificates,
        crl_sign=certificates,
        encipher_only=False,
        decipher_only=False,
    )


def _pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
