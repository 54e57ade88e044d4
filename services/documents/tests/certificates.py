"""Certificates shaped like the office's real ones, for tests: a root CA (standing in for BSrE's), an intermediate,
and the office's RSA document-signing certificate, handed out as a PKCS#12 file or as PEM files."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

PASSPHRASE = "kata-sandi-rahasia-p12"


@dataclass(frozen=True)
class Issued:
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    certificate: x509.Certificate


def _name(common_name: str, organization: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "ID"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def issue(
    common_name: str,
    *,
    issuer: Issued | None = None,
    ca: bool = False,
    organization: str = "Balai Sertifikasi Elektronik (test)",
    days: int = 365,
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | None = None,
) -> Issued:
    key = key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = _name(common_name, organization)
    now = datetime.now(UTC) - timedelta(minutes=1)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.certificate.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=not ca,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if issuer:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()), critical=False
        )
    return Issued(key, builder.sign(issuer.key if issuer else key, hashes.SHA256()))


@dataclass(frozen=True)
class OfficeChain:
    root: Issued
    intermediate: Issued
    office: Issued

    def pkcs12(self, path: Path, passphrase: str = PASSPHRASE) -> Path:
        path.write_bytes(
            pkcs12.serialize_key_and_certificates(
                b"disdukcapil-lebak",
                self.office.key,
                self.office.certificate,
                [self.intermediate.certificate, self.root.certificate],
                serialization.BestAvailableEncryption(passphrase.encode()),
            )
        )
        return path

    def pem_files(self, directory: Path, passphrase: str | None = PASSPHRASE) -> tuple[Path, Path, Path]:
        """The key (encrypted with `passphrase`), the certificate, and the chain (intermediate and root)."""
        encryption = (
            serialization.BestAvailableEncryption(passphrase.encode()) if passphrase else serialization.NoEncryption()
        )
        key = directory / "office-key.pem"
        key.write_bytes(
            self.office.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
        )
        certificate = directory / "office.pem"
        certificate.write_bytes(self.office.certificate.public_bytes(serialization.Encoding.PEM))
        chain = directory / "chain.pem"
        chain.write_bytes(
            b"".join(
                issued.certificate.public_bytes(serialization.Encoding.PEM) for issued in (self.intermediate, self.root)
            )
        )
        return key, certificate, chain


def an_office_chain(*, office_days: int = 365) -> OfficeChain:
    root = issue("Root CA (test)", ca=True, days=3650)
    intermediate = issue("BSrE (test)", issuer=root, ca=True, days=1825)
    office = issue(
        "Kepala Dinas Kependudukan dan Pencatatan Sipil Kabupaten Lebak",
        issuer=intermediate,
        organization="Pemerintah Kabupaten Lebak",
        days=office_days,
    )
    return OfficeChain(root, intermediate, office)
