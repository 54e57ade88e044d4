from pydantic import Field
from pydantic_settings import SettingsConfigDict

from dukcapil_shared.settings import ServiceSettings


class ReviewSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REVIEW_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///var/review.db"
    port: int = 8002
    auto_approve_types: list[str] = Field(
        default_factory=list,
        description='Request types approved without a person, e.g. ["biodata_wni"]; empty means all are manual',
    )
