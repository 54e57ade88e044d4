"""The pre-checks against the population register, with an in-memory register behind the port."""

import asyncio
import datetime as dt
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from dukcapil_review.domain.model import AUTOMATIC_REVIEWER, Review, ReviewPolicy, ReviewStatus
from dukcapil_review.domain.prechecks import CheckStatus, PreCheck
from dukcapil_review.domain.register import (
    REGISTER_ALIVE,
    REGISTER_DEATH_NOT_REGISTERED,
    REGISTER_FAMILY_CARD,
    REGISTER_KNOWN,
    REGISTER_NAME,
    RegisteredFamily,
    RegisteredPerson,
    mask_name,
    name_similarity,
)
from dukcapil_review.service_layer import handlers
from dukcapil_review.service_layer.register import RegisterLookups
from dukcapil_shared.contracts import AttachmentAdded, AttachmentRef, Envelope, RequestSubmitted

from ..fakes import FakeRegister, FakeReviewUnitOfWork

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
KK = "3602141202100005"
SITI = RegisteredPerson("3602144107900001", "SITI AMINAH", dt.date(1990, 7, 1), True, True, None, KK, "36.02.14")
SARMADI = RegisteredPerson("3602140101500002", "SARMADI", dt.date(1950, 1, 1), False, True, None, KK, "36.02.14")
AHMAD = RegisteredPerson("3602141205850003", "AHMAD FAUZI", dt.date(1985, 5, 12), False, True, None, KK, "36.02.14")
DEDI = RegisteredPerson(
    "3602141111800004", "DEDI SUPRIATNA", dt.date(1980, 11, 11), False, True, None, "3602140303150001", "36.02.14"
)
FAMILY = RegisteredFamily(KK, "36.02.14", frozenset({SITI.nik, SARMADI.nik, AHMAD.nik}))
EVERYONE = (SITI, SARMADI, AHMAD, DEDI)

AUTO = ReviewPolicy(auto_approve_types=frozenset({"akta_kematian", "kartu_keluarga", "biodata_wni"}))


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def death(
    applicant: RegisteredPerson = SITI,
    *,
    deceased: RegisteredPerson = SARMADI,
    witnesses: tuple[RegisteredPerson, ...] = (DEDI, AHMAD),
    applicant_name: str = "Siti Aminah",
) -> RequestSubmitted:
    return RequestSubmitted(
        request_id=uuid.uuid4(),
        request_number="360214-20261130-0001",
        request_type="akta_kematian",
        applicant={"nik": applicant.nik, "name": applicant_name},
        details={
            "deceased": {"nik": deceased.nik, "name": deceased.name.title()},
            "date_of_death": "2026-11-20",
            "place_of_death": "Rangkasbitung",
            "reporter_relation": "anak",
            "witnesses": [{"nik": w.nik, "name": w.name.title()} for w in witnesses],
        },
        delivery={"method": "pickup", "pickup_kecamatan_code": "36.02.14"},
        kecamatan_code="36.02.14",
        channel="online",
    )


def kk_change(reason: str, members: list[dict[str, str]]) -> RequestSubmitted:
    return RequestSubmitted(
        request_id=uuid.uuid4(),
        request_number="360214-20261130-0002",
        request_type="kartu_keluarga",
        applicant={"nik": SITI.nik, "name": "Siti Aminah"},
        details={"reason": reason, "kk_number": KK, "members": members},
        delivery={"method": "pickup", "pickup_kecamatan_code": "36.02.14"},
        kecamatan_code="36.02.14",
        channel="online",
    )


async def queue(
    uow: FakeReviewUnitOfWork,
    event: RequestSubmitted,
    register: FakeRegister,
    *,
    policy: ReviewPolicy = AUTO,
    clock: Clock | None = None,
    **lookups: object,
) -> Review:
    async with uow:
        await handlers.queue_submitted_request(
            uow,
            event,
            Envelope.wrap(event, source="/test"),
            policy=policy,
            clock=clock or Clock(),
            register=RegisterLookups(register, **lookups),  # type: ignore[arg-type]
        )
        await uow.commit()
    review = await uow.reviews.get(event.request_id)
    assert review is not None
    return review


