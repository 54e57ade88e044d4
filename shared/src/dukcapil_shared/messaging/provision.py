"""Give each service its broker user, from the access plan (deploy/rabbitmq/access.json, see access.py).

    python -m dukcapil_shared.messaging.provision apply [--vhost /] [--passwords-dir var/broker]

`apply` works on a running broker through its management API, as an administrator: it declares the shared
exchanges, creates or updates each service's user (`<prefix><service>`) with its password, and sets its
permissions and topic permissions (one import of definitions, which the broker merges into what it has). A
password is read from `<passwords-dir>/<service>.password`, made there (random, mode 0600) the first time.
`make run` runs it on the local broker. It is idempotent: run it again after an upgrade that changed the plan.

`definitions()` makes the same as a RabbitMQ definitions file (users with salted SHA-256 password hashes,
permissions, topic permissions, exchanges) that a broker loads at start (`load_definitions`): compose and
Kubernetes make it from their secrets (python -m dukcapil_shared.deploy setup).
"""

import base64
import hashlib
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import httpx
import typer

from dukcapil_shared.messaging.access import DEFAULT_USER_PREFIX, AccessPlan, BrokerIdentities

DEFAULT_PLAN = Path("deploy") / "rabbitmq" / "access.json"


class ProvisioningFailed(RuntimeError):
    pass


@dataclass(frozen=True)
class ServiceCredentials:
    user: str
    password: str


class ManagementApi:
    """The part of RabbitMQ's management HTTP API that provisioning needs, as an administrator."""

    def __init__(self, url: str, *, username: str, password: str, timeout: float = 15.0) -> None:
        self._client = httpx.Client(base_url=url.rstrip("/") + "/api", auth=(username, password), timeout=timeout)

    def close(self) -> None:
        self._client.close()

    def post(self, path: str, body: Mapping[str, Any]) -> None:
        self._call("POST", path, body)

    def _call(self, method: str, path: str, body: Mapping[str, Any] | None) -> None:
        try:
            response = self._client.request(method, path, json=body)
        except httpx.HTTPError as error:
            raise ProvisioningFailed(
                f"RabbitMQ's management API is not reachable at {self._client.base_url} ({type(error).__name__}); "
                "enable it with `rabbitmq-plugins enable rabbitmq_management`"
            ) from error
        if response.status_code == 401:
            raise ProvisioningFailed(
                "RabbitMQ's management API refused the administrator's credentials (--admin-user, --admin-password)"
            )
        if response.status_code >= 400:
            raise ProvisioningFailed(f"{method} {path}: {response.status_code} {response.text[:300]}")


def _segment(name: str) -> str:
    return quote(name, safe="")


def apply(
    api: ManagementApi,
    plan: AccessPlan,
    *,
    vhost: str,
    credentials: Mapping[str, ServiceCredentials],
) -> None:
    """Declare the shared exchanges and give each service of the plan its user, permissions and topic permissions:
    one import of definitions, which RabbitMQ merges into what it has (the vhost is made if missing)."""
    api.post("/definitions", definitions(plan, vhost=vhost, credentials=credentials))


def password_hash(password: str, salt: bytes | None = None) -> str:
    """RabbitMQ's `rabbit_password_hashing_sha256`: base64 of a 4-byte salt and SHA-256(salt + password)."""
    salt = salt if salt is not None else secrets.token_bytes(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def definitions(
    plan: AccessPlan,
    *,
    vhost: str,
    credentials: Mapping[str, ServiceCredentials],
    administrator: ServiceCredentials | None = None,
) -> dict[str, Any]:
    """The plan as a RabbitMQ definitions document, with one administrator for operators (never a service) if
    given: users with salted password hashes, permissions, topic permissions and the shared exchanges."""
    users, permissions, topic_permissions = [], [], []
    if administrator is not None:
        users.append({"name": administrator.user, "password": administrator.password, "tags": ["administrator"]})
        permissions.append({"user": administrator.user, "configure": ".*", "write": ".*", "read": ".*"})
    for access in plan.services:
        account = credentials[access.service]
        users.append({"name": account.user, "password": account.password, "tags": []})
        permissions.append(
            {"user": account.user, "configure": access.configure, "write": access.write, "read": access.read}
        )
        topic_permissions += [
            {"user": account.user, "vhost": vhost, "exchange": t.exchange, "write": t.write, "read": t.read}
            for t in access.topics
        ]
    return {
        "users": [
            {
                "name": user["name"],
                "password_hash": password_hash(user["password"]),
                "hashing_algorithm": "rabbit_password_hashing_sha256",
                "tags": user["tags"],
            }
            for user in users
        ],
        "vhosts": [{"name": vhost}],
        "permissions": [permission | {"vhost": vhost} for permission in permissions],
        "topic_permissions": topic_permissions,
        "exchanges": [
            {"name": name, "vhost": vhost, "type": "topic", "durable": True, "auto_delete": False, "arguments": {}}
            for name in plan.exchanges
        ],
        "queues": [],
        "bindings": [],
        "policies": [],
        "parameters": [],
    }


def stored_password(directory: Path, service: str) -> str:
    """The service's password kept in `directory`, made there on first use (mode 0600)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{service}.password"
    if not path.exists():
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # made by another run meanwhile
        else:
            with os.fdopen(descriptor, "w") as file:
                file.write(secrets.token_urlsafe(24))
    return path.read_text(encoding="utf-8").strip()


app = typer.Typer(
    add_completion=False, no_args_is_help=True, help="Give each service its broker user, from the access plan."
)


@app.callback()
def _commands() -> None:
    """Give each service its broker user, from the access plan."""


PlanOption = Annotated[Path, typer.Option(help="The access plan (make asyncapi writes it)")]
VhostOption = Annotated[str, typer.Option(help="The virtual host the services use")]
PrefixOption = Annotated[
    str, typer.Option(envvar="BROKER_USER_PREFIX", help="Broker user names: this prefix and the service's name")
]


@app.command("apply")
def apply_command(
    plan: PlanOption = DEFAULT_PLAN,
    vhost: VhostOption = "/",
    prefix: PrefixOption = DEFAULT_USER_PREFIX,
    passwords_dir: Annotated[Path, typer.Option(help="Where each service's password is kept")] = Path("var/broker"),
    management_url: Annotated[str, typer.Option(envvar="RABBITMQ_MANAGEMENT_URL")] = "http://127.0.0.1:15672",
    admin_user: Annotated[str, typer.Option(envvar="RABBITMQ_ADMIN_USER")] = "guest",
    admin_password: Annotated[str, typer.Option(envvar="RABBITMQ_ADMIN_PASSWORD")] = "guest",
) -> None:
    """Provision a running broker through its management API (idempotent)."""
    access = AccessPlan.parse(plan.read_text(encoding="utf-8"))
    identities = BrokerIdentities(prefix)
    credentials = {
        service.service: ServiceCredentials(
            identities.user(service.service), stored_password(passwords_dir, service.service)
        )
        for service in access.services
    }
    api = ManagementApi(management_url, username=admin_user, password=admin_password)
    try:
        apply(api, access, vhost=vhost, credentials=credentials)
    except ProvisioningFailed as error:
        typer.echo(f"provisioning failed: {error}", err=True)
        raise typer.Exit(1) from None
    finally:
        api.close()
    users = ", ".join(account.user for account in credentials.values())
    typer.echo(f"broker provisioned on vhost {vhost!r}: {users}; passwords in {passwords_dir}/", err=True)


if __name__ == "__main__":
    app()
