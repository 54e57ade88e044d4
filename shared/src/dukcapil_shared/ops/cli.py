"""python -m dukcapil_shared.ops: the operators' command line over the services' HTTP APIs.

    dead-letters list [--service S] [--status parked|replayed|discarded|all]
    dead-letters show ID [--service S]
    dead-letters replay ID | --all [--service S] [--note TEXT] [--queue Q]
    dead-letters discard ID --why TEXT [--service S]
    incidents list [--resolved]
    incidents show REQUEST_ID

Each service's URL comes from --url (with --service), else DUKCAPIL_<SERVICE>_URL, else its local port.
Dead letters need an admin's token (the `operations` scope), incidents a supervisor's, shipping officer's or
admin's: --token, else DUKCAPIL_TOKEN; else the tool signs in at intake's POST /auth/token as --user (else
DUKCAPIL_USER) with the password from DUKCAPIL_PASSWORD or asked for; with none of these, as the development
admin of `make run`. A letter's body is a person's data: every call carries --reason (X-Access-Reason), which
the services record with the user name. Without --service, `list` and `replay --all` go to every service, and
an ID is looked for at each.
"""

import argparse
import getpass
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO

SERVICES: dict[str, int] = {"intake": 8001, "review": 8002, "documents": 8003, "shipping": 8004}
DEVELOPMENT_ADMIN = ("admin", "development-only-password")  # what intake adds for `make run`
DEFAULT_REASON = "dead-letter and incident handling (ops command line)"


class OpsError(Exception):
    """Something the operator should read; the command exits with status 1."""


@dataclass(frozen=True)
class Response:
    status: int
    body: Any


Send = Callable[[str, str, Mapping[str, str], bytes | None, float], Response]


def urllib_send(method: str, url: str, headers: Mapping[str, str], data: bytes | None, timeout: float) -> Response:
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers))
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:
            return Response(answer.status, _json(answer.read()))
    except urllib.error.HTTPError as error:
        return Response(error.code, _json(error.read()))
    except (urllib.error.URLError, TimeoutError, ConnectionError) as error:
        reason = getattr(error, "reason", error)
        raise OpsError(f"cannot reach {url}: {reason}") from error


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode("utf-8", errors="replace")


class OpsClient:
    def __init__(
        self,
        *,
        urls: Mapping[str, str],
        token: str,
        reason: str = DEFAULT_REASON,
        timeout: float = 30.0,
        send: Send = urllib_send,
    ) -> None:
        self._urls = urls
        self._token = token
        self._reason = reason
        self._timeout = timeout
        self._send = send

    def call(
        self, service: str, method: str, path: str, body: Any = None, query: Mapping[str, Any] | None = None
    ) -> Response:
        url = self._urls[service].rstrip("/") + path
        if query:
            url += "?" + urllib.parse.urlencode({key: value for key, value in query.items() if value is not None})
        headers = {
            "Authorization": f"Bearer {self._token}",
            "X-Access-Reason": self._reason,
            "Accept": "application/json",
        }
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body).encode()
        return self._send(method, url, headers, data, self._timeout)

    def expect(self, service: str, method: str, path: str, body: Any = None, **query: Any) -> Any:
        response = self.call(service, method, path, body, query)
        if response.status >= 400:
            raise OpsError(f"{service}: {_problem(response)}")
        return response.body

    def find_letter(self, letter_id: str, services: Sequence[str]) -> tuple[str, dict[str, Any]]:
        """The service that holds the dead letter, and the letter; services that cannot be reached are skipped."""
        unreachable = []
        for service in services:
            try:
                response = self.call(service, "GET", f"/dead-letters/{letter_id}")
            except OpsError as error:
                unreachable.append(str(error))
                continue
            if response.status == 200:
                return service, response.body
            if response.status != 404:
                raise OpsError(f"{service}: {_problem(response)}")
        also = f" ({'; '.join(unreachable)})" if unreachable else ""
        raise OpsError(f"no dead letter {letter_id} at {', '.join(services)}{also}")


