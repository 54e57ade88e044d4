"""Dead letters without a broker: reading them, parking, replaying and discarding, and the HTTP API (the operators'
command line has its tests in tools/ops)."""

import json
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from dukcapil_shared.auth.roles import Role
from dukcapil_shared.contracts import Envelope, MessageParked, MessageResolved, RequestCancelled
from dukcapil_shared.ops import service
from dukcapil_shared.ops.dead_letters import DeadLetter, DeadLetterStatus, LetterAlreadyResolved, parse_dead_letter
from dukcapil_shared.ops.service import ReplayFailed, ReplayUnroutable
from dukcapil_shared.ops.store import DeadLetterQuery
from dukcapil_testing import (
    LAST_FAILURE_AT,
    FakeOpsUnitOfWork,
    FakeRepublisher,
    consumer_dead_letter,
    dead_letter_app,
    dead_letter_desk,
    staff_headers,
)

T0 = LAST_FAILURE_AT
NIK = "3602144107900001"


# --- reading a dead letter ---


def test_a_consumer_dead_letter_is_read_from_its_headers_with_personal_data_masked() -> None:
    request_id = uuid.uuid4()
    letter = consumer_dead_letter(request_id=request_id, error=f"permanent: ValueError: NIK {NIK} is not in Lebak")
    assert letter.status == DeadLetterStatus.parked
    assert letter.original_queue == "dukcapil.review.requests"
    assert letter.routing_key == "request.cancelled.v1"
    assert letter.subject == str(request_id) and letter.request_id == request_id
    assert letter.attempts == 4
    assert letter.first_failure_at == T0 - timedelta(minutes=3) and letter.last_failure_at == T0
    assert letter.error == "permanent: ValueError: NIK 360214******0001 is not in Lebak"
    assert letter.id == uuid.UUID(letter.headers["x-dead-letter-id"])


def test_the_brokers_own_dead_letter_is_read_from_x_death_and_a_redelivery_keeps_its_id() -> None:
    died = datetime(2026, 11, 28, 8, 59, 30, tzinfo=UTC)
    envelope = Envelope.wrap(RequestCancelled(request_id=uuid.uuid4()), source="/t")

    def delivered(count: int) -> DeadLetter:
        return parse_dead_letter(
            body=envelope.to_json(),
            headers={
                "x-delivery-count": count,
                "x-death": [
                    {
                        "count": 1,
                        "reason": "delivery_limit",
                        "queue": "dukcapil.documents.approvals",
                        "time": died,
                        "exchange": "dukcapil.events",
                        "routing-keys": ["request.approved.v1"],
                    }
                ],
            },
            message_id=str(envelope.id),
            correlation_id=None,
            content_type=None,
            message_type=None,
            routing_key="",
            now=T0,
        )

    first, again = delivered(20), delivered(21)
    assert first.id == again.id
    assert first.original_queue == "dukcapil.documents.approvals"
    assert first.routing_key == "request.cancelled.v1", "the envelope's type, since the message had no type"
    assert "delivery limit" in first.error
    assert first.first_failure_at == first.last_failure_at == died
    assert first.attempts == 21
    assert first.subject == envelope.subject
    assert first.headers["x-death"][0]["time"] == died.isoformat()


def test_a_message_that_is_not_even_text_is_parked_as_it_is() -> None:
    letter = parse_dead_letter(
        body=b"\xff\xfe\x00garbage",
        headers={"x-error": "malformed: ValueError: not json", "x-original-queue": "dukcapil.intake.lifecycle"},
        message_id=None,
        correlation_id="not-a-request-id",
        content_type=None,
        message_type=None,
        routing_key="dukcapil.intake.lifecycle",
        now=T0,
    )
    assert letter.body == b"\xff\xfe\x00garbage"
    assert letter.subject == "not-a-request-id" and letter.request_id is None
    assert letter.attempts == 1 and letter.first_failure_at == T0