def check(review: Review, code: str) -> PreCheck:
    [found] = [check for check in review.prechecks if check.code == code]
    return found


def test_names_compare_whatever_the_case_punctuation_and_word_order_with_a_small_slip_allowed() -> None:
    assert name_similarity("Aminah, Siti", "SITI AMINAH") == 100
    assert name_similarity("siti  aminnah", "SITI AMINAH") >= 85
    assert name_similarity("Mohamad Rizki", "MUHAMMAD RIZKI") >= 85
    assert name_similarity("Budi Gunawan", "SITI AMINAH") < 50
    assert mask_name("SITI BADRIAH") == "S*** B******"


async def test_a_death_among_registered_residents_passes_every_register_check_and_is_approved_by_policy() -> None:
    uow = FakeReviewUnitOfWork()
    review = await queue(uow, death(), FakeRegister(EVERYONE, [FAMILY]))
    codes = [c.code for c in review.register_checks]
    assert codes == [REGISTER_KNOWN, REGISTER_NAME, REGISTER_ALIVE, REGISTER_DEATH_NOT_REGISTERED]
    assert all(c.status == CheckStatus.passed for c in review.register_checks)
    known = check(review, REGISTER_KNOWN)
    assert [(e.subject_en, e.nik, e.finding) for e in known.evidence] == [
        ("the applicant", "360214******0001", "ok"),
        ("the deceased", "360214******0002", "ok"),
        ("witness 1", "360214******0004", "ok"),
        ("witness 2", "360214******0003", "ok"),
    ]
    assert review.status == ReviewStatus.approved and review.decided_by == AUTOMATIC_REVIEWER


async def test_an_unknown_nik_fails_with_its_evidence_and_keeps_the_request_for_a_person() -> None:
    uow = FakeReviewUnitOfWork()
    review = await queue(uow, death(), FakeRegister([SITI, SARMADI, AHMAD], [FAMILY]))
    known = check(review, REGISTER_KNOWN)
    assert known.status == CheckStatus.failed and not known.passed
    assert "saksi ke-1 (360214******0004)" in known.message_id
    assert "witness 1 (360214******0004)" in known.message_en
    assert [e.finding for e in known.evidence if e.subject_en == "witness 1"] == ["unknown_nik"]
    assert DEDI.nik not in known.message_en
    assert review.status == ReviewStatus.pending and not review.prechecks_pass


async def test_a_name_that_differs_is_a_warning_with_the_registers_masked_name_and_does_not_block() -> None:
    uow = FakeReviewUnitOfWork()
    review = await queue(uow, death(applicant_name="Rahmawati Siti"), FakeRegister(EVERYONE, [FAMILY]))
    names = check(review, REGISTER_NAME)
    assert names.status == CheckStatus.warning
    [differs] = [e for e in names.evidence if e.finding == "name_mismatch"]
    assert (differs.declared_name, differs.register_name) == ("Rahmawati Siti", "S*** A*****")
    assert differs.similarity is not None and differs.similarity < 85
    assert "S*** A*****" in names.message_en and "AMINAH" not in names.message_en + names.message_id
    assert review.status == ReviewStatus.approved


async def test_a_dead_witness_fails_the_alive_check_with_the_date_of_death() -> None:
    dead_witness = RegisteredPerson(
        DEDI.nik, DEDI.name, DEDI.birth_date, False, False, dt.date(2024, 3, 9), DEDI.kk_number, "36.02.14"
    )
    uow = FakeReviewUnitOfWork()
    review = await queue(uow, death(), FakeRegister([SITI, SARMADI, AHMAD, dead_witness], [FAMILY]))
    alive = check(review, REGISTER_ALIVE)
    assert alive.status == CheckStatus.failed
    [dead] = [e for e in alive.evidence if e.finding == "deceased"]
    assert (dead.subject_en, dead.died_on) == ("witness 1", "2024-03-09")
    assert "2024-03-09" in alive.message_en
    assert review.status == ReviewStatus.pending