def _problem(response: Response) -> str:
    body = response.body
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        error = body["error"]
        details = "; ".join(f"{d.get('field')}: {d.get('message')}" for d in error.get("details") or [])
        return f"{response.status} {error.get('code')}: {error.get('message')}" + (f" ({details})" if details else "")
    return f"{response.status}: {body}"


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--service", choices=sorted(SERVICES), help="One service (default: all four)")
    common.add_argument("--url", help="The service's base URL (with --service); else DUKCAPIL_<SERVICE>_URL")
    common.add_argument("--token", help="A staff access token; else DUKCAPIL_TOKEN")
    common.add_argument("--user", help="Sign in at intake as this user (else DUKCAPIL_USER); password asked for")
    common.add_argument("--reason", default=DEFAULT_REASON, help="Why you look (recorded by the services)")
    common.add_argument("--timeout", type=float, default=30.0, help="Seconds per HTTP call (default 30)")
    common.add_argument("--json", action="store_true", help="Print the API's JSON instead of a table")

    parser = argparse.ArgumentParser(prog="python -m dukcapil_shared.ops", description=__doc__.split("\n\n")[0])
    areas = parser.add_subparsers(dest="area", required=True)

    letters = areas.add_parser("dead-letters", help="Messages a service gave up on").add_subparsers(
        dest="command", required=True
    )
    listing = letters.add_parser("list", parents=[common], help="List dead letters (parked by default)")
    listing.add_argument("--status", default="parked", choices=["parked", "replayed", "discarded", "all"])
    listing.add_argument("--queue", help="Only this original queue")
    listing.add_argument("--subject", help="Only the letters about this request id")
    listing.add_argument("--limit", type=int, default=100)
    show = letters.add_parser("show", parents=[common], help="One dead letter with its body and headers")
    show.add_argument("id")
    replay = letters.add_parser("replay", parents=[common], help="Send parked letters back to their queues")
    target = replay.add_mutually_exclusive_group(required=True)
    target.add_argument("id", nargs="?", help="The dead letter to replay")
    target.add_argument("--all", action="store_true", help="Every parked letter (of --queue, if given)")
    replay.add_argument("--queue", help="With --all: only this original queue")
    replay.add_argument("--routing-key", help="With --all: only this event type")
    replay.add_argument("--note", help="Why it can go now, e.g. the fix deployed")
    discard = letters.add_parser("discard", parents=[common], help="Drop a parked letter, with a reason")
    discard.add_argument("id")
    discard.add_argument("--why", dest="discard_reason", required=True, help="Why it is dropped; kept with the letter")

    incidents = areas.add_parser("incidents", help="Where requests are stuck (intake's incident view)").add_subparsers(
        dest="command", required=True
    )
    open_list = incidents.add_parser("list", parents=[common], help="Open incidents and stalled requests")
    open_list.add_argument("--resolved", action="store_true", help="Resolved incidents instead")
    open_list.add_argument("--limit", type=int, default=200)
    one = incidents.add_parser("show", parents=[common], help="Where one request is stuck")
    one.add_argument("request_id")
    return parser


def client_for(
    args: argparse.Namespace,
    environ: Mapping[str, str],
    send: Send = urllib_send,
    ask_password: Callable[[str], str] = getpass.getpass,
) -> OpsClient:
    if args.url and not args.service:
        raise OpsError("--url needs --service: which service is at that URL?")
    urls = {}
    for service, port in SERVICES.items():
        urls[service] = (
            (args.url if args.service == service else None)
            or environ.get(f"DUKCAPIL_{service.upper()}_URL")
            or f"http://127.0.0.1:{port}"
        )
    token = args.token or environ.get("DUKCAPIL_TOKEN")
    if not token:
        user = args.user or environ.get("DUKCAPIL_USER")
        if user:
            password = environ.get("DUKCAPIL_PASSWORD") or ask_password(f"Password for {user}: ")
        else:
            user, password = DEVELOPMENT_ADMIN
        token = sign_in(urls["intake"], user, password, send=send, timeout=args.timeout)
    return OpsClient(urls=urls, token=token, reason=args.reason, timeout=args.timeout, send=send)


def sign_in(intake_url: str, user: str, password: str, *, send: Send, timeout: float) -> str:
    form = urllib.parse.urlencode({"grant_type": "password", "username": user, "password": password}).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
    response = send("POST", intake_url.rstrip("/") + "/auth/token", headers, form, timeout)
    if response.status != 200:
        raise OpsError(f"signing in as {user} failed: {_problem(response)}")
    return str(response.body["access_token"])


def run(args: argparse.Namespace, client: OpsClient, out: TextIO) -> None:
    services = [args.service] if args.service else list(SERVICES)
    if args.area == "incidents":
        _incidents(args, client, out)
        return
    if args.command == "list":
        found = []
        for service in services:
            query = {"queue": args.queue, "subject": args.subject, "limit": args.limit}
            for status in ("parked", "replayed", "discarded") if args.status == "all" else (args.status,):
                letters = client.expect(service, "GET", "/dead-letters", status=status, **query)
                found += [{"service": service, **letter} for letter in letters]
        _print(out, args, found, _letter_table)
    elif args.command == "show":
        service, letter = client.find_letter(args.id, services)
        _print(out, args, {"service": service, **letter}, _letter_detail)
    elif args.command == "replay" and args.all:
        body = {"note": args.note, "original_queue": args.queue, "routing_key": args.routing_key}
        reports = {service: client.expect(service, "POST", "/dead-letters/replay", body) for service in services}
        _print(out, args, reports, _replay_reports)
    elif args.command == "replay":
        service, _ = client.find_letter(args.id, services)
        letter = client.expect(service, "POST", f"/dead-letters/{args.id}/replay", {"note": args.note})
        _print(out, args, {"service": service, **letter}, _letter_table_one)
    elif args.command == "discard":
        service, _ = client.find_letter(args.id, services)
        body = {"reason": args.discard_reason}
        letter = client.expect(service, "POST", f"/dead-letters/{args.id}/discard", body)
        _print(out, args, {"service": service, **letter}, _letter_table_one)


