"""python -m dukcapil_intake.agencies: onboarding, offboarding and replays for the agencies that subscribe to events.

    events                                             the public events an agency can be entitled to
    onboard --name N --events T,T --regions R,R [--identified] [--by WHO] [--json]
    offboard --name N [--by WHO]
    list [--json]
    replay --name N --since WHEN [--until WHEN] [--json]

It reads intake's settings (INTAKE_DATABASE_URL, AMQP_URL, INTAKE_RABBITMQ_MANAGEMENT_URL and _USER and _PASSWORD,
INTAKE_AGENCY_AMQP_URL). Times without a zone are Lebak's (WIB, UTC+7).
"""

import asyncio
import getpass
import json
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Annotated, Any, TextIO

import typer
from sqlalchemy.exc import OperationalError

from dukcapil_intake.agencies.domain.agencies import AgencyRefused
from dukcapil_intake.agencies.service_layer import agencies
from dukcapil_intake.agencies.service_layer.repository import AgencyExists
from dukcapil_intake.bootstrap import AgencyDesk, build_agency_desk
from dukcapil_intake.settings import IntakeSettings
from dukcapil_shared.contracts.public import PUBLIC_EVENTS
from dukcapil_shared.contracts.regions import WIB
from dukcapil_shared.logging import configure_logging
from dukcapil_shared.messaging import IDENTIFIED_PUBLIC_EXCHANGE

PROBLEMS = (
    AgencyRefused,
    AgencyExists,
    agencies.AgencyNotFound,
    agencies.BrokerAdminFailed,
    agencies.ReplayNotDelivered,
    agencies.InvalidTimeRange,
    OperationalError,
    OSError,
)


@dataclass
class Parsed:
    """A command line as understood: the command and its options."""

    command: str
    name: str = ""
    events: list[str] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    identified: bool = False
    by: str = ""
    json: bool = False
    since: datetime | None = None
    until: datetime | None = None


app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Agencies that subscribe to the office's public events. Lists take commas or repeated options: "
    "--events death.registered.v1,document.revoked.v1.",
)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON")]


@app.command("events")
def _events(context: typer.Context) -> None:
    """The public events an agency can be entitled to."""
    context.obj.append(Parsed("events"))


@app.command("onboard")
def _onboard(
    context: typer.Context,
    name: Annotated[str, typer.Option(help="Short lower-case name, e.g. bpjs-kesehatan")],
    events: Annotated[list[str], typer.Option(metavar="TYPE", help="Event types, e.g. death.registered.v1")],
    regions: Annotated[list[str], typer.Option(metavar="PREFIX", help="Region prefixes: 36.02 (Lebak), 36.02.14")],
    identified: Annotated[
        bool, typer.Option("--identified", help="NIKs and KK numbers in full (only for an entitled agency)")
    ] = False,
    by: Annotated[str, typer.Option(help="Who onboards (default: your user name)")] = "",
    json: JsonOption = False,
) -> None:
    """Create an agency's broker user, queues and bindings."""
    context.obj.append(
        Parsed("onboard", name=name, events=events, regions=regions, identified=identified, by=by, json=json)
    )


@app.command("offboard")
def _offboard(
    context: typer.Context,
    name: Annotated[str, typer.Option(help="The agency")],
    by: Annotated[str, typer.Option(help="Who offboards (default: your user name)")] = "",
) -> None:
    """Remove an agency's user, connections, queues and record."""
    context.obj.append(Parsed("offboard", name=name, by=by))


@app.command("list")
def _list(context: typer.Context, json: JsonOption = False) -> None:
    """Agencies, their entitlements and their queues."""
    context.obj.append(Parsed("list", json=json))


@app.command("replay")
def _replay(
    context: typer.Context,
    name: Annotated[str, typer.Option(help="The agency")],
    since: Annotated[
        datetime,
        typer.Option(parser=lambda text: _moment(text), help="From (inclusive): 2026-11-01 or 2026-11-01T08:00"),
    ],
    until: Annotated[
        datetime | None, typer.Option(parser=lambda text: _moment(text), help="Until (exclusive); default: now")
    ] = None,
    json: JsonOption = False,
) -> None:
    """Send an agency the events of a time range again, from the log."""
    context.obj.append(Parsed("replay", name=name, since=since, until=until, json=json))


