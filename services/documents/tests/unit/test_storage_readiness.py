"""Documents is not ready while it could not store an issued PDF: /readyz answers 503 and says why, instead of
every approval being retried until it is dead-lettered."""

from pathlib import Path

import httpx
import pytest

from dukcapil_documents import bootstrap
from dukcapil_documents.settings import DocumentsSettings


@pytest.fixture(autouse=True)
def _leave_logging_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bootstrap, "configure_logging", lambda *args, **kwargs: None)


async def readiness(tmp_path: Path, storage: Path) -> tuple[int, dict]:  # type: ignore[type-arg]
    settings = DocumentsSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/documents.db",
        storage_dir=str(storage),
        signing_key_file=str(tmp_path / "var" / "signing-key.pem"),
        pki_dir=str(tmp_path / "var" / "pki"),
        log_json=False,
    )
    app = bootstrap.build_app(settings)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://documents") as client:
        response = await client.get("/readyz")
    return response.status_code, response.json()


async def test_storage_that_cannot_take_a_file_makes_the_service_not_ready(tmp_path: Path) -> None:
    # The tests run as root, and root writes into a folder whatever its mode (chmod 0500 would not stop it): a
    # plain file where the folder should be stops everyone, root included (ENOTDIR), as a lost mount would.
    blocked = tmp_path / "documents"
    blocked.write_text("not a folder", encoding="utf-8")
    status, body = await readiness(tmp_path, blocked)
    assert status == 503 and body["ready"] is False
    assert body["checks"]["storage"] is False
    assert body["reasons"]["storage"] == f"{blocked} is not a folder"


async def test_a_writable_storage_folder_passes_and_keeps_no_probe_file(tmp_path: Path) -> None:
    storage = tmp_path / "documents"  # missing: made at start
    status, body = await readiness(tmp_path, storage)
    # The broker is not started here, so the service as a whole is not ready; its storage is.
    assert status == 503 and body["checks"]["storage"] is True and "storage" not in body.get("reasons", {})
    assert storage.is_dir() and list(storage.iterdir()) == []
