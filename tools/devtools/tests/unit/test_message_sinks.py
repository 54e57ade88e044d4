"""The message sinks: the SMS gateway simulator and its inspection API in process, the SMTP sink on a free port."""

import smtplib
import socket
from collections.abc import AsyncIterator, Iterator
from email.message import EmailMessage

import httpx
import pytest
from aiosmtpd.controller import Controller

from dukcapil_devtools.message_sinks.app import DevSinkSettings, Mailbox, SmtpSink, create_app

API_KEY = "sms-test-key"
HEADERS = {"X-API-Key": API_KEY}


@pytest.fixture
def mailbox() -> Mailbox:
    return Mailbox()


@pytest.fixture
async def gateway(mailbox: Mailbox) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(DevSinkSettings(sms_api_key=API_KEY, echo=False), mailbox)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gateway") as client:
        yield client


@pytest.fixture
def smtp_sink(mailbox: Mailbox) -> Iterator[Controller]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(SmtpSink(mailbox), hostname="127.0.0.1", port=port)
    controller.start()
    yield controller
    controller.stop()


async def test_an_sms_is_queued_and_shown_with_the_messages(gateway: httpx.AsyncClient) -> None:
    sent = await gateway.post("/send", json={"to": "6281234567890", "message": "Permohonan diterima"}, headers=HEADERS)
    assert sent.status_code == 200 and sent.json()["status"] == "queued"
    messages = (await gateway.get("/messages", params={"channel": "sms", "to": "6281234567890"})).json()
    assert [(m["id"], m["body"]) for m in messages] == [(sent.json()["id"], "Permohonan diterima")]
    assert (await gateway.get("/messages", params={"channel": "email"})).json() == []
    assert (await gateway.delete("/messages")).status_code == 204
    assert (await gateway.get("/messages")).json() == []


async def test_the_gateway_refuses_a_wrong_key_and_a_number_that_is_not_one(gateway: httpx.AsyncClient) -> None:
    body = {"to": "6281234567890", "message": "x"}
    assert (await gateway.post("/send", json=body, headers={"X-API-Key": "wrong"})).status_code == 401
    assert (await gateway.post("/send", json=body | {"to": "0812-345-678"}, headers=HEADERS)).status_code == 422
    assert (await gateway.get("/messages")).json() == []


async def test_the_gateway_can_be_told_to_fail_its_next_sends(gateway: httpx.AsyncClient) -> None:
    await gateway.post("/simulator/fail-next", json={"count": 2})
    body = {"to": "6281234567890", "message": "x"}
    statuses = [(await gateway.post("/send", json=body, headers=HEADERS)).status_code for _ in range(3)]
    assert statuses == [503, 503, 200]


def test_the_smtp_sink_keeps_each_mail_with_its_subject_and_text(smtp_sink: Controller, mailbox: Mailbox) -> None:
    mail = EmailMessage()
    mail["From"] = "Disdukcapil Lebak <noreply@dukcapil.lebakkab.go.id>"
    mail["To"] = "warga@example.com"
    mail["Subject"] = "Permohonan diterima"
    mail.set_content("Nomor permohonan: 1234\n")
    with smtplib.SMTP(smtp_sink.hostname, smtp_sink.port, timeout=5) as client:
        client.send_message(mail)
    [received] = mailbox.of("email")
    assert received.to == ["warga@example.com"]
    assert received.subject == "Permohonan diterima"
    assert received.body == "Nomor permohonan: 1234\n"
