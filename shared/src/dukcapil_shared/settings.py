"""What every service's settings class has in common; each service subclasses it with its own prefix.

A service runs in production unless told otherwise (`ENVIRONMENT=development`, which `make run` and the tests
set). Development defaults of secrets start with `development-only`: they let `make run` work on a fresh machine,
and in production a service refuses to start while any of them, or any other development stand-in, is still in
place, naming each problem in one message and never printing a secret.

Every secret setting can be given as a file too: `<VARIABLE>_FILE` names a file holding it (a mounted secret), e.g.
INTAKE_SMTP_PASSWORD_FILE for INTAKE_SMTP_PASSWORD. `load_settings` turns any refusal into one message for a person,
naming the variables at fault and never their values.
"""

import ipaddress
import os
import re
from pathlib import Path
from typing import Any, Literal, Self, TypeVar

from pydantic import AliasChoices, Field, SecretStr, ValidationError, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, SettingsError
from sqlalchemy.engine import make_url
from yarl import URL

DEVELOPMENT_ONLY = "development-only"

STAND_IN_HOSTS = frozenset({"notification-sinks", "courier-simulator", "register-simulator"})
"""Compose's development stand-ins (the dev profile): addresses production refuses for a real integration."""
STAND_IN_PORTS = frozenset({8010, 8011, 8025})
"""The stand-ins' ports on a developer's machine: the courier simulator, the SMS and the SMTP sinks."""


class SettingsProblems(ValueError):
    """What the settings refuse, each problem saying what to set; never a value."""

    intro = "fix each of these"

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"{self.intro}: " + "; ".join(problems))
        self.problems = problems


class ProductionMisconfigured(SettingsProblems):
    intro = "ENVIRONMENT=production refuses what only development may use; fix each of these"


class SettingsRefused(Exception):
    """The settings cannot be used: `str()` is one message for a person, naming every problem and no value."""

    def __init__(self, problems: list[str], *, production: bool = False) -> None:
        intro = ProductionMisconfigured.intro if production else SettingsProblems.intro
        super().__init__(intro + ":\n" + "\n".join(f"  - {problem}" for problem in problems))
        self.problems = problems


def is_loopback(url: str) -> bool:
    """Whether the URL's host is this machine (localhost, 127.0.0.0/8, ::1)."""
    host = (URL(url).host or "").strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_stand_in(host: str | None, port: int | None) -> bool:
    """A development stand-in's address: compose's stand-in hosts, or a stand-in's port on this machine."""
    host = (host or "").lower()
    return host in STAND_IN_HOSTS or (is_loopback(f"http://{host}/") and port in STAND_IN_PORTS)


def _is_secret(field: FieldInfo) -> bool:
    annotation = field.annotation
    return annotation is SecretStr or SecretStr in getattr(annotation, "__args__", ())


class SecretFiles(PydanticBaseSettingsSource):
    """`<VARIABLE>_FILE` for every secret setting that has no `*_file` setting of its own: the secret is read from
    that file (surrounding white space removed). The variable itself, when also set, wins. A file that cannot be
    read is a problem the settings report with the others (never what the file holds)."""

    def __init__(self, settings_cls: type[BaseSettings], init_kwargs: dict[str, Any]) -> None:
        super().__init__(settings_cls)
        self._init_kwargs = init_kwargs

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads every field at once

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        problems: list[str] = []
        fields = self.settings_cls.model_fields
        for name, field in fields.items():
            if not _is_secret(field) or f"{name}_file" in fields:
                continue
            variable = variable_name(self.settings_cls, name)
            path = self._init_kwargs.get(f"{name}_file") or os.environ.get(f"{variable}_FILE")
            if not path:
                continue
            values.setdefault("secret_files", {})[f"{variable}_FILE"] = path
            try:
                values[name] = Path(path).read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as error:
                reason = error.strerror if isinstance(error, OSError) else "not text"
                problems.append(f"{variable}_FILE names a file that cannot be read ({reason}): {path}")
        if problems:
            values["secret_file_problems"] = problems
        return values


def variable_name(settings_cls: type[BaseSettings], name: str) -> str:
    """The environment variable of a setting: its alias, or the class's prefix and its name."""
    alias = settings_cls.model_fields[name].validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return f"{settings_cls.model_config.get('env_prefix', '')}{name}".upper()


