from pathlib import Path

import httpx
from sqlalchemy import text

from dukcapil_documents.bootstrap import build_app
from dukcapil_shared.auth.roles import Role
from dukcapil_shared.db import migrate
from dukcapil_testing import staff_headers

from .test_bootstrap import _leave_logging_alone, settings

__all__ = ["_leave_logging_alone"]

MISSING = "/dead-letters/6a3c1f0e-0000-4000-8000-000000000000"


async def test_the_dead_letter_api_is_mounted_for_admins_only(tmp_path: Path) -> None:
    app = build_app(settings(tmp_path))
    paths = app.openapi()["paths"]
    assert {"/dead-letters", "/dead-letters/{letter_id}", "/dead-letters/replay"} <= set(paths)
    assert {"/dead-letters/{letter_id}/replay", "/dead-letters/{letter_id}/discard"} <= set(paths)
    engine = app.state.runtime.engine
    await migrate(engine, "dukcapil_documents:migrations")
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://documents") as client:
            anonymous = await client.get("/dead-letters")
            old_token = await client.get("/dead-letters", headers={"X-Staff-Token": "development-only-ops-token"})
            officer = await client.get("/dead-letters", headers=staff_headers(Role.DOCUMENT_OFFICER))
            listed = await client.get("/dead-letters", headers=staff_headers(Role.ADMIN, reason=None))
            unexplained = await client.get(MISSING, headers=staff_headers(Role.ADMIN, reason=None))
            shown = await client.get(MISSING, headers=staff_headers(Role.ADMIN, username="adi", reason="stuck issue"))
        async with engine.connect() as connection:
            logged = (await connection.execute(text("SELECT username, path, reason FROM access_log"))).all()
    finally:
        await engine.dispose()

    for refused in (anonymous, old_token):
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "not_authenticated"
    assert officer.status_code == 403 and officer.json()["error"]["required_scope"] == "operations"
    assert listed.status_code == 200 and listed.json() == []
    assert unexplained.status_code == 400 and unexplained.json()["error"]["code"] == "access_reason_required"
    assert shown.status_code == 404 and shown.json()["error"]["code"] == "dead_letter_not_found"
    assert [tuple(row) for row in logged] == [("adi", MISSING, "stuck issue")], "the service's own access log"
