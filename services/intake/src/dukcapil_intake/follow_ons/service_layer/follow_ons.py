"""Follow-on drafts' use cases: make them when a document is issued, fill them from the register, offer, expire,
open with the link's token, and confirm (as any request is submitted, or as any e-KTP recording is booked)."""

import uuid
from collections.abc import Callable
from datetime import timedelta

import structlog

from dukcapil_intake.follow_ons.domain.follow_ons import (
    DraftNotFound,
    DraftStatus,
    FollowOnDraft,
    FollowOnKind,
    PrefillSchedule,
    offers_after,
)
from dukcapil_intake.follow_ons.domain.links import AccessCodeMistyped, FollowOnLinks
from dukcapil_intake.follow_ons.domain.register import RegisteredPerson
from dukcapil_intake.follow_ons.service_layer.register import Register, RegisterUnavailable
from dukcapil_intake.follow_ons.service_layer.repository import DraftChanged, DraftFilter
from dukcapil_intake.follow_ons.service_layer.submissions import Confirmer, Made, Submissions
from dukcapil_intake.follow_ons.service_layer.unit_of_work import FollowOnsUnitOfWork
from dukcapil_intake.requests.domain.events import StepRecorded
from dukcapil_shared.clock import Clock, system_clock
from dukcapil_shared.contracts import DocumentIssued
from dukcapil_shared.messaging import ConcurrentChange
from dukcapil_shared.refusals import Refusal, RefusalKind

log = structlog.get_logger(__name__)

CITIZEN = Confirmer().by
"""Who confirmed a draft through the link sent to the family (an operator is named by their username)."""


async def offer_follow_ons(
    uow: FollowOnsUnitOfWork, step: StepRecorded, *, lifetime: timedelta, clock: Clock = system_clock
) -> None:
    """Dispatcher handler, in the transaction that records an issued document: make the drafts it leads to from
    what intake knows (the register is asked later, outside this transaction). A redelivered event makes none."""
    if not isinstance(step.event, DocumentIssued):
        return
    drafts = offers_after(step.event, origin_number=step.request.number, now=clock(), lifetime=lifetime)
    for draft in drafts:
        if await uow.drafts.exists(draft.origin.request_id, draft.kind):
            continue
        await uow.drafts.add(draft)
        await uow.hand_on(draft.collect_events())
        log.info(
            "follow_on_drafted", draft_id=str(draft.id), kind=draft.kind.value, origin=str(draft.origin.request_id)
        )


async def fill_from_register(
    *,
    unit_of_work: Callable[[], FollowOnsUnitOfWork],
    register: Register | None,
    schedule: PrefillSchedule,
    clock: Clock = system_clock,
    batch_size: int = 20,
) -> int:
    """One round: ask the register for the drafts that wait for it (no transaction is open while it answers), then
    fill and offer each; a register that does not answer is asked again later. Without a register (the office
    consults none) each draft is left for the counter to complete. Returns how many were offered."""
    async with unit_of_work() as uow:
        due = await uow.drafts.due_for_prefill(clock(), limit=batch_size)
    offered = 0
    for draft in due:
        fill: Callable[[FollowOnDraft], None] | None
        if register is None:
            fill = FollowOnDraft.without_register
        else:
            try:
                fill = await _ask_register(draft, register, clock)
            except RegisterUnavailable as error:
                log.warning("follow_on_register_unavailable", draft_id=str(draft.id), reason=str(error))
                fill = None
        try:
            async with unit_of_work() as uow:
                if fill is None:
                    draft.register_unavailable(clock(), schedule)
                else:
                    fill(draft)
                await uow.drafts.save(draft)
                happened = draft.collect_events()
                await uow.hand_on(happened)
                await uow.commit()
        except DraftChanged:
            continue  # another instance's round got to it first
        offered += len(happened)
        log.info("follow_on_filled", draft_id=str(draft.id), status=draft.status.value)
    return offered


async def _ask_register(draft: FollowOnDraft, register: Register, clock: Clock) -> Callable[[FollowOnDraft], None]:
    """What the register says, as a change to make to the draft."""
    now = clock()
    if draft.kind == FollowOnKind.family_card_without_deceased:
        person = await register.person(draft.subject_niks[0])
        family = await register.family(person.kk_number) if person is not None and person.kk_number else None
        return lambda found: found.fill_removal(person, family, now)
    movers: dict[str, RegisteredPerson | None] = {nik: await register.person(nik) for nik in draft.subject_niks}
    return lambda found: found.fill_new_family(movers, now)


