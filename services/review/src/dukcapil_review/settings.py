from pydantic import Field
from pydantic_settings import SettingsConfigDict

from dukcapil_review.domain.model import DEFAULT_SLA_HOURS
from dukcapil_shared.settings import ServiceSettings


class ReviewSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="REVIEW_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///var/review.db"
    port: int = 8002
    auto_approve_types: list[str] = Field(
        default_factory=list,
        description='Request types approved without a person when every pre-check passes, e.g. ["biodata_wni"]; '
        "empty means all are manual",
    )
    sla_hours: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_SLA_HOURS),
        description='Service-level target per request type in hours, e.g. {"biodata_wni": 24}; '
        "types not named keep their default",
    )
    claim_minutes: float = Field(default=30, gt=0, description="How long a claim lasts without any action")