class OfficeSettings(BaseSettings):
    """What the services' and the portal's settings have in common: the environment, secrets from files, and one
    refusal naming every problem (in production, every development stand-in)."""

    model_config = SettingsConfigDict(extra="ignore", hide_input_in_errors=True)

    environment: Literal["development", "production"] = Field(
        default="production",
        validation_alias=AliasChoices("ENVIRONMENT"),
        description="production (the default) refuses every development-only default; `make run` sets development; one "
        "variable for all services",
    )
    secret_file_problems: list[str] = Field(
        default_factory=list, exclude=True, repr=False, description="Filled by SecretFiles; not a variable to set"
    )
    secret_files: dict[str, str] = Field(
        default_factory=dict, exclude=True, repr=False, description="Filled by SecretFiles; not a variable to set"
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        init_kwargs = getattr(init_settings, "init_kwargs", {})
        return (
            init_settings,
            env_settings,
            SecretFiles(settings_cls, init_kwargs),
            dotenv_settings,
            file_secret_settings,
        )

    @model_validator(mode="after")
    def _usable(self) -> Self:
        problems = self.configuration_problems()
        if self.environment == "production" and (production := self.production_problems()):
            raise ProductionMisconfigured([*problems, *production])
        if problems:
            raise SettingsProblems(problems)
        return self

    def configuration_problems(self) -> list[str]:
        """What no environment accepts (a subclass adds its own); never a secret's value."""
        return list(self.secret_file_problems)

    def production_problems(self) -> list[str]:
        """What production refuses in these settings, each saying what to set; never a secret's value. A service's
        settings class adds its own."""
        problems = [
            f"{self._variable(name)} still has its development-only default"
            for name, value in self
            if isinstance(value, SecretStr) and value.get_secret_value().startswith(DEVELOPMENT_ONLY)
        ]
        named_files = dict(self.secret_files)
        for name, field in type(self).model_fields.items():
            value = getattr(self, name)
            if name.endswith("_file") and isinstance(value, str) and value != field.default:
                named_files[self._variable(name)] = value
        development = Path("var").resolve()
        problems += [
            f"{variable} names {path}, under var/ where `make run` keeps development keys and passwords: give the "
            "office's own"
            for variable, path in named_files.items()
            if Path(path).resolve().is_relative_to(development)
        ]
        return problems

    def _variable(self, name: str) -> str:
        return variable_name(type(self), name)


Settings = TypeVar("Settings", bound=BaseSettings)


def load_settings(settings_cls: type[Settings]) -> Settings:
    """The settings from the environment, or SettingsRefused with every problem in one message for a person: the
    variables whose values are not of their type (never the values), and what the settings refuse (in production,
    every development stand-in) as if those variables were not set."""
    problems: list[str] = []
    set_aside: dict[str, str] = {}
    try:
        while True:
            try:
                settings = settings_cls()
            except SettingsError as error:
                # A list or a mapping that is not JSON stops the reading before any validation: set it aside (for
                # this reading only) and read again, so that the other problems are told in the same round.
                variable = _unparsable_variable(settings_cls, error)
                if variable is None:
                    raise SettingsRefused([*problems, str(error)]) from None
                problems.append(f"{variable}: not valid JSON for this setting (its value is not shown)")
                set_aside[variable] = os.environ.pop(variable)
                continue
            except ValidationError as error:
                more, production = _validation_problems(settings_cls, error)
                raise SettingsRefused([*problems, *more], production=production) from None
            if problems:
                raise SettingsRefused(problems)
            return settings
    finally:
        os.environ.update(set_aside)


def _unparsable_variable(settings_cls: type[BaseSettings], error: SettingsError) -> str | None:
    """The environment variable pydantic-settings could not parse (it names the field), as set in the environment."""
    found = re.search(r'field "(\w+)"', str(error))
    if found is None or found[1] not in settings_cls.model_fields:
        return None
    variable = variable_name(settings_cls, found[1])
    return next((name for name in os.environ if name.upper() == variable), None)


def _validation_problems(settings_cls: type[BaseSettings], error: ValidationError) -> tuple[list[str], bool]:
    problems: list[str] = []
    invalid: dict[str, Any] = {}
    production = False
    for item in error.errors(include_url=False):
        location = item["loc"]
        if not location:
            more, production = _model_problems(item)
            problems += more
            continue
        name = str(location[0])
        field = settings_cls.model_fields.get(name)
        variable = variable_name(settings_cls, name) if field else name.upper()
        problems.append(f"{variable}: {item['msg']} (its value is not shown)")
        if field is not None and not field.is_required():
            invalid[name] = field.get_default(call_default_factory=True)
    if invalid:  # what else is wrong, with the invalid values left out: all in one round
        try:
            settings_cls(**invalid)
        except ValidationError as rest:
            for item in rest.errors(include_url=False):
                if not item["loc"]:
                    more, production = _model_problems(item)
                    problems += more
    return problems, production


def _model_problems(item: Any) -> tuple[list[str], bool]:
    """The problems of a refusal by the settings' own validator, and whether production's."""
    cause = item.get("ctx", {}).get("error")
    if isinstance(cause, SettingsProblems):
        return cause.problems, isinstance(cause, ProductionMisconfigured)
    return [str(item["msg"]).removeprefix("Value error, ")], False


class ServiceSettings(OfficeSettings):
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
    database_password: SecretStr | None = Field(
        default=None,
        description="The database password, put into database_url (which then names none): a secret never written in "
        "a URL",
    )
    database_password_file: str | None = Field(
        default=None, description="A file holding the database password, instead of database_password"
    )
    database_pool_size: int = Field(
        default=10,
        ge=1,
        description="PostgreSQL connections each process keeps open once it has needed them (opened as they are)",
    )
    database_max_overflow: int = Field(
        default=0,
        ge=0,
        description="More PostgreSQL connections allowed under load, each closed after use: a new PostgreSQL backend "
        "per transaction beyond the pool, so 0 unless the server is short of connections",
    )
    access_log_days: int = Field(
        default=730,
        ge=1,
        description="Days the access log (who opened whose data, and why) is kept before a job inside the service "
        "purges it: longer than the personal data it audits (docs/security.md)",
    )
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
    api_docs: bool | None = Field(
        default=None,
        description="Serve the API's documentation (/docs, /redoc, /openapi.json); by default in development only",
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

    @property
    def serves_api_docs(self) -> bool:
        return self.api_docs if self.api_docs is not None else self.environment == "development"

    def database_connection_url(self) -> str:
        """database_url, with the password from database_password or database_password_file when one is given."""
        return database_connection_url(self.database_url, self.database_password, self.database_password_file)

    def broker_url(self, service: str) -> str:
        """The URL this service connects with: AMQP_URL as its own broker user when its password is given."""
        password = self.broker_password.get_secret_value() if self.broker_password else None
        if password is None and self.broker_password_file:
            password = Path(self.broker_password_file).read_text(encoding="utf-8").strip()
        url = URL(self.amqp_url)
        if password is None:
            return str(url)
        return str(url.with_user(f"{self.broker_user_prefix}{service}").with_password(password))

    def configuration_problems(self) -> list[str]:
        problems = super().configuration_problems()
        # Imported here: the portal's settings share this module and need no broker client.
        from dukcapil_shared.messaging.cluster import BrokerAddressesInvalid, broker_addresses

        try:
            broker_addresses(self.amqp_url)
        except BrokerAddressesInvalid as error:
            problems.append(str(error))
        if self.auth_oidc_jwks_url and not (self.auth_oidc_issuer and self.auth_oidc_audience):
            problems.append("AUTH_OIDC_JWKS_URL needs AUTH_OIDC_ISSUER and AUTH_OIDC_AUDIENCE as well")
        for name in ("broker_password_file", "database_password_file"):
            path = getattr(self, name)
            if path and not Path(path).is_file():
                problems.append(f"{self._variable(name)} names no file: {path}")
        return problems

    def production_problems(self) -> list[str]:
        problems = super().production_problems()
        if self.broker_password is None and self.broker_password_file is None:
            problems.append(
                f"set {self._variable('broker_password')} (or {self._variable('broker_password_file')}): each service "
                "signs in to RabbitMQ as its own user, never as the broker's administrator"
            )
        amqp = URL(self.amqp_url)
        if amqp.user == "guest" or amqp.password == "guest":
            problems.append(
                "AMQP_URL names the broker's guest account: give the broker's address and virtual host only "
                "(amqp://host:5672/vhost); each service signs in as its own user"
            )
        if self.broker_password is not None and self.broker_password.get_secret_value() == "guest":
            problems.append(f"{self._variable('broker_password')} is the broker's default password: provision one")
        if make_url(self.database_url).get_backend_name() == "sqlite":
            problems.append(
                f"set {self._variable('database_url')} to the office's PostgreSQL (postgresql+asyncpg://user@host/db): "
                "a SQLite file is for development"
            )
        if self.needs_published_keys() and self.auth_jwks is None:
            default = type(self).model_fields["auth_jwks_file"].default
            if self.auth_jwks_file == default:
                problems.append(
                    "set AUTH_JWKS (intake's public keys, the JWK Set of its /.well-known/jwks.json) or point "
                    f"AUTH_JWKS_FILE at it: {default} holds the keys of development's staff tokens"
                )
            elif not Path(self.auth_jwks_file).is_file():
                problems.append(f"AUTH_JWKS_FILE names no file: {self.auth_jwks_file}")
        return problems

    def needs_published_keys(self) -> bool:
        """Whether staff tokens are checked here with intake's published keys (not with an OpenID Connect provider's,
        nor, at intake, with the keys it signs with)."""
        return self.auth_oidc_jwks_url is None

    def is_development_default(self, name: str) -> bool:
        """Whether a path setting still names its default, a file `make run` writes under var/ (a development key)."""
        return getattr(self, name) == type(self).model_fields[name].default


def database_connection_url(url: str, password: SecretStr | None, password_file: str | None) -> str:
    """`url` with the password given beside it (as a value or in a file) put in: no password need be in a URL."""
    if password is None and password_file is None:
        return url
    secret = password.get_secret_value() if password else Path(str(password_file)).read_text("utf-8").strip()
    return make_url(url).set(password=secret).render_as_string(hide_password=False)
