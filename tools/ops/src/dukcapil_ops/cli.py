"""dukcapil-ops (or python -m dukcapil_ops): the operators' command line over the services' HTTP APIs.

    dead-letters list [--service S] [--status parked|replayed|discarded|all] [--queue Q] [--subject ID]
    dead-letters show ID [--service S]
    dead-letters replay ID | --all [--service S] [--queue Q] [--routing-key K] [--note TEXT]
    dead-letters discard ID --why TEXT [--service S]
    incidents list [--resolved]
    incidents show REQUEST_ID
    follow REQUEST_ID --reason TEXT
    statistics requests [--group-by type,status,kecamatan,month] [--from YYYY-MM] [--to YYYY-MM] [--type T]
                        [--kecamatan K]
    statistics lead-times [--from YYYY-MM] [--to YYYY-MM] [--type T] [--kecamatan K]
    statistics overdue [--type T] [--kecamatan K]
    backup --service S --out DIR [--database URL] [--files DIR ...]
    restore BACKUP [--database URL] [--force]
    replay --service S --since TIME [--from-database SERVICE=URL ...] [--margin SECONDS]

Each prints a table, or with --json the API's answer. A service's URL comes from --url (for dead letters, with
--service), else DUKCAPIL_<SERVICE>_URL, else its local port (intake 8001, review 8002, documents 8003, shipping
8004). The token comes from --token, else DUKCAPIL_TOKEN; else the tool signs in at intake's POST /auth/token as
--user (else DUKCAPIL_USER) with the password from DUKCAPIL_PASSWORD or asked for; with none of these, as the
development account of `make run` that holds the scope the command needs: `admin` for dead letters and
incidents, `supervisor` for follow and statistics. Backup, restore and replay talk to the databases instead
(docs/operations.md, "Backups and restore").
"""

import functools
import getpass
import inspect
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer

from dukcapil_ops import backups, render
from dukcapil_ops.client import (
    SERVICES,
    OpsClient,
    OpsError,
    Response,
    Send,
    service_urls,
    sign_in,
    urllib_send,
)
from dukcapil_shared.contracts import RequestType

__all__ = ["OpsError", "Response", "Send", "app", "main"]

DEVELOPMENT_PASSWORD = "development-only-password"  # of the accounts intake adds for `make run`
DEVELOPMENT_ADMIN = "admin"  # holds `operations` (dead letters) and `incidents:read`
DEVELOPMENT_SUPERVISOR = "supervisor"  # holds `requests:read` (follow) and `statistics:read`
DEFAULT_REASON = "dead-letter and incident handling (ops command line)"


@dataclass(frozen=True)
class Invocation:
    """What a command talks to: the environment, the HTTP transport and where it prints (swapped in tests)."""

    environ: Mapping[str, str]
    send: Send
    out: TextIO
    ask_password: Callable[[str], str]

    def print(self, data: Any, as_json: bool, render_text: Callable[[Any], str]) -> None:
        self.out.write((json.dumps(data, indent=2, ensure_ascii=False) if as_json else render_text(data)) + "\n")


class Service(StrEnum):
    intake = "intake"
    review = "review"
    documents = "documents"
    shipping = "shipping"


class LetterStatus(StrEnum):
    parked = "parked"
    replayed = "replayed"
    discarded = "discarded"
    all = "all"


# --- the options every command shares ---

