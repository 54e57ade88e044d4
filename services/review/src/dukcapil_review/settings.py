from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from dukcapil_review.domain.model import DEFAULT_SLA_WORKING_DAYS
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
    sla_working_days: dict[str, int] = Field(
        default_factory=lambda: dict(DEFAULT_SLA_WORKING_DAYS),
        description='Service-level target per request type in working days, e.g. {"biodata_wni": 1}; types not '
        "named keep their default. Weekends, public holidays, cuti bersama and the office's days off do not count",
    )
    days_off_file: Path | None = Field(
        default=None,
        description="The office's own days off (a regional holiday, a day the office is closed), a CSV file of "
        "date,description lines, on top of Indonesia's public holidays and cuti bersama",
    )
    claim_minutes: float = Field(default=30, gt=0, description="How long a claim lasts without any action")
