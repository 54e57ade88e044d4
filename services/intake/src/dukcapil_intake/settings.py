from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from dukcapil_shared.settings import ServiceSettings


class IntakeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///var/intake.db"
    port: int = 8001
    attachments_dir: str = Field(default="var/attachments", description="Where uploaded scans are kept")
    max_attachment_bytes: int = Field(default=5 * 1024 * 1024, description="Largest scan accepted, in bytes")
    staff_token: SecretStr = Field(
        default=SecretStr("development-only-staff-token"),
        description="Shared secret staff send as X-Staff-Token to read scans (until staff accounts arrive)",
    )
    recording_capacity: int = Field(default=40, description="e-KTP recordings a kecamatan office takes per day")