def _incidents(args: argparse.Namespace, client: OpsClient, out: TextIO) -> None:
    if args.command == "list":
        found = client.expect("intake", "GET", "/incidents", open=str(not args.resolved).lower(), limit=args.limit)
        _print(out, args, found, _incident_table)
    else:
        _print(out, args, client.expect("intake", "GET", f"/requests/{args.request_id}/incident"), _incident_detail)


def _print(out: TextIO, args: argparse.Namespace, data: Any, render: Callable[[Any], str]) -> None:
    out.write((json.dumps(data, indent=2, ensure_ascii=False) if args.json else render(data)) + "\n")


def _table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    return "\n".join(
        "  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)) for line in [header, *rows]
    )


def _clip(text: str | None, width: int = 70) -> str:
    text = (text or "").replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def _letter_table(letters: list[dict[str, Any]]) -> str:
    if not letters:
        return "No dead letters."
    rows = [
        [
            letter["service"],
            letter["id"],
            letter["status"],
            str(letter["attempts"]),
            letter["first_failure_at"][:19],
            letter["last_failure_at"][:19],
            letter["original_queue"],
            letter["routing_key"],
            letter.get("subject") or "-",
            _clip(letter["error"]),
        ]
        for letter in letters
    ]
    header = ["SERVICE", "ID", "STATUS", "ATTEMPTS", "FIRST FAILURE", "LAST FAILURE", "QUEUE", "ROUTING KEY"]
    return _table(rows, [*header, "SUBJECT", "ERROR"])


def _letter_table_one(letter: dict[str, Any]) -> str:
    resolution = f" by {letter['resolved_by']}" if letter.get("resolved_by") else ""
    return f"{letter['service']}: dead letter {letter['id']} is now {letter['status']}{resolution}."


def _letter_detail(letter: dict[str, Any]) -> str:
    fields = [
        "service", "id", "status", "message_id", "original_queue", "routing_key", "subject", "attempts",
        "first_failure_at", "last_failure_at", "parked_at", "resolved_at", "resolved_by", "resolution_reason",
        "error", "content_type", "body_encoding",
    ]  # fmt: skip
    lines = [f"{name:>18}: {letter.get(name)}" for name in fields]
    lines.append(f"{'headers':>18}: {json.dumps(letter.get('headers'), ensure_ascii=False)}")
    body = letter.get("body", "")
    try:
        body = json.dumps(json.loads(body), indent=2, ensure_ascii=False)
    except (TypeError, ValueError):
        pass
    return "\n".join([*lines, f"{'body':>18}:", body])


def _replay_reports(reports: dict[str, dict[str, Any]]) -> str:
    lines = []
    for service, report in reports.items():
        lines.append(
            f"{service}: {len(report['replayed'])} replayed, {len(report['skipped'])} already resolved, "
            f"{len(report['failed'])} failed"
        )
        lines += [f"  failed {letter_id}: {reason}" for letter_id, reason in report["failed"].items()]
    return "\n".join(lines)


def _incident_table(incidents: list[dict[str, Any]]) -> str:
    if not incidents:
        return "No incidents."
    rows = [
        [
            incident.get("request_number") or incident["request_id"],
            incident.get("request_status") or "-",
            incident["kind"],
            incident["stage"],
            incident["since"][:19],
            _open_for(incident["open_for_seconds"]),
            str(incident["attempts"]),
            incident.get("event_type") or "-",
            _clip(incident["error"], 60),
        ]
        for incident in incidents
    ]
    header = ["REQUEST", "STATUS", "KIND", "STAGE", "SINCE", "OPEN FOR", "ATTEMPTS", "EVENT", "LAST ERROR"]
    return _table(rows, header)


def _incident_detail(found: dict[str, Any]) -> str:
    head = f"{found.get('request_number') or found['request_id']} ({found.get('status') or 'unknown to intake'})"
    if not found["stuck"]:
        summary = f"{head}: not stuck."
    else:
        summary = f"{head}: stuck at {found['stage']} since {found['since'][:19]}: {found['last_error']}"
    lines = [summary]
    for incident in found["open"]:
        lines.append(
            f"  open {incident['kind']} at {incident['stage']}: {incident.get('event_type') or '-'}, "
            f"{incident['attempts']} attempts, dead letter {incident.get('dead_letter_id') or '-'}"
        )
    for incident in found["resolved"]:
        lines.append(
            f"  resolved: {incident['resolution']} by {incident['resolved_by']} "
            f"({incident.get('event_type')} at {incident['stage']})"
        )
    return "\n".join(lines)


def _open_for(seconds: int) -> str:
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


def main(
    argv: Sequence[str] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    send: Send = urllib_send,
    out: TextIO | None = None,
) -> int:
    args = build_parser().parse_args(argv)
    try:
        run(args, client_for(args, os.environ if environ is None else environ, send), out or sys.stdout)
    except OpsError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0
