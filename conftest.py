"""Fixtures for the real infrastructure on this machine: a RabbitMQ virtual host and PostgreSQL databases.

Each test session gets its own RabbitMQ vhost and each PostgreSQL test its own database, so tests never see
each other's queues or rows, nor those of a `make run` on the same machine. When a server is missing the
tests skip locally, and fail in CI (CI=true), where a skip would hide that nothing was checked.
"""

import asyncio
import os
import secrets
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit

import httpx
import pytest

from dukcapil_shared.messaging.access import SERVICES, AccessPlan
from dukcapil_shared.messaging.provision import ManagementApi, ServiceCredentials, apply
from dukcapil_testing import auth_env_for_tests

# The services the tests build run in development mode and accept the tests' staff tokens (a key of this run's own).
os.environ["ENVIRONMENT"] = "development"
os.environ.update(auth_env_for_tests())

AMQP_HOST = os.environ.get("TEST_AMQP_HOST", "127.0.0.1")
AMQP_PORT = int(os.environ.get("TEST_AMQP_PORT", "5672"))
POSTGRES_DSN = os.environ.get("TEST_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
RABBITMQ_MANAGEMENT_URL = os.environ.get("TEST_RABBITMQ_MANAGEMENT_URL", "http://127.0.0.1:15672")
REDIS_HOST, REDIS_PORT = "127.0.0.1", int(os.environ.get("TEST_REDIS_PORT", "6379"))


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


def _management_api() -> httpx.Client | None:
    """RabbitMQ's management API when it is enabled: vhosts, users and permissions are made through it."""
    parsed = urlsplit(RABBITMQ_MANAGEMENT_URL)
    if not _reachable(parsed.hostname or "127.0.0.1", parsed.port or 15672):
        return None
    # A broker busy with a whole run's vhosts may answer late: wait rather than fail a test on it.
    return httpx.Client(base_url=RABBITMQ_MANAGEMENT_URL + "/api", auth=("guest", "guest"), timeout=120)


TEST_PREFIX = "dukcapil-test-"
ACCESS_PLAN = Path(__file__).parent / "deploy" / "rabbitmq" / "access.json"


class RabbitVhosts:
    """Creates throwaway RabbitMQ virtual hosts, each provisioned as a deployment is: the shared exchanges, and a
    broker user per service (this test session's own, `dukcapil-test-<session>-<service>`) with the permissions of
    deploy/rabbitmq/access.json. Each vhost is deleted when its user is done, the users at the end.

    `create()` answers the administrator's URL (guest) for the vhost; `service_env()` what a service process needs
    to sign in as itself there; `url_as(url, service)` a producer's own URL, for a test that publishes as it; and
    `impersonator_url(url)` a user with RabbitMQ's impersonator tag, which may publish under any user_id (a test
    that re-delivers captured events as their original publishers)."""

    def __init__(self) -> None:
        self.created: list[str] = []
        self._api = _management_api()
        self.prefix = f"{TEST_PREFIX}{uuid.uuid4().hex[:6]}-"
        self.passwords = {service: secrets.token_urlsafe(16) for service in SERVICES}
        self.impersonator = (f"{self.prefix}impersonator", secrets.token_urlsafe(16))
        self._users_made = False
        if self._api is not None and os.environ.get("CI") == "true":
            self._remove_leftovers()

    def _remove_leftovers(self) -> None:
        """Vhosts and users of test runs that were killed before they could clean up. Their quorum queues keep
        running and slow the broker down for everyone, so CI (the machine's only test run) removes them first."""
        assert self._api is not None
        for vhost in self._api.get("/vhosts").json():
            if vhost["name"].startswith(TEST_PREFIX):
                self._api.delete(f"/vhosts/{quote(vhost['name'], safe='')}").raise_for_status()
        for user in self._api.get("/users").json():
            if user["name"].startswith(TEST_PREFIX):
                self._api.delete(f"/users/{quote(user['name'], safe='')}").raise_for_status()

    def create(self) -> str:
        if not _reachable(AMQP_HOST, AMQP_PORT) or self._api is None:
            _missing(
                f"RabbitMQ at {AMQP_HOST}:{AMQP_PORT} with its management API at {RABBITMQ_MANAGEMENT_URL} "
                "(rabbitmq-plugins enable rabbitmq_management)"
            )
        assert self._api is not None
        vhost = f"{TEST_PREFIX}{uuid.uuid4().hex[:8]}"
        where = quote(vhost, safe="")
        self._api.put(f"/vhosts/{where}").raise_for_status()
        self.created.append(vhost)
        everything = {"configure": ".*", "write": ".*", "read": ".*"}
        self._api.put(f"/permissions/{where}/guest", json=everything).raise_for_status()
        if not self._users_made:
            impersonator, password = self.impersonator
            self._api.put(f"/users/{quote(impersonator, safe='')}", json={"password": password, "tags": "impersonator"})
            self._users_made = True
        self._api.put(f"/permissions/{where}/{quote(self.impersonator[0], safe='')}", json=everything)
        api = ManagementApi(RABBITMQ_MANAGEMENT_URL, username="guest", password="guest", timeout=120)
        try:
            apply(
                api,
                AccessPlan.parse(ACCESS_PLAN.read_text(encoding="utf-8")),
                vhost=vhost,
                credentials={
                    service: ServiceCredentials(f"{self.prefix}{service}", password)
                    for service, password in self.passwords.items()
                },
            )
        finally:
            api.close()
        return f"amqp://guest:guest@{AMQP_HOST}:{AMQP_PORT}/{vhost}"

    def service_env(self) -> dict[str, str]:
        """The environment every service needs to sign in as its own broker user on any vhost made here."""
        env = {"BROKER_USER_PREFIX": self.prefix}
        for service, password in self.passwords.items():
            env[f"{service.upper()}_BROKER_PASSWORD"] = password
        return env

    def service_settings(self, service: str) -> dict[str, object]:
        """What a service's settings need, built in-process, to sign in as its own broker user."""
        return {"broker_user_prefix": self.prefix, "broker_password": self.passwords[service]}

    def user(self, service: str) -> str:
        return f"{self.prefix}{service}"

    def url_as(self, amqp_url: str, service: str) -> str:
        """The URL of `service`'s own broker user on that vhost: publish there with user_id=user(service)."""
        return _with_user(amqp_url, self.user(service), self.passwords[service])

    def impersonator_url(self, amqp_url: str) -> str:
        return _with_user(amqp_url, *self.impersonator)

    def delete(self, amqp_url: str) -> None:
        """Removes one vhost as soon as its user is done: a whole run keeps dozens of systems' quorum queues
        otherwise, and the broker slows down until it cannot create a vhost in time."""
        vhost = urlsplit(amqp_url).path.lstrip("/")
        if vhost in self.created and self._api is not None:
            self.created.remove(vhost)
            self._api.delete(f"/vhosts/{quote(vhost, safe='')}")

    def delete_all(self) -> None:
        if self._api is None:
            return
        for vhost in self.created:
            self._api.delete(f"/vhosts/{quote(vhost, safe='')}").raise_for_status()
        if self._users_made:
            for user in [*(f"{self.prefix}{service}" for service in SERVICES), self.impersonator[0]]:
                self._api.delete(f"/users/{quote(user, safe='')}")


def _with_user(amqp_url: str, user: str, password: str) -> str:
    parts = urlsplit(amqp_url)
    return f"amqp://{quote(user, safe='')}:{quote(password, safe='')}@{parts.hostname}:{parts.port}{parts.path}"


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


@pytest.fixture(scope="session")
def redis_url() -> str:
    """Where rate limits shared by replicas are counted in the tests (each test system under its own key prefix)."""
    if not _reachable(REDIS_HOST, REDIS_PORT):
        _missing(f"Redis at {REDIS_HOST}:{REDIS_PORT} (redis-server --daemonize yes)")
    return f"async+redis://{REDIS_HOST}:{REDIS_PORT}"
