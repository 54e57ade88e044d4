"""Operating review's failures with the real app on the real RabbitMQ: a poison message parked, listed, replayed
after a fix and discarded with the command-line tool; and /readyz following the broker and the database."""

import asyncio
import json
import os
import socket
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aio_pika
import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from dukcapil_review import bootstrap
from dukcapil_review.bootstrap import build_app
from dukcapil_review.service_layer import handlers
from dukcapil_review.settings import ReviewSettings
from dukcapil_shared.auth.roles import Role
from dukcapil_shared.contracts import Envelope, RequestSubmitted
from dukcapil_shared.messaging import EVENTS_EXCHANGE, PermanentFailure
from dukcapil_testing import development_token, staff_headers

from ..unit.test_handlers import submitted

pytestmark = pytest.mark.integration

STAFF = staff_headers(Role.ADMIN, username="rina", reason="dead-letter test")
READER = staff_headers(Role.REVIEWER, username="rina", reason="dead-letter test")
NIK = "3602144107900001"


@pytest.fixture(autouse=True)
def _leave_logging_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    # The real configuration binds loggers to this test's captured stdout for good, spoiling later tests.
    monkeypatch.setattr(bootstrap, "configure_logging", lambda *args, **kwargs: None)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def settings(database_url: str, amqp_url: str, **changes: object) -> ReviewSettings:
    values: dict[str, object] = {
        "database_url": database_url,
        "AMQP_URL": amqp_url,
        "port": free_port(),
        "retry_delays_ms": [100, 200],
        "outbox_poll_interval": 0.1,
        "graceful_timeout": 5,
        "broker_connect_timeout": 10,
        "log_json": False,
        # No population register: these tests count handler calls, which its lookups would only slow down.
        "register_url": "",
    }
    return ReviewSettings(**(values | changes))  # type: ignore[arg-type]


