"""Notices are queued with the step they tell about and sent by rounds that retry, back off, give up, and never
hold up the workflow; over fake senders and a clock the tests move."""

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from functools import partial

import pytest
from structlog.testing import capture_logs

from dukcapil_intake import bootstrap
from dukcapil_intake.notifications.adapters.notice_quota import RecipientQuota
from dukcapil_intake.notifications.domain.notifications import Channel, Notification, NotificationStatus, RetrySchedule
from dukcapil_intake.notifications.service_layer import notices
from dukcapil_intake.notifications.service_layer.notifications import (
    ChannelNotifier,
    EmailSender,
    NotificationFailed,
    NotificationRefused,
    SmsSender,
    send_due_notifications,
)
from dukcapil_intake.requests.domain.access_codes import AccessCodes
from dukcapil_intake.requests.domain.model import RequestRefused, RequestStatus
from dukcapil_intake.requests.entrypoints.consumers import LIFECYCLE
from dukcapil_intake.requests.service_layer import handlers
from dukcapil_shared.auth.ratelimit import RateLimits
from dukcapil_shared.contracts import Delivery, Envelope, InformationRequested, Person, RequestApproved, ReviewStarted
from dukcapil_shared.runtime import periodically
from dukcapil_testing import InMemoryEventBus

from ...fakes import FakeRequestsUnitOfWork

APPLICANT = Person.model_validate(
    {"nik": "3602144107900001", "name": "Siti Aminah", "birth_date": "1990-07-01", "sex": "female"}
)
CONTACT = {"phone": "081234567890", "email": "siti@example.com"}
PICKUP = {"method": "pickup", "pickup_kecamatan_code": "36.02.14"}
T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)


class FakeEmail(EmailSender):
    def __init__(self, failures: list[Exception] | None = None) -> None:
        self.sent: list[dict[str, str]] = []
        self.failures = failures or []

    async def send(self, *, message_id: str, to: str, subject: str, body: str) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append({"id": message_id, "to": to, "subject": subject, "body": body})


class FakeSms(SmsSender):
    def __init__(self, failures: list[Exception] | None = None) -> None:
        self.sent: list[dict[str, str]] = []
        self.failures = failures or []

    async def send(self, *, message_id: str, to: str, message: str) -> None:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append({"id": message_id, "to": to, "message": message})


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def submit(delivery: dict | None = None, request_type: str = "biodata_wni") -> handlers.SubmitRequest:
    delivery = delivery if delivery is not None else PICKUP | CONTACT
    return handlers.SubmitRequest(
        type=request_type, applicant=APPLICANT, details={}, delivery=Delivery.model_validate(delivery)
    )


async def deliver(uow: FakeRequestsUnitOfWork, event) -> None:  # type: ignore[no-untyped-def]
    async with uow:
        await handlers.record_lifecycle_event(uow, event, Envelope.wrap(event, source="/test"))
        await uow.commit()


def approved(request_id: uuid.UUID, number: str) -> RequestApproved:
    return RequestApproved(
        request_id=request_id,
        request_number=number,
        request_type="biodata_wni",
        applicant=APPLICANT,
        details={},
        delivery=PICKUP,
        kecamatan_code="36.02.14",
        reviewer="rina",
    )


def queued(uow: FakeRequestsUnitOfWork) -> list[tuple[str, Channel]]:
    return sorted((n.kind, n.channel) for n in uow.notices.notifications.committed.values())


# --- queued with the step ---


async def test_a_submission_queues_its_notice_on_both_channels_in_the_same_commit() -> None:
    uow = FakeRequestsUnitOfWork()
    request = await handlers.submit_request(submit(), uow=uow)
    assert uow.commits == 1
    assert queued(uow) == [("received", Channel.email), ("received", Channel.sms)]
    by_channel = {n.channel: n for n in uow.notices.notifications.committed.values()}
    assert by_channel[Channel.email].recipient == "siti@example.com"
    assert by_channel[Channel.email].subject == f"Permohonan {request.number} diterima"
    assert by_channel[Channel.sms].recipient == "6281234567890" and by_channel[Channel.sms].subject is None
    assert all(n.request_id == request.id and n.status == NotificationStatus.pending for n in by_channel.values())
    [envelope] = uow.outbox.committed
    assert {n.event_id for n in by_channel.values()} == {str(envelope.id)}


@pytest.mark.parametrize(
    ("contact", "channels"),
    [
        ({"phone": "081234567890"}, [Channel.sms]),
        ({"email": "siti@example.com"}, [Channel.email]),
        ({"phone": "(0252) 201234"}, []),
        ({}, []),
    ],
)
async def test_notices_go_only_where_the_citizen_can_be_reached(contact: dict, channels: list[Channel]) -> None:
    uow = FakeRequestsUnitOfWork()
    await handlers.submit_request(submit(PICKUP | contact), uow=uow)
    assert [channel for _, channel in queued(uow)] == channels