def parse(argv: Sequence[str]) -> Parsed:
    """The command line understood, or SystemExit(2) with what is wrong (and 0 after --help)."""
    found: list[Parsed] = []
    try:
        # Typer's own errors (a missing option, a malformed time) are printed with the usage and exit with 2.
        app(list(argv), prog_name=PROG, obj=found)
    except SystemExit as done:
        if done.code not in (0, None) or not found:  # a mistake, or --help answered
            raise
    parsed = found[0]
    parsed.by = parsed.by or _operator()
    return parsed


PROG = "python -m dukcapil_intake.agencies"


def _operator() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment: the operator must say who they are
        return "unknown-operator"


def _moment(text: str) -> datetime:
    try:
        moment = datetime.combine(date.fromisoformat(text), datetime.min.time()) if len(text) == 10 else None
        moment = moment or datetime.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(f"{text!r} is no date or time; write 2026-11-01 or 2026-11-01T08:00") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=WIB)


def _split(values: Sequence[str]) -> list[str]:
    """Lists may be space- or comma-separated: `--events a b` or `--events a,b`."""
    return [item for value in values for item in value.split(",")]


async def run(args: Parsed, desk: AgencyDesk, out: TextIO) -> None:
    if args.command == "events":
        out.write(_events_table() + "\n")
        return
    await desk.open()
    if args.command == "onboard":
        command = agencies.OnboardAgency(
            name=args.name,
            event_types=_split(args.events),
            region_prefixes=_split(args.regions),
            identified=args.identified,
            by=args.by,
        )
        onboarded = await agencies.onboard_agency(command, uow=desk.unit_of_work(), broker=desk.broker)
        details = _connection_details(onboarded, desk)
        out.write((json.dumps(details, indent=2) if args.json else _onboarded_text(details)) + "\n")
    elif args.command == "offboard":
        gone = await agencies.offboard_agency(args.name, uow=desk.unit_of_work(), broker=desk.broker, by=args.by)
        leftover = " (a leftover only the broker had)" if gone.leftover else ""
        out.write(
            f"Offboarded {gone.name}{leftover}: user {gone.user} deleted, {gone.connections_closed} connection(s) "
            f"closed, queues {' and '.join(gone.queues)} deleted.\n"
        )
    elif args.command == "list":
        listed = await agencies.list_agencies(uow=desk.unit_of_work(), broker=desk.broker)
        out.write(
            (json.dumps([_listed(item) for item in listed], indent=2) if args.json else _list_text(listed)) + "\n"
        )
    elif args.command == "replay":
        assert args.since is not None  # a required option
        until = args.until or datetime.now(UTC)
        replayed = await agencies.replay_to_agency(
            args.name, since=args.since, until=until, uow=desk.unit_of_work(), delivery=desk.delivery, by=args.by
        )
        out.write((json.dumps(_replayed(replayed), indent=2) if args.json else _replayed_text(replayed)) + "\n")


def _events_table() -> str:
    lines = ["Public events (routing key: <type>.<kecamatan code>, e.g. death.registered.v1.36.02.14):"]
    for event in PUBLIC_EVENTS:
        summary = " ".join((event.__doc__ or "").split())
        lines.append(f"  {event.type_name():<26} {summary}")
    return "\n".join(lines)


def _connection_details(onboarded: agencies.Onboarded, desk: AgencyDesk) -> dict[str, Any]:
    agency = onboarded.agency
    return {
        "agency": agency.name,
        "amqp_url": desk.connection_url(agency.broker_user, onboarded.password),
        "user": agency.broker_user,
        "password": onboarded.password,
        "queue": agency.queue,
        "dead_letter_queue": agency.dead_letter_queue,
        "exchange": agency.exchange,
        "identified": agency.identified,
        "binding_keys": agency.binding_keys,
    }


def _onboarded_text(details: dict[str, Any]) -> str:
    variant = "identity numbers in full" if details["identified"] else "NIK and KK numbers masked"
    rows = [
        ("AMQP URL", details["amqp_url"]),
        ("user", details["user"]),
        ("password", details["password"]),
        ("queue", f"{details['queue']}  (consume with manual acks; CloudEvents JSON)"),
        ("dead letters", details["dead_letter_queue"]),
        ("exchange", f"{details['exchange']}  ({variant})"),
        ("bound to", ", ".join(details["binding_keys"])),
    ]
    return "\n".join(
        [
            f"Onboarded {details['agency']}. Hand these to the agency over a secure channel; the password is not "
            "shown again.",
            "",
            *(f"  {label:<13}{value}" for label, value in rows),
        ]
    )


