"""A subscriber for an agency that receives the events of Disdukcapil Kabupaten Lebak: a small, complete program
to start from.

    pip install aio-pika==10.2.1
    AMQP_URL='amqp://agency-bpjs:PASSWORD@broker.example:5672/' QUEUE=agency.bpjs.events \
        DATABASE=events.db python agency_subscriber.py

Each message is a CloudEvents 1.0 envelope in JSON: `id`, `type` (e.g. death.registered.v1), `subject` (the
document number), `time`, and the event in `data`. The program records each event in its own SQLite database
and acknowledges the message only after the commit, so stopping half-way loses nothing. The event id (also the
AMQP message id) is the primary key: a redelivery, or a replay the office sends after an outage, finds the id
already there and is acknowledged without doing anything twice. A message that is no event is rejected, and the
broker moves it to the agency's dead-letter queue (agency.<name>.dead) for someone to look at; a failure in the
agency's own processing puts the message back, and after 10 attempts the broker dead-letters it too.
"""

import asyncio
import json
import os
import signal
import sqlite3

import aio_pika
import aio_pika.abc

SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    id          TEXT PRIMARY KEY,  -- the CloudEvents id: one row per event, however often it arrives
    type        TEXT NOT NULL,
    subject     TEXT NOT NULL,     -- the document number
    occurred_at TEXT NOT NULL,
    data        TEXT NOT NULL,
    received_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
)
"""


class NotAnEvent(ValueError):
    pass


def open_database(path: str) -> sqlite3.Connection:
    database = sqlite3.connect(path)
    database.execute(SCHEMA)
    return database


def record(database: sqlite3.Connection, body: bytes) -> bool:
    """Store the event and act on it, in one transaction; False when it was stored before (a duplicate)."""
    try:
        envelope = json.loads(body)
        row = (envelope["id"], envelope["type"], envelope["subject"], envelope["time"], json.dumps(envelope["data"]))
    except (ValueError, KeyError, TypeError) as error:
        raise NotAnEvent(f"{type(error).__name__}: {error}") from error
    with database:  # commits, or rolls back on an exception
        inserted = database.execute(
            "INSERT OR IGNORE INTO events (id, type, subject, occurred_at, data) VALUES (?, ?, ?, ?, ?)", row
        ).rowcount
        if inserted:
            act_on(database, envelope["type"], envelope["data"])
    return bool(inserted)


def act_on(database: sqlite3.Connection, event_type: str, data: dict) -> None:
    """The agency's own processing goes here, inside the same transaction as the event's row. Unknown types and
    unknown fields are to be ignored: the office adds optional fields within a version."""
    if event_type == "death.registered.v1":
        pass  # e.g. end the coverage of data["deceased_nik"] from data["date_of_death"]
    elif event_type == "document.revoked.v1":
        pass  # e.g. undo what the document with data["document_number"] caused, if not corrected


async def consume(
    amqp_url: str, queue_name: str, database: sqlite3.Connection, stop: asyncio.Event, prefetch: int = 50
) -> None:
    """Consume until `stop` is set; messages in flight when it stops are redelivered next time."""

    async def on_message(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        try:
            new = record(database, message.body)
        except NotAnEvent as problem:
            print(f"rejected message {message.message_id}: {problem}", flush=True)
            await message.reject(requeue=False)
            return
        except Exception as problem:  # our own processing failed: the broker tries again
            print(f"failed on {message.message_id}: {type(problem).__name__}", flush=True)
            await message.nack(requeue=True)
            return
        await message.ack()
        replay = " (replayed)" if (message.headers or {}).get("x-replayed-at") else ""
        print(f"{'recorded' if new else 'duplicate'} {message.type} {message.correlation_id}{replay}", flush=True)

    connection = await aio_pika.connect_robust(amqp_url)
    async with connection:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=prefetch)
        # The office declared the queue; an agency may read it but not declare it, so only look it up.
        queue = await channel.get_queue(queue_name, ensure=True)
        consumer_tag = await queue.consume(on_message)
        await stop.wait()
        await queue.cancel(consumer_tag)


async def main() -> None:
    stop = asyncio.Event()
    for signal_number in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signal_number, stop.set)
    database = open_database(os.environ.get("DATABASE", "events.db"))
    try:
        await consume(os.environ["AMQP_URL"], os.environ["QUEUE"], database, stop)
    finally:
        database.close()


if __name__ == "__main__":
    asyncio.run(main())