async def test_a_refused_submission_queues_nothing_and_a_malformed_address_is_refused() -> None:
    uow = FakeRequestsUnitOfWork()
    with pytest.raises(RequestRefused):
        await handlers.submit_request(submit(request_type="ktp_el"), uow=uow)
    with pytest.raises(RequestRefused) as refused:
        await handlers.submit_request(submit(PICKUP | {"email": "siti at example"}), uow=uow)
    assert refused.value.code == "invalid_email" and refused.value.field == "delivery.email"
    assert uow.notices.notifications.committed == {}


async def test_the_steps_that_matter_are_told_and_the_others_are_not() -> None:
    uow = FakeRequestsUnitOfWork()
    request = await handlers.submit_request(submit(), uow=uow)
    await deliver(uow, ReviewStarted(request_id=request.id))
    await deliver(uow, InformationRequested(request_id=request.id, reviewer="rina", reason="Scan buram"))
    await deliver(uow, approved(request.id, request.number))
    kinds = [kind for kind, channel in queued(uow) if channel == Channel.sms]
    assert kinds == ["approved", "information_needed", "received"]
    needed = uow.notices.notifications.of_kind("information_needed")[0]
    assert "Scan buram" in needed.body


async def test_with_notices_switched_off_nothing_is_queued() -> None:
    uow = FakeRequestsUnitOfWork(notify=False)
    request = await handlers.submit_request(submit(), uow=uow)
    await deliver(uow, approved(request.id, request.number))
    assert uow.notices.notifications.committed == {} and uow.status_of(request.id) == RequestStatus.approved


async def test_the_consumer_queues_notices_unless_switched_off() -> None:
    for notify, expected in ((True, 2), (False, 0)):
        uow = FakeRequestsUnitOfWork(notify=False)
        request = await handlers.submit_request(submit(), uow=uow)
        uow.notify = notify
        async with InMemoryEventBus("intake", [LIFECYCLE], lambda uow=uow: uow) as bus:
            await bus.publish(approved(request.id, request.number))
        assert len(uow.notices.notifications.of_kind("approved")) == expected
        assert uow.status_of(request.id) == RequestStatus.approved


async def test_a_step_delivered_twice_is_in_the_history_and_told_once() -> None:
    """The lifecycle subscription writes no inbox row: the request's history, where each event id is once, tells
    the duplicate, and nothing follows it a second time."""
    uow = FakeRequestsUnitOfWork()
    request = await handlers.submit_request(submit(), uow=uow)
    envelope = Envelope.wrap(approved(request.id, request.number), source="/review")
    async with InMemoryEventBus("intake", [LIFECYCLE], lambda: uow) as bus:
        await bus.deliver(envelope)
        told = dict(uow.notices.notifications.committed)
        with capture_logs() as logs:
            await bus.deliver(envelope)
    assert [entry["event"] for entry in logs if entry["log_level"] != "debug"] == [], "acked as a duplicate"
    stored = await handlers.get_request(request.id, uow=uow)
    assert [entry.event_type for entry in stored.history] == ["request.submitted.v1", "request.approved.v1"]
    assert len(uow.notices.notifications.of_kind("approved")) == 2, "the approval told on both channels"
    assert uow.notices.notifications.committed == told


async def test_an_e_ktp_booking_is_confirmed_once() -> None:
    uow = FakeRequestsUnitOfWork()
    command = handlers.BookRecording(applicant=APPLICANT, kecamatan_code="36.02.14", **CONTACT)
    booking = await handlers.book_recording(command, capacity=40, uow=uow, today=date(2026, 11, 27))
    with pytest.raises(handlers.AlreadyBooked):
        await handlers.book_recording(command, capacity=40, uow=uow, today=date(2026, 11, 27))
    assert queued(uow) == [("recording_booked", Channel.email), ("recording_booked", Channel.sms)]
    sms = next(n for n in uow.notices.notifications.committed.values() if n.channel == Channel.sms)
    assert sms.request_id == booking.id and "Sen 30 Nov 2026" in sms.body and "antrean no. 1" in sms.body
    assert [n.kind for n in await notices.list_notifications(booking.id, uow=uow.notices)] == ["recording_booked"] * 2
    await handlers.ensure_known(booking.id, uow=uow)
    with pytest.raises(handlers.RequestNotFound):
        await handlers.ensure_known(uuid.uuid4(), uow=uow)


# --- sent by rounds ---


