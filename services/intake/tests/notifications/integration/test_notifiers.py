"""The e-mail and SMS adapters against the development sinks: a real SMTP server (aiosmtpd) on a free port, and
the SMS gateway simulator over HTTP; and a whole round from the database to both sinks."""

import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from dukcapil_devtools.message_sinks.app import DevSinkSettings, Mailbox, SmtpSink, create_app
from dukcapil_intake import bootstrap, tables
from dukcapil_intake.notifications.adapters.sms_gateway import HttpSmsGateway
from dukcapil_intake.notifications.adapters.smtp import SmtpEmailSender
from dukcapil_intake.notifications.adapters.unit_of_work import SqlNotificationsUnitOfWork
from dukcapil_intake.notifications.domain.notifications import Channel, NotificationStatus
from dukcapil_intake.notifications.service_layer import notices
from dukcapil_intake.notifications.service_layer.notifications import (
    ChannelNotifier,
    NotificationFailed,
    NotificationRefused,
    send_due_notifications,
)
from dukcapil_intake.requests.adapters.unit_of_work import SqlRequestsUnitOfWork
from dukcapil_intake.requests.service_layer import handlers
from dukcapil_shared.clock import SystemClock
from dukcapil_shared.contracts import Person
from dukcapil_shared.db import create_engine, migrate

from ...examples import pickup

pytestmark = pytest.mark.integration
SENDER = "Disdukcapil Lebak <noreply@dukcapil.lebakkab.go.id>"
API_KEY = "test-sms-key"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def mailbox() -> Mailbox:
    return Mailbox()


