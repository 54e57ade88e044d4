"""One access log line per HTTP request, whatever its status, naming the route template and never the path's
numbers, the query string or a header's secret."""

import httpx
import pytest
from fastapi import FastAPI
from structlog.testing import capture_logs

from dukcapil_shared.observability import ServiceMetrics
from dukcapil_shared.observability import http as observability_http
from dukcapil_shared.web import install_error_handlers

NIK = "3602144107900001"
ACCESS_CODE = "K7Q2-M9XP"


def probe_app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    observability_http.install(app, ServiceMetrics())

    @app.get("/people/{nik}")
    async def person(nik: str) -> dict[str, str]:
        return {"nik": nik}

    @app.post("/people/{nik}/numbers")
    async def numbers(nik: str, count: int) -> dict[str, int]:
        return {"count": count}

    @app.get("/broken/{nik}")
    async def broken(nik: str) -> None:
        raise RuntimeError("a bug")

    return app


async def test_one_line_per_request_with_the_route_template_and_no_personal_data() -> None:
    transport = httpx.ASGITransport(app=probe_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://probe") as client:
        with capture_logs() as logs:
            ok = await client.get(f"/people/{NIK}?nik={NIK}&code={ACCESS_CODE}", headers={"X-Access-Code": ACCESS_CODE})
            invalid = await client.post(f"/people/{NIK}/numbers?count=many")
            missing = await client.get(f"/nowhere/{NIK}")
            failed = await client.get(f"/broken/{NIK}", headers={"X-Request-ID": "caller-7"})
    assert [ok.status_code, invalid.status_code, missing.status_code, failed.status_code] == [200, 422, 404, 500]

    lines = [entry for entry in logs if entry["event"] == "http_request"]
    assert [(line["method"], line["route"], line["status"]) for line in lines] == [
        ("GET", "/people/{nik}", 200),
        ("POST", "/people/{nik}/numbers", 422),
        ("GET", "unmatched", 404),
        ("GET", "/broken/{nik}", 500),
    ]
    # The 500 is answered outside every middleware (Starlette's last resort), so only the log has its id.
    assert [line["http_request_id"] for line in lines] == [
        *(response.headers["X-Request-ID"] for response in (ok, invalid, missing)),
        "caller-7",
    ]
    assert all(isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0 for line in lines)
    assert "request_id" not in {key for entry in logs for key in entry}, "request_id is the citizen's request"
    everything = repr(logs)
    for secret in (NIK, ACCESS_CODE, "many", "code="):
        assert secret not in everything


@pytest.mark.parametrize("path", ["/metrics", "/people/1"])
async def test_the_line_is_written_where_logging_is_configured_now(path: str) -> None:
    """Each line takes the logger configured at that moment, not one cached at import (a test's captured output)."""
    transport = httpx.ASGITransport(app=probe_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://probe") as client:
        with capture_logs() as logs:
            await client.get(path)
    assert [entry["event"] for entry in logs].count("http_request") == 1
