"""What an operator and the parking consumer do with dead letters: park, list, replay, discard.

Each change and the event announcing it (operations.message_parked.v1 / operations.message_resolved.v1, about
the request the letter concerns) commit in one transaction. A replay publishes while the letter's row is held,
and commits only after the broker confirmed: a failed publish leaves the letter parked.
"""

import abc
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

from dukcapil_shared.clock import Clock, system_clock
from dukcapil_shared.contracts import MessageParked, MessageResolved
from dukcapil_shared.ops.dead_letters import DeadLetter, DeadLetterNotFound, DeadLetterStatus, LetterAlreadyResolved
from dukcapil_shared.ops.store import DeadLetterQuery, OpsUnitOfWork
from dukcapil_shared.refusals import Refusal, RefusalKind


class ReplayFailed(Refusal):
    """The broker did not take the replayed message (unreachable, or no confirm in time): the letter stays parked.
    `str()` is the reason alone, for a replay report."""

    code = "broker_unavailable"
    kind = RefusalKind.unavailable
    headers: Mapping[str, str] = {"Retry-After": "5"}

    def __init__(self, reason: str) -> None:
        super().__init__(f"Not replayed, the letter stays parked: {reason}. Try again shortly.")
        self.args = (reason,)


class ReplayUnroutable(ReplayFailed):
    """No queue took the replayed message (its original queue is gone): the letter stays parked."""

    code = "replay_unroutable"
    kind = RefusalKind.conflict
    headers: Mapping[str, str] = {}

    def __init__(self, reason: str) -> None:
        Refusal.__init__(self, f"Not replayed, the letter stays parked: {reason}.")
        self.args = (reason,)


class Republisher(abc.ABC):
    @abc.abstractmethod
    async def republish(self, letter: DeadLetter) -> None:
        """Send the letter's body back to its original queue only, persistently; return once the broker confirmed,
        raise ReplayFailed otherwise."""


@dataclass(frozen=True)
class DeadLetterDesk:
    """Everything the HTTP API needs to act on one service's dead letters."""

    service: str
    unit_of_work: Callable[[], OpsUnitOfWork]
    republisher: Republisher
    clock: Clock = system_clock


@dataclass
class ReplayReport:
    replayed: list[uuid.UUID] = field(default_factory=list)
    skipped: list[uuid.UUID] = field(default_factory=list)
    """Resolved by someone else meanwhile."""
    failed: dict[uuid.UUID, str] = field(default_factory=dict)
    """Not replayed, with the reason; they stay parked."""


async def park(letter: DeadLetter, *, uow: OpsUnitOfWork, service: str) -> bool:
    """Keep the letter and announce it; False (and nothing announced) when it was parked already."""
    async with uow:
        if not await uow.dead_letters.add(letter):
            return False
        request_id = letter.request_id
        # A parked operations event announces nothing: that could go round in circles.
        if request_id is not None and not letter.routing_key.startswith("operations."):
            await uow.outbox.add(
                MessageParked(
                    request_id=request_id,
                    service=service,
                    queue=letter.original_queue,
                    message_routing_key=letter.routing_key,
                    error=letter.error,
                    attempts=letter.attempts,
                    dead_letter_id=letter.id,
                    message_id=letter.message_id,
                    first_failure_at=letter.first_failure_at,
                    last_failure_at=letter.last_failure_at,
                )
            )
        await uow.commit()
    return True


async def list_letters(query: DeadLetterQuery, *, uow: OpsUnitOfWork) -> list[DeadLetter]:
    async with uow:
        return await uow.dead_letters.list(query)


async def get_letter(letter_id: uuid.UUID, *, uow: OpsUnitOfWork) -> DeadLetter:
    async with uow:
        return await _load(uow, letter_id)


async def replay(letter_id: uuid.UUID, *, by: str, note: str | None = None, desk: DeadLetterDesk) -> DeadLetter:
    """Send the letter back to its queue with the attempts counted afresh, and mark it replayed by `by`."""
    async with desk.unit_of_work() as uow:
        letter = await _load(uow, letter_id)
        letter.resolve(DeadLetterStatus.replayed, by=by, reason=note, at=desk.clock())
        await uow.dead_letters.save_resolution(letter)
        await desk.republisher.republish(letter)
        await _announce_resolution(uow, letter, desk.service)
        await uow.commit()
    return letter


async def replay_all(query: DeadLetterQuery, *, by: str, note: str | None = None, desk: DeadLetterDesk) -> ReplayReport:
    """Replay every parked letter the query finds, each in its own transaction; stops at the first broker failure
    so that a broker outage does not cost one publish timeout per letter."""
    parked = await list_letters(replace(query, status=DeadLetterStatus.parked), uow=desk.unit_of_work())
    report = ReplayReport()
    for position, letter in enumerate(parked):
        try:
            await replay(letter.id, by=by, note=note, desk=desk)
        except (LetterAlreadyResolved, DeadLetterNotFound):
            report.skipped.append(letter.id)
        except ReplayUnroutable as error:
            report.failed[letter.id] = str(error)
        except ReplayFailed as error:
            for remaining in parked[position:]:
                report.failed[remaining.id] = str(error)
            break
        else:
            report.replayed.append(letter.id)
    return report


async def discard(letter_id: uuid.UUID, *, by: str, reason: str, desk: DeadLetterDesk) -> DeadLetter:
    """Drop the letter on purpose, recording who and why."""
    async with desk.unit_of_work() as uow:
        letter = await _load(uow, letter_id)
        letter.resolve(DeadLetterStatus.discarded, by=by, reason=reason, at=desk.clock())
        await uow.dead_letters.save_resolution(letter)
        await _announce_resolution(uow, letter, desk.service)
        await uow.commit()
    return letter


async def _load(uow: OpsUnitOfWork, letter_id: uuid.UUID) -> DeadLetter:
    letter = await uow.dead_letters.get(letter_id)
    if letter is None:
        raise DeadLetterNotFound(str(letter_id))
    return letter


async def _announce_resolution(uow: OpsUnitOfWork, letter: DeadLetter, service: str) -> None:
    request_id = letter.request_id
    if request_id is None or letter.routing_key.startswith("operations."):
        return
    await uow.outbox.add(
        MessageResolved(
            request_id=request_id,
            service=service,
            dead_letter_id=letter.id,
            resolution="replayed" if letter.status == DeadLetterStatus.replayed else "discarded",
            resolved_by=letter.resolved_by or "",
            reason=letter.resolution_reason,
            queue=letter.original_queue,
            message_routing_key=letter.routing_key,
        )
    )
