"""Intake as its composition root builds it: JSON bodies are held to the service's limit, while the scan upload
takes a scan up to INTAKE_MAX_ATTACHMENT_BYTES (and the domain's own size check answers beyond that)."""

from pathlib import Path

import httpx
import pytest

from dukcapil_intake import bootstrap
from dukcapil_intake.settings import IntakeSettings
from dukcapil_testing import minimal_pdf

from ...fakes import FakeFileStore, FakeRequestsUnitOfWork

MiB = 1024 * 1024
BIODATA = {
    "type": "biodata_wni",
    "applicant": {"nik": "3602144107900001", "name": "Siti Aminah", "birth_date": "1990-07-01", "sex": "female"},
    "details": {},
    "delivery": {"method": "pickup", "pickup_kecamatan_code": "36.02.14"},
}


@pytest.fixture
async def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(bootstrap, "configure_logging", lambda *args, **kwargs: None)
    settings = IntakeSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/intake.db",
        attachments_dir=str(tmp_path / "attachments"),
        notifications_enabled=False,
        max_request_bytes=MiB,
        max_attachment_bytes=3 * MiB,
    )
    app = bootstrap.build_app(settings)
    uow, files = FakeRequestsUnitOfWork(notify=False), FakeFileStore()
    app.state.requests_unit_of_work = lambda: uow
    app.state.files = files
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        client.files = files  # type: ignore[attr-defined]
        yield client


async def upload(api: httpx.AsyncClient, request: dict, size: int) -> httpx.Response:  # type: ignore[type-arg]
    scan = minimal_pdf(size=size)
    return await api.post(
        f"/requests/{request['id']}/attachments",
        data={"kind": "surat_pengantar_rt_rw"},
        files={"file": ("scan.pdf", scan, "application/pdf")},
        headers={"X-Access-Code": request["access_code"]},
    )


async def test_a_json_body_over_the_service_limit_is_refused_with_413(api: httpx.AsyncClient) -> None:
    response = await api.post("/requests", json=BIODATA | {"details": {"note": "a" * MiB}})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large" and response.json()["error"]["max_bytes"] == MiB


async def test_a_scan_larger_than_the_json_limit_is_taken_by_the_upload_route(api: httpx.AsyncClient) -> None:
    request = (await api.post("/requests", json=BIODATA)).json()
    response = await upload(api, request, 2 * MiB)
    assert response.status_code == 201, response.text
    assert response.json()["size"] == 2 * MiB and len(api.files.files) == 1  # type: ignore[attr-defined]


async def test_a_scan_over_the_attachment_limit_meets_the_domain_check_then_the_body_limit(
    api: httpx.AsyncClient,
) -> None:
    request = (await api.post("/requests", json=BIODATA)).json()
    just_over = await upload(api, request, 3 * MiB + 1)
    assert just_over.status_code == 413 and just_over.json()["error"]["code"] == "attachment_too_large"
    far_over = await upload(api, request, 4 * MiB)
    assert far_over.status_code == 413 and far_over.json()["error"]["code"] == "request_too_large"
    assert far_over.json()["error"]["max_bytes"] == 3 * MiB + bootstrap.MULTIPART_ALLOWANCE
    assert api.files.files == {}  # type: ignore[attr-defined]
