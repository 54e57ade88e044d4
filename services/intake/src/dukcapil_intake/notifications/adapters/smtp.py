"""E-mail over SMTP (aiosmtplib): a relay in production, the development sink (dukcapil_devtools.message_sinks)
locally and in tests."""

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

import aiosmtplib

from dukcapil_intake.notifications.service_layer.notifications import (
    EmailSender,
    NotificationFailed,
    NotificationRefused,
)


class SmtpEmailSender(EmailSender):
    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        username: str | None = None,
        password: str | None = None,
        start_tls: bool | None = None,
        timeout: float = 10.0,
    ) -> None:
        self._host = host
        self._port = port
        self._sender = sender
        self._username = username
        self._password = password
        self._start_tls = start_tls
        self._timeout = timeout
        self._domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"

    def message(self, *, message_id: str, to: str, subject: str, body: str) -> EmailMessage:
        message = EmailMessage()
        message["From"] = self._sender
        message["To"] = to
        message["Subject"] = subject
        message["Date"] = format_datetime(datetime.now(UTC))
        # The same id on every attempt, so a mail system that got a message twice can tell.
        message["Message-ID"] = f"<{message_id}@{self._domain}>"
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(body)
        return message

    async def send(self, *, message_id: str, to: str, subject: str, body: str) -> None:
        try:
            await aiosmtplib.send(
                self.message(message_id=message_id, to=to, subject=subject, body=body),
                hostname=self._host,
                port=self._port,
                username=self._username,
                password=self._password,
                start_tls=self._start_tls,
                timeout=self._timeout,
            )
        except aiosmtplib.SMTPRecipientsRefused as error:
            codes = [refusal.code for refusal in error.recipients]
            if all(code >= 500 for code in codes):
                raise NotificationRefused(f"the mail server refused the recipient ({codes})") from error
            raise NotificationFailed(f"the mail server deferred the recipient ({codes})") from error
        except (aiosmtplib.SMTPException, OSError) as error:
            raise NotificationFailed(f"SMTP {self._host}:{self._port}: {type(error).__name__}") from error