def _listed(item: agencies.ListedAgency) -> dict[str, Any]:
    agency = item.agency
    return {
        "agency": agency.name,
        "user": agency.broker_user,
        "exchange": agency.exchange,
        "event_types": list(agency.event_types),
        "region_prefixes": list(agency.region_prefixes),
        "queue": agency.queue,
        "queue_messages": item.queue.messages if item.queue else None,
        "queue_consumers": item.queue.consumers if item.queue else None,
        "dead_letters": item.dead_letters.messages if item.dead_letters else None,
        "onboarded_at": agency.onboarded_at.isoformat(),
        "onboarded_by": agency.onboarded_by,
    }


def _list_text(listed: list[agencies.ListedAgency]) -> str:
    if not listed:
        return "No agencies."
    header = ["AGENCY", "VARIANT", "EVENT TYPES", "REGIONS", "QUEUED", "CONSUMERS", "DEAD", "ONBOARDED"]
    rows = [
        [
            item.agency.name,
            "identified" if item.agency.exchange == IDENTIFIED_PUBLIC_EXCHANGE.name else "masked",
            ",".join(item.agency.event_types),
            ",".join(item.agency.region_prefixes),
            str(item.queue.messages) if item.queue else "queue missing",
            str(item.queue.consumers) if item.queue else "-",
            str(item.dead_letters.messages) if item.dead_letters else "-",
            f"{item.agency.onboarded_at.astimezone(WIB):%Y-%m-%d %H:%M} WIB by {item.agency.onboarded_by}",
        ]
        for item in listed
    ]
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    )


def _replayed(replayed: agencies.Replayed) -> dict[str, Any]:
    return {
        "agency": replayed.agency.name,
        "queue": replayed.agency.queue,
        "since": replayed.since.isoformat(),
        "until": replayed.until.isoformat(),
        "replayed": len(replayed.events),
        "by_event_type": replayed.by_event_type,
    }


def _replayed_text(replayed: agencies.Replayed) -> str:
    summary = _replayed(replayed)
    counts = ", ".join(f"{count} {event_type}" for event_type, count in summary["by_event_type"].items())
    since, until = (f"{moment.astimezone(WIB):%Y-%m-%d %H:%M}" for moment in (replayed.since, replayed.until))
    return f"Replayed {summary['replayed']} events to {replayed.agency.queue} (occurred {since} to {until} WIB)" + (
        f": {counts}." if counts else "."
    )


def main(
    argv: Sequence[str] | None = None,
    *,
    settings: IntakeSettings | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    try:
        args = parse(sys.argv[1:] if argv is None else argv)
    except SystemExit as done:
        return int(done.code or 0)
    settings = settings or IntakeSettings()
    err = err or sys.stderr
    # Stdout is the command's output (JSON with --json): the logs go to stderr.
    configure_logging("intake-agencies", settings.log_level, settings.log_json, stream=err)
    # A migration or a management API call is worth a line only when it fails.
    for chatty in ("alembic", "httpx"):
        logging.getLogger(chatty).setLevel(logging.WARNING)
    try:
        asyncio.run(_run_with_desk(args, settings, out or sys.stdout))
    except PROBLEMS as problem:
        err.write(f"error: {_describe(problem)}\n")
        return 1
    return 0


async def _run_with_desk(args: Parsed, settings: IntakeSettings, out: TextIO) -> None:
    desk = build_agency_desk(settings)
    try:
        await run(args, desk, out)
    finally:
        await desk.close()


def _describe(problem: Exception) -> str:
    match problem:
        case agencies.AgencyNotFound():
            return f"no agency named {problem.extra['agency']}; `list` shows the agencies"
        case agencies.ReplayNotDelivered():
            return f"{problem}; run the replay again: the agency drops the events it already has"
        case OperationalError() | OSError():
            return f"cannot reach intake's database ({type(problem).__name__}); check INTAKE_DATABASE_URL"
    return str(problem)
