"""What a deployment makes before the system starts, from its secrets.

    python -m dukcapil_shared.deploy secrets --dir secrets      # every secret file missing there, made at random
    python -m dukcapil_shared.deploy setup --secrets /run/secrets --broker /broker --keys /keys

`secrets` makes, once, what an office need not choose itself: each service's broker and database password, the
broker administrator's, and intake's staff-token signing key (Ed25519). Files already there are kept; each is
mode 0600. Keep the directory out of version control and backed up.

`setup` (compose's one-shot `setup` container, before anything else starts) writes the broker's definitions file
(each service's user with its password's hash and permissions, the administrator, the shared exchanges; see
messaging/provision.py) and the public keys of staff tokens (a JWK Set) that every service checks tokens with.
"""

import json
import os
import secrets
from pathlib import Path
from typing import Annotated

import typer
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from dukcapil_shared.auth.keys import SigningKey
from dukcapil_shared.messaging.access import DEFAULT_USER_PREFIX, SERVICES, AccessPlan, BrokerIdentities
from dukcapil_shared.messaging.provision import DEFAULT_PLAN, ServiceCredentials, definitions

STAFF_TOKEN_KEY = "staff-token-key"
ACCESS_CODE_KEY = "access-code-key"
BROKER_ADMIN = "broker-admin"


def secret_names() -> list[str]:
    """Every secret file of a deployment made here (the office's own certificates and keys come from elsewhere)."""
    return [
        BROKER_ADMIN,
        "db-admin",
        STAFF_TOKEN_KEY,
        ACCESS_CODE_KEY,
        *(f"broker-{service}" for service in SERVICES),
        *(f"db-{service}" for service in SERVICES),
        # The citizens' portal signs its session cookies and encrypts its sessions with it (services/web).
        "web-session-secret",
    ]


def make_secrets(directory: Path) -> list[str]:
    """Make the secret files missing in `directory`; returns the names made."""
    directory.mkdir(parents=True, exist_ok=True)
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


if __name__ == "__main__":
    app()
