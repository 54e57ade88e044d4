"""python -m dukcapil_devtools.message_sinks: the SMTP sink (port 8025) and the SMS gateway simulator with
GET /messages (port 8011), for `make run`."""

import uvicorn
from aiosmtpd.controller import Controller

from dukcapil_devtools.message_sinks.app import DevSinkSettings, Mailbox, SmtpSink, create_app


def main() -> None:
    settings = DevSinkSettings()
    mailbox = Mailbox(settings.keep, settings.echo)
    smtp = Controller(SmtpSink(mailbox), hostname=settings.host, port=settings.smtp_port)
    smtp.start()
    print(
        f"SMTP sink on {settings.host}:{settings.smtp_port}; SMS gateway on "
        f"http://{settings.host}:{settings.http_port}/send; received messages at "
        f"http://{settings.host}:{settings.http_port}/messages",
        flush=True,
    )
    try:
        uvicorn.run(create_app(settings, mailbox), host=settings.host, port=settings.http_port, access_log=False)
    finally:
        smtp.stop()


if __name__ == "__main__":
    main()
