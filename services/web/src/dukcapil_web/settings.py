"""The portal's settings (prefix WEB_). It has no database and no broker: it talks to the services' public HTTP
APIs, and keeps its sessions in memory or in Redis."""

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import SettingsConfigDict

from dukcapil_shared.settings import OfficeSettings


class WebSettings(OfficeSettings):
    model_config = SettingsConfigDict(env_prefix="WEB_", extra="ignore", hide_input_in_errors=True)

    host: str = "127.0.0.1"
    port: int = 8000
    forwarded_allow_ips: str = Field(
        default="",
        description="Proxies trusted to say the client's address (X-Forwarded-For), comma-separated, or *; by "
        "default none",
    )
    log_level: str = "INFO"
    log_json: bool = True
    graceful_timeout: float = Field(default=10.0, description="Seconds to let running requests finish at stop")

    intake_url: str = Field(default="http://127.0.0.1:8001", description="Intake's base URL (catalogue, requests)")
    documents_url: str = Field(
        default="http://127.0.0.1:8003", description="The documents service's base URL (verification, downloads)"
    )
    review_url: str = Field(default="http://127.0.0.1:8002", description="Review's base URL (the staff console)")
    shipping_url: str = Field(
        default="http://127.0.0.1:8004", description="The shipping service's base URL (the staff console)"
    )
    api_timeout: float = Field(default=10.0, description="Seconds before one call to a service gives up")
    catalogue_cache_seconds: float = Field(default=60.0, description="How long the catalogue is kept between reads")

    session_secret: SecretStr = Field(
        default=SecretStr("development-only-web-session-secret"),
        description="Signs the session cookie and encrypts what the session keeps (the access codes followed)",
    )
    session_store_url: str = Field(
        default="memory://",
        description="Where sessions are kept: memory:// (this process; for one replica) or redis://host:6379/0 "
        "(shared by every replica)",
    )
    session_idle_minutes: int = Field(default=30, ge=1, description="A session unused this long is forgotten")
    session_max_in_memory: int = Field(default=10_000, ge=100, description="Sessions kept at most in memory://")
    cookie_secure: bool | None = Field(
        default=None,
        description="Send cookies only over HTTPS; by default when the request came over HTTPS (as the gateway or a "
        "trusted proxy says)",
    )

    rate_limit_storage_url: str = Field(
        default="async+memory://", validation_alias=AliasChoices("RATE_LIMIT_STORAGE_URL")
    )
    rate_limit_key_prefix: str = Field(default="dukcapil", validation_alias=AliasChoices("RATE_LIMIT_KEY_PREFIX"))
    form_rate_limit: str = Field(default="30/minute", description="Form submissions per client address")
    follow_rate_limit: str = Field(
        default="10/minute", description="Attempts to open a request with its number and code, per client address"
    )
    upload_max_bytes: int = Field(
        default=11 * 1024 * 1024,
        description="Largest upload the portal passes on (a scan or a PDF to verify); the services have their own",
    )

    def secret(self) -> str:
        return self.session_secret.get_secret_value()

    def production_problems(self) -> list[str]:
        """Besides the development default (named by OfficeSettings): a session secret long enough to sign with."""
        problems = super().production_problems()
        if not problems and len(self.secret()) < 32:
            problems.append("WEB_SESSION_SECRET (or the file WEB_SESSION_SECRET_FILE) must be at least 32 characters")
        return problems
