"""What every service's settings class has in common; each service subclasses it with its own prefix."""

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    amqp_url: str = Field(
        default="amqp://guest:guest@localhost:5672/",
        validation_alias=AliasChoices("AMQP_URL"),
        description="RabbitMQ URL, one variable for all services",
    )
    database_url: str = Field(description="sqlite+aiosqlite:///var/<service>.db or postgresql+asyncpg://...")
    host: str = "127.0.0.1"
    port: int
    log_level: str = "INFO"
    log_json: bool = True
    prefetch: int = Field(default=20, description="Unacknowledged messages per consumer channel")
    retry_delays_ms: list[int] = Field(
        default=[1_000, 5_000, 30_000, 120_000, 600_000],
        description="Delay before each retry of a failed event; their number is the number of retries",
    )
    broker_connect_timeout: float = Field(default=30.0, description="How long to wait for RabbitMQ at start")
    publish_timeout: float = Field(default=5.0, description="Upper bound on one publish, in seconds")
    outbox_poll_interval: float = Field(default=1.0, description="Seconds between outbox scans when idle")
    graceful_timeout: float = Field(default=20.0, description="Seconds to let running handlers finish at stop")
    readiness_timeout: float = Field(
        default=2.0, description="Seconds /readyz waits for the database and the broker before calling them gone"
    )
    max_request_bytes: int = Field(
        default=1024 * 1024,
        description="Largest request body an endpoint takes, in bytes, unless the route allows more (uploads); a "
        "larger one is answered 413 before it is read",
    )
    ops_token: SecretStr = Field(
        default=SecretStr("development-only-ops-token"),
        description="Shared secret operators send as X-Staff-Token to list, replay and discard dead letters and to "
        "read incidents; set a real one outside development",
    )
