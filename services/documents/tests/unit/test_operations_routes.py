from pathlib import Path

import httpx
from pydantic import SecretStr

from dukcapil_documents.bootstrap import build_app

from .test_bootstrap import _leave_logging_alone, settings

__all__ = ["_leave_logging_alone"]


async def test_the_dead_letter_api_is_mounted_for_operators_only(tmp_path: Path) -> None:
    app = build_app(settings(tmp_path, ops_token=SecretStr("t")))
    paths = app.openapi()["paths"]
    assert {"/dead-letters", "/dead-letters/{letter_id}", "/dead-letters/replay"} <= set(paths)
    assert {"/dead-letters/{letter_id}/replay", "/dead-letters/{letter_id}/discard"} <= set(paths)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://documents") as client:
        refused = await client.get("/dead-letters")
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "ops_only"
