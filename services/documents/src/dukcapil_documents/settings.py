from pydantic import Field, SecretStr
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
    staff_token: SecretStr = Field(
        default=SecretStr("development-only-staff-token"),
        description="Shared secret staff send as X-Staff-Token to revoke, correct and read documents",
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