TokenOption = Annotated[str | None, typer.Option(help="A staff access token; else DUKCAPIL_TOKEN", show_default=False)]
UserOption = Annotated[
    str | None,
    typer.Option(
        help="Sign in at intake as this user (else DUKCAPIL_USER); the password is asked for", show_default=False
    ),
]
TimeoutOption = Annotated[float, typer.Option(min=0.1, help="Seconds per HTTP call")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print the API's JSON instead of a table")]
ServiceOption = Annotated[Service | None, typer.Option(help="One service (default: all four)", show_default=False)]
ServiceUrlOption = Annotated[
    str | None, typer.Option(help="The service's base URL (with --service); else DUKCAPIL_<SERVICE>_URL")
]
ReasonOption = Annotated[str, typer.Option(help="Why you look; the services record it with your user name")]
FromOption = Annotated[
    str | None, typer.Option("--from", help="First month of submission (WIB), YYYY-MM", show_default=False)
]
ToOption = Annotated[
    str | None, typer.Option("--to", help="Last month of submission (WIB), YYYY-MM", show_default=False)
]
TypeOption = Annotated[RequestType | None, typer.Option("--type", help="Only this request type", show_default=False)]
KecamatanOption = Annotated[
    str | None, typer.Option(help="Only this kecamatan, e.g. 36.02.14 (an operator: their own)", show_default=False)
]


def _url_option(service: str) -> Any:
    return typer.Option(help=f"{service.capitalize()}'s base URL; else DUKCAPIL_{service.upper()}_URL")


def _connect(
    ctx: typer.Context,
    *,
    token: str | None,
    user: str | None,
    timeout: float,
    reason: str | None,
    development_user: str,
    urls: Mapping[str, str] | None = None,
) -> OpsClient:
    invocation: Invocation = ctx.obj
    known = service_urls(invocation.environ, urls)
    token = token or invocation.environ.get("DUKCAPIL_TOKEN")
    if not token:
        user = user or invocation.environ.get("DUKCAPIL_USER")
        if user:
            password = invocation.environ.get("DUKCAPIL_PASSWORD") or invocation.ask_password(f"Password for {user}: ")
        else:
            user, password = development_user, DEVELOPMENT_PASSWORD
        token = sign_in(known["intake"], user, password, send=invocation.send, timeout=timeout)
    return OpsClient(urls=known, token=token, reason=reason, timeout=timeout, send=invocation.send)


def _one_service(service: Service | None, url: str | None) -> tuple[list[str], dict[str, str]]:
    """The services a dead-letter command goes to, and the URL given for one of them."""
    if url and service is None:
        raise OpsError("--url needs --service: which service is at that URL?")
    return ([service.value] if service else list(SERVICES)), ({service.value: url} if service and url else {})


app = typer.Typer(
    name="dukcapil-ops",
    help="The operators' command line: dead letters, incidents, one request's story, and the office's figures.",
    no_args_is_help=True,
    add_completion=False,
)
dead_letters = typer.Typer(help="Messages a service gave up on: list, show, replay, discard", no_args_is_help=True)
incidents = typer.Typer(help="Where requests are stuck (intake's incident view)", no_args_is_help=True)
statistics = typer.Typer(help="The office's figures: requests, lead times, overdue reviews", no_args_is_help=True)
app.add_typer(dead_letters, name="dead-letters")
app.add_typer(incidents, name="incidents")
app.add_typer(statistics, name="statistics")


Shown = tuple[Any, Callable[[Any], str]]
"""What a command prints: the API's answer (as it is with --json) and how to render it as text."""


def _option(name: str, annotation: Any, default: Any) -> inspect.Parameter:
    return inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation, default=default)


def _command(
    group: typer.Typer,
    name: str,
    *,
    development_user: str,
    at: str | None = None,
    records_reason: bool = True,
    usage: Callable[..., None] | None = None,
) -> Callable[[Callable[..., Shown]], Callable[..., None]]:
    """Registers a command in `group` that signs in, calls the services and prints what it returns.

    The function takes a signed-in `client` (OpsClient) and its own options, and returns what to print. This adds
    the options every command shares, after the function's own: where the service is (`--url` for the service
    `at`; without `at`, a dead-letter command: `--service` and `--url`, and the function takes `services`, the ones
    to ask), `--token`, `--user`, `--reason` (unless the function asks for its reason itself, or the command
    records none), `--timeout` and `--json`. `usage`, given the function's options, refuses a mistake before
    anyone signs in. Errors are main's: an OpsError exits with status 1, a usage mistake with 2."""

    def register(function: Callable[..., Shown]) -> Callable[..., None]:
        own = inspect.signature(function).parameters
        asks_reason = "reason" in own
        if at:
            shared = [_option("url", Annotated[str | None, _url_option(at)], None)]
        else:
            shared = [_option("service", ServiceOption, None), _option("url", ServiceUrlOption, None)]
        shared += [_option("token", TokenOption, None), _option("user", UserOption, None)]
        if records_reason and not asks_reason:
            shared.append(_option("reason", ReasonOption, DEFAULT_REASON))
        shared += [_option("timeout", TimeoutOption, 30.0), _option("as_json", JsonOption, False)]

        @functools.wraps(function)
        def command(ctx: typer.Context, **options: Any) -> None:
            url, token, user = options.pop("url"), options.pop("token"), options.pop("user")
            timeout, as_json = options.pop("timeout"), options.pop("as_json")
            reason = options["reason"] if asks_reason else options.pop("reason", None)
            if usage is not None:
                usage(**options)
            if at:
                urls = {at: url} if url else None
            else:
                options["services"], urls = _one_service(options.pop("service"), url)
            options["client"] = _connect(
                ctx,
                token=token,
                user=user,
                timeout=timeout,
                reason=reason,
                development_user=development_user,
                urls=urls,
            )
            answer, render_text = function(**options)
            ctx.obj.print(answer, as_json, render_text)

        visible = [
            parameter.replace(kind=inspect.Parameter.KEYWORD_ONLY)
            for parameter in own.values()
            if parameter.name not in ("client", "services")
        ]
        ctx = inspect.Parameter("ctx", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=typer.Context)
        command.__signature__ = inspect.Signature([ctx, *visible, *shared], return_annotation=None)  # type: ignore[attr-defined]
        group.command(name)(command)
        return command

    return register


