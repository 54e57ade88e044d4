"""The benchmark's own RabbitMQ virtual host and PostgreSQL databases, and RabbitMQ's management API.

Everything is created fresh for one run and removed at its end, so a run never sees another's rows or queues.
"""

import asyncio
import base64
import contextlib
import json
import os
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from dukcapil_shared.messaging.access import SERVICES, AccessPlan
from dukcapil_shared.messaging.provision import ManagementApi, ServiceCredentials, apply

AMQP_HOST = os.environ.get("BENCH_AMQP_HOST", "127.0.0.1")
AMQP_PORT = int(os.environ.get("BENCH_AMQP_PORT", "5672"))
POSTGRES_DSN = os.environ.get("BENCH_POSTGRES_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
MANAGEMENT_URL = os.environ.get("BENCH_RABBITMQ_MANAGEMENT_URL", "http://127.0.0.1:15672")
MANAGEMENT_USER = os.environ.get("BENCH_RABBITMQ_USER", "guest")
MANAGEMENT_PASSWORD = os.environ.get("BENCH_RABBITMQ_PASSWORD", "guest")
ACCESS_PLAN = Path(__file__).resolve().parents[1] / "deploy" / "rabbitmq" / "access.json"


@dataclass
class Infrastructure:
    """One vhost and a set of databases, named after the run."""

    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    vhost: str = ""
    databases: list[str] = field(default_factory=list)
    broker_passwords: dict[str, str] = field(
        default_factory=lambda: {service: secrets.token_urlsafe(16) for service in SERVICES}
    )

    @property
    def amqp_url(self) -> str:
        return f"amqp://{MANAGEMENT_USER}:{MANAGEMENT_PASSWORD}@{AMQP_HOST}:{AMQP_PORT}/{self.vhost}"

    def create_vhost(self) -> str:
        """Through the management API: rabbitmqctl takes seconds per call, and hangs while other CLI calls on this
        machine hold its few distribution ports."""
        vhost = f"dukcapil-bench-{self.run_id}"
        management = Management(vhost)
        self.vhost = vhost
        try:
            management.call("PUT", f"/api/vhosts/{management.quoted_vhost}", timeout=300)
        except urllib.error.URLError as error:
            self.vhost = ""
            raise SystemExit(
                f"RabbitMQ's management API is not reachable at {management.url} ({error.reason}).\n"
                "The benchmark makes its own vhost and reads queue depths through it. Enable it with\n"
                "  rabbitmq-plugins enable rabbitmq_management\n"
                "or point BENCH_RABBITMQ_MANAGEMENT_URL (and BENCH_RABBITMQ_USER, BENCH_RABBITMQ_PASSWORD) at one."
            ) from None
        except TimeoutError:  # a broker busy with many vhosts may answer late: it is made all the same
            management.wait_for_vhost(timeout=300)
        permissions = {"configure": ".*", "write": ".*", "read": ".*"}
        management.call("PUT", f"/api/permissions/{management.quoted_vhost}/{MANAGEMENT_USER}", permissions)
        self._provision()
        return self.amqp_url

    @property
    def broker_user_prefix(self) -> str:
        return f"dukcapil-bench-{self.run_id}-"

    def service_env(self) -> dict[str, str]:
        """What each service needs to sign in as its own broker user on the run's vhost, as in a deployment."""
        return {"BROKER_USER_PREFIX": self.broker_user_prefix} | {
            f"{service.upper()}_BROKER_PASSWORD": password for service, password in self.broker_passwords.items()
        }

    def _provision(self) -> None:
        """The services' broker users with the permissions of deploy/rabbitmq/access.json, as `make run` gives them."""
        api = ManagementApi(MANAGEMENT_URL, username=MANAGEMENT_USER, password=MANAGEMENT_PASSWORD, timeout=300)
        try:
            apply(
                api,
                AccessPlan.parse(ACCESS_PLAN.read_text(encoding="utf-8")),
                vhost=self.vhost,
                credentials={
                    service: ServiceCredentials(f"{self.broker_user_prefix}{service}", password)
                    for service, password in self.broker_passwords.items()
                },
            )
        finally:
            api.close()

    async def create_database(self, purpose: str) -> str:
        """A fresh database; returns its asyncpg DSN (postgresql://...)."""
        name = f"dukcapil_bench_{self.run_id}_{purpose}"
        connection = await asyncpg.connect(POSTGRES_DSN)
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()
        self.databases.append(name)
        base = urllib.parse.urlsplit(POSTGRES_DSN)
        return f"postgresql://{base.netloc}/{name}"

    async def postgres_setting(self, name: str) -> str:
        connection = await asyncpg.connect(POSTGRES_DSN)
        try:
            return str(await connection.fetchval("SELECT current_setting($1)", name))
        finally:
            await connection.close()

    async def drop_all(self) -> None:
        if self.databases:
            connection = await asyncpg.connect(POSTGRES_DSN)
            try:
                for name in self.databases:
                    await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await connection.close()
            self.databases = []
        if self.vhost:
            management = Management(self.vhost)
            try:
                await asyncio.to_thread(management.call, "DELETE", f"/api/vhosts/{management.quoted_vhost}", None, 300)
            except TimeoutError:  # as when creating it: a busy broker answers late, and deletes it all the same
                await asyncio.to_thread(management.wait_for_vhost, 300, False)
            self.vhost = ""
            for service in self.broker_passwords:
                user = urllib.parse.quote(f"{self.broker_user_prefix}{service}", safe="")
                with contextlib.suppress(urllib.error.URLError, TimeoutError):
                    await asyncio.to_thread(management.call, "DELETE", f"/api/users/{user}", None, 60)


def sqlalchemy_url(dsn: str) -> str:
    return dsn.replace("postgresql://", "postgresql+asyncpg://", 1)


class Management:
    """The few calls of RabbitMQ's management API the benchmark makes (blocking: call from a thread)."""

    def __init__(self, vhost: str, url: str = MANAGEMENT_URL) -> None:
        self.vhost = vhost
        self.url = url.rstrip("/")
        token = base64.b64encode(f"{MANAGEMENT_USER}:{MANAGEMENT_PASSWORD}".encode()).decode()
        self._headers = {"Authorization": f"Basic {token}", "Content-Type": "application/json"}

    @property
    def quoted_vhost(self) -> str:
        return urllib.parse.quote(self.vhost, safe="")

    def call(self, method: str, path: str, body: Any = None, timeout: float = 30) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, method=method, headers=self._headers)
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
        return json.loads(body) if body else None

    def wait_for_vhost(self, timeout: float, exists: bool = True) -> None:
        """Wait until the vhost exists (or, with exists=False, is gone)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.call("GET", f"/api/vhosts/{self.quoted_vhost}")
                found = True
            except urllib.error.HTTPError as error:
                if error.code != 404:
                    raise
                found = False
            except TimeoutError:
                found = not exists
            if found == exists:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"vhost {self.vhost} still {'missing' if exists else 'there'} after {timeout}s")
            time.sleep(2)

    def queues(self) -> list[dict[str, Any]]:
        """Each queue of the vhost: name, messages, and delivery/publish rates (per second, RabbitMQ's own
        5-second averages)."""
        columns = "name,messages,messages_unacknowledged,message_stats"
        found = self.call("GET", f"/api/queues/{self.quoted_vhost}?columns={columns}")
        return [
            {
                "name": queue["name"],
                "messages": queue.get("messages", 0) or 0,
                "unacked": queue.get("messages_unacknowledged", 0) or 0,
                "deliver_rate": ((queue.get("message_stats") or {}).get("deliver_get_details") or {}).get("rate", 0.0),
                "publish_rate": ((queue.get("message_stats") or {}).get("publish_details") or {}).get("rate", 0.0),
            }
            for queue in found
        ]

    def purge(self, queue: str) -> None:
        self.call("DELETE", f"/api/queues/{self.quoted_vhost}/{urllib.parse.quote(queue, safe='')}/contents")
