"""Every answer of every service tells browsers not to guess its content type."""

import httpx
from fastapi import FastAPI
from fastapi.responses import Response

from dukcapil_shared.web import NoSniff, RequestSizeLimit, install_error_handlers


async def test_every_answer_carries_nosniff_once_errors_and_refused_bodies_included() -> None:
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(RequestSizeLimit, max_bytes=10)
    app.add_middleware(NoSniff)

    @app.get("/page")
    async def page() -> Response:
        return Response("<html>", media_type="text/plain", headers={"X-Content-Type-Options": "nosniff"})

    @app.post("/things")
    async def things(body: dict[str, str]) -> dict[str, str]:
        return body

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        answers = [
            await client.get("/page"),
            await client.get("/missing"),
            await client.post("/things", json={"a": "b"}),
            await client.post("/things", content=b"x" * 100),
        ]
    assert [answer.status_code for answer in answers] == [200, 404, 200, 413]
    for answer in answers:
        assert answer.headers.get_list("x-content-type-options") == ["nosniff"]
