"""Fixtures for the real infrastructure on this machine: a RabbitMQ virtual host and PostgreSQL databases.

Each test session gets its own RabbitMQ vhost and each PostgreSQL test its own database, so tests never see
each other's queues or rows, nor those of a `make run` on the same machine. When a server is missing the
tests skip locally, and fail in CI (CI=true), where a skip would hide that nothing was checked.
"""

import asyncio
import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from urllib.parse import quote, urlsplit

import httpx
import pytest

AMQP_HOST = os.environ.get("TEST_AMQP_HOST", "127.0.0.1")
AMQP_PORT = int(os.environ.get("TEST_AMQP_PORT", "5672"))
POSTGRES_DSN = os.environ.get("TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
RABBITMQ_MANAGEMENT_URL = os.environ.get("TEST_RABBITMQ_MANAGEMENT_URL", "http://127.0.0.1:15672")


def _missing(what: str) -> None:
    message = f"{what} is not available on this machine"
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message}; CI must have it (.ci/run starts it)")
    pytest.skip(message)


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=60)


def _management_api() -> httpx.Client | None:
    """RabbitMQ's management API when it is enabled: a vhost made through it costs a request, where rabbitmqctl
    boots an Erlang node each time (seconds of CPU, and a distribution port that a hung call keeps)."""
    parsed = urlsplit(RABBITMQ_MANAGEMENT_URL)
    if not _reachable(parsed.hostname or "127.0.0.1", parsed.port or 15672):
        return None
    return httpx.Client(base_url=RABBITMQ_MANAGEMENT_URL + "/api", auth=("guest", "guest"), timeout=30)


class RabbitVhosts:
    """Creates throwaway RabbitMQ virtual hosts; each is deleted when the fixture ends."""

    def __init__(self) -> None:
        self.created: list[str] = []
        self._api = _management_api()
        if self._api is not None and os.environ.get("CI") == "true":
            self._remove_leftovers()

    def _remove_leftovers(self) -> None:
        """Vhosts of test runs that were killed before they could clean up. Their quorum queues keep running and
        slow the broker down for everyone, so CI (the machine's only test run) removes them first."""
        for vhost in self._api.get("/vhosts").json() if self._api else []:
            if vhost["name"].startswith("dukcapil-test-"):
                self._api.delete(f"/vhosts/{quote(vhost['name'], safe='')}").raise_for_status()

    def create(self) -> str:
        if not _reachable(AMQP_HOST, AMQP_PORT) or (self._api is None and shutil.which("rabbitmqctl") is None):
            _missing(f"RabbitMQ (with its management API or rabbitmqctl) at {AMQP_HOST}:{AMQP_PORT}")
        vhost = f"dukcapil-test-{uuid.uuid4().hex[:8]}"
        if self._api is not None:
            self._api.put(f"/vhosts/{quote(vhost, safe='')}").raise_for_status()
            everything = {"configure": ".*", "write": ".*", "read": ".*"}
            self._api.put(f"/permissions/{quote(vhost, safe='')}/guest", json=everything).raise_for_status()
        else:
            _rabbitmqctl("add_vhost", vhost)
            _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        self.created.append(vhost)
        return f"amqp://guest:guest@{AMQP_HOST}:{AMQP_PORT}/{vhost}"

    def delete(self, amqp_url: str) -> None:
        """Removes one vhost as soon as its user is done: a whole run keeps dozens of systems' quorum queues
        otherwise, and the broker slows down until it cannot create a vhost in time."""
        vhost = urlsplit(amqp_url).path.lstrip("/")
        if vhost in self.created:
            self.created.remove(vhost)
            if self._api is not None:
                self._api.delete(f"/vhosts/{quote(vhost, safe='')}")
            else:
                _rabbitmqctl("delete_vhost", vhost)

    def delete_all(self) -> None:
        for vhost in self.created:
            if self._api is not None:
                self._api.delete(f"/vhosts/{quote(vhost, safe='')}").raise_for_status()
            else:
                _rabbitmqctl("delete_vhost", vhost)


@pytest.fixture(scope="session")
def rabbitmq() -> Iterator[RabbitVhosts]:
    vhosts = RabbitVhosts()
    yield vhosts
    vhosts.delete_all()


@pytest.fixture(scope="session")
def amqp_url(rabbitmq: RabbitVhosts) -> str:
    """A RabbitMQ vhost of the test session's own."""
    return rabbitmq.create()


@pytest.fixture(scope="session")
def rabbitmq_management() -> str:
    """The URL of RabbitMQ's management API (administrator: guest), for the tests of agencies' access."""
    parsed = urlsplit(RABBITMQ_MANAGEMENT_URL)
    if not _reachable(parsed.hostname or "127.0.0.1", parsed.port or 15672):
        _missing(f"RabbitMQ's management API at {RABBITMQ_MANAGEMENT_URL} (enable the rabbitmq_management plugin)")
    return RABBITMQ_MANAGEMENT_URL


def rabbitmq_queue_depths(amqp_url: str) -> dict[str, int]:
    """Messages ready in each queue of the test vhost."""
    vhost = urlsplit(amqp_url).path.lstrip("/")
    output = subprocess.run(
        ["rabbitmqctl", "list_queues", "-p", vhost, "name", "messages_ready", "--no-table-headers", "--quiet"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    return {name: int(count) for name, count in (line.split() for line in output.splitlines() if line.strip())}


class PostgresDatabases:
    """Creates throwaway databases; each is dropped when the fixture ends."""

    def __init__(self) -> None:
        self.created: list[str] = []

    async def create(self) -> str:
        import asyncpg

        parsed = urlsplit(POSTGRES_DSN)
        if not _reachable(parsed.hostname or "127.0.0.1", parsed.port or 5432):
            _missing(f"PostgreSQL at {parsed.hostname}:{parsed.port}")
        name = f"dukcapil_test_{uuid.uuid4().hex[:10]}"
        connection = await asyncpg.connect(POSTGRES_DSN)
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()
        self.created.append(name)
        base = urlsplit(POSTGRES_DSN)
        return f"postgresql+asyncpg://{base.netloc}/{name}"

    async def drop_all(self) -> None:
        import asyncpg

        connection = await asyncpg.connect(POSTGRES_DSN)
        try:
            for name in self.created:
                await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()


@pytest.fixture(scope="module")
async def postgres() -> AsyncIterator[PostgresDatabases]:
    """Creates PostgreSQL databases on demand (skipping, or failing in CI, if the server is missing)."""
    databases = PostgresDatabases()
    yield databases
    if databases.created:
        await asyncio.wait_for(databases.drop_all(), timeout=60)
