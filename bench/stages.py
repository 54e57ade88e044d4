"""Per-stage figures, from the services' own databases after the fact.

Every event is an outbox row at its producer (`created_at`: committed with the state change; `published_at`:
marked sent after the broker confirmed its relay pass) and an inbox row at each consumer (`processed_at`: the
consumer's transaction took it), keyed by the same event id. So, for each hop (consumer, event type):
- time in queue = processed_at - created_at: from the producer's commit to the consumer's handler (the relay,
  the broker, waiting in the queue behind other messages, retries after a failed attempt);
- of which relay = published_at - created_at (an upper bound: a pass marks its rows after its last confirm, so
  a consumer may already hold an event the producer has not marked yet);
- handled/s = inbox rows per second over the window.
Intake's lifecycle subscription writes no inbox row: the request's history is its inbox, and each step's
`recorded_at` is its `processed_at`.
And per request, from intake's history (each event's own time), the time each stage held it: review from its
last scan to its approval, documents from approval to issue, shipping from issue to shipped.
"""

import asyncio
from collections import defaultdict
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from bench.pipeline import SHIPPED, Submission
from bench.report import latency_summary, percentile


async def _fetch(dsn: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(dsn)
    try:
        return await connection.fetch(sql, *args)
    finally:
        await connection.close()


def _ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 1)


_INBOX = "SELECT consumer, event_id, processed_at FROM inbox WHERE processed_at BETWEEN $1 AND $2"
_CONSUMED: dict[str, str] = defaultdict(
    lambda: _INBOX,
    intake=f"""{_INBOX} UNION ALL
        SELECT 'dukcapil.intake.lifecycle', event_id, recorded_at FROM request_history
        WHERE recorded_at BETWEEN $1 AND $2""",
)
"""Each service's consumed events with the time it took them: its inbox rows, and intake's history too."""


async def hops(dsns: dict[str, str], start: float, end: float) -> list[dict[str, Any]]:
    begin, finish = datetime.fromtimestamp(start).astimezone(), datetime.fromtimestamp(end).astimezone()
    outboxes = await asyncio.gather(
        *(
            _fetch(dsn, "SELECT id, routing_key, created_at, published_at FROM outbox WHERE created_at >= $1", begin)
            for dsn in dsns.values()
        )
    )
    published: dict[str, tuple[str, str, float, float | None]] = {}
    for service, rows in zip(dsns, outboxes, strict=True):
        for row in rows:
            sent = row["published_at"].timestamp() if row["published_at"] else None
            published[row["id"]] = (service, row["routing_key"], row["created_at"].timestamp(), sent)
    inboxes = await asyncio.gather(*(_fetch(dsn, _CONSUMED[service], begin, finish) for service, dsn in dsns.items()))
    grouped: dict[tuple[str, str, str], dict[str, list[float]]] = defaultdict(lambda: {"queue": [], "relay": []})
    # The consumer's name is `<service>.<subscription>`: the hop says the service, the table says the queue.
    for service, rows in zip(dsns, inboxes, strict=True):
        for row in rows:
            found = published.get(row["event_id"])
            if found is None or found[3] is None or found[0] == service:  # a service's own step in its history
                continue
            producer, routing_key, created, sent = found
            entry = grouped[(f"{producer} → {service}", row["consumer"], routing_key)]
            entry["queue"].append(row["processed_at"].timestamp() - created)
            entry["relay"].append(sent - created)
    result = []
    for (hop, consumer, routing_key), entry in sorted(grouped.items()):
        result.append(
            {
                "hop": hop,
                "consumer": consumer,
                "event": routing_key,
                "handled": len(entry["queue"]),
                "handled_per_s": round(len(entry["queue"]) / (end - start), 2),
                "queue_p50_ms": _ms(percentile(entry["queue"], 50)),
                "queue_p95_ms": _ms(percentile(entry["queue"], 95)),
                "queue_p99_ms": _ms(percentile(entry["queue"], 99)),
                "relay_p50_ms": _ms(percentile(entry["relay"], 50)),
                "relay_p95_ms": _ms(percentile(entry["relay"], 95)),
            }
        )
    return result


async def lead_times(intake_dsn: str, submissions: list[Submission]) -> dict[str, Any]:
    """How long each stage held the requests (p50/p95/p99 in ms), from intake's history."""
    ids = [submission.request_id for submission in submissions]
    if not ids:
        return {}
    rows = await _fetch(
        intake_dsn,
        "SELECT request_id, event_type, occurred_at FROM request_history WHERE request_id = ANY($1)",
        ids,
    )
    events: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        events[row["request_id"]][row["event_type"]].append(row["occurred_at"].timestamp())
    spans: dict[str, list[float]] = defaultdict(list)
    for submission in submissions:
        found = events.get(submission.request_id, {})
        spans["intake (client: submit and upload scans)"].append(submission.uploaded - submission.started)
        ready = max(found.get("request.submitted.v1", []) + found.get("request.attachment_added.v1", []), default=None)
        approved = min(found.get("request.approved.v1", []), default=None)
        issued = min(found.get("document.issued.v1", []), default=None)
        shipped = min([moment for event in SHIPPED for moment in found.get(event, [])], default=None)
        if ready is not None and approved is not None:
            spans["review (last scan → approved)"].append(approved - ready)
        if approved is not None and issued is not None:
            spans["documents (approved → issued)"].append(issued - approved)
        if issued is not None and shipped is not None:
            spans["shipping (issued → shipped)"].append(shipped - issued)
    return {stage: latency_summary(values) for stage, values in spans.items()}


async def database_counters(dsns: dict[str, str]) -> dict[str, tuple[int, int]]:
    """Each service's transactions (committed and rolled back) and sessions opened so far, from PostgreSQL's own
    statistics: the same on a fast machine and a slow one, unlike CPU time. (A busy backend reports at most a second
    late, so a window of half a minute is off by a few per cent at either end.)"""
    names = {urlsplit(dsn).path.lstrip("/"): service for service, dsn in dsns.items()}
    # Read from the server's maintenance database, so that reading counts nothing in the services' own.
    rows = await _fetch(
        urlunsplit(urlsplit(next(iter(dsns.values())))._replace(path="/postgres")),
        "SELECT datname, xact_commit + xact_rollback AS transactions, sessions FROM pg_stat_database"
        " WHERE datname = ANY($1::text[])",
        list(names),
    )
    return {names[row["datname"]]: (row["transactions"], row["sessions"]) for row in rows}


def per_request(
    before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]], requests: int
) -> dict[str, dict[str, float]]:
    """Transactions and sessions per request shipped, by service, between two `database_counters`."""
    if not requests:
        return {}
    return {
        service: {
            "transactions": round((after[service][0] - before[service][0]) / requests, 1),
            "sessions": round((after[service][1] - before[service][1]) / requests, 2),
        }
        for service in sorted(after)
        if service in before
    }
