"""Dead letters for tests without a broker: one as a consumer parks it, and review's dead-letter desk and HTTP API
over a fake store."""

import uuid
from datetime import UTC, datetime, timedelta

from fastapi import FastAPI

from dukcapil_shared.contracts import Envelope, RequestCancelled
from dukcapil_shared.ops import http as dead_letter_http
from dukcapil_shared.ops.dead_letters import DeadLetter, parse_dead_letter
from dukcapil_shared.ops.service import DeadLetterDesk
from dukcapil_shared.web import install_error_handlers
from dukcapil_testing.auth import install_test_auth
from dukcapil_testing.fakes import FakeOpsUnitOfWork, FakeRepublisher

LAST_FAILURE_AT = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)
"""When `consumer_dead_letter`'s message last failed (its first failure three minutes before), and the desk's now."""


def consumer_dead_letter(
    *, request_id: uuid.UUID | None = None, error: str = "attempts exhausted: RuntimeError: boom", **headers: object
) -> DeadLetter:
    """A message as the consumer dead-letters it after its retries ran out: a RequestCancelled from intake that
    failed in review's `dukcapil.review.requests` four times; `headers` add to or replace its AMQP headers."""
    envelope = Envelope.wrap(RequestCancelled(request_id=request_id or uuid.uuid4()), source="/dukcapil/lebak/intake")
    return parse_dead_letter(
        body=envelope.to_json(),
        headers={
            "source": "/dukcapil/lebak/intake",
            "x-attempt": 4,
            "x-last-error": "RuntimeError: boom",
            "x-error": error,
            "x-attempts": 4,
            "x-original-queue": "dukcapil.review.requests",
            "x-original-routing-key": "request.cancelled.v1",
            "x-first-failure-at": (LAST_FAILURE_AT - timedelta(minutes=3)).isoformat(),
            "x-last-failure-at": LAST_FAILURE_AT.isoformat(),
            "x-dead-letter-id": str(uuid.uuid4()),
            **headers,
        },
        message_id=str(envelope.id),
        correlation_id=envelope.subject,
        content_type="application/cloudevents+json",
        message_type="request.cancelled.v1",
        routing_key="dukcapil.review.requests",
        now=LAST_FAILURE_AT + timedelta(seconds=1),
    )


def dead_letter_desk(uow: FakeOpsUnitOfWork, republisher: FakeRepublisher | None = None) -> DeadLetterDesk:
    """Review's dead-letter desk over `uow`, its clock stopped at LAST_FAILURE_AT."""
    return DeadLetterDesk(
        service="review",
        unit_of_work=lambda: uow,
        republisher=republisher or FakeRepublisher(),
        clock=lambda: LAST_FAILURE_AT,
    )


def dead_letter_app(uow: FakeOpsUnitOfWork, republisher: FakeRepublisher | None = None) -> FastAPI:
    """An app serving only `dead_letter_desk`'s HTTP API, with test tokens; its access log is app.state.access_log."""
    app = FastAPI()
    install_error_handlers(app)
    app.state.access_log = install_test_auth(app)
    dead_letter_http.install(app, dead_letter_desk(uow, republisher))
    return app
