"""python -m dukcapil_intake.accounts: staff accounts from the command line, on intake's database.

    create USERNAME --role ROLE [--kecamatan 36.02.14] [--name "Full Name"]   (password asked for twice,
                                                                            or read from stdin with --password-stdin)
    list
    deactivate USERNAME | activate USERNAME
    set-password USERNAME [--password-stdin]

This is how the first admin is made on a new installation (`docker compose run --rm intake python -m
dukcapil_intake.accounts create admin --role admin`); after that, admins can also use intake's /accounts API.
The database comes from INTAKE_DATABASE_URL, as for the service; its migrations are applied first.
"""

import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, NoReturn

import typer
from pydantic import SecretStr
from pydantic_settings import SettingsConfigDict

from dukcapil_intake import tables
from dukcapil_intake.accounts.adapters.accounts import SqlAccountsUnitOfWork
from dukcapil_intake.accounts.domain.accounts import AccountRefused, check_new_account
from dukcapil_intake.accounts.service_layer import accounts as service
from dukcapil_intake.settings import IntakeSettings
from dukcapil_shared.auth.roles import Role
from dukcapil_shared.db import create_engine, migrate
from dukcapil_shared.settings import OfficeSettings, database_connection_url

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__.split("\n\n")[0])
PasswordStdin = Annotated[bool, typer.Option("--password-stdin", help="Read the password from standard input")]
Username = Annotated[str, typer.Argument(help="The account's user name")]


@app.command()
def create(
    username: Username,
    role: Annotated[Role, typer.Option(help="The account's role")],
    kecamatan: Annotated[
        str | None, typer.Option(help="For a kecamatan_operator: the kecamatan served, e.g. 36.02.14")
    ] = None,
    name: Annotated[str | None, typer.Option(help="Full name (default: the user name)")] = None,
    password_stdin: PasswordStdin = False,
) -> None:
    """A new staff account."""
    try:
        check_new_account(username, role, kecamatan)  # before asking for a password
    except AccountRefused as error:
        _fail(error.message)
    read_password = _password_reader(password_stdin)

    async def create_it(unit_of_work: service.AccountsUnitOfWorkFactory) -> str:
        account = await service.create_account(
            username=username,
            full_name=name or username,
            role=role,
            kecamatan_code=kecamatan,
            password=read_password(),
            uow=unit_of_work(),
        )
        where = f" for kecamatan {account.kecamatan_code}" if account.kecamatan_code else ""
        return f"Created {account.username} ({account.role.value}{where})."

    _run(create_it)


@app.command("list")
def list_accounts() -> None:
    """Every staff account."""

    async def listing(unit_of_work: service.AccountsUnitOfWorkFactory) -> str:
        return "\n".join(
            f"{account.username:<30} {account.role.value:<20} {account.kecamatan_code or '-':<10} "
            f"{'active' if account.active else 'deactivated'}"
            for account in await service.list_accounts(uow=unit_of_work())
        )

    _run(listing)


@app.command()
def deactivate(username: Username) -> None:
    """The account can no longer sign in (its sessions end: every service refuses its tokens within seconds)."""
    _set_active(username, active=False)


@app.command()
def activate(username: Username) -> None:
    """Allow it to sign in again."""
    _set_active(username, active=True)


@app.command("set-password")
def set_password(username: Username, password_stdin: PasswordStdin = False) -> None:
    """A new password for an account (its sessions end)."""
    read_password = _password_reader(password_stdin)

    async def set_it(unit_of_work: service.AccountsUnitOfWorkFactory) -> str:
        await service.set_password(username, read_password(), uow=unit_of_work())
        return f"New password set for {username}."

    _run(set_it)


def _set_active(username: str, *, active: bool) -> None:
    async def set_it(unit_of_work: service.AccountsUnitOfWorkFactory) -> str:
        account = await service.set_active(username, active, uow=unit_of_work())
        return f"{account.username} is now {'active' if account.active else 'deactivated'}."

    _run(set_it)


def _run(action: Callable[[service.AccountsUnitOfWorkFactory], Awaitable[str]]) -> None:
    try:
        said = asyncio.run(_with_database(action))
    except AccountRefused as error:
        _fail(error.message)
    except service.AccountExists as error:
        _fail(f"there is already an account {error}")
    except service.AccountNotFound as error:
        _fail(f"no account {error}")
    if said:
        typer.echo(said)


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(1)


def _password_reader(from_stdin: bool) -> Callable[[], str]:
    def read() -> str:
        if from_stdin:
            return sys.stdin.readline().rstrip("\n")
        if not sys.stdin.isatty():
            raise AccountRefused("no_terminal", "No terminal to ask for the password on: use --password-stdin.")
        first = getpass.getpass("Password: ")
        if getpass.getpass("Again: ") != first:
            raise AccountRefused("passwords_differ", "The two passwords differ.")
        return first

    return read


class _Database(OfficeSettings):
    """The settings this tool needs, intake's database: it runs beside intake, not as it, and checks nothing else."""

    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore")
    database_url: str = IntakeSettings.model_fields["database_url"].default
    database_password: SecretStr | None = None
    database_password_file: str | None = None

    def connection_url(self) -> str:
        return database_connection_url(self.database_url, self.database_password, self.database_password_file)


async def _with_database(action: Callable[[service.AccountsUnitOfWorkFactory], Awaitable[str]]) -> str:
    """Deactivating an account or setting its password ends its sessions: the running intake's relay announces it
    and every service refuses its tokens within seconds."""
    engine = create_engine(_Database().connection_url())
    try:
        await migrate(engine, "dukcapil_intake:migrations")
        source = "/dukcapil/lebak/intake"

        def unit_of_work() -> SqlAccountsUnitOfWork:
            return SqlAccountsUnitOfWork(engine, outbox_table=tables.outbox, inbox_table=tables.inbox, source=source)

        return await action(unit_of_work)
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    try:
        app(sys.argv[1:] if argv is None else argv, prog_name="python -m dukcapil_intake.accounts")
    except SystemExit as done:
        return int(done.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