async def test_a_death_registered_already_is_flagged_as_a_possible_second_certificate() -> None:
    registered = RegisteredPerson(
        SARMADI.nik, SARMADI.name, SARMADI.birth_date, False, False, dt.date(2026, 11, 20), KK, "36.02.14"
    )
    uow = FakeReviewUnitOfWork()
    review = await queue(uow, death(), FakeRegister([SITI, registered, AHMAD, DEDI], [FAMILY]))
    registered_death = check(review, REGISTER_DEATH_NOT_REGISTERED)
    assert registered_death.status == CheckStatus.failed
    assert [e.finding for e in registered_death.evidence] == ["death_registered"]
    # The deceased being dead is what a death is: only the applicant and the witnesses must be alive.
    assert check(review, REGISTER_ALIVE).status == CheckStatus.passed
    assert review.status == ReviewStatus.pending


async def test_a_member_removed_from_a_card_they_are_not_on_fails_the_family_card_check() -> None:
    uow = FakeReviewUnitOfWork()
    event = kk_change("remove_member", [{"nik": DEDI.nik, "name": "Dedi Supriatna"}])
    review = await queue(uow, event, FakeRegister(EVERYONE, [FAMILY]))
    card = check(review, REGISTER_FAMILY_CARD)
    assert card.status == CheckStatus.failed
    assert [(e.subject_en, e.finding) for e in card.evidence] == [
        ("the applicant", "ok"),
        ("family member 1", "not_on_card"),
    ]
    assert "360214******0005" in card.message_en  # the card, masked
    assert review.status == ReviewStatus.pending


async def test_a_new_member_unknown_to_the_register_is_no_finding_but_an_unknown_card_is() -> None:
    newborn = {"nik": "3602145003240001", "name": "Nur Aisyah"}
    uow = FakeReviewUnitOfWork()
    review = await queue(uow, kk_change("add_member", [newborn]), FakeRegister(EVERYONE, [FAMILY]))
    assert check(review, REGISTER_KNOWN).status == CheckStatus.passed
    assert check(review, REGISTER_FAMILY_CARD).status == CheckStatus.passed
    assert review.status == ReviewStatus.approved

    elsewhere = await queue(FakeReviewUnitOfWork(), kk_change("add_member", [newborn]), FakeRegister(EVERYONE))
    card = check(elsewhere, REGISTER_FAMILY_CARD)
    assert card.status == CheckStatus.failed and [e.finding for e in card.evidence] == ["card_unknown"]


async def test_the_policy_decides_which_failed_register_checks_block_automatic_approval() -> None:
    lenient = ReviewPolicy(auto_approve_types=AUTO.auto_approve_types, register_blocking=frozenset())
    uow = FakeReviewUnitOfWork()
    review = await queue(uow, death(), FakeRegister([SITI, SARMADI, AHMAD], [FAMILY]), policy=lenient)
    assert check(review, REGISTER_KNOWN).status == CheckStatus.warning
    assert review.status == ReviewStatus.approved


async def test_a_register_that_does_not_answer_leaves_the_checks_not_done_until_a_retry_does_them() -> None:
    uow, clock, register = FakeReviewUnitOfWork(), Clock(), FakeRegister(EVERYONE, [FAMILY], down=True)
    review = await queue(uow, death(), register, clock=clock)
    assert {c.status for c in review.register_checks} == {CheckStatus.not_done}
    assert "attempt 1, trying again at 2026-11-30 15:00 WIB" in review.register_checks[0].message_en
    assert review.status == ReviewStatus.pending and review.register_retry_at == T0 + timedelta(seconds=30)
    lookups = RegisterLookups(register)

    async def retry() -> int:
        return await handlers.retry_register_checks(
            unit_of_work=lambda: uow, register=lookups, policy=AUTO, clock=clock
        )

    register.down = False
    clock.advance(seconds=29)
    assert await retry() == 0, "not due yet"
    clock.advance(seconds=2)
    assert await retry() == 1
    review = await uow.reviews.get(review.request_id)
    assert review is not None
    assert {c.status for c in review.register_checks} == {CheckStatus.passed}
    assert review.register_retry_at is None and review.register_attempts == 2
    assert review.status == ReviewStatus.approved and review.decided_by == AUTOMATIC_REVIEWER
    assert ("system", "prechecks_updated") in uow.audit.actions(review.request_id)