@pytest.fixture
def smtp_sink(mailbox: Mailbox) -> Iterator[Controller]:
    controller = Controller(SmtpSink(mailbox), hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller
    controller.stop()


@pytest.fixture
async def gateway(mailbox: Mailbox) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(DevSinkSettings(sms_api_key=API_KEY, echo=False), mailbox)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        yield client


def smtp(controller: Controller) -> SmtpEmailSender:
    return SmtpEmailSender(host="127.0.0.1", port=controller.port, sender=SENDER, timeout=5)


def sms(client: httpx.AsyncClient, api_key: str = API_KEY) -> HttpSmsGateway:
    return HttpSmsGateway(client, url="http://gateway/send", api_key=api_key)


async def test_an_e_mail_reaches_the_smtp_server_in_utf_8_with_a_stable_message_id(smtp_sink, mailbox) -> None:  # type: ignore[no-untyped-def]
    body = "Yth. Bapak/Ibu,\n\nPermohonan Anda diterima — nomor 360214-20261130-0007."
    await smtp(smtp_sink).send(message_id="42", to="siti@example.com", subject="Permohonan diterima", body=body)
    [received] = mailbox.of("email")
    assert received.to == ["siti@example.com"] and received.sender == "noreply@dukcapil.lebakkab.go.id"
    assert received.subject == "Permohonan diterima" and received.body.strip() == body
    assert received.id == "<42@dukcapil.lebakkab.go.id>"


async def test_a_mail_server_that_is_down_or_refuses_the_recipient() -> None:
    with pytest.raises(NotificationFailed) as down:
        await SmtpEmailSender(host="127.0.0.1", port=free_port(), sender=SENDER, timeout=2).send(
            message_id="1", to="siti@example.com", subject="s", body="b"
        )
    assert not isinstance(down.value, NotificationRefused)

    class NoSuchUser:
        async def handle_RCPT(self, *_args: SMTP | Session | Envelope | str | list[str]) -> str:
            return "550 5.1.1 No such user"

    controller = Controller(NoSuchUser(), hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        with pytest.raises(NotificationRefused) as refused:
            await smtp(controller).send(message_id="2", to="nobody@example.com", subject="s", body="b")
    finally:
        controller.stop()
    assert "nobody@example.com" not in str(refused.value)


async def test_an_sms_reaches_the_gateway_with_its_api_key(gateway, mailbox) -> None:  # type: ignore[no-untyped-def]
    await sms(gateway).send(message_id="1", to="6281234567890", message="Disdukcapil Lebak: uji")
    [received] = mailbox.of("sms")
    assert received.to == ["6281234567890"] and received.body == "Disdukcapil Lebak: uji"
    listed = (await gateway.get("/messages", params={"channel": "sms"})).json()
    assert [(m["to"], m["body"]) for m in listed] == [(["6281234567890"], "Disdukcapil Lebak: uji")]


async def test_a_gateway_that_is_busy_rejects_the_key_or_the_number_or_cannot_be_reached(gateway) -> None:  # type: ignore[no-untyped-def]
    await gateway.post("/simulator/fail-next", json={"count": 1})
    with pytest.raises(NotificationFailed) as busy:
        await sms(gateway).send(message_id="1", to="6281234567890", message="m")
    assert "503" in str(busy.value) and not isinstance(busy.value, NotificationRefused)
    with pytest.raises(NotificationFailed) as wrong_key:
        await sms(gateway, api_key="guess").send(message_id="1", to="6281234567890", message="m")
    assert "401" in str(wrong_key.value) and not isinstance(wrong_key.value, NotificationRefused)
    with pytest.raises(NotificationRefused):
        await sms(gateway).send(message_id="1", to="62-not-a-number", message="m")
    async with httpx.AsyncClient(timeout=2) as client:
        with pytest.raises(NotificationFailed):
            await HttpSmsGateway(client, url=f"http://127.0.0.1:{free_port()}/send", api_key=API_KEY).send(
                message_id="1", to="6281234567890", message="m"
            )
    await gateway.delete("/messages")
    assert (await gateway.get("/messages")).json() == []


async def test_a_round_takes_a_submissions_notices_from_the_database_to_both_sinks(  # type: ignore[no-untyped-def]
    tmp_path: Path, smtp_sink, gateway, mailbox
) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path}/intake.db")
    await migrate(engine, "dukcapil_intake:migrations")

    def unit_of_work() -> SqlNotificationsUnitOfWork:
        return SqlNotificationsUnitOfWork(engine, outbox_table=tables.outbox, inbox_table=tables.inbox, source="/test")

    def requests_unit_of_work() -> SqlRequestsUnitOfWork:
        # Composed as in production: the notices join the submission's transaction.
        return bootstrap.with_followers(
            lambda: SqlRequestsUnitOfWork(engine, outbox_table=tables.outbox, inbox_table=tables.inbox, source="/t"),
            bootstrap.requests_followers(notify=True, clock=SystemClock()),
        )

    try:
        request = await handlers.submit_request(
            handlers.SubmitRequest(
                type="biodata_wni",
                applicant=Person(nik="3602144107900001", name="Siti Aminah"),
                details={},
                delivery=pickup(phone="081234567890", email="siti@example.com"),
            ),
            uow=requests_unit_of_work(),
        )
        notifier = ChannelNotifier(email=smtp(smtp_sink), sms=sms(gateway))
        assert await send_due_notifications(unit_of_work=unit_of_work, notifier=notifier) == 2
        assert await send_due_notifications(unit_of_work=unit_of_work, notifier=notifier) == 0
        stored = await notices.list_notifications(request.id, uow=unit_of_work())
    finally:
        await engine.dispose()
    assert {(n.channel, n.status, n.attempts) for n in stored} == {
        (Channel.email, NotificationStatus.sent, 1),
        (Channel.sms, NotificationStatus.sent, 1),
    }
    [email], [text] = mailbox.of("email"), mailbox.of("sms")
    assert email.subject == f"Permohonan {request.number} diterima" and request.number in text.body
    assert email.id == f"<{next(n.id for n in stored if n.channel == Channel.email)}@dukcapil.lebakkab.go.id>"
    assert "3602144107900001" not in email.body + text.body
