"""The operators' command line (dukcapil_ops) against apps in this test."""

from collections.abc import Mapping

from fastapi import FastAPI


async def run_ops_cli(
    apps: Mapping[str, FastAPI], *argv: str, environ: Mapping[str, str] | None = None
) -> tuple[int, str, str]:
    """Runs `dukcapil-ops argv` in a thread, its HTTP calls answered on this test's event loop by the app whose
    base URL (a key of `apps`) they go to; others get 404. Returns the exit status, what it printed, and its
    error output."""
    import asyncio
    import contextlib
    import io

    import httpx

    from dukcapil_ops import cli

    loop = asyncio.get_running_loop()
    clients = {url: httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) for url, app in apps.items()}

    def send(method: str, url: str, headers: Mapping[str, str], data: bytes | None, timeout: float) -> cli.Response:
        client = next((client for base, client in clients.items() if url.startswith(base + "/")), None)
        if client is None:
            return cli.Response(404, {"error": {"code": "not_found", "message": f"nothing at {url} in this test"}})
        call = client.request(method, url, headers=dict(headers), content=data, timeout=timeout)
        answer = asyncio.run_coroutine_threadsafe(call, loop).result()
        return cli.Response(answer.status_code, answer.json() if answer.content else None)

    out, err = io.StringIO(), io.StringIO()

    def run() -> int:
        with contextlib.redirect_stderr(err):
            return cli.main(list(argv), environ=environ or {}, send=send, out=out)

    status = await asyncio.to_thread(run)
    for client in clients.values():
        await client.aclose()
    return status, out.getvalue(), err.getvalue()
