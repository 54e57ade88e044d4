"""The dead letters over HTTP, on every service, for staff holding the `operations` scope (the admin role).

A letter's body is an event about a person, so showing one asks for a reason and is recorded in the access log;
the list shows errors (personal data masked) and ids only. Who replays or discards is taken from the token."""

import base64
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from pydantic import BaseModel, Field

from dukcapil_shared.auth.http import personal_data, staff
from dukcapil_shared.auth.roles import Principal, Scope
from dukcapil_shared.ops import service
from dukcapil_shared.ops.dead_letters import DeadLetter, DeadLetterStatus
from dukcapil_shared.ops.service import DeadLetterDesk
from dukcapil_shared.ops.store import DeadLetterQuery
from dukcapil_shared.web import ErrorResponse


async def _desk(request: Request) -> DeadLetterDesk:
    return request.app.state.dead_letter_desk


DeskDep = Annotated[DeadLetterDesk, Depends(_desk)]
Operator = Annotated[Principal, Depends(staff(Scope.OPERATIONS))]
OperatorReading = Annotated[Principal, Depends(personal_data(Scope.OPERATIONS))]


class DeadLetterView(BaseModel):
    id: uuid.UUID = Field(description="The dead letter's id (a message parked again after a replay gets a new one)")
    message_id: str | None = Field(description="The parked message's id (the event id)")
    status: DeadLetterStatus = Field(description="parked (waiting for an operator), replayed or discarded")
    original_queue: str = Field(description="The queue the message failed in; a replay goes back there only")
    routing_key: str = Field(description="Its routing key (event type)")
    subject: str | None = Field(description="The request id it concerns, when known")
    error: str = Field(description="Why it failed (personal data masked)")
    attempts: int = Field(description="How often it was tried")
    first_failure_at: datetime
    last_failure_at: datetime
    parked_at: datetime
    resolved_at: datetime | None
    resolved_by: str | None
    resolution_reason: str | None

    @classmethod
    def of(cls, letter: DeadLetter) -> "DeadLetterView":
        return cls.model_validate(letter, from_attributes=True)


class DeadLetterDetail(DeadLetterView):
    content_type: str | None
    body: str = Field(description="The message body as text (base64 when body_encoding says so)")
    body_encoding: Literal["utf-8", "base64"]
    headers: dict[str, Any] = Field(description="The AMQP headers as parked, x-death included")

    @classmethod
    def of(cls, letter: DeadLetter) -> "DeadLetterDetail":
        try:
            body, encoding = letter.body.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            body, encoding = base64.b64encode(letter.body).decode("ascii"), "base64"
        return cls(
            **DeadLetterView.of(letter).model_dump(),
            content_type=letter.content_type,
            body=body,
            body_encoding=encoding,
            headers=letter.headers,
        )


class ReplayBody(BaseModel):
    note: str | None = Field(default=None, max_length=2000, description="Why it can go now, e.g. the fix deployed")


class ReplayAllBody(BaseModel):
    note: str | None = Field(default=None, max_length=2000)
    status: Literal["parked"] = Field(default="parked", description="Only parked letters can be replayed")
    original_queue: str | None = Field(default=None, description="Only the letters of this queue")
    routing_key: str | None = Field(default=None, description="Only the letters of this event type")
    subject: str | None = Field(default=None, description="Only the letters about this request id")
    limit: int = Field(default=1000, ge=1, le=10_000, description="At most this many, oldest first")


class ReplayReportView(BaseModel):
    replayed: list[uuid.UUID] = Field(description="Sent back to their queues")
    skipped: list[uuid.UUID] = Field(description="Resolved by someone else meanwhile")
    failed: dict[uuid.UUID, str] = Field(description="Still parked, with the reason (e.g. the broker is away)")


class DiscardBody(BaseModel):
    reason: str = Field(min_length=1, max_length=2000, description="Why it is dropped; kept with the letter")


router = APIRouter(tags=["operations"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse},
    403: {"model": ErrorResponse},
    404: {"model": ErrorResponse},
}
_ACTION_ERRORS: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    409: {"model": ErrorResponse},
    503: {"model": ErrorResponse},
}


@router.get("/dead-letters", response_model=list[DeadLetterView], responses=_ERRORS)
async def list_dead_letters(
    desk: DeskDep,
    _operator: Operator,
    status: Annotated[DeadLetterStatus | None, Query(description="parked (default), replayed or discarded")] = (
        DeadLetterStatus.parked
    ),
    queue: Annotated[str | None, Query(description="Only the letters of this original queue")] = None,
    routing_key: Annotated[str | None, Query(description="Only the letters of this event type")] = None,
    subject: Annotated[str | None, Query(description="Only the letters about this request id")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[DeadLetterView]:
    """The service's dead letters, oldest first: error, attempts, first and last failure, queue and subject."""
    query = DeadLetterQuery(
        status=status, original_queue=queue, routing_key=routing_key, subject=subject, limit=limit, offset=offset
    )
    return [DeadLetterView.of(letter) for letter in await service.list_letters(query, uow=desk.unit_of_work())]


@router.get("/dead-letters/{letter_id}", response_model=DeadLetterDetail, responses=_ERRORS)
async def show_dead_letter(letter_id: uuid.UUID, desk: DeskDep, _operator: OperatorReading) -> DeadLetterDetail:
    """One dead letter with its body and headers."""
    return DeadLetterDetail.of(await service.get_letter(letter_id, uow=desk.unit_of_work()))


@router.post("/dead-letters/replay", response_model=ReplayReportView, responses=_ERRORS)
async def replay_dead_letters(body: ReplayAllBody, desk: DeskDep, operator: Operator) -> ReplayReportView:
    """Replay every parked letter (of a queue, event type or request, if given), each to its own queue."""
    query = DeadLetterQuery(
        status=DeadLetterStatus.parked,
        original_queue=body.original_queue,
        routing_key=body.routing_key,
        subject=body.subject,
        limit=body.limit,
    )
    report = await service.replay_all(query, by=operator.username, note=body.note, desk=desk)
    return ReplayReportView(replayed=report.replayed, skipped=report.skipped, failed=report.failed)


@router.post("/dead-letters/{letter_id}/replay", response_model=DeadLetterView, responses=_ACTION_ERRORS)
async def replay_dead_letter(
    letter_id: uuid.UUID, body: ReplayBody, desk: DeskDep, operator: Operator
) -> DeadLetterView:
    """Send the original message (same body and message id) back to its queue only, with attempts counted afresh."""
    return DeadLetterView.of(await service.replay(letter_id, by=operator.username, note=body.note, desk=desk))


@router.post("/dead-letters/{letter_id}/discard", response_model=DeadLetterView, responses=_ACTION_ERRORS)
async def discard_dead_letter(
    letter_id: uuid.UUID, body: DiscardBody, desk: DeskDep, operator: Operator
) -> DeadLetterView:
    """Drop the letter on purpose; who and why are kept."""
    return DeadLetterView.of(await service.discard(letter_id, by=operator.username, reason=body.reason, desk=desk))


def install(app: FastAPI, desk: DeadLetterDesk) -> None:
    app.state.dead_letter_desk = desk
    app.include_router(router)
