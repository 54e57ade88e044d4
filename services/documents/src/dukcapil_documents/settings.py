from pathlib import Path
from typing import Self

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from dukcapil_shared.settings import ServiceSettings


class DocumentsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="DOCUMENTS_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///var/documents.db"
    port: int = 8003
    storage_dir: str = Field(default="var/documents", description="Where the issued PDFs are stored")
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

    @model_validator(mode="after")
    def _production_signs_with_the_office_key(self) -> Self:
        """In production a document is signed with the office's own key, never one generated on the spot, and
        names the real head of the office."""
        if self.environment != "production":
            return self
        problems = []
        if self.signing_key is None and not Path(self.signing_key_file).is_file():
            problems.append("set DOCUMENTS_SIGNING_KEY or point DOCUMENTS_SIGNING_KEY_FILE at the office's key")
        if "PENGEMBANGAN" in self.signer_name or set(self.signer_nip) == {"0"}:
            problems.append("set DOCUMENTS_SIGNER_NAME and DOCUMENTS_SIGNER_NIP to the head of the office")
        if problems:
            raise ValueError("ENVIRONMENT=production: " + "; ".join(problems))
        return self