# --- dead letters ---


def _one_letter_or_all(letter_id: str | None, every: bool, **_: Any) -> None:
    if (letter_id is None) == (not every):
        raise typer.BadParameter("name one dead letter, or give --all (not both)", param_hint="'ID' / '--all'")


@_command(dead_letters, "list", development_user=DEVELOPMENT_ADMIN)
def list_letters(
    client: OpsClient,
    services: list[str],
    status: Annotated[LetterStatus, typer.Option(help="Which letters")] = LetterStatus.parked,
    queue: Annotated[str | None, typer.Option(help="Only this original queue", show_default=False)] = None,
    subject: Annotated[
        str | None, typer.Option(help="Only the letters about this request id", show_default=False)
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000, help="At most this many per service and status")] = 100,
) -> Shown:
    """List dead letters (parked ones by default), oldest first."""
    statuses = ("parked", "replayed", "discarded") if status == LetterStatus.all else (status.value,)
    found = []
    for one in services:
        for each in statuses:
            letters = client.expect(one, "GET", "/dead-letters", status=each, queue=queue, subject=subject, limit=limit)
            found += [{"service": one, **letter} for letter in letters]
    return found, render.letter_table


@_command(dead_letters, "show", development_user=DEVELOPMENT_ADMIN)
def show_letter(
    client: OpsClient,
    services: list[str],
    letter_id: Annotated[str, typer.Argument(metavar="ID", help="The dead letter's id")],
) -> Shown:
    """One dead letter with its body and headers (a person's data: the access is recorded with --reason)."""
    holder, letter = client.find_letter(letter_id, services)
    return {"service": holder, **letter}, render.letter_detail


@_command(dead_letters, "replay", development_user=DEVELOPMENT_ADMIN, usage=_one_letter_or_all)
def replay_letters(
    client: OpsClient,
    services: list[str],
    letter_id: Annotated[str | None, typer.Argument(metavar="[ID]", help="The dead letter to replay")] = None,
    every: Annotated[bool, typer.Option("--all", help="Every parked letter (of --queue, if given)")] = False,
    queue: Annotated[str | None, typer.Option(help="With --all: only this original queue", show_default=False)] = None,
    routing_key: Annotated[
        str | None, typer.Option(help="With --all: only this event type", show_default=False)
    ] = None,
    note: Annotated[
        str | None, typer.Option(help="Why it can go now, e.g. the fix deployed", show_default=False)
    ] = None,
) -> Shown:
    """Send parked letters back to the queue they failed in: one by its ID, or --all."""
    if every:
        body = {"note": note, "original_queue": queue, "routing_key": routing_key}
        return {
            one: client.expect(one, "POST", "/dead-letters/replay", body) for one in services
        }, render.replay_reports
    assert letter_id is not None
    holder, _ = client.find_letter(letter_id, services)
    letter = client.expect(holder, "POST", f"/dead-letters/{letter_id}/replay", {"note": note})
    return {"service": holder, **letter}, render.letter_outcome


@_command(dead_letters, "discard", development_user=DEVELOPMENT_ADMIN)
def discard_letter(
    client: OpsClient,
    services: list[str],
    letter_id: Annotated[str, typer.Argument(metavar="ID", help="The dead letter to drop")],
    why: Annotated[str, typer.Option(help="Why it is dropped; kept with the letter")],
) -> Shown:
    """Drop a parked letter on purpose; who and why are kept."""
    holder, _ = client.find_letter(letter_id, services)
    letter = client.expect(holder, "POST", f"/dead-letters/{letter_id}/discard", {"reason": why})
    return {"service": holder, **letter}, render.letter_outcome


