from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr

from dukcapil_shipping import bootstrap
from dukcapil_shipping.bootstrap import build_app
from dukcapil_shipping.settings import ShippingSettings


@pytest.fixture(autouse=True)
def _leave_logging_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bootstrap, "configure_logging", lambda *args, **kwargs: None)


async def test_the_dead_letter_api_is_mounted_for_operators_only(tmp_path: Path) -> None:
    app = build_app(ShippingSettings(database_url=f"sqlite+aiosqlite:///{tmp_path}/s.db", ops_token=SecretStr("t")))
    paths = app.openapi()["paths"]
    assert {"/dead-letters", "/dead-letters/{letter_id}", "/dead-letters/replay"} <= set(paths)
    assert {"/dead-letters/{letter_id}/replay", "/dead-letters/{letter_id}/discard"} <= set(paths)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://shipping") as client:
        refused = await client.get("/dead-letters", headers={"X-Staff-Token": "wrong"})
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "ops_only"
