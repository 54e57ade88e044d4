"""Intake's incident view with the real app on the real RabbitMQ: a message intake itself gives up on becomes an
incident through the operations events, a request nobody moves on shows as stalled, and a discard resolves."""

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import aio_pika
import httpx
import pytest

from dukcapil_intake import bootstrap
from dukcapil_intake.bootstrap import build_app
from dukcapil_intake.settings import IntakeSettings
from dukcapil_shared.auth.roles import Role
from dukcapil_shared.contracts import Envelope, ReviewStarted
from dukcapil_shared.messaging import EVENTS_EXCHANGE
from dukcapil_testing import staff_headers

from ...requests.unit.test_handlers import APPLICANT, PICKUP

pytestmark = pytest.mark.integration

STAFF = staff_headers(Role.ADMIN, username="rina", reason="incident handling test")


@pytest.fixture(autouse=True)
def _leave_logging_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bootstrap, "configure_logging", lambda *args, **kwargs: None)


async def until(condition: Callable[[], Awaitable[bool]], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.1)


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
async def test_a_parked_message_becomes_an_incident_and_a_discard_resolves_it(  # type: ignore[no-untyped-def]
    database: str, tmp_path: Path, rabbitmq, postgres
) -> None:
    amqp_url = rabbitmq.create()
    settings = IntakeSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/intake.db" if database == "sqlite" else await postgres.create(),
        AMQP_URL=amqp_url,
        attachments_dir=str(tmp_path / "attachments"),
        notifications_enabled=False,
        retry_delays_ms=[100, 200],
        outbox_poll_interval=0.1,
        graceful_timeout=5,
        stall_after_hours={"submitted": 0.0002},  # under a second
        log_json=False,
        **rabbitmq.service_settings("intake"),
    )
    app = build_app(settings)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake")
    async with app.router.lifespan_context(app):
        body = {
            "type": "biodata_wni",
            "applicant": APPLICANT.model_dump(mode="json", exclude_none=True),
            "delivery": PICKUP.model_dump(mode="json", exclude_none=True),
        }
        submitted = await client.post("/requests", json=body)
        assert submitted.status_code == 201, submitted.text
        request = submitted.json()

        # A step for a request intake never heard of: retried, then parked by intake itself.
        unknown = ReviewStarted(request_id=uuid.uuid4())
        envelope = Envelope.wrap(unknown, source="/dukcapil/lebak/review")
        async with await aio_pika.connect_robust(rabbitmq.url_as(amqp_url, "review")) as connection:
            channel = await connection.channel()
            exchange = await channel.get_exchange(EVENTS_EXCHANGE.name)
            message = aio_pika.Message(
                envelope.to_json(),
                message_id=str(envelope.id),
                correlation_id=envelope.subject,
                user_id=rabbitmq.user("review"),
            )
            await exchange.publish(message, routing_key=envelope.type)

        async def both_listed() -> bool:
            found = (await client.get("/incidents", headers=STAFF)).json()
            return {item["kind"] for item in found} == {"dead_letter", "stalled"}

        await until(both_listed)
        listed = {item["kind"]: item for item in (await client.get("/incidents", headers=STAFF)).json()}
        failed = listed["dead_letter"]
        assert failed["request_id"] == str(unknown.request_id) and failed["request_number"] is None
        assert (failed["stage"], failed["event_type"], failed["attempts"]) == ("intake", "review.started.v1", 3)
        assert "is unknown to intake" in failed["error"] and failed["queue"] == "dukcapil.intake.lifecycle"
        stalled = listed["stalled"]
        assert (stalled["request_id"], stalled["request_number"]) == (request["id"], request["number"])
        assert (stalled["request_status"], stalled["stage"]) == ("submitted", "review")

        one = (await client.get(f"/requests/{request['id']}/incident", headers=STAFF)).json()
        assert one["stuck"] is True and one["stage"] == "review" and one["status"] == "submitted"

        discarded = await client.post(
            f"/dead-letters/{failed['dead_letter_id']}/discard",
            json={"reason": "a test event for a request that never existed"},
            headers=STAFF,
        )
        assert discarded.status_code == 200, discarded.text

        async def resolved() -> bool:
            found = (await client.get("/incidents", params={"open": "false"}, headers=STAFF)).json()
            return [item["dead_letter_id"] for item in found] == [failed["dead_letter_id"]]

        await until(resolved)
        [done] = (await client.get("/incidents", params={"open": "false"}, headers=STAFF)).json()
        assert (done["resolution"], done["resolved_by"]) == ("discarded", "rina")
        assert [item["kind"] for item in (await client.get("/incidents", headers=STAFF)).json()] == ["stalled"]
        assert (await client.get("/readyz")).status_code == 200
    await client.aclose()