# --- incidents ---


@_command(incidents, "list", development_user=DEVELOPMENT_ADMIN, at="intake")
def list_incidents(
    client: OpsClient,
    resolved: Annotated[bool, typer.Option("--resolved", help="Resolved incidents instead of open ones")] = False,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 200,
) -> Shown:
    """Open incidents and stalled requests, the longest stuck first."""
    return client.expect(
        "intake", "GET", "/incidents", open=str(not resolved).lower(), limit=limit
    ), render.incident_table


@_command(incidents, "show", development_user=DEVELOPMENT_ADMIN, at="intake")
def show_incident(client: OpsClient, request_id: Annotated[str, typer.Argument(metavar="REQUEST_ID")]) -> Shown:
    """Where one request is stuck, since when and why."""
    return client.expect("intake", "GET", f"/requests/{request_id}/incident"), render.incident_detail


# --- one request ---


@_command(app, "follow", development_user=DEVELOPMENT_SUPERVISOR, at="intake")
def follow(
    client: OpsClient,
    request_id: Annotated[str, typer.Argument(metavar="REQUEST_ID", help="The request's id")],
    reason: Annotated[
        str,
        typer.Option(
            help="Why you open it, e.g. 'citizen asked at the counter'; recorded with your user name",
            show_default=False,
        ),
    ],
) -> Shown:
    """A request's status and its history, one line per event (times in WIB)."""
    return client.expect("intake", "GET", f"/requests/{request_id}"), render.request_story


# --- statistics ---


@_command(statistics, "requests", development_user=DEVELOPMENT_SUPERVISOR, at="intake", records_reason=False)
def request_statistics(
    client: OpsClient,
    group_by: Annotated[
        str | None,
        typer.Option(help="Comma-separated: type, status, kecamatan, month (none: the total)", show_default=False),
    ] = None,
    from_month: FromOption = None,
    to_month: ToOption = None,
    request_type: TypeOption = None,
    kecamatan: KecamatanOption = None,
) -> Shown:
    """How many requests, by type, current status, kecamatan and month of submission."""
    query = {"group_by": group_by, "from": from_month, "to": to_month, "kecamatan": kecamatan}
    query["type"] = request_type.value if request_type else None
    return client.expect("intake", "GET", "/statistics/requests", **query), render.request_counts


@_command(statistics, "lead-times", development_user=DEVELOPMENT_SUPERVISOR, at="intake", records_reason=False)
def lead_time_statistics(
    client: OpsClient,
    from_month: FromOption = None,
    to_month: ToOption = None,
    request_type: TypeOption = None,
    kecamatan: KecamatanOption = None,
) -> Shown:
    """How long each stage takes (mean, median, 90th percentile) for the requests submitted in those months."""
    query = {"from": from_month, "to": to_month, "kecamatan": kecamatan}
    query["type"] = request_type.value if request_type else None
    return client.expect("intake", "GET", "/statistics/lead-times", **query), render.lead_times


@_command(statistics, "overdue", development_user=DEVELOPMENT_SUPERVISOR, at="review", records_reason=False)
def overdue_statistics(client: OpsClient, request_type: TypeOption = None, kecamatan: KecamatanOption = None) -> Shown:
    """Reviews past their service-level target now, per type and kecamatan (counted by review, which owns the
    due dates)."""
    query = {"type": request_type.value if request_type else None, "kecamatan": kecamatan}
    return client.expect("review", "GET", "/statistics/overdue", **query), render.overdue


# --- backups (these talk to the databases, not to the services' APIs) ---

DatabaseOption = Annotated[
    str | None,
    typer.Option(help="The service's database URL; else <SERVICE>_DATABASE_URL (the service's own setting)"),
]


def _database_url(invocation: Invocation, service: Service, url: str | None) -> str:
    found = url or invocation.environ.get(f"{service.value.upper()}_DATABASE_URL")
    if not found:
        raise OpsError(f"which database? give --database or set {service.value.upper()}_DATABASE_URL")
    return found


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as error:
        raise typer.BadParameter(f"{text!r} is not an ISO 8601 time, e.g. 2026-12-03T22:00:00+00:00") from error
    if moment.tzinfo is None:
        raise typer.BadParameter("give the time with its offset (+00:00 for UTC), as the manifest has it")
    return moment


