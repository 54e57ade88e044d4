"""The mailbox both sinks fill, the SMTP handler (aiosmtpd) and the SMS gateway simulator with the inspection API."""

import secrets
import threading
import uuid
from collections import deque
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Literal

from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class DevSinkSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DEVSINKS_", extra="ignore")

    host: str = "127.0.0.1"
    smtp_port: int = 8025
    http_port: int = Field(default=8011, description="The SMS gateway (POST /send) and GET /messages")
    # Development only; intake's default INTAKE_SMS_API_KEY matches it.
    sms_api_key: str = "development-only-sms-api-key"
    sms_api_key_header: str = "X-API-Key"
    keep: int = Field(default=500, description="Messages kept for GET /messages; older ones are dropped")
    echo: bool = Field(default=True, description="Print each message as it arrives")


class ReceivedMessage(BaseModel):
    id: str
    channel: Literal["email", "sms"]
    to: list[str]
    sender: str | None = None
    subject: str | None = None
    body: str
    received_at: datetime


class Mailbox:
    """Filled from the SMTP sink's thread and the gateway's event loop, read by the inspection API."""

    def __init__(self, keep: int = 500, echo: bool = False) -> None:
        self._messages: deque[ReceivedMessage] = deque(maxlen=keep)
        self._lock = threading.Lock()
        self._echo = echo

    def add(self, message: ReceivedMessage) -> None:
        with self._lock:
            self._messages.append(message)
        if self._echo:
            heading = f"[{message.channel}] to {', '.join(message.to)}"
            print(f"{heading}{f': {message.subject}' if message.subject else ''}\n{message.body}\n", flush=True)

    def of(self, channel: str | None = None, to: str | None = None) -> list[ReceivedMessage]:
        with self._lock:
            messages = list(self._messages)
        return [m for m in messages if (channel is None or m.channel == channel) and (to is None or to in m.to)]

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()


class SmtpSink:
    """An aiosmtpd handler that accepts every message into the mailbox."""

    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox

    async def handle_DATA(self, _server: SMTP, _session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or envelope.content or b""
        parsed = message_from_bytes(raw if isinstance(raw, bytes) else raw.encode(), policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        text = parsed.get_body(preferencelist=("plain",))
        self.mailbox.add(
            ReceivedMessage(
                id=str(parsed.get("Message-ID") or uuid.uuid4()),
                channel="email",
                to=list(envelope.rcpt_tos),
                sender=envelope.mail_from,
                subject=str(parsed.get("Subject") or ""),
                body=text.get_content().replace("\r\n", "\n") if text is not None else "",
                received_at=datetime.now(UTC),
            )
        )
        return "250 Message accepted for delivery"


class SmsBody(BaseModel):
    to: str = Field(min_length=8, max_length=20, description="The mobile number, e.g. 6281234567890")
    message: str = Field(min_length=1, max_length=1000)


class FailNext(BaseModel):
    count: int = Field(ge=0, description="Answer the next N sends with 503, as a gateway in trouble would")


def create_app(settings: DevSinkSettings | None = None, mailbox: Mailbox | None = None) -> FastAPI:
    settings = settings or DevSinkSettings()
    mailbox = mailbox if mailbox is not None else Mailbox(settings.keep, settings.echo)
    app = FastAPI(title="Development sinks: SMS gateway simulator and mailbox", description=__doc__, version="0.1.0")
    app.state.mailbox = mailbox
    failing = {"next": 0}
    key_header = settings.sms_api_key_header

    @app.post("/send", tags=["sms gateway"], summary="Take an SMS: a JSON body, the API key in a header")
    async def send_sms(body: SmsBody, request: Request) -> JSONResponse:
        if not secrets.compare_digest(request.headers.get(key_header, ""), settings.sms_api_key):
            return JSONResponse({"status": "error", "error": "invalid api key"}, status_code=401)
        if failing["next"] > 0:
            failing["next"] -= 1
            return JSONResponse({"status": "error", "error": "gateway busy"}, status_code=503)
        if not body.to.lstrip("+").isdigit():
            return JSONResponse({"status": "error", "error": "invalid number"}, status_code=422)
        message_id = str(uuid.uuid4())
        mailbox.add(
            ReceivedMessage(
                id=message_id, channel="sms", to=[body.to], body=body.message, received_at=datetime.now(UTC)
            )
        )
        return JSONResponse({"status": "queued", "id": message_id})

    @app.get("/messages", response_model=list[ReceivedMessage], tags=["inspection"])
    async def messages(channel: Literal["email", "sms"] | None = None, to: str | None = None) -> list[ReceivedMessage]:
        """What the sinks received, oldest first: e-mails (SMTP) and SMS (gateway)."""
        return mailbox.of(channel, to)

    @app.delete("/messages", status_code=204, tags=["inspection"])
    async def clear() -> None:
        mailbox.clear()

    @app.post("/simulator/fail-next", tags=["inspection"])
    async def fail_next(body: FailNext) -> dict[str, int]:
        failing["next"] = body.count
        return failing

    @app.get("/healthz", tags=["inspection"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
