"""What the operators' command line prints: plain-text tables of the services' answers (--json prints the answers
themselves)."""

import json
from datetime import datetime
from typing import Any

from dukcapil_shared.contracts.regions import WIB, find_kecamatan


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    return "\n".join(
        "  ".join(str(cell).ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in [header, *rows]
    )


def clip(text: str | None, width: int = 70) -> str:
    text = (text or "").replace("\n", " ")
    return text if len(text) <= width else text[: width - 1] + "…"


def wib(moment: str | None) -> str:
    """An ISO time from an API, on the office's clock."""
    if not moment:
        return "-"
    return datetime.fromisoformat(moment).astimezone(WIB).strftime("%Y-%m-%d %H:%M")


def duration(hours: float | None) -> str:
    if hours is None:
        return "-"
    if hours < 1:
        return f"{hours * 60:.0f} min"
    if hours < 48:
        return f"{hours:.1f} h"
    return f"{hours / 24:.1f} d"


def _kecamatan(code: str | None, name: str | None = None) -> str:
    if not code:
        return "-"
    if name is None:
        found = find_kecamatan(code)
        name = found.name if found else None
    return f"{code} {name}" if name else code


# --- dead letters ---


def letter_table(letters: list[dict[str, Any]]) -> str:
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
            clip(letter["error"]),
        ]
        for letter in letters
    ]
    header = ["SERVICE", "ID", "STATUS", "ATTEMPTS", "FIRST FAILURE", "LAST FAILURE", "QUEUE", "ROUTING KEY"]
    return table(rows, [*header, "SUBJECT", "ERROR"])


def letter_outcome(letter: dict[str, Any]) -> str:
    resolution = f" by {letter['resolved_by']}" if letter.get("resolved_by") else ""
    return f"{letter['service']}: dead letter {letter['id']} is now {letter['status']}{resolution}."


def letter_detail(letter: dict[str, Any]) -> str:
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


def replay_reports(reports: dict[str, dict[str, Any]]) -> str:
    lines = []
    for service, report in reports.items():
        lines.append(
            f"{service}: {len(report['replayed'])} replayed, {len(report['skipped'])} already resolved, "
            f"{len(report['failed'])} failed"
        )
        lines += [f"  failed {letter_id}: {reason}" for letter_id, reason in report["failed"].items()]
    return "\n".join(lines)


# --- incidents ---


def incident_table(incidents: list[dict[str, Any]]) -> str:
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
            clip(incident["error"], 60),
        ]
        for incident in incidents
    ]
    header = ["REQUEST", "STATUS", "KIND", "STAGE", "SINCE", "OPEN FOR", "ATTEMPTS", "EVENT", "LAST ERROR"]
    return table(rows, header)


def incident_detail(found: dict[str, Any]) -> str:
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


# --- one request ---


def request_story(request: dict[str, Any]) -> str:
    """The request's status and its history, times in WIB."""
    checklist = request.get("checklist") or {}
    lines = [
        f"{request['number']}  {request['type']}  {request['status']}",
        f"  id {request['id']}, kecamatan {_kecamatan(request['kecamatan_code'])}, "
        f"{request['channel']}, {request['delivery_method'] or 'no delivery chosen'}",
        f"  submitted {wib(request['submitted_at'])} WIB, last change {wib(request['updated_at'])} WIB",
    ]
    if request.get("flags"):
        lines.append(f"  flags: {', '.join(request['flags'])}")
    if checklist.get("missing"):
        lines.append(f"  scans missing: {', '.join(checklist['missing'])}")
    rows = [
        [wib(entry["time"]), entry["stage"], entry.get("status") or "", entry["event_type"], clip(entry["note"], 80)]
        for entry in request["history"]
    ]
    return "\n".join([*lines, "", table(rows, ["TIME (WIB)", "STAGE", "STATUS", "EVENT", "NOTE"])])


# --- statistics ---


def _filters(answer: dict[str, Any]) -> str:
    chosen = [
        f"from {answer['from']}" if answer.get("from") else "",
        f"to {answer['to']}" if answer.get("to") else "",
        f"type {answer['type']}" if answer.get("type") else "",
        f"kecamatan {_kecamatan(answer['kecamatan'])}" if answer.get("kecamatan") else "",
    ]
    said = ", ".join(part for part in chosen if part)
    return f" ({said})" if said else ""


def request_counts(answer: dict[str, Any]) -> str:
    dimensions = answer["group_by"]
    total = f"Total: {answer['total']} requests{_filters(answer)}."
    if not dimensions:
        return total
    rows = [
        [
            *[
                _kecamatan(group["kecamatan"], group.get("kecamatan_name"))
                if dimension == "kecamatan"
                else group[dimension]
                for dimension in dimensions
            ],
            str(group["count"]),
        ]
        for group in answer["groups"]
    ]
    return table(rows, [*[dimension.upper() for dimension in dimensions], "REQUESTS"]) + "\n" + total


def lead_times(answer: dict[str, Any]) -> str:
    rows = [
        [
            stage["stage"],
            f"{stage['starts']} → {stage['ends']}",
            str(stage["count"]),
            duration(stage["mean_hours"]),
            duration(stage["p50_hours"]),
            duration(stage["p90_hours"]),
        ]
        for stage in answer["stages"]
    ]
    header = ["STAGE", "FROM → TO", "REQUESTS", "MEAN", "MEDIAN", "P90"]
    return f"{table(rows, header)}\nOver {answer['requests']} requests submitted{_filters(answer)}."


def overdue(answer: dict[str, Any]) -> str:
    rows = [
        [
            group["type"],
            _kecamatan(group["kecamatan"], group.get("kecamatan_name")),
            str(group["pending"]),
            str(group["overdue"]),
            _overdue_for(group),
            _working_days(answer["sla_working_days"].get(group["type"])),
        ]
        for group in answer["groups"]
    ]
    summary = (
        f"{answer['overdue']} of {answer['pending']} pending reviews past their due date "
        f"at {wib(answer['as_of'])} WIB{_filters(answer)}."
    )
    if not rows:
        return summary
    return table(rows, ["TYPE", "KECAMATAN", "PENDING", "OVERDUE", "LONGEST OVERDUE", "TARGET"]) + "\n" + summary


def _overdue_for(group: dict[str, Any]) -> str:
    """The clock time past the due date, and the working days begun since."""
    if group["longest_overdue_hours"] is None:
        return "-"
    return f"{duration(group['longest_overdue_hours'])} ({_working_days(group['longest_overdue_working_days'])})"


def _working_days(days: int | None) -> str:
    if days is None:
        return "-"
    return f"{days} working day" + ("" if days == 1 else "s")


# --- backups ---


def backup_made(made: dict[str, Any]) -> str:
    files = "".join(f"\n  files of {archive['source']}: {archive['file']}" for archive in made["files"])
    return (
        f"Backup of {made['service']} in {made['backup']}\n  taken at {made['started_at']} (UTC), migration "
        f"{made['migration_head']}\n  database: {made['database']['file']} ({made['database']['bytes']} bytes){files}"
    )


def backup_restored(manifest: dict[str, Any]) -> str:
    return (
        f"Restored {manifest['service']} as it was at {manifest['started_at']} "
        f"(migration {manifest['migration_head']}).\n"
        f"Now start {manifest['service']} again and give it back what it consumed since then:\n"
        f"  dukcapil-ops replay --service {manifest['service']} --since {manifest['started_at']}"
    )


def replayed_events(replayed: list[dict[str, Any]]) -> str:
    rows = [[each["producer"], str(each["events"])] for each in replayed]
    return table(rows, ["FROM", "EVENTS PUBLISHED AGAIN"])