class Served:
    """The app under uvicorn in this event loop, so that the command-line tool can reach it over HTTP."""

    def __init__(self, app: FastAPI, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self._server = uvicorn.Server(uvicorn.Config(app, port=port, log_config=None, access_log=False))
        self._task: asyncio.Task[None] | None = None
        self.http = httpx.AsyncClient(base_url=self.url, timeout=10)

    async def __aenter__(self) -> "Served":
        self._task = asyncio.create_task(self._server.serve())
        await until(lambda: _true(self._server.started), timeout=30)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.http.aclose()
        self._server.should_exit = True
        assert self._task is not None
        await self._task


async def _true(value: bool) -> bool:
    return value


async def until(condition: Callable[[], Awaitable[bool]], timeout: float = 20.0) -> float:
    """Waits for the condition; returns how long it took."""
    started = time.monotonic()
    while not await condition():
        assert time.monotonic() - started < timeout, "timed out"
        await asyncio.sleep(0.1)
    return time.monotonic() - started


async def ops(*argv: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "dukcapil_ops",
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=os.environ | {"DUKCAPIL_TOKEN": development_token(Role.ADMIN, username="rina")},
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def publish(rabbitmq, amqp_url: str, event: RequestSubmitted) -> None:  # type: ignore[no-untyped-def]
    """As intake publishes it: as its own broker user."""
    envelope = Envelope.wrap(event, source="/dukcapil/lebak/intake")
    connection = await aio_pika.connect_robust(rabbitmq.url_as(amqp_url, "intake"))
    async with connection:
        channel = await connection.channel()
        exchange = await channel.get_exchange(EVENTS_EXCHANGE.name)
        await exchange.publish(
            aio_pika.Message(
                envelope.to_json(),
                message_id=str(envelope.id),
                correlation_id=envelope.subject,
                type=envelope.type,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                user_id=rabbitmq.user("intake"),
            ),
            routing_key=envelope.type,
        )


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request, tmp_path: Path, postgres) -> str:  # type: ignore[no-untyped-def]
    return f"sqlite+aiosqlite:///{tmp_path}/review.db" if request.param == "sqlite" else await postgres.create()


@pytest.fixture
async def operations_feed(rabbitmq) -> AsyncIterator[tuple[str, aio_pika.abc.AbstractQueue]]:  # type: ignore[no-untyped-def]
    """A vhost of this test's own, and a queue receiving every operations event published on it."""
    amqp_url = rabbitmq.create()
    connection = await aio_pika.connect_robust(amqp_url)
    channel = await connection.channel()
    exchange = await channel.declare_exchange(EVENTS_EXCHANGE.name, aio_pika.ExchangeType.TOPIC, durable=True)
    queue = await channel.declare_queue(exclusive=True)
    await queue.bind(exchange, "operations.#")
    yield amqp_url, queue
    await connection.close()


async def next_event(queue: aio_pika.abc.AbstractQueue, timeout: float = 15.0) -> Envelope:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = await queue.get(no_ack=True, fail=False)
        if message is not None:
            return Envelope.model_validate_json(message.body)
        await asyncio.sleep(0.05)
    raise AssertionError("no operations event")


async def test_a_poison_message_is_parked_replayed_after_the_fix_and_another_discarded_with_the_cli(  # type: ignore[no-untyped-def]
    database_url: str, operations_feed, rabbitmq, monkeypatch: pytest.MonkeyPatch
) -> None:
    amqp_url, feed = operations_feed
    broken: set[uuid.UUID] = set()
    refused: set[uuid.UUID] = set()
    calls: dict[uuid.UUID, int] = {}
    original = handlers.queue_submitted_request

    async def until_fixed(uow, event, envelope, **kwargs):  # type: ignore[no-untyped-def]
        calls[event.request_id] = calls.get(event.request_id, 0) + 1
        if event.request_id in refused:
            raise PermanentFailure(f"applicant {event.applicant.nik} cannot be reviewed here")
        if event.request_id in broken:
            raise RuntimeError(f"precheck crashed on NIK {event.applicant.nik}")
        await original(uow, event, envelope, **kwargs)

    monkeypatch.setattr(handlers, "queue_submitted_request", until_fixed)
    # One delivery at a time: the calls are counted, and a batch that the poison fails runs again delivery by
    # delivery (the shared consumer's tests), which would count one call more whenever deliveries meet in a batch.
    config = settings(database_url, amqp_url, consumer_batch_size=1, **rabbitmq.service_settings("review"))
    poison, good, unwanted = submitted(), submitted(), submitted()
    broken.add(poison.request_id)
    refused.add(unwanted.request_id)

    async with Served(build_app(config), config.port) as review:
        assert (await review.http.get("/readyz")).status_code == 200
        for event in (poison, good, unwanted):
            await publish(rabbitmq, amqp_url, event)

        async def two_parked_and_the_good_one_queued() -> bool:
            letters = (await review.http.get("/dead-letters", headers=STAFF)).json()
            queued = await review.http.get(f"/reviews/{good.request_id}", headers=READER)
            return len(letters) == 2 and queued.status_code == 200

        await until(two_parked_and_the_good_one_queued)
        letters = {item["subject"]: item for item in (await review.http.get("/dead-letters", headers=STAFF)).json()}
        letter = letters[str(poison.request_id)]
        assert (letter["attempts"], letter["original_queue"], letter["routing_key"]) == (
            3,
            "dukcapil.review.requests",
            "request.submitted.v1",
        )
        assert letter["error"] == "attempts exhausted: RuntimeError: precheck crashed on NIK 360214******0001"
        assert letters[str(unwanted.request_id)]["attempts"] == 1
        assert (await review.http.get("/dead-letters")).status_code == 401

        announced = {(await next_event(feed)).subject: None for _ in range(2)}
        assert set(announced) == {str(poison.request_id), str(unwanted.request_id)}

        code, listed, _ = await ops("dead-letters", "list", "--service", "review", "--url", review.url)
        assert code == 0 and letter["id"] in listed and "request.submitted.v1" in listed and NIK not in listed

        broken.clear()  # the fix is deployed
        code, out, err = await ops("dead-letters", "replay", letter["id"], "--service", "review", "--url", review.url)
        assert code == 0, err
        assert "replayed by rina" in out

        async def reviewed() -> bool:
            return (await review.http.get(f"/reviews/{poison.request_id}", headers=READER)).status_code == 200

        await until(reviewed)
        resolution = await next_event(feed)
        assert resolution.type == "operations.message_resolved.v1" and resolution.subject == str(poison.request_id)
        assert resolution.data["resolution"] == "replayed" and resolution.data["resolved_by"] == "rina"

        unwanted_id = letters[str(unwanted.request_id)]["id"]
        code, out, err = await ops(
            "dead-letters", "discard", unwanted_id, "--why", "the citizen withdrew it at the counter",
            "--service", "review", "--url", review.url,
        )  # fmt: skip
        assert code == 0, err
        code, shown, _ = await ops("dead-letters", "show", unwanted_id, "--service", "review", "--url", review.url)
        assert "discarded" in shown and "the citizen withdrew it at the counter" in shown
        code, _, err = await ops(
            "dead-letters", "replay", unwanted_id, "--service", "review", "--url", review.url, "--json"
        )
        assert code == 1 and "409 dead_letter_resolved" in err

        code, as_json, _ = await ops(
            "dead-letters", "list", "--service", "review", "--url", review.url, "--status", "all", "--json"
        )
        assert {item["status"] for item in json.loads(as_json)} == {"replayed", "discarded"}
        await asyncio.sleep(0.5)
        assert calls[poison.request_id] == 4, "three attempts, then once after the replay"
        assert (await review.http.get("/dead-letters", headers=STAFF)).json() == []


# --- readiness ---


class Proxy:
    """A TCP relay standing in for the network between the service and a server: it can be cut or frozen."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._flowing = asyncio.Event()
        self._flowing.set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port, reuse_address=True)

    async def cut(self) -> None:
        """The server is gone: nothing listens, and open connections are reset."""
        assert self._server is not None
        self._server.close()
        for writer in list(self._connections):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()
        self._server = None

    def freeze(self) -> None:
        """A network partition: connections stay open, nothing gets through."""
        self._flowing.clear()

    def thaw(self) -> None:
        self._flowing.set()

    async def _accept(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.transport.abort()
            return
        self._connections |= {client_writer, server_writer}
        for reader, writer in ((client_reader, server_writer), (server_reader, client_writer)):
            task = asyncio.create_task(self._pump(reader, writer))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                await self._flowing.wait()
                writer.write(data)
                await writer.drain()
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            writer.transport.abort()
            self._connections.discard(writer)


def through(url: str, proxy: Proxy) -> str:
    parts = urlsplit(url)
    credentials = parts.netloc.rsplit("@", 1)[0] + "@" if "@" in parts.netloc else ""
    return urlunsplit(parts._replace(netloc=f"{credentials}127.0.0.1:{proxy.port}"))


async def readiness(client: httpx.AsyncClient) -> tuple[int, dict[str, bool]]:
    response = await client.get("/readyz")
    return response.status_code, response.json()["checks"]


async def test_readyz_turns_unready_when_the_broker_or_the_database_is_gone_and_ready_again_after(  # type: ignore[no-untyped-def]
    rabbitmq, postgres
) -> None:
    amqp_url = rabbitmq.create()
    database_url = await postgres.create()
    broker = Proxy((urlsplit(amqp_url).hostname or "127.0.0.1", urlsplit(amqp_url).port or 5672))
    database = Proxy((urlsplit(database_url).hostname or "127.0.0.1", urlsplit(database_url).port or 5432))
    await broker.start()
    await database.start()
    app = build_app(
        settings(
            through(database_url, database),
            through(amqp_url, broker),
            readiness_timeout=1.0,
            **rabbitmq.service_settings("review"),
        )
    )
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://review")

    async def is_ready(expected: bool, check: str | None = None) -> Callable[[], Awaitable[bool]]:
        async def probe() -> bool:
            status, checks = await readiness(client)
            return (status == 200) == expected and (check is None or checks[check] == expected)

        return probe

    async with app.router.lifespan_context(app):
        assert await readiness(client) == (200, {"database": True, "broker": True, "consumers": True})

        await broker.cut()
        assert await until(await is_ready(False, "broker"), timeout=10) < 4, "a broker outage is seen within seconds"
        await broker.start()
        await until(await is_ready(True), timeout=40)  # the connection comes back by itself

        broker.freeze()
        assert await until(await is_ready(False, "broker"), timeout=10) < 4, "a silent broker is seen within seconds"
        broker.thaw()
        await until(await is_ready(True), timeout=40)

        await database.cut()
        status, checks = await readiness(client)
        assert status == 503 and checks["database"] is False and checks["broker"] is True
        await database.start()
        await until(await is_ready(True), timeout=20)
    await client.aclose()
    await database.cut()
    await broker.cut()


async def test_readyz_is_unready_for_a_broker_that_was_never_reached(tmp_path: Path) -> None:
    app = build_app(
        settings(f"sqlite+aiosqlite:///{tmp_path}/review.db", f"amqp://guest:guest@127.0.0.1:{free_port()}/")
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://review") as client:
        status, checks = await readiness(client)
    assert status == 503 and checks["broker"] is False and checks["database"] is True
