"""Production means production: each service and the portal refuse every development stand-in in one message that
names each problem and never a secret's value; every secret may be given as a file (`<VARIABLE>_FILE`)."""

import json
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic_settings import BaseSettings
from sqlalchemy.engine import make_url

from dukcapil_documents.settings import DocumentsSettings
from dukcapil_intake.settings import IntakeSettings
from dukcapil_review.settings import ReviewSettings
from dukcapil_shared.auth.keys import SigningKey
from dukcapil_shared.settings import SettingsRefused, load_settings, variable_name
from dukcapil_shipping.settings import ShippingSettings
from dukcapil_web.settings import WebSettings

SETTINGS: dict[str, type[BaseSettings]] = {
    "intake": IntakeSettings,
    "review": ReviewSettings,
    "documents": DocumentsSettings,
    "shipping": ShippingSettings,
    "web": WebSettings,
}
PREFIXES = ("INTAKE_", "REVIEW_", "DOCUMENTS_", "SHIPPING_", "WEB_", "AUTH_")
JWKS = json.dumps(SigningKey(Ed25519PrivateKey.generate()).jwks())


@pytest.fixture
def production(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """ENVIRONMENT=production and nothing else: none of the tests' own settings, and no var/ of `make run` here."""
    for name in list(os.environ):
        if name.startswith(PREFIXES) or name in ("AMQP_URL", "BROKER_USER_PREFIX", "RATE_LIMIT_STORAGE_URL"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def refusal(settings_cls: type[BaseSettings]) -> SettingsRefused:
    with pytest.raises(SettingsRefused) as refused:
        load_settings(settings_cls)
    return refused.value


def assert_nothing_of(secrets: list[str], message: str) -> None:
    """Not a secret, nor any six characters of one in a row."""
    for secret in secrets:
        for start in range(len(secret) - 5):
            assert secret[start : start + 6] not in message, f"{secret[start : start + 6]!r} of a secret is shown"


EVERY_STAND_IN = {
    "review": ["set REVIEW_BROKER_PASSWORD", "AMQP_URL names the broker's guest account", "set REVIEW_DATABASE_URL",
               "set AUTH_JWKS", "set REVIEW_REGISTER_URL", "REVIEW_REGISTER_API_KEY still has its development-only"],
    "shipping": ["SHIPPING_COURIER_API_KEY still has its development-only default", "set SHIPPING_COURIER_URL",
                 "set SHIPPING_COURIER_USERNAME", "set SHIPPING_BROKER_PASSWORD", "set SHIPPING_DATABASE_URL"],
    "intake": ["INTAKE_ACCESS_CODE_KEY still has its development-only default",
               "INTAKE_SMS_API_KEY still has its development-only default", "set INTAKE_SIGNING_KEY",
               "var/auth/signing-key.pem is the development key", "set INTAKE_SMTP_HOST", "set INTAKE_SMS_GATEWAY_URL",
               "set INTAKE_DOCUMENTS_URL", "set INTAKE_RABBITMQ_MANAGEMENT_PASSWORD", "set INTAKE_DATABASE_URL",
               "set INTAKE_BROKER_PASSWORD"],
    "documents": ["set DOCUMENTS_SIGNING_KEY", "var/documents-signing-key.pem is the development key",
                  "set DOCUMENTS_PUBLIC_BASE_URL", "set DOCUMENTS_SIGNER_NAME", "set DOCUMENTS_CERTIFICATE_P12_FILE",
                  "set DOCUMENTS_DATABASE_URL", "set AUTH_JWKS"],
    "web": ["WEB_SESSION_SECRET still has its development-only default"],
}  # fmt: skip


@pytest.mark.parametrize("service", SETTINGS)
def test_with_nothing_set_every_development_stand_in_is_named_in_one_message(production: Path, service: str) -> None:
    refused = refusal(SETTINGS[service])
    message = str(refused)
    assert message.count("ENVIRONMENT=production") == 1
    for problem in EVERY_STAND_IN[service]:
        assert problem in message, problem
    assert len(refused.problems) == message.count("\n  - ") >= len(EVERY_STAND_IN[service])
    assert "development-only-" not in message, "a default secret's value is a secret too"


def test_compose_stand_ins_and_loopback_addresses_are_refused(
    production: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INTAKE_SMTP_HOST", "notification-sinks")
    monkeypatch.setenv("INTAKE_SMTP_PORT", "8025")
    monkeypatch.setenv("INTAKE_SMS_GATEWAY_URL", "http://notification-sinks:8011/send")
    monkeypatch.setenv("INTAKE_DOCUMENTS_URL", "http://localhost:8003")
    monkeypatch.setenv("SHIPPING_COURIER_URL", "http://courier-simulator:8010")
    monkeypatch.setenv("DOCUMENTS_PUBLIC_BASE_URL", "http://[::1]:8003")
    monkeypatch.setenv("DOCUMENTS_DATABASE_URL", "sqlite+aiosqlite:////data/documents.db")
    monkeypatch.setenv("AMQP_URL", "amqp://rabbitmq:5672/")
    monkeypatch.setenv("REVIEW_BROKER_PASSWORD", "guest")
    intake, shipping, documents = (str(refusal(cls)) for cls in (IntakeSettings, ShippingSettings, DocumentsSettings))
    assert "set INTAKE_SMTP_HOST" in intake and "set INTAKE_SMS_GATEWAY_URL" in intake
    assert "set INTAKE_DOCUMENTS_URL" in intake
    assert "set SHIPPING_COURIER_URL" in shipping and "guest account" not in shipping
    assert "set DOCUMENTS_PUBLIC_BASE_URL" in documents and "set DOCUMENTS_DATABASE_URL" in documents
    assert "REVIEW_BROKER_PASSWORD is the broker's default password" in str(refusal(ReviewSettings))


def test_no_secret_and_no_wrong_value_is_ever_shown(production: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = {
        "AMQP_URL": "amqp://guest:Qx7vB2kLp9Zw@rabbitmq:5672/",
        "INTAKE_DATABASE_URL": "sqlite+aiosqlite:///Hj4Kq8Wz1Xc.db",
        "INTAKE_BROKER_PASSWORD": "guest",
        "INTAKE_SMTP_PASSWORD": "Vb3Nm6Qp0Rt2",
        "INTAKE_SMS_API_KEY": "Lz5Xc8Vb1Nq4",
        "INTAKE_RABBITMQ_MANAGEMENT_PASSWORD": "guest",
        "INTAKE_SIGNING_KEY": "-----BEGIN PRIVATE KEY-----Wq2Er5Ty8Ui1",
        "INTAKE_PORT": "Pz9Ox7Iu5Yt3",
        "INTAKE_TOKEN_MINUTES": "Mk2Jn4Hb6Gv8",
        "WEB_SESSION_SECRET": "Fc1Dx3Sz5Aq7",
        "AUTH_JWKS": "Tr6Ew4Qa2Zs0",
    }
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    intake, web = str(refusal(IntakeSettings)), str(refusal(WebSettings))
    assert "INTAKE_PORT: Input should be a valid integer" in intake and "INTAKE_TOKEN_MINUTES:" in intake
    assert "AMQP_URL names the broker's guest account" in intake and "set INTAKE_DATABASE_URL" in intake
    assert "WEB_SESSION_SECRET (or the file WEB_SESSION_SECRET_FILE) must be at least 32 characters" in web
    shown = [value for name, value in secrets.items() if value != "guest" and not name.endswith("_URL")]
    assert_nothing_of([*shown, "Qx7vB2kLp9Zw", "Hj4Kq8Wz1Xc"], intake + web)


def test_a_wrong_value_and_the_production_problems_come_in_one_round(
    production: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCUMENTS_PORT", "eighty")
    monkeypatch.setenv("DOCUMENTS_PREFETCH", "[1, 2]")
    monkeypatch.setenv("DOCUMENTS_CERTIFICATE_PASSPHRASE_FILE", str(production / "absent"))
    refused = refusal(DocumentsSettings)
    not_an_integer = "Input should be a valid integer, unable to parse string as an integer (its value is not shown)"
    assert refused.problems[:2] == [f"DOCUMENTS_PORT: {not_an_integer}", f"DOCUMENTS_PREFETCH: {not_an_integer}"]
    assert "DOCUMENTS_CERTIFICATE_PASSPHRASE_FILE names a file that cannot be read (No such file or directory): " in (
        str(refused)
    )
    assert "set DOCUMENTS_SIGNER_NAME" in str(refused) and "set DOCUMENTS_CERTIFICATE_P12_FILE" in str(refused)
    assert_nothing_of(["eighty", "[1, 2]"], str(refused))


@pytest.mark.parametrize("service", SETTINGS)
def test_every_secret_can_be_given_as_a_file(production: Path, monkeypatch: pytest.MonkeyPatch, service: str) -> None:
    monkeypatch.setenv("ENVIRONMENT", "development")
    settings_cls = SETTINGS[service]
    secrets = [name for name, field in settings_cls.model_fields.items() if "SecretStr" in str(field.annotation)]
    assert secrets, "each has a secret"
    for name in secrets:
        variable = variable_name(settings_cls, name)
        (production / name).write_text(f"  {name}-from-its-file\n", encoding="utf-8")
        monkeypatch.setenv(f"{variable}_FILE", str(production / name))
    settings = load_settings(settings_cls)
    for name in secrets:
        if f"{name}_file" in settings_cls.model_fields:  # a setting of its own, read where it is used
            assert getattr(settings, f"{name}_file") == str(production / name), name
        else:
            assert getattr(settings, name).get_secret_value() == f"{name}-from-its-file", name


def test_a_secret_file_that_cannot_be_read_is_refused_in_development_too(
    production: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENVIRONMENT", "development")
    monkeypatch.setenv("SHIPPING_COURIER_API_KEY_FILE", str(production))  # a folder
    monkeypatch.setenv("SHIPPING_DATABASE_PASSWORD_FILE", str(production / "absent"))
    refused = refusal(ShippingSettings)
    assert refused.problems == [
        f"SHIPPING_COURIER_API_KEY_FILE names a file that cannot be read (Is a directory): {production}",
        f"SHIPPING_DATABASE_PASSWORD_FILE names no file: {production / 'absent'}",
    ]


def test_the_database_password_is_never_needed_in_the_url(production: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "development")
    monkeypatch.setenv("REVIEW_DATABASE_URL", "postgresql+asyncpg://review@postgres:5432/review")
    (production / "db").write_text("p@ss word\n", encoding="utf-8")
    monkeypatch.setenv("REVIEW_DATABASE_PASSWORD_FILE", str(production / "db"))
    url = make_url(load_settings(ReviewSettings).database_connection_url())
    assert (url.username, url.password, url.host, url.database) == ("review", "p@ss word", "postgres", "review")
    monkeypatch.delenv("REVIEW_DATABASE_PASSWORD_FILE")
    monkeypatch.setenv("REVIEW_DATABASE_PASSWORD", "direct")
    assert load_settings(ReviewSettings).database_connection_url().startswith("postgresql+asyncpg://review:direct@")


def test_production_with_the_offices_own_settings_is_accepted(
    production: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    secrets = production / "secrets"
    secrets.mkdir()
    for name in ("broker", "db", "access-code", "register", "sms", "smtp", "courier", "session", "admin"):
        (secrets / name).write_text(f"{name}-a-long-random-secret-of-the-office-0123456789\n", encoding="utf-8")
    (secrets / "staff-token-key").write_text("pem", encoding="utf-8")
    (secrets / "jwks.json").write_text(JWKS, encoding="utf-8")
    office = {
        "AMQP_URL": "amqp://rabbitmq:5672/",
        "AUTH_JWKS_FILE": str(secrets / "jwks.json"),
        "INTAKE_SIGNING_KEY_FILE": str(secrets / "staff-token-key"),
        "INTAKE_ACCESS_CODE_KEY_FILE": str(secrets / "access-code"),
        "INTAKE_SMTP_HOST": "smtp.lebakkab.go.id",
        "INTAKE_SMTP_PORT": "587",
        "INTAKE_SMTP_PASSWORD_FILE": str(secrets / "smtp"),
        "INTAKE_SMS_GATEWAY_URL": "https://sms.example.id/send",
        "INTAKE_SMS_API_KEY_FILE": str(secrets / "sms"),
        "INTAKE_DOCUMENTS_URL": "https://dukcapil.lebakkab.go.id",
        "INTAKE_RABBITMQ_MANAGEMENT_USER": "admin",
        "INTAKE_RABBITMQ_MANAGEMENT_PASSWORD_FILE": str(secrets / "admin"),
        "SHIPPING_COURIER_URL": "https://apiv2.jne.co.id:10205",
        "SHIPPING_COURIER_USERNAME": "DUKCAPILLEBAK",
        "SHIPPING_COURIER_API_KEY_FILE": str(secrets / "courier"),
        "WEB_SESSION_SECRET_FILE": str(secrets / "session"),
        "INTAKE_REGISTER_URL": "https://siak.example.id/api",
        "INTAKE_REGISTER_API_KEY_FILE": str(secrets / "register"),
        "REVIEW_REGISTER_URL": "https://siak.example.id/api",
        "REVIEW_REGISTER_API_KEY_FILE": str(secrets / "register"),
    }
    for service in ("INTAKE", "REVIEW", "SHIPPING"):
        office[f"{service}_BROKER_PASSWORD_FILE"] = str(secrets / "broker")
        office[f"{service}_DATABASE_URL"] = f"postgresql+asyncpg://{service.lower()}@postgres:5432/{service.lower()}"
        office[f"{service}_DATABASE_PASSWORD_FILE"] = str(secrets / "db")
    for name, value in office.items():
        monkeypatch.setenv(name, value)
    for settings_cls in (IntakeSettings, ReviewSettings, ShippingSettings, WebSettings):
        assert load_settings(settings_cls).environment == "production"


def test_development_secrets_under_var_are_refused(production: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """What `make run` writes under var/ (the services' broker passwords in var/broker/, keys) is development's."""
    (production / "var" / "broker").mkdir(parents=True)
    (production / "var" / "broker" / "shipping.password").write_text("made-by-make-run", encoding="utf-8")
    monkeypatch.setenv("SHIPPING_BROKER_PASSWORD_FILE", "var/broker/shipping.password")
    monkeypatch.setenv("SHIPPING_COURIER_API_KEY_FILE", str(production / "var" / "broker" / "shipping.password"))
    problems = refusal(ShippingSettings).problems
    for variable in ("SHIPPING_BROKER_PASSWORD_FILE", "SHIPPING_COURIER_API_KEY_FILE"):
        assert any(problem.startswith(f"{variable} names ") and "under var/" in problem for problem in problems)


def test_a_list_that_is_not_json_is_named_with_the_other_problems(
    production: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHIPPING_RETRY_DELAYS_MS", "Zq8Wx2Ec4Rv6")
    monkeypatch.setenv("SHIPPING_PORT", "Yu7Ij5Ok3Pl1")
    refused = refusal(ShippingSettings)
    assert refused.problems[:2] == [
        "SHIPPING_RETRY_DELAYS_MS: not valid JSON for this setting (its value is not shown)",
        "SHIPPING_PORT: Input should be a valid integer, unable to parse string as an integer (its value is not shown)",
    ]
    assert "set SHIPPING_COURIER_URL" in str(refused), "and production's problems in the same round"
    assert_nothing_of(["Zq8Wx2Ec4Rv6", "Yu7Ij5Ok3Pl1"], str(refused))
    assert os.environ["SHIPPING_RETRY_DELAYS_MS"] == "Zq8Wx2Ec4Rv6", "the environment is left as it was"