async def test_retries_end_and_leave_the_request_to_a_reviewer_who_can_decide_it() -> None:
    uow, clock, register = FakeReviewUnitOfWork(), Clock(), FakeRegister(EVERYONE, [FAMILY], down=True)
    delays = (timedelta(seconds=10),)
    review = await queue(uow, death(), register, clock=clock, retry_delays=delays)
    clock.advance(seconds=11)
    lookups = RegisterLookups(register, retry_delays=delays)
    retried = await handlers.retry_register_checks(unit_of_work=lambda: uow, register=lookups, policy=AUTO, clock=clock)
    assert retried == 0
    review = await uow.reviews.get(review.request_id)
    assert review is not None and review.register_retry_at is None and review.register_attempts == 2
    assert "after 2 attempts; check by hand" in review.register_checks[0].message_en
    clock.advance(hours=1)
    asked = register.asked
    await handlers.retry_register_checks(unit_of_work=lambda: uow, register=lookups, policy=AUTO, clock=clock)
    assert register.asked == asked, "given up: not asked again"
    approved = await handlers.approve(
        review.request_id, reviewer="rina", note="Dicek manual di SIAK", uow=uow, policy=AUTO, clock=clock
    )
    assert approved.status == ReviewStatus.approved


async def test_a_slow_register_is_given_up_on_after_the_time_limit() -> None:
    class SlowRegister(FakeRegister):
        async def person(self, nik: str) -> RegisteredPerson | None:
            await asyncio.sleep(5)
            return await super().person(nik)

    uow = FakeReviewUnitOfWork()
    started = asyncio.get_running_loop().time()
    review = await queue(uow, death(), SlowRegister(EVERYONE, [FAMILY]), timeout=0.05)
    assert asyncio.get_running_loop().time() - started < 2
    assert {c.status for c in review.register_checks} == {CheckStatus.not_done}
    assert "no answer within 0.05 s" in review.register_checks[0].message_en


async def test_a_new_scan_keeps_the_register_checks_without_asking_the_register_again() -> None:
    uow, register = FakeReviewUnitOfWork(), FakeRegister([SITI, SARMADI, AHMAD], [FAMILY])
    review = await queue(uow, death(), register, policy=ReviewPolicy())
    asked = register.asked
    ref = AttachmentRef(id="att-1", kind="surat_kematian", content_type="application/pdf", size=10, sha256="ab" * 32)
    event = AttachmentAdded(request_id=review.request_id, attachment=ref)
    async with uow:
        await handlers.record_attachment(
            uow, event, Envelope.wrap(event, source="/test"), policy=ReviewPolicy(), clock=Clock()
        )
        await uow.commit()
    updated = await uow.reviews.get(review.request_id)
    assert updated is not None and register.asked == asked
    assert check(updated, REGISTER_KNOWN) == check(review, REGISTER_KNOWN)


@pytest.mark.parametrize("blocking", [["register_known", "no_such_check"]])
def test_the_settings_refuse_an_unknown_register_check_in_the_policy(blocking: list[str]) -> None:
    from pydantic import ValidationError

    from dukcapil_review.settings import ReviewSettings

    with pytest.raises(ValidationError, match="no such register check: no_such_check"):
        ReviewSettings(ENVIRONMENT="development", register_blocking=blocking)  # type: ignore[call-arg]