async def expire_drafts(
    *, unit_of_work: Callable[[], FollowOnsUnitOfWork], clock: Clock = system_clock, batch_size: int = 100
) -> int:
    """One round: open drafts whose time is up are marked expired (their link then says so). Returns how many."""
    expired = 0
    async with unit_of_work() as uow:
        for draft in await uow.drafts.due_to_expire(clock(), limit=batch_size):
            if draft.expire(clock()):
                await uow.drafts.save(draft)
                expired += 1
        await uow.commit()
    return expired


async def open_draft(
    draft_id: uuid.UUID, token: str, *, uow: FollowOnsUnitOfWork, links: FollowOnLinks
) -> FollowOnDraft:
    """The draft its link opens; the id alone opens nothing. Raises AccessCodeMistyped for what is no token."""
    if not links.opens(draft_id, token):
        raise DraftNotFound(draft_id)
    return await get_draft(draft_id, uow=uow)


async def get_draft(draft_id: uuid.UUID, *, uow: FollowOnsUnitOfWork) -> FollowOnDraft:
    async with uow:
        draft = await uow.drafts.get(draft_id)
    if draft is None:
        raise DraftNotFound(draft_id)
    return draft


async def list_drafts(where: DraftFilter, *, limit: int, offset: int, uow: FollowOnsUnitOfWork) -> list[FollowOnDraft]:
    async with uow:
        return await uow.drafts.list(where, limit=limit, offset=offset)


async def drafts_from(origin_request_id: uuid.UUID, *, uow: FollowOnsUnitOfWork) -> list[FollowOnDraft]:
    async with uow:
        return await uow.drafts.from_origin(origin_request_id)


CONFIRM_ATTEMPTS = 3


async def confirm_draft(
    draft_id: uuid.UUID,
    confirmer: Confirmer,
    *,
    uow: Callable[[], FollowOnsUnitOfWork],
    submissions: Submissions,
    clock: Clock = system_clock,
) -> FollowOnDraft:
    """Submit the draft as a request of its own, through the same use case as any submission (so every check
    applies), or book its e-KTP recording as any booking is made. Confirming twice submits once: the draft's id is
    the submission's idempotency key, and a confirmed draft answers with what it became."""
    for attempt in range(1, CONFIRM_ATTEMPTS + 1):
        try:
            return await _confirm(draft_id, confirmer, uow, submissions, clock)
        except ConcurrentChange:
            # A second click while the first was submitting: the next round finds the first one's result.
            if attempt == CONFIRM_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


async def _confirm(
    draft_id: uuid.UUID,
    confirmer: Confirmer,
    uow: Callable[[], FollowOnsUnitOfWork],
    submissions: Submissions,
    clock: Clock,
) -> FollowOnDraft:
    draft = await get_draft(draft_id, uow=uow())
    if draft.status == DraftStatus.confirmed:
        return draft
    draft.ensure_confirmable(clock())
    if draft.kind == FollowOnKind.ektp_recording:
        made = await submissions.book_recording(draft)
        if made is None:
            # A second click that got to the booking while the first was recording it: the first one's stands.
            latest = await get_draft(draft.id, uow=uow())
            if latest.status != DraftStatus.confirmed:
                raise RecordingBookedAlready()
            return latest
    else:
        made = await submissions.submit(draft, confirmer)
    async with uow() as drafts:
        draft.confirmed(result_id=made.id, result_number=made.number, by=confirmer.by, now=clock())
        await drafts.drafts.save(draft)
        await drafts.commit()
    log.info("follow_on_confirmed", draft_id=str(draft.id), by=confirmer.by, result=str(made.id))
    return draft


class RecordingBookedAlready(Refusal):
    code = "already_booked"
    message = (
        "This person already has an upcoming e-KTP recording; its confirmation went to the phone or e-mail given "
        "with it."
    )
    message_id = (
        "Orang ini sudah memiliki jadwal perekaman e-KTP; konfirmasinya telah dikirim ke telepon atau e-mail yang "
        "diberikan saat itu."
    )
    kind = RefusalKind.conflict


__all__ = [
    "CITIZEN",
    "AccessCodeMistyped",
    "Confirmer",
    "Made",
    "RecordingBookedAlready",
    "confirm_draft",
    "drafts_from",
    "expire_drafts",
    "fill_from_register",
    "get_draft",
    "list_drafts",
    "offer_follow_ons",
    "open_draft",
]
