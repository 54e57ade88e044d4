"""What a deployment makes before the system starts, from its secrets.

    python -m dukcapil_shared.deploy secrets --dir secrets      # every secret file missing there, made at random
    python -m dukcapil_shared.deploy setup --secrets /run/secrets --broker /broker --keys /keys
    python -m dukcapil_shared.deploy migrate dukcapil_review:migrations      # as the database's owner role

`secrets` makes, once, what an office need not choose itself: each service's broker and database password, the
broker administrator's, and intake's staff-token signing key (Ed25519). Files already there are kept; each is
mode 0444 in a directory of mode 0700: compose bind-mounts each file into the containers that name it, whatever
user they run as (it ignores a secret's uid, gid and mode), and the directory keeps everyone else on the host out.
Keep the directory out of version control and backed up.

`setup` (compose's one-shot `setup` container, before anything else starts) writes the broker's definitions file
(each service's user with its password's hash and permissions, the administrator, the shared exchanges; see
messaging/provision.py) and the public keys of staff tokens (a JWK Set) that every service checks tokens with.

`migrate` (compose's one-shot `migrate-<service>` containers) brings a service's database schema up to date as the
database's owner role; the service itself then connects as a role that may only read and write rows
(deploy/postgres/service-database.sql) and starts with <SERVICE>_MIGRATE_ON_START=false.
"""

import asyncio
import json
import os
import secrets
from pathlib import Path
from typing import Annotated

import typer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.engine import make_url

from dukcapil_shared.auth.keys import SigningKey
from dukcapil_shared.db import create_engine, migrate
from dukcapil_shared.messaging.access import DEFAULT_USER_PREFIX, SERVICES, AccessPlan, BrokerIdentities
from dukcapil_shared.messaging.provision import DEFAULT_PLAN, ServiceCredentials, definitions

STAFF_TOKEN_KEY = "staff-token-key"
ACCESS_CODE_KEY = "access-code-key"
BROKER_ADMIN = "broker-admin"
SECRET_FILE_MODE = 0o444
"""Readable by the unprivileged user of whichever container mounts it; the directory (0700) guards the host."""


def secret_names() -> list[str]:
    """Every secret file of a deployment made here (the office's own certificates and keys come from elsewhere)."""
    return [
        BROKER_ADMIN,
        "db-admin",
        STAFF_TOKEN_KEY,
        ACCESS_CODE_KEY,
        *(f"broker-{service}" for service in SERVICES),
        *(f"db-{service}" for service in SERVICES),
        # Each database's owner, which only the migrations sign in as (deploy/postgres/service-database.sql).
        *(f"db-{service}-owner" for service in SERVICES),
        # postgres-exporter's role (pg_monitor: statistics, no data).
        "db-monitoring",
        # The citizens' portal signs its session cookies and encrypts its sessions with it (services/web).
        "web-session-secret",
    ]


def make_secrets(directory: Path) -> list[str]:
    """Make the secret files missing in `directory`; returns the names made."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    made = []
    for name in secret_names():
        path = directory / name
        if path.exists():
            continue
        if name == STAFF_TOKEN_KEY:
            content = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        else:
            content = secrets.token_urlsafe(32).encode()
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(content)
        path.chmod(SECRET_FILE_MODE)
        made.append(name)
    return made


def _read(directory: Path, name: str) -> str:
    path = directory / name
    if not path.is_file():
        raise typer.BadParameter(f"no secret {name} in {directory} (python -m dukcapil_shared.deploy secrets makes it)")
    return path.read_text(encoding="utf-8").strip()


app = typer.Typer(add_completion=False, no_args_is_help=True, help="What a deployment makes before the system starts.")


@app.command("secrets")
def secrets_command(
    directory: Annotated[Path, typer.Option("--dir", help="Where the secret files are kept")] = Path("secrets"),
) -> None:
    """Make every secret file missing in the directory (random passwords, intake's staff-token key and the key its
    requests' access codes are derived from)."""
    made = make_secrets(directory)
    typer.echo(f"made {', '.join(made)} in {directory}/" if made else f"every secret is already in {directory}/")


@app.command("setup")
def setup_command(
    secrets_dir: Annotated[Path, typer.Option("--secrets", help="The secret files")] = Path("/run/secrets"),
    broker: Annotated[Path, typer.Option(help="Where the broker's definitions file goes")] = Path("/broker"),
    keys: Annotated[Path, typer.Option(help="Where the staff tokens' public keys go")] = Path("/keys"),
    plan: Annotated[Path, typer.Option(help="The access plan")] = DEFAULT_PLAN,
    vhost: Annotated[str, typer.Option(help="The virtual host the services use")] = "/",
    prefix: Annotated[str, typer.Option(envvar="BROKER_USER_PREFIX")] = DEFAULT_USER_PREFIX,
    admin_user: Annotated[str, typer.Option(help="The operators' broker administrator")] = "admin",
) -> None:
    """Write the broker's definitions and the staff tokens' public keys, from the secrets."""
    identities = BrokerIdentities(prefix)
    credentials = {
        service: ServiceCredentials(identities.user(service), _read(secrets_dir, f"broker-{service}"))
        for service in SERVICES
    }
    administrator = ServiceCredentials(admin_user, _read(secrets_dir, BROKER_ADMIN))
    document = definitions(
        AccessPlan.parse(plan.read_text(encoding="utf-8")),
        vhost=vhost,
        credentials=credentials,
        administrator=administrator,
    )
    broker.mkdir(parents=True, exist_ok=True)
    (broker / "definitions.json").write_text(json.dumps(document, indent=2), encoding="utf-8")
    key = SigningKey.from_pem(_read(secrets_dir, STAFF_TOKEN_KEY))
    keys.mkdir(parents=True, exist_ok=True)
    (keys / "jwks.json").write_text(json.dumps(key.jwks(), indent=2), encoding="utf-8")
    typer.echo(f"wrote {broker / 'definitions.json'} and {keys / 'jwks.json'}")


@app.command("migrate")
def migrate_command(
    migrations: Annotated[str, typer.Argument(help="The service's migrations, e.g. dukcapil_review:migrations")],
    database_url: Annotated[
        str, typer.Option(envvar="MIGRATE_DATABASE_URL", help="The database, as its owner role, with no password")
    ],
    password_file: Annotated[
        Path | None, typer.Option(envvar="MIGRATE_DATABASE_PASSWORD_FILE", help="A file holding the owner's password")
    ] = None,
) -> None:
    """Bring a service's database schema up to date (safe when several run at once)."""
    url = make_url(database_url)
    if password_file is not None:
        url = url.set(password=password_file.read_text(encoding="utf-8").strip())
    asyncio.run(_migrate(url.render_as_string(hide_password=False), migrations))
    typer.echo(f"{url.database}: schema up to date ({migrations})")


async def _migrate(url: str, migrations: str) -> None:
    engine = create_engine(url, pool_size=1, max_overflow=0)
    try:
        await migrate(engine, migrations)
    finally:
        await engine.dispose()


if __name__ == "__main__":
    app()