def test_a_replay_carries_the_original_headers_without_the_failure_bookkeeping() -> None:
    letter = consumer_dead_letter(traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01")
    letter.headers["x-death"] = [{"reason": "delivery_limit"}]
    letter.headers["x-first-death-queue"] = "q"
    assert letter.replay_headers() == {
        "source": "/dukcapil/lebak/intake",
        "traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01",
        "x-original-routing-key": "request.cancelled.v1",
        "x-replayed-from": str(letter.id),
    }


# --- parking, replaying, discarding ---


async def test_a_letter_is_parked_once_and_announced_once() -> None:
    uow, letter = FakeOpsUnitOfWork(), consumer_dead_letter(error=f"permanent: NIK {NIK}")
    assert await service.park(letter, uow=uow, service="review") is True
    assert await service.park(letter, uow=uow, service="review") is False
    assert list(uow.dead_letters.committed) == [letter.id]
    [announced] = uow.outbox.events
    assert isinstance(announced, MessageParked)
    assert announced.request_id == letter.request_id and announced.dead_letter_id == letter.id
    assert (announced.service, announced.queue, announced.message_routing_key) == (
        "review",
        "dukcapil.review.requests",
        "request.cancelled.v1",
    )
    assert announced.attempts == 4 and NIK not in announced.error and "360214******0001" in announced.error


async def test_a_letter_about_no_request_or_about_an_operations_event_is_parked_without_announcement() -> None:
    uow = FakeOpsUnitOfWork()
    nameless = consumer_dead_letter()
    nameless.subject = "not-a-request"
    operational = consumer_dead_letter(**{"x-original-routing-key": "operations.message_parked.v1"})
    for letter in (nameless, operational):
        assert await service.park(letter, uow=uow, service="intake")
    assert len(uow.dead_letters.committed) == 2 and uow.outbox.events == []


async def test_a_replay_sends_the_letter_back_marks_who_and_announces_it_once() -> None:
    uow, republisher = FakeOpsUnitOfWork(), FakeRepublisher()
    letter = consumer_dead_letter()
    await service.park(letter, uow=uow, service="review")
    replayed = await service.replay(letter.id, by="rina", note="fix deployed", desk=dead_letter_desk(uow, republisher))
    assert replayed.status == DeadLetterStatus.replayed
    assert (replayed.resolved_by, replayed.resolved_at, replayed.resolution_reason) == ("rina", T0, "fix deployed")
    assert [sent.id for sent in republisher.sent] == [letter.id]
    assert uow.dead_letters.committed[letter.id].status == DeadLetterStatus.replayed
    resolved = uow.outbox.events[-1]
    assert isinstance(resolved, MessageResolved)
    assert (resolved.resolution, resolved.resolved_by, resolved.dead_letter_id) == ("replayed", "rina", letter.id)

    with pytest.raises(LetterAlreadyResolved):
        await service.replay(letter.id, by="budi", desk=dead_letter_desk(uow, republisher))
    assert len(republisher.sent) == 1 and len(uow.outbox.events) == 2


async def test_a_replay_the_broker_refuses_leaves_the_letter_parked_and_unannounced() -> None:
    uow, republisher = FakeOpsUnitOfWork(), FakeRepublisher()
    letter = consumer_dead_letter()
    await service.park(letter, uow=uow, service="review")
    republisher.failure = ReplayFailed("no confirm in time")
    with pytest.raises(ReplayFailed):
        await service.replay(letter.id, by="rina", desk=dead_letter_desk(uow, republisher))
    assert uow.dead_letters.committed[letter.id].status == DeadLetterStatus.parked
    assert [type(event) for event in uow.outbox.events] == [MessageParked]


async def test_a_discard_records_who_and_why_and_then_nothing_more_can_be_done() -> None:
    uow = FakeOpsUnitOfWork()
    letter = consumer_dead_letter()
    await service.park(letter, uow=uow, service="review")
    reason = "duplicate of a corrected request"
    discarded = await service.discard(letter.id, by="rina", reason=reason, desk=dead_letter_desk(uow))
    assert (discarded.status, discarded.resolution_reason) == (DeadLetterStatus.discarded, reason)
    assert isinstance(uow.outbox.events[-1], MessageResolved) and uow.outbox.events[-1].resolution == "discarded"
    for again in (
        service.replay(letter.id, by="rina", desk=dead_letter_desk(uow)),
        service.discard(letter.id, by="rina", reason="x", desk=dead_letter_desk(uow)),
    ):
        with pytest.raises(LetterAlreadyResolved):
            await again


async def test_replaying_all_stops_at_the_first_broker_failure_and_leaves_the_rest_parked() -> None:
    uow, republisher = FakeOpsUnitOfWork(), FakeRepublisher()
    letters = [consumer_dead_letter() for _ in range(4)]
    for number, letter in enumerate(letters):
        letter.parked_at = T0 + timedelta(seconds=number)
        await service.park(letter, uow=uow, service="review")
    await service.discard(letters[0].id, by="rina", reason="bad", desk=dead_letter_desk(uow))

    calls = 0
    original = republisher.republish

    async def fails_on_the_second(letter: DeadLetter) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise ReplayFailed("broker away")
        await original(letter)

    republisher.republish = fails_on_the_second  # type: ignore[method-assign]
    report = await service.replay_all(DeadLetterQuery(status=None), by="rina", desk=dead_letter_desk(uow, republisher))
    assert report.replayed == [letters[1].id]
    assert set(report.failed) == {letters[2].id, letters[3].id}
    parked = await service.list_letters(DeadLetterQuery(), uow=uow)
    assert [letter.id for letter in parked] == [letters[2].id, letters[3].id]


# --- HTTP ---


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://test",
        headers=staff_headers(Role.ADMIN, username="rina"),
    )


