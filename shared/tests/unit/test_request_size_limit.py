"""Request size limits: 413 in the project's error format, with no more of the body read than the limit."""

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

import httpx
import pytest
from fastapi import FastAPI, Form, Request

from dukcapil_shared.web import BodyLimit, RequestSizeLimit, install_error_handlers

LIMIT = 1_000
UPLOAD_LIMIT = 5_000
CHUNK = 100


def make_app() -> tuple[FastAPI, list[str]]:
    app = FastAPI()
    install_error_handlers(app)
    app.add_middleware(
        RequestSizeLimit, max_bytes=LIMIT, larger=[BodyLimit("POST", "/requests/{request_id}/uploads", UPLOAD_LIMIT)]
    )
    handled: list[str] = []

    @app.post("/requests")
    async def submit(body: dict[str, Any]) -> dict[str, int]:
        handled.append("submit")
        return {"fields": len(body)}

    @app.post("/requests/{request_id}/uploads")
    async def upload(request_id: str, request: Request) -> dict[str, int]:
        body = await request.body()
        handled.append("upload")
        return {"size": len(body)}

    @app.post("/notes")
    async def note(text: Annotated[str, Form()]) -> dict[str, int]:
        handled.append("note")
        return {"size": len(text)}

    return app, handled


@pytest.fixture
async def api():  # type: ignore[no-untyped-def]
    app, handled = make_app()
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        client.handled = handled  # type: ignore[attr-defined]
        yield client


def too_large(response: httpx.Response, limit: int) -> None:
    assert response.status_code == 413, response.text
    error = response.json()["error"]
    assert error["code"] == "request_too_large" and error["max_bytes"] == limit
    assert f"{limit:,} bytes" in error["message"]


async def chunks(total: int, sent: list[int]) -> AsyncIterator[bytes]:
    """A body without Content-Length (chunked), recording how much of it was taken."""
    while sum(sent) < total:
        sent.append(CHUNK)
        yield b"x" * CHUNK


async def test_a_body_within_the_limit_passes(api) -> None:  # type: ignore[no-untyped-def]
    body = {"note": "a" * (LIMIT - 50)}
    response = await api.post("/requests", content=json.dumps(body), headers={"content-type": "application/json"})
    assert response.status_code == 200 and response.json() == {"fields": 1}


async def test_a_declared_length_over_the_limit_is_refused_before_the_route_runs(api) -> None:  # type: ignore[no-untyped-def]
    response = await api.post("/requests", json={"note": "a" * LIMIT})
    too_large(response, LIMIT)
    assert response.headers["connection"] == "close"
    assert api.handled == []


async def test_a_chunked_body_is_cut_off_at_the_limit_and_no_further_read(api) -> None:  # type: ignore[no-untyped-def]
    sent: list[int] = []
    response = await api.post("/requests/r1/uploads", content=chunks(50 * UPLOAD_LIMIT, sent))
    too_large(response, UPLOAD_LIMIT)
    assert sum(sent) <= UPLOAD_LIMIT + CHUNK, f"read {sum(sent)} bytes of a body over {UPLOAD_LIMIT}"
    assert api.handled == [], "the route never got the body"


async def test_a_chunked_body_within_the_limit_reaches_the_route_whole(api) -> None:  # type: ignore[no-untyped-def]
    sent: list[int] = []
    response = await api.post("/requests/r1/uploads", content=chunks(UPLOAD_LIMIT, sent))
    assert response.status_code == 200 and response.json() == {"size": UPLOAD_LIMIT}


async def test_a_chunked_json_body_over_the_limit_is_413_not_a_parsing_error(api) -> None:  # type: ignore[no-untyped-def]
    sent: list[int] = []
    response = await api.post(
        "/requests", content=chunks(10 * LIMIT, sent), headers={"content-type": "application/json"}
    )
    too_large(response, LIMIT)
    assert sum(sent) <= LIMIT + CHUNK and api.handled == []


async def test_a_chunked_form_over_the_limit_is_refused(api) -> None:  # type: ignore[no-untyped-def]
    sent: list[int] = []

    async def form() -> AsyncIterator[bytes]:
        yield b"text="
        async for chunk in chunks(10 * LIMIT, sent):
            yield chunk

    response = await api.post("/notes", content=form(), headers={"content-type": "application/x-www-form-urlencoded"})
    too_large(response, LIMIT)
    assert sum(sent) <= LIMIT + CHUNK and api.handled == []


async def test_only_the_named_route_takes_more(api) -> None:  # type: ignore[no-untyped-def]
    body = b"x" * (UPLOAD_LIMIT - 10)
    assert (await api.post("/requests/r1/uploads", content=body)).json() == {"size": len(body)}
    too_large(await api.post("/requests/r1/uploads/extra", content=body), LIMIT)
    too_large(await api.put("/requests/r1/uploads", content=body), LIMIT)
    too_large(await api.post("/requests/r1/uploads", content=b"x" * (UPLOAD_LIMIT + 1)), UPLOAD_LIMIT)


async def call(app: FastAPI, headers: list[tuple[bytes, bytes]], body: bytes) -> tuple[int, dict[str, Any], int]:
    """The app called as a server would; returns the status, the JSON body and how many reads it made."""
    reads = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal reads
        reads += 1
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/requests",
        "raw_path": b"/requests",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"test"), (b"content-type", b"application/json"), *headers],
        "client": ("127.0.0.1", 1),
        "server": ("test", 80),
    }
    await app(scope, receive, send)
    start = next(message for message in sent if message["type"] == "http.response.start")
    content = b"".join(message.get("body", b"") for message in sent if message["type"] == "http.response.body")
    return start["status"], json.loads(content), reads


async def test_a_declared_length_over_the_limit_is_answered_without_reading_the_body() -> None:
    app, handled = make_app()
    status, body, reads = await call(app, [(b"content-length", b"999999999")], b"{}")
    assert (status, body["error"]["code"], reads, handled) == (413, "request_too_large", 0, [])


@pytest.mark.parametrize("length", [b"12abc", b"-5", b"1_000", b"", b" 2"])
async def test_a_content_length_that_is_not_a_number_is_refused(length: bytes) -> None:
    app, handled = make_app()
    status, body, reads = await call(app, [(b"content-length", length)], b"{}")
    assert (status, body["error"]["code"], reads, handled) == (400, "invalid_content_length", 0, [])


async def test_two_different_content_lengths_are_refused() -> None:
    app, _handled = make_app()
    status, body, _reads = await call(app, [(b"content-length", b"2"), (b"content-length", b"3")], b"{}")
    assert (status, body["error"]["code"]) == (400, "invalid_content_length")
