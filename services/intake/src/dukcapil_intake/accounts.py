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

import argparse
import asyncio
import getpass
import sys
from collections.abc import Callable
from typing import TextIO

from pydantic_settings import BaseSettings, SettingsConfigDict

from dukcapil_intake.adapters import tables
from dukcapil_intake.adapters.accounts import SqlAccountsUnitOfWork
from dukcapil_intake.domain.accounts import AccountRefused, check_new_account
from dukcapil_intake.service_layer import accounts as service
from dukcapil_intake.settings import IntakeSettings
from dukcapil_shared.auth.roles import Role
from dukcapil_shared.db import create_engine, migrate


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m dukcapil_intake.accounts", description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create", help="A new staff account")
    create.add_argument("username")
    create.add_argument("--role", required=True, choices=[role.value for role in Role])
    create.add_argument("--kecamatan", help="For a kecamatan_operator: the kecamatan served, e.g. 36.02.14")
    create.add_argument("--name", help="Full name (default: the user name)")
    create.add_argument("--password-stdin", action="store_true", help="Read the password from standard input")
    commands.add_parser("list", help="Every staff account")
    for name, text in (("deactivate", "The account can no longer sign in"), ("activate", "Allow it to sign in again")):
        commands.add_parser(name, help=text).add_argument("username")
    password = commands.add_parser("set-password", help="A new password for an account")
    password.add_argument("username")
    password.add_argument("--password-stdin", action="store_true")
    return parser


async def run(
    args: argparse.Namespace,
    unit_of_work: service.AccountsUnitOfWorkFactory,
    out: TextIO,
    read_password: Callable[[], str],
) -> None:
    """Deactivating an account or setting its password ends its sessions: the running intake's relay announces it
    and every service refuses its tokens within seconds."""
    if args.command == "create":
        check_new_account(args.username, Role(args.role), args.kecamatan)  # before asking for a password
        account = await service.create_account(
            username=args.username,
            full_name=args.name or args.username,
            role=Role(args.role),
            kecamatan_code=args.kecamatan,
            password=read_password(),
            uow=unit_of_work(),
        )
        where = f" for kecamatan {account.kecamatan_code}" if account.kecamatan_code else ""
        out.write(f"Created {account.username} ({account.role.value}{where}).\n")
    elif args.command == "list":
        for account in await service.list_accounts(uow=unit_of_work()):
            state = "active" if account.active else "deactivated"
            out.write(f"{account.username:<30} {account.role.value:<20} {account.kecamatan_code or '-':<10} {state}\n")
    elif args.command in ("activate", "deactivate"):
        account = await service.set_active(args.username, args.command == "activate", uow=unit_of_work())
        out.write(f"{account.username} is now {'active' if account.active else 'deactivated'}.\n")
    elif args.command == "set-password":
        await service.set_password(args.username, read_password(), uow=unit_of_work())
        out.write(f"New password set for {args.username}.\n")


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


class _Database(BaseSettings):
    """The one setting this tool needs: it runs beside intake, not as it, and checks nothing else."""

    model_config = SettingsConfigDict(env_prefix="INTAKE_", extra="ignore")
    database_url: str = IntakeSettings.model_fields["database_url"].default


async def _main(args: argparse.Namespace) -> None:
    engine = create_engine(_Database().database_url)
    try:
        await migrate(engine, "dukcapil_intake:migrations")
        reader = _password_reader(getattr(args, "password_stdin", False))
        source = "/dukcapil/lebak/intake"

        def unit_of_work() -> SqlAccountsUnitOfWork:
            return SqlAccountsUnitOfWork(engine, outbox_table=tables.outbox, inbox_table=tables.inbox, source=source)

        await run(args, unit_of_work, sys.stdout, reader)
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        asyncio.run(_main(args))
    except AccountRefused as error:
        print(f"error: {error.message}", file=sys.stderr)
        return 1
    except service.AccountExists as error:
        print(f"error: there is already an account {error}", file=sys.stderr)
        return 1
    except service.AccountNotFound as error:
        print(f"error: no account {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
