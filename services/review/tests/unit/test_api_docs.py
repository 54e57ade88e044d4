"""The API's documentation (/docs, /redoc, /openapi.json) is served in development, and in production only when
REVIEW_API_DOCS=true (<SVC>_API_DOCS for every service: the runtime makes each app alike)."""

from pathlib import Path

import httpx
import pytest

from dukcapil_review import bootstrap
from dukcapil_review.settings import ReviewSettings

DOCUMENTATION = ("/docs", "/redoc", "/openapi.json")


@pytest.fixture(autouse=True)
def _leave_logging_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bootstrap, "configure_logging", lambda *args, **kwargs: None)


async def statuses(tmp_path: Path, **settings: object) -> list[int]:
    app = bootstrap.build_app(ReviewSettings(database_url=f"sqlite+aiosqlite:///{tmp_path}/review.db", **settings))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://review") as client:
        return [(await client.get(path)).status_code for path in DOCUMENTATION]


async def test_documentation_is_served_unless_turned_off(tmp_path: Path) -> None:
    assert await statuses(tmp_path) == [200, 200, 200]  # the tests run in development
    assert await statuses(tmp_path, api_docs=False) == [404, 404, 404]


@pytest.mark.parametrize(
    ("environment", "api_docs", "served"),
    [
        ("production", None, False),
        ("production", True, True),
        ("development", None, True),
        ("development", False, False),
    ],
)
def test_production_serves_no_documentation_unless_asked(environment: str, api_docs: bool | None, served: bool) -> None:
    # model_construct: what production refuses besides (the tests' stand-ins) is not this test's business.
    settings = ReviewSettings.model_construct(environment=environment, api_docs=api_docs)
    assert settings.serves_api_docs is served
