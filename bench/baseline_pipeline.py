"""Baseline (b): a minimal four-stage pipeline written directly on aio-pika and asyncpg, one process per stage.

Each stage consumes from its durable quorum queue (prefetch 20, as the services), and for each message:
inserts one row and one outbox row in one transaction, publishes the next message (persistent, with publisher
confirms) and acks. The last stage publishes to `bench.b.done`, which the benchmark consumes to count what went
through and how long it took. No inbox, no retries, no envelope validation, no relay: the floor for four
confirmed, persistent hops with a transaction each.

    python -m bench.baseline_pipeline --stage 1 --amqp amqp://... --dsn postgresql://...
"""

import argparse
import asyncio
import json
import uuid
from datetime import UTC, datetime

import aio_pika
import asyncpg

STAGES = 4
PREFETCH = 20
DONE = "bench.b.done"
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS stage_rows (id uuid PRIMARY KEY, request_id text NOT NULL, stage int NOT NULL, "
    "body text NOT NULL, created_at timestamptz NOT NULL)",
    "CREATE TABLE IF NOT EXISTS outbox (id uuid PRIMARY KEY, routing_key text NOT NULL, body text NOT NULL, "
    "created_at timestamptz NOT NULL, published_at timestamptz)",
)


def queue_name(stage: int) -> str:
    return DONE if stage > STAGES else f"bench.b.stage{stage}"


async def declare(channel: aio_pika.abc.AbstractChannel) -> None:
    for stage in range(1, STAGES + 2):
        await channel.declare_queue(queue_name(stage), durable=True, arguments={"x-queue-type": "quorum"})


async def create_schema(dsn: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        for statement in SCHEMA:
            await connection.execute(statement)
    finally:
        await connection.close()


async def run_stage(stage: int, amqp_url: str, dsn: str) -> None:
    pool = await asyncpg.create_pool(dsn, min_size=2, max_size=10)
    connection = await aio_pika.connect_robust(f"{amqp_url}?name=baseline-stage{stage}")
    consuming = await connection.channel()
    await consuming.set_qos(prefetch_count=PREFETCH)
    publishing = await connection.channel(publisher_confirms=True)
    await declare(consuming)
    queue = await consuming.get_queue(queue_name(stage))
    next_queue = queue_name(stage + 1)

    async def handle(message: aio_pika.abc.AbstractIncomingMessage) -> None:
        body = message.body.decode()
        request_id = json.loads(body)["request_id"]
        now = datetime.now(UTC)
        async with pool.acquire() as db, db.transaction():
            await db.execute(
                "INSERT INTO stage_rows (id, request_id, stage, body, created_at) VALUES ($1, $2, $3, $4, $5)",
                uuid.uuid4(),
                request_id,
                stage,
                body,
                now,
            )
            await db.execute(
                "INSERT INTO outbox (id, routing_key, body, created_at) VALUES ($1, $2, $3, $4)",
                uuid.uuid4(),
                next_queue,
                body,
                now,
            )
        await publishing.default_exchange.publish(
            aio_pika.Message(
                message.body, delivery_mode=aio_pika.DeliveryMode.PERSISTENT, message_id=str(uuid.uuid4())
            ),
            routing_key=next_queue,
        )
        await message.ack()

    await queue.consume(handle)
    await asyncio.Future()  # until the process is stopped


def main() -> None:
    parser = argparse.ArgumentParser(description="one stage of baseline (b)")
    parser.add_argument("--stage", type=int, required=True)
    parser.add_argument("--amqp", required=True)
    parser.add_argument("--dsn", required=True)
    args = parser.parse_args()
    asyncio.run(run_stage(args.stage, args.amqp, args.dsn))


if __name__ == "__main__":
    main()