@app.command("backup")
def backup_command(
    ctx: typer.Context,
    service: Annotated[Service, typer.Option(help="The service to back up")],
    out: Annotated[Path, typer.Option(help="A folder; the backup is a new folder in it")],
    database: DatabaseOption = None,
    files: Annotated[
        list[str] | None,
        typer.Option(
            help="A folder of the service's files (repeat); default: its settings' folders (intake: the scans; "
            "documents: the PDFs and the signing material)",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Back up one service: its PostgreSQL database (pg_dump, custom format) and its files, with a manifest (time,
    migration head, checksums)."""
    invocation: Invocation = ctx.obj
    folders = files if files is not None else backups.default_folders(service.value, invocation.environ)
    target, manifest = backups.backup(
        service=service.value,
        database_url=_database_url(invocation, service, database),
        folders=folders,
        out=out,
    )
    invocation.print({"backup": str(target), **asdict(manifest)}, as_json, render.backup_made)


@app.command("restore")
def restore_command(
    ctx: typer.Context,
    backup_folder: Annotated[Path, typer.Argument(metavar="BACKUP", help="The folder `backup` made")],
    database: Annotated[
        str | None, typer.Option(help="An empty database to restore into; else <SERVICE>_DATABASE_URL")
    ] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Restore into a database that holds tables (replacing them) or across migration heads"
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Restore a backup into an empty database and its files into their folders; then run the `replay` it prints
    while the service starts again."""
    invocation: Invocation = ctx.obj
    service = Service(backups.check(backup_folder).service)
    manifest = backups.restore(
        backup_folder, database_url=_database_url(invocation, service, database), service=service.value, force=force
    )
    invocation.print(asdict(manifest), as_json, render.backup_restored)


@app.command("replay")
def replay_command(
    ctx: typer.Context,
    service: Annotated[Service, typer.Option(help="The restored service")],
    since: Annotated[str, typer.Option(help="The backup's started_at (its manifest): replay from then on")],
    from_database: Annotated[
        list[str] | None,
        typer.Option(
            help="SERVICE=URL of a service whose events to replay (repeat); default: every other service whose "
            "<SERVICE>_DATABASE_URL is set",
            show_default=False,
        ),
    ] = None,
    margin: Annotated[
        float, typer.Option(min=0, help="Start this many seconds before --since, for what was queued then")
    ] = backups.DEFAULT_REPLAY_MARGIN.total_seconds(),
    access_plan: Annotated[Path, typer.Option(help="Who subscribes to what (generated by `make asyncapi`)")] = Path(
        "deploy/rabbitmq/access.json"
    ),
    as_json: JsonOption = False,
) -> None:
    """After a restore: the other services publish again, from their outboxes, the events the restored service
    consumed after its backup (their inboxes drop what they already had)."""
    invocation: Invocation = ctx.obj
    producers: dict[str, str] = {}
    for given in from_database or []:
        name, _, url = given.partition("=")
        if name not in SERVICES or not url:
            raise typer.BadParameter(f"{given!r}: give SERVICE=URL, SERVICE one of {', '.join(SERVICES)}")
        producers[name] = url
    if from_database is None:
        producers = {
            name: invocation.environ[f"{name.upper()}_DATABASE_URL"]
            for name in SERVICES
            if name != service.value and f"{name.upper()}_DATABASE_URL" in invocation.environ
        }
    replayed = backups.replay(
        service=service.value,
        since=_moment(since),
        producers=producers,
        access_plan=access_plan,
        margin=timedelta(seconds=margin),
    )
    invocation.print([asdict(each) for each in replayed], as_json, render.replayed_events)


def main(
    argv: Sequence[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    send: Send = urllib_send,
    out: TextIO | None = None,
    ask_password: Callable[[str], str] = getpass.getpass,
) -> int:
    """Runs one command; the exit status: 0 done, 1 the services refused or could not be reached, 2 a usage
    mistake."""
    invocation = Invocation(
        environ=os.environ if environ is None else environ,
        send=send,
        out=out or sys.stdout,
        ask_password=ask_password,
    )
    command = typer.main.get_command(app)
    try:
        command.main(
            args=list(argv) if argv is not None else sys.argv[1:],
            prog_name="dukcapil-ops",
            obj=invocation,
            standalone_mode=True,
        )
    except OpsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else 1)
    return 0
