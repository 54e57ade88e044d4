from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from dukcapil_shared.auth.roles import Role
from dukcapil_shared.db import migrate
from dukcapil_shipping import bootstrap
from dukcapil_shipping.bootstrap import build_app
from dukcapil_shipping.settings import ShippingSettings
from dukcapil_testing import staff_headers

MISSING = "/dead-letters/6a3c1f0e-0000-4000-8000-000000000000"


@pytest.fixture(autouse=True)
def _leave_logging_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bootstrap, "configure_logging", lambda *args, **kwargs: None)


async def test_the_dead_letter_api_is_mounted_for_admins_only(tmp_path: Path) -> None:
    app = build_app(ShippingSettings(database_url=f"sqlite+aiosqlite:///{tmp_path}/s.db"))
    paths = app.openapi()["paths"]
    assert {"/dead-letters", "/dead-letters/{letter_id}", "/dead-letters/replay"} <= set(paths)
    assert {"/dead-letters/{letter_id}/replay", "/dead-letters/{letter_id}/discard"} <= set(paths)
    engine = app.state.runtime.engine
    await migrate(engine, "dukcapil_shipping:migrations")
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://shipping") as client:
            refused = await client.get("/dead-letters", headers={"X-Staff-Token": "wrong"})
            officer = await client.post(
                f"{MISSING}/discard", json={"reason": "x"}, headers=staff_headers(Role.SHIPPING_OFFICER)
            )
            listed = await client.get("/dead-letters", headers=staff_headers(Role.ADMIN, reason=None))
            unexplained = await client.get(MISSING, headers=staff_headers(Role.ADMIN, reason=None))
            shown = await client.get(MISSING, headers=staff_headers(Role.ADMIN, username="adi", reason="parcel lost"))
        async with engine.connect() as connection:
            logged = (await connection.execute(text("SELECT username, path, reason FROM access_log"))).all()
    finally:
        await engine.dispose()

    assert refused.status_code == 401 and refused.json()["error"]["code"] == "not_authenticated"
    assert officer.status_code == 403 and officer.json()["error"]["required_scope"] == "operations"
    assert listed.status_code == 200 and listed.json() == []
    assert unexplained.status_code == 400 and unexplained.json()["error"]["code"] == "access_reason_required"
    assert shown.status_code == 404 and shown.json()["error"]["code"] == "dead_letter_not_found"
    assert [tuple(row) for row in logged] == [("adi", MISSING, "parcel lost")], "the service's own access log"
