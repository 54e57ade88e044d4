from pathlib import Path
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from dukcapil_review.domain.model import DEFAULT_SLA_WORKING_DAYS
from dukcapil_review.domain.register import DEFAULT_BLOCKING, REGISTER_CHECKS
from dukcapil_review.service_layer.register import DEFAULT_RETRY_DELAYS
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

    # The population register (SIAK) behind the register pre-checks.
    register_url: str = Field(
        default="http://127.0.0.1:8012",
        description="The population register's read-only lookup API; 8012 is the development simulator (python -m "
        "dukcapil_devtools.register_simulator); empty: no register is consulted and its pre-checks are left out",
    )
    register_api_key: SecretStr = Field(
        default=SecretStr("development-only-register-api-key"), description="Sent in the X-API-Key header"
    )
    register_api_key_file: str | None = Field(
        default=None, description="A file holding register_api_key instead (a mounted secret)"
    )
    register_timeout: float = Field(
        default=3.0,
        gt=0,
        description="Seconds all of one request's register lookups may take together; a register that has not "
        "answered by then leaves its checks not done, to be tried again",
    )
    register_pause: float = Field(
        default=10.0,
        ge=0,
        description="Seconds the register is not asked after it failed to answer (its checks are not done and tried "
        "again later), so that a register that is down does not slow every request",
    )
    register_retry_delays: list[float] = Field(
        default=[delay.total_seconds() for delay in DEFAULT_RETRY_DELAYS],
        description="Seconds before each new try of a request's register checks after the register did not answer; "
        "when they are used up the checks stay not done and a reviewer looks the people up",
    )
    register_retry_interval: float = Field(
        default=15.0, gt=0, description="Seconds between two rounds of retrying register checks that are due"
    )
    register_blocking: list[str] = Field(
        default_factory=lambda: sorted(DEFAULT_BLOCKING),
        description="The register checks that, failed, keep a request from automatic approval; the others are "
        f"warnings. Any of {', '.join(REGISTER_CHECKS)}",
    )

    @field_validator("register_blocking")
    @classmethod
    def _known_register_checks(cls, codes: list[str]) -> list[str]:
        unknown = sorted(set(codes) - set(REGISTER_CHECKS))
        if unknown:
            checks = ", ".join(REGISTER_CHECKS)
            raise ValueError(f"no such register check: {', '.join(unknown)}; the checks are {checks}")
        return codes

    def register_key(self) -> str:
        """register_api_key, or what register_api_key_file holds."""
        if self.register_api_key_file:
            return Path(self.register_api_key_file).read_text(encoding="utf-8").strip()
        return self.register_api_key.get_secret_value()

    def production_problems(self) -> list[str]:
        """Production consults the office's population register, never the simulator."""
        problems = super().production_problems()
        if self.register_api_key_file:
            variable = self._variable("register_api_key")
            problems = [problem for problem in problems if not problem.startswith(f"{variable} still has")]
        if self.register_url and _is_stand_in(self.register_url):
            problems.append("set REVIEW_REGISTER_URL to the population register's lookup API, not the simulator")
        return problems


_STAND_IN_HOSTS = {"localhost", "::1", "register-simulator"}


def _is_stand_in(url: str) -> bool:
    """This machine or compose's simulator: no population register an office decides requests with."""
    host = (urlsplit(url).hostname or "").lower()
    return host in _STAND_IN_HOSTS or host.startswith("127.") or host.endswith(".localhost")