async def queued_submission(uow: FakeRequestsUnitOfWork, clock: Clock) -> None:
    await handlers.submit_request(submit(), uow=uow)
    for notification in uow.notices.notifications.committed.values():
        notification.created_at = notification.next_attempt_at = clock.now


def notifications(uow: FakeRequestsUnitOfWork) -> dict[Channel, Notification]:
    return {n.channel: n for n in uow.notices.notifications.committed.values()}


async def test_a_round_sends_what_is_due_and_marks_it_sent() -> None:
    uow, clock, email, sms = FakeRequestsUnitOfWork(), Clock(T0), FakeEmail(), FakeSms()
    await queued_submission(uow, clock)
    send = partial(
        send_due_notifications, unit_of_work=lambda: uow.notices, notifier=ChannelNotifier(email=email, sms=sms)
    )
    assert await send(clock=clock) == 2
    assert [m["to"] for m in email.sent] == ["siti@example.com"] and [m["to"] for m in sms.sent] == ["6281234567890"]
    assert email.sent[0]["subject"].startswith("Permohonan ") and "Yth. Bapak/Ibu" in email.sent[0]["body"]
    assert email.sent[0]["id"] == str(notifications(uow)[Channel.email].id)
    for notification in notifications(uow).values():
        assert (notification.status, notification.attempts, notification.sent_at) == (NotificationStatus.sent, 1, T0)
    assert await send(clock=clock) == 0 and len(email.sent) == 1


async def test_failures_are_retried_later_and_later_then_given_up_with_the_error() -> None:
    uow, clock = FakeRequestsUnitOfWork(), Clock(T0)
    await queued_submission(uow, clock)
    down = FakeEmail([NotificationFailed("SMTP 127.0.0.1:8025: ConnectionRefusedError")] * 10)
    send = partial(
        send_due_notifications,
        unit_of_work=lambda: uow.notices,
        notifier=ChannelNotifier(email=down, sms=FakeSms()),
        schedule=RetrySchedule((10, 60, 300, 1800)),
        clock=clock,
    )
    assert await send() == 1  # the SMS went; the e-mail did not
    waits = []
    for _ in range(4):
        email = notifications(uow)[Channel.email]
        waits.append((email.next_attempt_at - clock.now).total_seconds())
        clock.advance(waits[-1] - 1)
        assert await send() == 0 and notifications(uow)[Channel.email].attempts == len(waits), "not due yet"
        clock.advance(1)
        await send()
    assert waits == [10, 60, 300, 1800]
    email = notifications(uow)[Channel.email]
    assert (email.status, email.attempts) == (NotificationStatus.failed, 5)
    assert email.last_error == "NotificationFailed: SMTP 127.0.0.1:8025: ConnectionRefusedError"
    clock.advance(86_400)
    await send()
    assert notifications(uow)[Channel.email].attempts == 5, "a given-up notice is never tried again"
    assert notifications(uow)[Channel.sms].status == NotificationStatus.sent


async def test_a_recipient_refused_for_good_is_given_up_at_once() -> None:
    uow, clock = FakeRequestsUnitOfWork(), Clock(T0)
    await queued_submission(uow, clock)
    refused = FakeSms([NotificationRefused("SMS gateway refused the message: HTTP 422")])
    await send_due_notifications(
        unit_of_work=lambda: uow.notices, notifier=ChannelNotifier(email=FakeEmail(), sms=refused), clock=clock
    )
    sms = notifications(uow)[Channel.sms]
    assert (sms.status, sms.attempts) == (NotificationStatus.failed, 1)


async def test_an_unexpected_error_or_a_hanging_sender_fails_one_notice_not_the_round() -> None:
    uow, clock = FakeRequestsUnitOfWork(), Clock(T0)
    await queued_submission(uow, clock)

    class Hanging(SmsSender):
        async def send(self, *, message_id: str, to: str, message: str) -> None:
            await asyncio.Event().wait()

    broken = FakeEmail([RuntimeError("bug in the adapter")])
    sent = await send_due_notifications(
        unit_of_work=lambda: uow.notices,
        notifier=ChannelNotifier(email=broken, sms=Hanging()),
        send_timeout=0.05,
        clock=clock,
    )
    assert sent == 0
    email, sms = notifications(uow)[Channel.email], notifications(uow)[Channel.sms]
    assert email.status == sms.status == NotificationStatus.pending
    assert email.last_error == "RuntimeError: bug in the adapter" and sms.last_error.startswith("TimeoutError")
    assert email.next_attempt_at == sms.next_attempt_at == T0 + timedelta(seconds=10)


