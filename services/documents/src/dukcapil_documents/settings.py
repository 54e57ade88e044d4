from pydantic import Field
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
