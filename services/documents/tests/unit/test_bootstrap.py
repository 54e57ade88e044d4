from pathlib import Path

import httpx
import pytest
import structlog
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import SecretStr
from structlog.testing import capture_logs

from dukcapil_documents import bootstrap
from dukcapil_documents.adapters import pki, signing
from dukcapil_documents.adapters.layout import LayoutError
from dukcapil_documents.adapters.signing import key_id
from dukcapil_documents.bootstrap import build_app
from dukcapil_documents.settings import DocumentsSettings
from dukcapil_shared.db import migrate


def settings(tmp_path: Path, **changes: object) -> DocumentsSettings:
    return DocumentsSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/documents.db",
        storage_dir=str(tmp_path / "documents"),
        signing_key_file=str(tmp_path / "var" / "signing-key.pem"),
        pki_dir=str(tmp_path / "var" / "pki"),
        log_json=False,
        **changes,
    )


@pytest.fixture(autouse=True)
def _leave_logging_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    # The real configuration binds loggers to this test's captured stdout for good, spoiling later tests.
    monkeypatch.setattr(bootstrap, "configure_logging", lambda *args, **kwargs: None)
    # An earlier test that built the app with the real configuration left these loggers cached on it, where
    # capture_logs cannot see them: fresh ones for this test.
    for module in (pki, signing):
        monkeypatch.setattr(module, "log", structlog.get_logger(module.__name__))


def test_without_a_configured_key_a_development_key_is_generated_once_and_logged(tmp_path: Path) -> None:
    with capture_logs() as logs:
        first = build_app(settings(tmp_path)).state.press.signer.key_id
    assert [entry["event"] for entry in logs if entry["log_level"] == "warning"] == [
        "signing_key_generated",
        "signing_certificate_generated",
    ]
    assert (tmp_path / "var" / "signing-key.pem").exists() and (tmp_path / "var" / "pki").is_dir()
    with capture_logs() as logs:
        app = build_app(settings(tmp_path))
    assert app.state.press.signer.key_id == first
    assert not [entry for entry in logs if entry["log_level"] == "warning"]
    assert app.state.press.sealer.certificate.development


def test_a_configured_key_signs_and_no_key_file_is_written(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    app = build_app(settings(tmp_path, signing_key=SecretStr(pem.decode())))
    assert app.state.press.signer.key_id == key_id(key.public_key())
    assert not (tmp_path / "var" / "signing-key.pem").exists()


def test_a_broken_layout_stops_the_service_at_start(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "office.toml").write_text("letterhead = 1\n")
    with pytest.raises(LayoutError, match=r"office\.toml"):
        build_app(settings(tmp_path, templates_dir=str(tmp_path / "templates")))


async def test_the_file_check_takes_pdfs_larger_than_other_requests_up_to_its_own_limit(tmp_path: Path) -> None:
    app = build_app(settings(tmp_path, verify_max_bytes=2 * 1024 * 1024))
    await migrate(app.state.runtime.engine, "dukcapil_documents:migrations")
    pdf = b"%PDF-1.7\n" + b"0" * (1536 * 1024)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://documents") as client:
        accepted = await client.post("/verify", files={"file": ("a.pdf", pdf, "application/pdf")})
        refused = await client.post("/verify", files={"file": ("a.pdf", pdf + pdf, "application/pdf")})
        elsewhere = await client.post("/documents/x/revoke", content=pdf, headers={"Content-Type": "application/json"})
    await app.state.runtime.engine.dispose()
    assert (accepted.status_code, accepted.json()["reason"]) == (200, "unknown_file")
    assert (refused.status_code, refused.json()["error"]["code"]) == (413, "request_too_large")
    assert elsewhere.status_code == 413, "the larger limit is the file check's only"