async def test_the_api_lists_shows_replays_and_discards_for_operators_only() -> None:
    uow, republisher = FakeOpsUnitOfWork(), FakeRepublisher()
    first, second = consumer_dead_letter(), consumer_dead_letter()
    second.parked_at = first.parked_at + timedelta(seconds=1)
    for letter in (first, second):
        await service.park(letter, uow=uow, service="review")
    app = dead_letter_app(uow, republisher)
    async with client_for(app) as client:
        forged = await client.get("/dead-letters", headers={"Authorization": "Bearer forged"})
        assert forged.status_code == 401 and forged.json()["error"]["code"] == "invalid_token"
        reviewer = await client.post(f"/dead-letters/{first.id}/replay", json={}, headers=staff_headers(Role.REVIEWER))
        assert reviewer.status_code == 403 and reviewer.json()["error"]["code"] == "insufficient_scope"
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as bare:
            unexplained = await bare.get(f"/dead-letters/{first.id}", headers=staff_headers(Role.ADMIN, reason=None))
        assert unexplained.status_code == 400, "a letter's body is a person's data: a reason is needed"

        listed = (await client.get("/dead-letters", params={"status": "parked"})).json()
        assert [item["id"] for item in listed] == [str(first.id), str(second.id)]
        assert listed[0]["error"] == "attempts exhausted: RuntimeError: boom" and listed[0]["attempts"] == 4
        assert listed[0]["original_queue"] == "dukcapil.review.requests" and "body" not in listed[0]

        shown = (await client.get(f"/dead-letters/{first.id}")).json()
        assert json.loads(shown["body"])["id"] == first.message_id and shown["body_encoding"] == "utf-8"
        assert shown["headers"]["x-attempts"] == 4
        assert [(r.username, r.path) for r in app.state.access_log.records] == [("rina", f"/dead-letters/{first.id}")]

        replayed = await client.post(f"/dead-letters/{first.id}/replay", json={"by": "someone else"})
        assert replayed.status_code == 200 and replayed.json()["status"] == "replayed"
        assert replayed.json()["resolved_by"] == "rina", "who acts comes from the token, not the body"
        again = await client.post(f"/dead-letters/{first.id}/replay", json={})
        assert again.status_code == 409 and again.json()["error"]["letter_status"] == "replayed"

        assert (await client.post(f"/dead-letters/{second.id}/discard", json={})).status_code == 422
        discarded = await client.post(f"/dead-letters/{second.id}/discard", json={"reason": "test"})
        assert discarded.json()["resolution_reason"] == "test"
        assert (await client.post(f"/dead-letters/{second.id}/replay", json={})).status_code == 409
        assert (await client.get(f"/dead-letters/{uuid.uuid4()}")).status_code == 404
        assert [item["id"] for item in (await client.get("/dead-letters", params={"status": "discarded"})).json()] == [
            str(second.id)
        ]


async def test_the_api_answers_503_when_the_broker_does_not_take_the_replay_and_409_when_no_queue_does() -> None:
    uow, republisher = FakeOpsUnitOfWork(), FakeRepublisher()
    letter = consumer_dead_letter()
    await service.park(letter, uow=uow, service="review")
    async with client_for(dead_letter_app(uow, republisher)) as client:
        republisher.failure = ReplayFailed("no confirm in time")
        away = await client.post(f"/dead-letters/{letter.id}/replay", json={})
        assert away.status_code == 503 and away.headers["Retry-After"] == "5"
        republisher.failure = ReplayUnroutable("no queue named 'gone'")
        gone = await client.post(f"/dead-letters/{letter.id}/replay", json={})
        assert gone.status_code == 409 and gone.json()["error"]["code"] == "replay_unroutable"
        republisher.failure = None
        report = (await client.post("/dead-letters/replay", json={})).json()
        assert report == {"replayed": [str(letter.id)], "skipped": [], "failed": {}}