async def test_logs_name_the_notification_and_channel_never_the_recipient_or_the_message() -> None:
    uow, clock = FakeRequestsUnitOfWork(), Clock(T0)
    await queued_submission(uow, clock)
    leaky = FakeEmail([NotificationRefused("550 <siti@example.com>: no such user")])
    with capture_logs() as logs:
        await send_due_notifications(
            unit_of_work=lambda: uow.notices, notifier=ChannelNotifier(email=leaky, sms=FakeSms()), clock=clock
        )
    assert {entry["event"] for entry in logs} == {"notification_sent", "notification_failed"}
    text = repr(logs)
    for secret in ("siti@example.com", "6281234567890", "081234567890", "Permohonan", "no such user"):
        assert secret not in text
    assert {entry["channel"] for entry in logs} == {"email", "sms"} and all("notification_id" in e for e in logs)
    assert notifications(uow)[Channel.email].last_error == "NotificationRefused: 550 <s***@example.com>: no such user"


async def test_a_failing_channel_never_stops_the_loop_nor_the_workflow() -> None:
    uow = FakeRequestsUnitOfWork()
    request = await handlers.submit_request(submit(), uow=uow)
    flaky = FakeSms([NotificationFailed("gateway busy")] * 3)
    sending = periodically(
        0.01,
        "notifications",
        partial(
            send_due_notifications,
            unit_of_work=lambda: uow.notices,
            notifier=ChannelNotifier(email=FakeEmail(), sms=flaky),
            schedule=RetrySchedule((0.01, 0.01, 0.01, 0.01)),
        ),
    )
    loop = asyncio.create_task(sending())
    try:
        await deliver(uow, ReviewStarted(request_id=request.id))
        await deliver(uow, approved(request.id, request.number))
        assert uow.status_of(request.id) == RequestStatus.approved
        for _ in range(200):
            if len(flaky.sent) == 2:
                break
            await asyncio.sleep(0.01)
    finally:
        loop.cancel()
    assert sorted("DISETUJUI" in m["message"] for m in flaky.sent) == [False, True]
    assert {n.status for n in uow.notices.notifications.committed.values()} == {NotificationStatus.sent}


async def test_a_round_whose_database_fails_is_logged_and_the_next_one_sends() -> None:
    uow, sms = FakeRequestsUnitOfWork(), FakeSms()
    await handlers.submit_request(submit(), uow=uow)
    claim = uow.notices.notifications.claim_due
    calls = {"n": 0}

    async def database_away_once(**kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("database is away")
        return await claim(**kwargs)

    uow.notices.notifications.claim_due = database_away_once  # type: ignore[method-assign]
    sending = periodically(
        0.01,
        "notifications",
        partial(
            send_due_notifications,
            unit_of_work=lambda: uow.notices,
            notifier=ChannelNotifier(email=FakeEmail(), sms=sms),
        ),
    )
    with capture_logs() as logs:
        loop = asyncio.create_task(sending())
        try:
            for _ in range(200):
                if sms.sent:
                    break
                await asyncio.sleep(0.01)
        finally:
            loop.cancel()
    assert len(sms.sent) == 1 and any(entry["event"] == "background_round_failed" for entry in logs)


async def test_nobody_makes_the_office_flood_a_phone_by_submitting_in_its_name() -> None:
    uow, clock, email, sms = FakeRequestsUnitOfWork(), Clock(T0), FakeEmail(), FakeSms()
    codes = AccessCodes(b"access-code-key-for-the-tests")
    quota = RecipientQuota(RateLimits(), "2/day")
    for _ in range(3):
        await queued_submission(uow, clock)
    send = partial(
        send_due_notifications,
        unit_of_work=lambda: uow.notices,
        notifier=ChannelNotifier(email=email, sms=sms),
        clock=clock,
        quota=quota,
        fill=partial(bootstrap._with_access_code, codes),
    )
    assert await send() == 4, "two receipts per recipient"
    suppressed = [n for n in uow.notices.notifications.committed.values() if n.status == NotificationStatus.suppressed]
    assert {n.channel for n in suppressed} == {Channel.sms, Channel.email} and all(n.last_error for n in suppressed)
    first = min(uow.notices.notifications.committed.values(), key=lambda n: n.created_at)
    assert str(codes.of(first.request_id, 1)) in next(m["message"] for m in sms.sent), "the code goes in as sent"
    assert all("[[" not in m["message"] for m in sms.sent) and "[[kode-akses:1]]" in first.body, "stored unfilled"
    request = next(iter(uow.requests.committed.values()))
    await deliver(uow, approved(request.id, request.number))
    for notification in uow.notices.notifications.committed.values():
        notification.next_attempt_at = min(notification.next_attempt_at, clock.now)
    assert await send() == 2, "what follows a reviewer's decision is never held back"
