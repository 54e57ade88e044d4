"""What every service's settings class has in common; each service subclasses it with its own prefix.

A service runs in production unless told otherwise (`ENVIRONMENT=development`, which `make run` and the tests
set). Development defaults of secrets start with `development-only`: they let `make run` work on a fresh machine,
and in production a service refuses to start while any of them, or any other development stand-in, is still in
place, naming each problem in one message and never printing a secret.
"""

from pathlib import Path
from typing import Literal, Self

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url
from yarl import URL

DEVELOPMENT_ONLY = "development-only"


class ProductionMisconfigured(ValueError):
    pass


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", hide_input_in_errors=True)

    environment: Literal["development", "production"] = Field(
        default="production",
        validation_alias=AliasChoices("ENVIRONMENT"),
        description="production (the default) refuses every development-only default; `make run` sets development; one "
        "variable for all services",
    )
    amqp_url: str = Field(
        default="amqp://guest:guest@localhost:5672/",
        validation_alias=AliasChoices("AMQP_URL"),
        description="RabbitMQ URL (host, port, virtual host), one variable for all services; each service signs in "
        "as its own broker user (broker_password), not with credentials written here",
    )
    broker_user_prefix: str = Field(
        default="dukcapil-",
        validation_alias=AliasChoices("BROKER_USER_PREFIX"),
        description="Each service's broker user is this prefix and its name (dukcapil-intake, ...); one variable for "
        "all services",
    )
    broker_password: SecretStr | None = Field(
        default=None,
        description="This service's broker password, as provisioning set it (make run writes var/broker/)",
    )
    broker_password_file: str | None = Field(
        default=None, description="A file holding this service's broker password, instead of broker_password"
    )
    database_url: str = Field(description="sqlite+aiosqlite:///var/<service>.db or postgresql+asyncpg://...")
    database_password_file: str | None = Field(
        default=None,
        description="A file holding the database password, put into database_url (which then names none): a "
        "secret never written in a URL",
    )
    database_pool_size: int = Field(default=5, ge=1, description="PostgreSQL connections each process keeps open")
    database_max_overflow: int = Field(default=5, ge=0, description="More PostgreSQL connections allowed under load")
    migrate_on_start: bool = Field(
        default=True,
        description="Bring the database schema up to date at start; compose turns it off, runs the migrations as the "
        "database's owner role first (python -m dukcapil_shared.deploy migrate) and starts the service as a role "
        "that may only read and write rows",
    )
    host: str = "127.0.0.1"
    port: int
    forwarded_allow_ips: str = Field(
        default="",
        description="Proxies trusted to say the client's address (X-Forwarded-For), comma-separated, or *; by "
        "default none, so that a client cannot name an address of its choosing",
    )
    log_level: str = "INFO"
    log_json: bool = True
    prefetch: int = Field(default=20, description="Unacknowledged messages per consumer channel")
    consumer_batch_size: int = Field(
        default=20,
        ge=1,
        description="Deliveries a consumer applies together in one transaction at most, those that wait while its "
        "previous transaction runs (1: each on its own)",
    )
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

    # Staff tokens: intake signs them with its private key; every service checks them with intake's public keys.
    auth_jwks: str | None = Field(
        default=None,
        validation_alias=AliasChoices("AUTH_JWKS"),
        description="Intake's public keys for staff tokens, as the JWK Set intake serves at /.well-known/jwks.json; "
        "one variable for all services",
    )
    auth_jwks_file: str = Field(
        default="var/auth/jwks.json",
        validation_alias=AliasChoices("AUTH_JWKS_FILE"),
        description="Without AUTH_JWKS: a file holding that JWK Set (in development intake writes it beside its key)",
    )
    auth_token_issuer: str = Field(default="dukcapil-lebak", validation_alias=AliasChoices("AUTH_TOKEN_ISSUER"))
    auth_token_audience: str = Field(
        default="dukcapil-lebak-staff", validation_alias=AliasChoices("AUTH_TOKEN_AUDIENCE")
    )
    auth_oidc_jwks_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("AUTH_OIDC_JWKS_URL"),
        description="Check tokens from an OpenID Connect provider's keys instead (needs the two below)",
    )
    auth_oidc_issuer: str | None = Field(default=None, validation_alias=AliasChoices("AUTH_OIDC_ISSUER"))
    auth_oidc_audience: str | None = Field(default=None, validation_alias=AliasChoices("AUTH_OIDC_AUDIENCE"))
    auth_oidc_role_claim: str = Field(
        default="dukcapil_role",
        validation_alias=AliasChoices("AUTH_OIDC_ROLE_CLAIM"),
        description="The claim holding the role (kecamatan_operator, reviewer, ...)",
    )
    auth_oidc_kecamatan_claim: str = Field(
        default="kecamatan_code", validation_alias=AliasChoices("AUTH_OIDC_KECAMATAN_CLAIM")
    )
    rate_limit_storage_url: str = Field(
        default="async+memory://",
        validation_alias=AliasChoices("RATE_LIMIT_STORAGE_URL"),
        description="Where rate limits are counted: async+memory:// (per process, for one machine) or "
        "async+redis://host:6379 (shared by every replica)",
    )
    rate_limit_key_prefix: str = Field(
        default="dukcapil",
        validation_alias=AliasChoices("RATE_LIMIT_KEY_PREFIX"),
        description="Prefix of the counters' keys in Redis (one deployment's from another's)",
    )
    citizen_rate_limit: str = Field(
        default="30/minute", description="Calls per client address to the endpoints open to everyone"
    )

    # Tracing, under OpenTelemetry's own names; off while no endpoint is set. The exporter reads the rest of
    # the standard variables itself (OTEL_EXPORTER_OTLP_HEADERS, OTEL_TRACES_SAMPLER, OTEL_BSP_*...).
    otel_exporter_otlp_endpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices("OTEL_EXPORTER_OTLP_ENDPOINT"),
        description="OTLP/HTTP collector base URL, e.g. http://otel-collector:4318 (traces go to /v1/traces); "
        "one variable for all services",
    )
    otel_exporter_otlp_traces_endpoint: str | None = Field(
        default=None,
        validation_alias=AliasChoices("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"),
        description="Full URL for traces, instead of the base URL above",
    )
    otel_traces_exporter: Literal["otlp", "none"] = Field(
        default="otlp", validation_alias=AliasChoices("OTEL_TRACES_EXPORTER"), description="none turns tracing off"
    )
    otel_sdk_disabled: bool = Field(
        default=False, validation_alias=AliasChoices("OTEL_SDK_DISABLED"), description="true turns tracing off"
    )

    @property
    def otlp_traces_endpoint(self) -> str | None:
        """Where spans go, or None when tracing is off."""
        if self.otel_sdk_disabled or self.otel_traces_exporter == "none":
            return None
        if self.otel_exporter_otlp_traces_endpoint:
            return self.otel_exporter_otlp_traces_endpoint
        if self.otel_exporter_otlp_endpoint:
            return self.otel_exporter_otlp_endpoint.rstrip("/") + "/v1/traces"
        return None

    def database_connection_url(self) -> str:
        """database_url, with the password from database_password_file when one is given."""
        if self.database_password_file is None:
            return self.database_url
        password = Path(self.database_password_file).read_text(encoding="utf-8").strip()
        return make_url(self.database_url).set(password=password).render_as_string(hide_password=False)

    def broker_url(self, service: str) -> str:
        """The URL this service connects with: AMQP_URL as its own broker user when its password is given."""
        password = self.broker_password.get_secret_value() if self.broker_password else None
        if password is None and self.broker_password_file:
            password = Path(self.broker_password_file).read_text(encoding="utf-8").strip()
        url = URL(self.amqp_url)
        if password is None:
            return str(url)
        return str(url.with_user(f"{self.broker_user_prefix}{service}").with_password(password))

    @model_validator(mode="after")
    def _oidc_is_complete(self) -> Self:
        if self.auth_oidc_jwks_url and not (self.auth_oidc_issuer and self.auth_oidc_audience):
            raise ValueError("AUTH_OIDC_JWKS_URL needs AUTH_OIDC_ISSUER and AUTH_OIDC_AUDIENCE as well")
        return self

    @model_validator(mode="after")
    def _production_has_real_secrets(self) -> Self:
        if self.environment != "production":
            return self
        if problems := self.production_problems():
            raise ProductionMisconfigured(
                "ENVIRONMENT=production refuses what only development may use; fix each of these: "
                + "; ".join(problems)
            )
        return self

    def production_problems(self) -> list[str]:
        """What production refuses in these settings, each saying what to set; never a secret's value. A service's
        settings class adds its own."""
        problems = [
            f"{self._variable(name)} still has its development-only default"
            for name, value in self
            if isinstance(value, SecretStr) and value.get_secret_value().startswith(DEVELOPMENT_ONLY)
        ]
        if self.broker_password is None and self.broker_password_file is None:
            problems.append(
                f"set {self._variable('broker_password')} (or {self._variable('broker_password_file')}): each service "
                "signs in to RabbitMQ as its own user, never as the broker's administrator"
            )
        if self.needs_published_keys() and self.auth_jwks is None and not Path(self.auth_jwks_file).is_file():
            problems.append(
                "set AUTH_JWKS (intake's public keys, the JWK Set of its /.well-known/jwks.json) or point "
                "AUTH_JWKS_FILE at it"
            )
        return problems

    def needs_published_keys(self) -> bool:
        """Whether staff tokens are checked here with intake's published keys (not with an OpenID Connect provider's,
        nor, at intake, with the keys it signs with)."""
        return self.auth_oidc_jwks_url is None

    def _variable(self, name: str) -> str:
        alias = type(self).model_fields[name].validation_alias
        if isinstance(alias, AliasChoices):
            return str(alias.choices[0])
        return f"{self.model_config.get('env_prefix', '')}{name}".upper()
