from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict
from yarl import URL

from dukcapil_intake.incidents.domain.incidents import DEFAULT_STALL_HOURS
from dukcapil_shared.settings import ServiceSettings, is_loopback, is_stand_in


class IntakeSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///var/intake.db"
    port: int = 8001
    attachments_dir: str = Field(default="var/attachments", description="Where uploaded scans are kept")
    max_attachment_bytes: int = Field(default=5 * 1024 * 1024, description="Largest scan accepted, in bytes")
    max_scan_pixels: int = Field(
        default=50_000_000,
        gt=0,
        description="Largest image accepted, in pixels (width times height): an A4 page at 600 dpi has 35 million",
    )
    max_scan_pages: int = Field(default=50, gt=0, description="Most pages a PDF scan may have")
    scan_inspections: int = Field(
        default=2,
        gt=0,
        description="Scans decoded at the same time (each a worker thread; a large image takes "
        "about 3 bytes of memory per pixel)",
    )
    scan_inspection_timeout: float = Field(default=30.0, gt=0, description="Seconds a scan may take to decode")
    token_minutes: int = Field(default=60, gt=0, le=24 * 60, description="How long a staff token is valid")
    signing_key: SecretStr | None = Field(
        default=None,
        description="The Ed25519 private key (PEM) that signs staff tokens: intake alone holds it; required in "
        "production (openssl genpkey -algorithm ed25519)",
    )
    signing_key_file: str = Field(
        default="var/auth/signing-key.pem",
        description="Without signing_key: the key in this file; in development it is made there on first start, "
        "with the public keys beside it (jwks.json, where AUTH_JWKS_FILE looks by default)",
    )
    retired_jwks: str | None = Field(
        default=None,
        description="Public keys (a JWK Set) of signing keys retired recently, still published until their last "
        "tokens have expired",
    )
    sign_in_lockout_after: int = Field(
        default=5, gt=0, description="Failed sign-ins in a row after which an account is locked for a while"
    )
    sign_in_lockout_seconds: list[float] = Field(
        default=[60, 300, 900, 3600],
        description="How long each successive lockout lasts (the last repeats), whatever the client's address",
    )
    sign_in_rate_limit: str = Field(
        default="10/minute", description="Sign-in attempts per client address (against password guessing)"
    )
    access_code_key: SecretStr = Field(
        default=SecretStr("development-only-access-code-key"),
        description="The office's secret (16 bytes or more) the requests' access codes are derived from; changing "
        "it changes every code (openssl rand -base64 32)",
    )
    access_code_misses: str = Field(
        default="5/15 minutes",
        description="Wrong access codes a request number takes before it is locked for the rest of the window, "
        "whatever the client's address",
    )
    access_code_resends: str = Field(default="3/day", description="Times a request's code may be sent again")
    documents_url: str = Field(
        default="http://127.0.0.1:8003",
        description="The documents service as citizens reach it: the download links of documents point there",
    )
    download_link_minutes: int = Field(
        default=10, gt=0, le=24 * 60, description="How long a document's download link works after it is shown"
    )
    submission_rate_limit: str = Field(default="30/hour", description="Submissions per client address")
    submissions_per_applicant: str = Field(default="10/day", description="Submissions per applicant's NIK")
    operator_submission_rate_limit: str = Field(
        default="500/day", description="Assisted submissions per kecamatan operator (instead of per address)"
    )
    upload_rate_limit: str = Field(default="120/hour", description="Scan uploads per client address")
    uploads_per_request: str = Field(default="40/day", description="Scan uploads per request")
    booking_rate_limit: str = Field(default="10/hour", description="e-KTP recording bookings per client address")
    bookings_per_applicant: str = Field(default="3/day", description="e-KTP recording bookings per NIK")
    notices_per_recipient: str = Field(
        default="10/day",
        description="Notices anyone can make the office send (receipts, access codes, booking confirmations) per "
        "phone number and per e-mail address; the rest are suppressed and recorded as such",
    )
    development_accounts: bool = Field(
        default=True,
        description="With ENVIRONMENT=development: add one account per role at start, password "
        "development-only-password (never in production)",
    )
    recording_capacity: int = Field(default=40, description="e-KTP recordings a kecamatan office takes per day")
    retention_days: dict[str, int] = Field(
        default_factory=dict,
        description='Days each kind of personal data is kept, e.g. {"scans": 60}: scans (from the end of their '
        "request), notices, public_events, access_log; a kind not named keeps its default (docs/security.md)",
    )
    retention_interval: float = Field(
        default=3600.0, gt=0, description="Seconds between rounds of the job that purges expired personal data"
    )
    stall_after_hours: dict[str, float] = Field(
        default_factory=lambda: dict(DEFAULT_STALL_HOURS),
        description="Hours a request may keep a status before the incident view shows it as stalled, e.g. "
        '{"shipped": 36, "submitted": 0.25}; statuses not named keep their default, and those without one never '
        "stall",
    )
    days_off_file: Path | None = Field(
        default=None,
        description="The office's own days off (CSV of date,description lines) on top of Indonesia's public "
        "holidays and cuti bersama, for the statistics' working days; the same file as REVIEW_DAYS_OFF_FILE",
    )

    notifications_enabled: bool = Field(
        default=True, description="Tell citizens of each step by e-mail and SMS; when off, no notice is queued"
    )
    notify_interval: float = Field(default=2.0, description="Seconds between rounds of sending due notices")
    notify_retry_delays: list[float] = Field(
        default=[10, 60, 300, 1800],
        description="Seconds before each retry of a failed notice; when they run out, the notice is given up",
    )
    notify_batch_size: int = Field(default=50, description="Notices sent per round at most")
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(
        default=8025, description="8025 is the development sink (python -m dukcapil_devtools.message_sinks)"
    )
    smtp_sender: str = "Disdukcapil Lebak <noreply@dukcapil.lebakkab.go.id>"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_start_tls: bool | None = Field(default=None, description="None: STARTTLS when the server offers it")
    smtp_timeout: float = 10.0
    sms_gateway_url: str = "http://127.0.0.1:8011/send"  # the simulator (_SMS_SINK)
    sms_api_key: SecretStr = Field(
        default=SecretStr("development-only-sms-api-key"), description="Sent in the header named by sms_api_key_header"
    )
    sms_api_key_header: str = "X-API-Key"
    sms_timeout: float = 10.0

    # Follow-on requests (follow_ons): the population register they are filled from, and the portal they link to.
    register_url: str = Field(
        default="http://127.0.0.1:8012",
        description="The population register's read-only lookup API (SIAK); 8012 is the development simulator "
        "(python -m dukcapil_devtools.register_simulator)",
    )
    register_api_key: SecretStr = Field(
        default=SecretStr("development-only-register-api-key"), description="Sent in the X-API-Key header"
    )
    register_timeout: float = Field(default=5.0, gt=0, description="Seconds a register lookup may take")
    portal_url: str = Field(
        default="http://127.0.0.1:8000",
        description="The citizens' portal as citizens reach it: the links to confirm follow-on requests point there",
    )
    follow_on_days: int = Field(
        default=30, gt=0, le=365, description="Days a follow-on draft waits for the family's confirmation"
    )
    follow_on_interval: float = Field(
        default=5.0,
        gt=0,
        description="Seconds between rounds of filling follow-on drafts from the register and expiring old ones",
    )
    follow_on_retry_delays: list[float] = Field(
        default=[30, 120, 600, 1800, 3600],
        min_length=1,
        description="Seconds before each new question to a register that did not answer; the last repeats until the "
        "draft expires",
    )

    # Agencies (python -m dukcapil_intake.agencies): the broker's management API, as an administrator.
    rabbitmq_management_url: str = Field(
        default="http://127.0.0.1:15672", description="RabbitMQ's management API (the rabbitmq_management plugin)"
    )
    rabbitmq_management_user: str | None = Field(default=None, description="An administrator; AMQP_URL's user if unset")
    rabbitmq_management_password: SecretStr | None = Field(
        default=None, description="AMQP_URL's password if unset (in development only)"
    )
    agency_amqp_url: str | None = Field(
        default=None,
        description="The broker address handed to agencies, without credentials, e.g. "
        "amqps://broker.dukcapil.lebakkab.go.id:5671/; AMQP_URL's host, port and virtual host if unset",
    )

    def access_code_secret(self) -> bytes:
        return self.access_code_key.get_secret_value().encode()

    def needs_published_keys(self) -> bool:
        return False  # intake checks the tokens it signs with its own key's public half

    def production_problems(self) -> list[str]:
        """Production signs staff tokens with the office's own key and tells citizens through the real mail relay
        and SMS gateway, never the development sinks."""
        problems = super().production_problems()
        if self.signing_key is None and self.is_development_default("signing_key_file"):
            problems.append(
                "set INTAKE_SIGNING_KEY or INTAKE_SIGNING_KEY_FILE to the office's staff-token signing key: "
                f"{self.signing_key_file} is the development key `make run` writes"
            )
        elif self.signing_key is None and not Path(self.signing_key_file).is_file():
            problems.append(f"INTAKE_SIGNING_KEY_FILE names no file: {self.signing_key_file}")
        if self.notifications_enabled and is_stand_in(self.smtp_host, self.smtp_port):
            problems.append("set INTAKE_SMTP_HOST and INTAKE_SMTP_PORT to the office's mail relay, not the sink")
        sms = URL(self.sms_gateway_url)
        if self.notifications_enabled and is_stand_in(sms.host, sms.port):
            problems.append("set INTAKE_SMS_GATEWAY_URL to the office's SMS gateway, not the simulator")
        if is_loopback(self.documents_url):
            problems.append(
                "set INTAKE_DOCUMENTS_URL to the documents service's public address (https://...): citizens' "
                "download links point there"
            )
        if self.rabbitmq_management_password is None:
            problems.append(
                "set INTAKE_RABBITMQ_MANAGEMENT_PASSWORD (or INTAKE_RABBITMQ_MANAGEMENT_PASSWORD_FILE) and "
                "INTAKE_RABBITMQ_MANAGEMENT_USER to a broker administrator of the office's own, for onboarding agencies"
            )
        elif self.rabbitmq_management_user in (None, "guest") or (
            self.rabbitmq_management_password.get_secret_value() == "guest"
        ):
            problems.append(
                "INTAKE_RABBITMQ_MANAGEMENT_USER and its password must name a broker administrator of the office's "
                "own, not the broker's guest account"
            )
        register = URL(self.register_url)
        if is_loopback(self.register_url) or is_stand_in(register.host, register.port):
            problems.append("set INTAKE_REGISTER_URL to the population register's lookup API, not the simulator")
        return problems
