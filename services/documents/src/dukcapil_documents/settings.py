from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from dukcapil_documents.adapters import pki
from dukcapil_shared.settings import ServiceSettings, is_loopback

VERIFY_MAX_BYTES = 10 * 1024 * 1024


class DocumentsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DOCUMENTS_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///var/documents.db"
    port: int = 8003
    storage_dir: str = Field(default="var/documents", description="Where the issued PDFs are stored")
    downloads_per_document: str = Field(
        default="20/hour", description="Downloads of one document's PDF with a holder's link (staff are not counted)"
    )
    public_base_url: str = Field(
        default="http://127.0.0.1:8003",
        description="Public address of this service, printed in each document's QR code for verification",
    )
    signing_key: SecretStr | None = Field(
        default=None,
        description="The office's Ed25519 private key (PEM, unencrypted) that signs every document; "
        "required in production",
    )
    signing_key_file: str = Field(
        default="var/documents-signing-key.pem",
        description="Without signing_key: a development key read from this file, generated on first start",
    )
    trusted_public_keys: list[str] = Field(
        default_factory=list,
        description="Ed25519 public keys (PEM) of retired signing keys, so that older documents still verify",
    )
    certificate_p12_file: str | None = Field(
        default=None,
        description="The office's document-signing certificate as a PKCS#12 file (.p12/.pfx: key, certificate and "
        "chain), e.g. from BSrE; or give the three PEM files below instead",
    )
    certificate_key_file: str | None = Field(default=None, description="The certificate's private key (PEM or DER)")
    certificate_file: str | None = Field(default=None, description="The office's certificate (PEM or DER)")
    certificate_chain_file: str | None = Field(
        default=None, description="The issuing CA's certificates up to its root (PEM), when not in the files above"
    )
    certificate_passphrase: SecretStr | None = Field(
        default=None, description="The passphrase of the PKCS#12 file or of the private key"
    )
    trust_roots_file: str | None = Field(
        default=None,
        description="Root certificates (PEM) a PDF's signature must chain to; by default the root of the chain. "
        "Keep an old root here when the office changes CA, so that older documents still verify",
    )
    pki_dir: str = Field(
        default="var/pki",
        description="Without a configured certificate: a development CA and document-signing certificate, made here "
        "on first start",
    )
    timestamp_url: str | None = Field(
        default=None,
        description="An RFC 3161 timestamp authority for each signature (PAdES B-T); off by default (B-B)",
    )
    verify_max_bytes: int = Field(
        default=VERIFY_MAX_BYTES, gt=0, description="Largest PDF POST /verify takes, in bytes"
    )
    signer_name: str = Field(
        default="NAMA KEPALA DINAS (CONTOH PENGEMBANGAN)",
        description="The head of the office, printed in each document's signature block",
    )
    signer_nip: str = Field(
        default="000000000000000000", description="The head of the office's NIP (civil-servant number, 18 digits)"
    )
    templates_dir: str | None = Field(
        default=None,
        description="A folder of layout files (<type>.toml, office.toml) that replace the shipped ones",
    )

    @property
    def certificate_configured(self) -> bool:
        return bool(self.certificate_p12_file or self.certificate_key_file or self.certificate_file)

    def office_certificate(self) -> pki.OfficeCertificate:
        """The configured certificate, or else the development one (made on first use); CertificateError says
        every problem with it."""
        if not self.certificate_configured:
            return pki.development_certificate(self.pki_dir)
        problems = self._certificate_file_problems()
        if problems:
            raise pki.CertificateError(problems)
        passphrase = self.certificate_passphrase.get_secret_value().encode() if self.certificate_passphrase else None
        chain = pki.read_certificates(self.certificate_chain_file) if self.certificate_chain_file else []
        roots = pki.read_certificates(self.trust_roots_file) if self.trust_roots_file else []
        if self.certificate_p12_file:
            certificate = pki.from_pkcs12(self.certificate_p12_file, passphrase, chain=chain, trust_roots=roots)
        else:
            assert self.certificate_key_file and self.certificate_file
            certificate = pki.from_pem(
                self.certificate_key_file, self.certificate_file, passphrase, chain=chain, trust_roots=roots
            )
        problems = certificate.problems()
        if problems:
            raise pki.CertificateError(problems)
        return certificate

    def _certificate_file_problems(self) -> list[str]:
        problems = []
        pem = self.certificate_key_file or self.certificate_file
        if self.certificate_p12_file and pem:
            problems.append(
                "give DOCUMENTS_CERTIFICATE_P12_FILE or DOCUMENTS_CERTIFICATE_KEY_FILE and DOCUMENTS_CERTIFICATE_FILE, "
                "not both"
            )
        elif pem and not (self.certificate_key_file and self.certificate_file):
            problems.append("DOCUMENTS_CERTIFICATE_KEY_FILE and DOCUMENTS_CERTIFICATE_FILE go together")
        for name in ("certificate_p12_file", "certificate_key_file", "certificate_file", "certificate_chain_file",
                     "trust_roots_file"):  # fmt: skip
            path = getattr(self, name)
            if path and not Path(path).is_file():
                problems.append(f"DOCUMENTS_{name.upper()} names no file: {path}")
        return problems

    def needs_published_keys(self) -> bool:
        return True  # holders' download links are signed by intake, whoever signs staff tokens

    def production_problems(self) -> list[str]:
        """In production a document is signed with the office's own key and certificate, never ones made on the
        spot, and names the real head of the office."""
        problems = super().production_problems()
        if self.signing_key is None and self.is_development_default("signing_key_file"):
            problems.append(
                "set DOCUMENTS_SIGNING_KEY or DOCUMENTS_SIGNING_KEY_FILE to the office's key: "
                f"{self.signing_key_file} is the development key `make run` writes"
            )
        elif self.signing_key is None and not Path(self.signing_key_file).is_file():
            problems.append(f"DOCUMENTS_SIGNING_KEY_FILE names no file: {self.signing_key_file}")
        if is_loopback(self.public_base_url) or not self.public_base_url.startswith(("https://", "http://")):
            problems.append(
                "set DOCUMENTS_PUBLIC_BASE_URL to the office's public address (https://...): it is printed in every "
                "document's QR code"
            )
        if "PENGEMBANGAN" in self.signer_name or set(self.signer_nip) == {"0"}:
            problems.append("set DOCUMENTS_SIGNER_NAME and DOCUMENTS_SIGNER_NIP to the head of the office")
        problems.extend(self._production_certificate_problems())
        return problems

    def _production_certificate_problems(self) -> list[str]:
        if not self.certificate_configured:
            return [
                "set DOCUMENTS_CERTIFICATE_P12_FILE and DOCUMENTS_CERTIFICATE_PASSPHRASE (or "
                "DOCUMENTS_CERTIFICATE_KEY_FILE and DOCUMENTS_CERTIFICATE_FILE) to the office's document-signing "
                "certificate, e.g. issued by BSrE: production never signs with the development CA"
            ]
        try:
            certificate = self.office_certificate()
        except pki.CertificateError as error:
            return [f"the office's certificate: {problem}" for problem in error.problems]
        if certificate.development:
            return ["the configured certificate is a development one (made by the development CA): use the office's"]
        return []
