from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import SecretStr
from structlog.testing import capture_logs

from dukcapil_documents import bootstrap
from dukcapil_documents.adapters.layout import LayoutError
from dukcapil_documents.adapters.signing import key_id
from dukcapil_documents.bootstrap import build_app
from dukcapil_documents.settings import DocumentsSettings


def settings(tmp_path: Path, **changes: object) -> DocumentsSettings:
    return DocumentsSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/documents.db",
        storage_dir=str(tmp_path / "documents"),
        signing_key_file=str(tmp_path / "var" / "signing-key.pem"),
        log_json=False,
        **changes,
    )


@pytest.fixture(autouse=True)
def _leave_logging_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    # The real configuration binds loggers to this test's captured stdout for good, spoiling later tests.
    monkeypatch.setattr(bootstrap, "configure_logging", lambda *args, **kwargs: None)


def test_without_a_configured_key_a_development_key_is_generated_once_and_logged(tmp_path: Path) -> None:
    with capture_logs() as logs:
        first = build_app(settings(tmp_path)).state.press.signer.key_id
    assert [entry["event"] for entry in logs if entry["log_level"] == "warning"] == ["signing_key_generated"]
    assert (tmp_path / "var" / "signing-key.pem").exists()
    with capture_logs() as logs:
        assert build_app(settings(tmp_path)).state.press.signer.key_id == first
    assert not [entry for entry in logs if entry["event"] == "signing_key_generated"]


def test_a_configured_key_signs_and_no_key_file_is_written(tmp_path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    app = build_app(settings(tmp_path, signing_key=SecretStr(pem.decode())))
    assert app.state.press.signer.key_id == key_id(key.public_key())
    assert not (tmp_path / "var").exists()


def test_a_broken_layout_stops_the_service_at_start(tmp_path: Path) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "office.toml").write_text("letterhead = 1\n")
    with pytest.raises(LayoutError, match=r"office\.toml"):
        build_app(settings(tmp_path, templates_dir=str(tmp_path / "templates")))
