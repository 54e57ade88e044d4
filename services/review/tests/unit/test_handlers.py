import uuid
from datetime import UTC, datetime, timedelta

import pytest

from dukcapil_review.domain.model import AUTOMATIC_REVIEWER, ReviewPolicy, ReviewRefused, ReviewStatus
from dukcapil_review.service_layer import handlers
from dukcapil_review.service_layer.unit_of_work import ConcurrentUpdate, QueueOrder, ReviewQuery
from dukcapil_shared.contracts import (
    AttachmentAdded,
    AttachmentRef,
    Envelope,
    InformationRequested,
    KartuKeluargaDetails,
    RequestApproved,
    RequestCancelled,
    RequestRejected,
    RequestResubmitted,
    RequestSubmitted,
    ReviewClaimed,
    ReviewStarted,
)
from dukcapil_shared.contracts.regions import WIB

from ..fakes import FakeReviewUnitOfWork

MANUAL = ReviewPolicy()
AUTO_BIODATA = ReviewPolicy(frozenset({"biodata_wni"}))
T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
SITI = {"nik": "3602144107900001", "name": "Siti Aminah"}


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


DEATH = {
    "deceased": {"nik": "3602140101500002", "name": "Sarmadi"},
    "date_of_death": "2026-11-20",
    "place_of_death": "Rangkasbitung",
    "reporter_relation": "anak",
    "witnesses": [{"nik": "3602141111800004", "name": "Dedi"}, {"nik": "3602141205850003", "name": "Ahmad"}],
}
DETAILS = {"kartu_keluarga": {"reason": "add_member"}, "akta_kematian": DEATH, "biodata_wni": {}}


def submitted(request_type: str = "kartu_keluarga", **changes) -> RequestSubmitted:  # type: ignore[no-untyped-def]
    fields = {
        "request_id": uuid.uuid4(),
        "request_number": "360214-20261128-0001",
        "request_type": request_type,
        "applicant": SITI,
        "details": DETAILS[request_type],
        "delivery": {"method": "pickup", "pickup_kecamatan_code": "36.02.14"},
        "kecamatan_code": "36.02.14",
        "channel": "online",
    }
    return RequestSubmitted(**(fields | changes))


def attachment(kind: str, id: str | None = None) -> AttachmentRef:
    return AttachmentRef(id=id or f"att-{kind}", kind=kind, content_type="application/pdf", size=2048, sha256="ab" * 32)


async def consume(uow: FakeReviewUnitOfWork, handler, event) -> None:  # type: ignore[no-untyped-def]
    async with uow:
        await handler(uow, event, Envelope.wrap(event, source="/test"))
        await uow.commit()


async def queue(
    uow: FakeReviewUnitOfWork, event: RequestSubmitted, policy: ReviewPolicy = MANUAL, clock: Clock | None = None
) -> None:
    async with uow:
        await handlers.queue_submitted_request(
            uow, event, Envelope.wrap(event, source="/test"), policy=policy, clock=clock or Clock()
        )
        await uow.commit()


async def add_attachment(
    uow: FakeReviewUnitOfWork, request_id: uuid.UUID, ref: AttachmentRef, policy: ReviewPolicy = MANUAL
) -> None:
    event = AttachmentAdded(request_id=request_id, attachment=ref)
    async with uow:
        await handlers.record_attachment(uow, event, Envelope.wrap(event, source="/test"), policy=policy, clock=Clock())
        await uow.commit()


async def resubmit(
    uow: FakeReviewUnitOfWork, event: RequestResubmitted, policy: ReviewPolicy = MANUAL, clock: Clock | None = None
) -> None:
    async with uow:
        await handlers.requeue_resubmitted_request(
            uow, event, Envelope.wrap(event, source="/test"), policy=policy, clock=clock or Clock()
        )
        await uow.commit()


def prechecks(review) -> dict[str, bool]:  # type: ignore[no-untyped-def]
    return {check.code: check.passed for check in review.prechecks}


async def test_a_submitted_request_enters_the_work_queue_and_review_starts() -> None:
    uow = FakeReviewUnitOfWork()
    event = submitted()
    await queue(uow, event)
    [pending] = await handlers.list_reviews(ReviewQuery(status=ReviewStatus.pending), uow=uow)
    assert pending.request_id == event.request_id and pending.details == KartuKeluargaDetails(reason="add_member")
    assert [type(e) for e in uow.outbox.events] == [ReviewStarted]


async def test_a_submitted_request_keeps_what_intake_sent_and_is_checked_at_once() -> None:
    uow = FakeReviewUnitOfWork()
    event = submitted(
        "akta_kematian",
        channel="assisted",
        operator="operator-bayah",
        office="Kantor Kecamatan Bayah",
        attachments=[attachment("surat_kematian")],
        required_attachments=["surat_kematian", "ktp_saksi"],
        flags=["late_death_report"],
    )
    await queue(uow, event)
    review = await handlers.get_review(event.request_id, uow=uow)
    assert (review.channel, review.operator, review.office) == ("assisted", "operator-bayah", "Kantor Kecamatan Bayah")
    assert review.attachments == [attachment("surat_kematian").model_dump(mode="json")]
    assert review.flags == ["late_death_report"] and review.due_at == T0 + timedelta(hours=72)
    assert prechecks(review) == {
        "attachments_complete": False,
        "nik_consistency": True,
        "region_in_lebak": True,
        "reported_on_time": False,
        "no_duplicate": True,
    }
    [received] = await uow.audit.list(event.request_id)
    assert (received.actor, received.action, received.at) == ("operator-bayah", "received", T0)
    assert received.details["failed_prechecks"] == ["attachments_complete", "reported_on_time"]


async def test_a_second_submission_event_for_the_same_request_changes_nothing() -> None:
    uow = FakeReviewUnitOfWork()
    event = submitted()
    await queue(uow, event)
    await queue(uow, event)
    assert len(uow.outbox.events) == 1 and len(uow.audit.committed) == 1


async def test_approval_publishes_everything_the_document_needs() -> None:
    uow = FakeReviewUnitOfWork()
    event = submitted()
    await queue(uow, event)
    review = await handlers.approve(event.request_id, reviewer="rina", note=None, uow=uow, policy=MANUAL)
    assert review.status == ReviewStatus.approved and review.decided_by == "rina"
    approved = uow.outbox.events[-1]
    assert isinstance(approved, RequestApproved)
    assert (approved.applicant, approved.details, approved.delivery) == (event.applicant, event.details, event.delivery)
    assert approved.automatic is False


async def test_a_decided_review_cannot_be_decided_again() -> None:
    uow = FakeReviewUnitOfWork()
    event = submitted()
    await queue(uow, event)
    await handlers.reject(event.request_id, reviewer="rina", reason="Dokumen tidak sesuai", uow=uow, policy=MANUAL)
    assert isinstance(uow.outbox.events[-1], RequestRejected)
    with pytest.raises(ReviewRefused) as refused:
        await handlers.approve(event.request_id, reviewer="budi", note=None, uow=uow, policy=MANUAL)
    assert refused.value.code == "not_pending"


async def test_a_rejection_needs_a_reason() -> None:
    uow = FakeReviewUnitOfWork()
    event = submitted()
    await queue(uow, event)
    with pytest.raises(ReviewRefused) as refused:
        await handlers.reject(event.request_id, reviewer="rina", reason="  ", uow=uow, policy=MANUAL)
    assert refused.value.code == "reason_required"


async def test_information_request_then_resubmission_returns_to_the_queue() -> None:
    uow = FakeReviewUnitOfWork()
    event = submitted(attachments=[attachment("kk_lama", "a1")], flags=["nik_outside_lebak"])
    await queue(uow, event)
    await handlers.request_information(
        event.request_id, reviewer="rina", reason="Scan KK buram", missing_items=["kk_lama"], uow=uow, policy=MANUAL
    )
    assert isinstance(uow.outbox.events[-1], InformationRequested)
    later = Clock(T0 + timedelta(days=5))
    await resubmit(
        uow,
        RequestResubmitted(
            request_id=event.request_id,
            request_type="kartu_keluarga",
            details={"reason": "add_member", "changes": "scan ulang"},
            attachments=[attachment("kk_lama", "a1"), attachment("kk_lama", "a2")],
            flags=[],
        ),
        clock=later,
    )
    review = await handlers.get_review(event.request_id, uow=uow)
    assert review.status == ReviewStatus.pending
    assert review.details == KartuKeluargaDetails(reason="add_member", changes="scan ulang")
    assert [a["id"] for a in review.attachments] == ["a1", "a2"] and review.flags == []
    # Resubmitted on Saturday 5 December: three working days counted from Monday, due at the end of Wednesday 9.
    assert review.due_at == datetime(2026, 12, 10, tzinfo=WIB)
    assert prechecks(review)["region_in_lebak"], "the flag was cleared by the corrections"
    assert isinstance(uow.outbox.events[-1], ReviewStarted)


async def test_a_correction_that_changes_the_checklist_is_checked_against_the_new_one() -> None:
    uow = FakeReviewUnitOfWork()
    event = submitted(attachments=[attachment("kk_lama", "a1")])
    await queue(uow, event)
    await handlers.request_information(
        event.request_id, reviewer="rina", reason="Alasan keliru", missing_items=[], uow=uow, policy=MANUAL
    )
    await resubmit(
        uow,
        RequestResubmitted(
            request_id=event.request_id,
            request_type="kartu_keluarga",
            details={"reason": "lost_or_damaged"},
            attachments=[attachment("kk_lama", "a1")],
            required_attachments=["kk_lama", "surat_kehilangan"],
        ),
    )
    review = await handlers.get_review(event.request_id, uow=uow)
    assert review.required_attachments == ["kk_lama", "surat_kehilangan"]
    assert not prechecks(review)["attachments_complete"]


async def test_cancellation_withdraws_a_pending_review_but_not_a_decided_one() -> None:
    uow = FakeReviewUnitOfWork()
    pending, decided = submitted(), submitted()
    await queue(uow, pending)
    await queue(uow, decided)
    await handlers.approve(decided.request_id, reviewer="rina", note=None, uow=uow, policy=MANUAL)
    for event in (pending, decided):
        await consume(uow, handlers.withdraw_cancelled_request, RequestCancelled(request_id=event.request_id))
    assert (await handlers.get_review(pending.request_id, uow=uow)).status == ReviewStatus.cancelled
    assert (await handlers.get_review(decided.request_id, uow=uow)).status == ReviewStatus.approved


async def test_events_about_a_request_not_yet_in_review_fail_so_they_are_retried() -> None:
    uow = FakeReviewUnitOfWork()
    with pytest.raises(LookupError):
        await consume(uow, handlers.withdraw_cancelled_request, RequestCancelled(request_id=uuid.uuid4()))
    with pytest.raises(LookupError):
        await add_attachment(uow, uuid.uuid4(), attachment("kk_lama"))


async def test_two_reviewers_deciding_at_once_cannot_both_win() -> None:
    uow = FakeReviewUnitOfWork()
    event = submitted()
    await queue(uow, event)
    stale = await uow.reviews.get(event.request_id)
    await handlers.approve(event.request_id, reviewer="rina", note=None, uow=uow, policy=MANUAL)
    stale.reject("budi", "x", stale.updated_at)
    with pytest.raises(ConcurrentUpdate):
        await uow.reviews.save(stale)


class TestAutomaticApproval:
    async def test_the_policy_approves_configured_types_when_every_check_passes_and_says_so(self) -> None:
        uow = FakeReviewUnitOfWork()
        event = submitted("biodata_wni")
        await queue(uow, event, AUTO_BIODATA)
        started, approved = uow.outbox.events
        assert isinstance(started, ReviewStarted) and started.automatic
        assert isinstance(approved, RequestApproved) and approved.automatic
        assert approved.reviewer == AUTOMATIC_REVIEWER
        review = await handlers.get_review(event.request_id, uow=uow)
        assert review.status == ReviewStatus.approved and review.automatic
        assert uow.audit.actions(event.request_id) == [("citizen", "received"), ("policy:auto", "approved")]
        assert (await uow.audit.list(event.request_id))[-1].details["automatic"] is True

    async def test_a_failing_precheck_leaves_it_to_a_reviewer(self) -> None:
        uow = FakeReviewUnitOfWork()
        event = submitted("biodata_wni", applicant={"nik": "3603121505880002", "name": "Dari Tangerang"})
        await queue(uow, event, AUTO_BIODATA)
        [started] = uow.outbox.events
        assert isinstance(started, ReviewStarted) and not started.automatic
        review = await handlers.get_review(event.request_id, uow=uow)
        assert review.status == ReviewStatus.pending and not prechecks(review)["region_in_lebak"]
        approved = await handlers.approve(
            event.request_id, reviewer="rina", note="Domisili dicek", uow=uow, policy=AUTO_BIODATA
        )
        assert approved.status == ReviewStatus.approved, "a failed pre-check never blocks a person"

    async def test_the_missing_attachment_arriving_later_approves_it(self) -> None:
        uow = FakeReviewUnitOfWork()
        event = submitted("biodata_wni", required_attachments=["surat_rt_rw"])
        await queue(uow, event, AUTO_BIODATA)
        assert (await handlers.get_review(event.request_id, uow=uow)).status == ReviewStatus.pending

        await add_attachment(uow, event.request_id, attachment("foto_lain"), AUTO_BIODATA)
        assert (await handlers.get_review(event.request_id, uow=uow)).status == ReviewStatus.pending
        await add_attachment(uow, event.request_id, attachment("surat_rt_rw"), AUTO_BIODATA)

        review = await handlers.get_review(event.request_id, uow=uow)
        assert review.status == ReviewStatus.approved and review.automatic
        assert [type(e) for e in uow.outbox.events] == [ReviewStarted, RequestApproved]
        assert uow.outbox.events[-1].automatic
        assert uow.audit.actions(event.request_id) == [
            ("citizen", "received"),
            ("system", "prechecks_updated"),
            ("system", "prechecks_updated"),
            ("policy:auto", "approved"),
        ]
        updated = (await uow.audit.list(event.request_id))[2]
        assert updated.details == {
            "trigger": "attachment_added",
            "attachment": {"id": "att-surat_rt_rw", "kind": "surat_rt_rw"},
            "failed_prechecks": [],
        }

    async def test_a_manual_type_is_not_approved_when_its_attachment_arrives(self) -> None:
        uow = FakeReviewUnitOfWork()
        event = submitted(required_attachments=["kk_lama"])
        await queue(uow, event, AUTO_BIODATA)
        await add_attachment(uow, event.request_id, attachment("kk_lama"), AUTO_BIODATA)
        review = await handlers.get_review(event.request_id, uow=uow)
        assert review.status == ReviewStatus.pending and review.prechecks_pass

    async def test_a_resubmission_that_fixes_everything_is_approved(self) -> None:
        uow = FakeReviewUnitOfWork()
        event = submitted("biodata_wni", required_attachments=["surat_rt_rw"])
        await queue(uow, event, AUTO_BIODATA)
        await handlers.request_information(
            event.request_id, reviewer="rina", reason="Unggah surat RT/RW", missing_items=["surat_rt_rw"],
            uow=uow, policy=AUTO_BIODATA,
        )  # fmt: skip
        await resubmit(
            uow,
            RequestResubmitted(
                request_id=event.request_id,
                request_type="biodata_wni",
                details={},
                attachments=[attachment("surat_rt_rw")],
            ),
            AUTO_BIODATA,
        )
        assert [type(e) for e in uow.outbox.events][-2:] == [ReviewStarted, RequestApproved]
        assert uow.outbox.events[-2].automatic and uow.outbox.events[-1].automatic
        assert (await handlers.get_review(event.request_id, uow=uow)).status == ReviewStatus.approved


class TestAttachments:
    async def test_a_scan_already_known_changes_nothing(self) -> None:
        uow = FakeReviewUnitOfWork()
        event = submitted(attachments=[attachment("kk_lama")])
        await queue(uow, event)
        await add_attachment(uow, event.request_id, attachment("kk_lama"))
        review = await handlers.get_review(event.request_id, uow=uow)
        assert len(review.attachments) == 1 and uow.audit.actions(event.request_id) == [("citizen", "received")]

    async def test_a_scan_for_a_decided_review_is_ignored(self) -> None:
        uow = FakeReviewUnitOfWork()
        event = submitted()
        await queue(uow, event)
        await handlers.reject(event.request_id, reviewer="rina", reason="Bukan warga", uow=uow, policy=MANUAL)
        await add_attachment(uow, event.request_id, attachment("kk_lama"))
        assert (await handlers.get_review(event.request_id, uow=uow)).attachments == []


class TestDuplicates:
    async def test_an_open_request_of_the_same_type_for_the_same_person_is_a_possible_duplicate(self) -> None:
        uow = FakeReviewUnitOfWork()
        first, second = submitted(request_number="LBK-1"), submitted(request_number="LBK-2")
        other_type = submitted("biodata_wni", request_number="LBK-3")
        other_person = submitted(request_number="LBK-4", applicant={"nik": "3602141205850003", "name": "Ahmad"})
        for event in (first, second, other_type, other_person):
            await queue(uow, event)
        check = next(
            c for c in (await handlers.get_review(second.request_id, uow=uow)).prechecks if c.code == "no_duplicate"
        )
        assert not check.passed and "LBK-1 (pending)" in check.message_en
        assert prechecks(await handlers.get_review(first.request_id, uow=uow))["no_duplicate"]
        assert prechecks(await handlers.get_review(other_type.request_id, uow=uow))["no_duplicate"]
        assert prechecks(await handlers.get_review(other_person.request_id, uow=uow))["no_duplicate"]

    async def test_an_approval_counts_for_thirty_days_and_a_rejection_not_at_all(self) -> None:
        uow = FakeReviewUnitOfWork()
        approved, rejected = submitted("biodata_wni"), submitted("kartu_keluarga")
        await queue(uow, approved)
        await queue(uow, rejected)
        await handlers.approve(approved.request_id, reviewer="rina", note=None, uow=uow, policy=MANUAL, clock=Clock())
        await handlers.reject(rejected.request_id, reviewer="rina", reason="x", uow=uow, policy=MANUAL, clock=Clock())

        within, after = submitted("biodata_wni"), submitted("biodata_wni")
        again = submitted("kartu_keluarga")
        await queue(uow, within, clock=Clock(T0 + timedelta(days=29)))
        await queue(uow, again, clock=Clock(T0 + timedelta(days=29)))
        await handlers.reject(within.request_id, reviewer="rina", reason="x", uow=uow, policy=MANUAL)
        await queue(uow, after, clock=Clock(T0 + timedelta(days=31)))
        assert not prechecks(await handlers.get_review(within.request_id, uow=uow))["no_duplicate"]
        assert prechecks(await handlers.get_review(after.request_id, uow=uow))["no_duplicate"]
        assert prechecks(await handlers.get_review(again.request_id, uow=uow))["no_duplicate"]

    async def test_a_death_is_a_duplicate_when_the_same_person_died_in_another_request(self) -> None:
        uow = FakeReviewUnitOfWork()
        by_daughter = submitted("akta_kematian")
        by_son = submitted("akta_kematian", applicant={"nik": "3602141205850003", "name": "Ahmad"})
        await queue(uow, by_daughter)
        await queue(uow, by_son)
        assert not prechecks(await handlers.get_review(by_son.request_id, uow=uow))["no_duplicate"]


class TestClaims:
    async def test_a_claim_is_published_and_blocks_other_reviewers_until_it_expires(self) -> None:
        uow, clock = FakeReviewUnitOfWork(), Clock()
        policy = ReviewPolicy(claim_duration=timedelta(minutes=30))
        event = submitted()
        await queue(uow, event)
        review = await handlers.claim(event.request_id, reviewer="rina", uow=uow, policy=policy, clock=clock)
        assert review.claim_expires_at == T0 + timedelta(minutes=30)
        claimed = uow.outbox.events[-1]
        assert isinstance(claimed, ReviewClaimed) and (claimed.reviewer, claimed.expires_at) == (
            "rina",
            T0 + timedelta(minutes=30),
        )

        clock.advance(minutes=10)
        with pytest.raises(ReviewRefused) as refused:
            await handlers.approve(event.request_id, reviewer="budi", note=None, uow=uow, policy=policy, clock=clock)
        assert refused.value.code == "claimed_by_another"

        clock.advance(minutes=21)
        approved = await handlers.approve(
            event.request_id, reviewer="budi", note=None, uow=uow, policy=policy, clock=clock
        )
        assert approved.decided_by == "budi"

    async def test_claiming_again_extends_and_releasing_frees_it(self) -> None:
        uow, clock = FakeReviewUnitOfWork(), Clock()
        event = submitted()
        await queue(uow, event)
        await handlers.claim(event.request_id, reviewer="rina", uow=uow, policy=MANUAL, clock=clock)
        clock.advance(minutes=25)
        review = await handlers.claim(event.request_id, reviewer="rina", uow=uow, policy=MANUAL, clock=clock)
        assert review.claim_expires_at == T0 + timedelta(minutes=55)
        review = await handlers.release(event.request_id, reviewer="rina", uow=uow, clock=clock)
        assert review.claim_holder(clock.now) is None
        await handlers.claim(event.request_id, reviewer="budi", uow=uow, policy=MANUAL, clock=clock)
        assert [type(e) for e in uow.outbox.events] == [ReviewStarted, ReviewClaimed, ReviewClaimed, ReviewClaimed]

    async def test_releasing_what_nobody_holds_changes_nothing(self) -> None:
        uow = FakeReviewUnitOfWork()
        event = submitted()
        await queue(uow, event)
        await handlers.release(event.request_id, reviewer="rina", uow=uow)
        assert uow.audit.actions(event.request_id) == [("citizen", "received")]


class TestAudit:
    async def test_every_change_is_audited_with_who_and_why(self) -> None:
        uow, clock = FakeReviewUnitOfWork(), Clock()
        event = submitted(required_attachments=["kk_lama"])
        await queue(uow, event, clock=clock)
        await add_attachment(uow, event.request_id, attachment("kk_lama"))
        await handlers.claim(event.request_id, reviewer="rina", uow=uow, policy=MANUAL, clock=clock)
        await handlers.release(event.request_id, reviewer="rina", uow=uow, clock=clock)
        await handlers.request_information(
            event.request_id, reviewer="budi", reason="Scan buram", missing_items=["kk_lama"],
            uow=uow, policy=MANUAL, clock=clock,
        )  # fmt: skip
        await resubmit(
            uow,
            RequestResubmitted(
                request_id=event.request_id, request_type=event.request_type, details=event.details, note="Sudah"
            ),
            clock=clock,
        )
        await handlers.reject(
            event.request_id, reviewer="budi", reason="Data tidak cocok", uow=uow, policy=MANUAL, clock=clock
        )

        cancelled = submitted()
        await queue(uow, cancelled, clock=clock)
        await consume(
            uow,
            handlers.withdraw_cancelled_request,
            RequestCancelled(request_id=cancelled.request_id, reason="Tidak jadi"),
        )

        assert uow.audit.actions(event.request_id) == [
            ("citizen", "received"),
            ("system", "prechecks_updated"),
            ("rina", "claimed"),
            ("rina", "released"),
            ("budi", "information_requested"),
            ("citizen", "resubmitted"),
            ("system", "prechecks_updated"),
            ("budi", "rejected"),
        ]
        trail = await handlers.audit_trail(event.request_id, uow=uow)
        assert trail[4].details == {
            "reason": "Scan buram",
            "missing_items": ["kk_lama"],
            "implicit_claim": True,
        }
        assert trail[5].details["note"] == "Sudah" and trail[-1].details["reason"] == "Data tidak cocok"
        assert [e.id for e in trail] == sorted(e.id for e in trail)
        assert uow.audit.actions(cancelled.request_id) == [("citizen", "received"), ("citizen", "cancelled")]
        assert (await handlers.audit_trail(cancelled.request_id, uow=uow))[-1].details == {"reason": "Tidak jadi"}

    async def test_a_refused_action_leaves_no_trace(self) -> None:
        uow = FakeReviewUnitOfWork()
        event = submitted()
        await queue(uow, event)
        await handlers.claim(event.request_id, reviewer="rina", uow=uow, policy=MANUAL)
        with pytest.raises(ReviewRefused):
            await handlers.claim(event.request_id, reviewer="budi", uow=uow, policy=MANUAL)
        assert uow.audit.actions(event.request_id) == [("citizen", "received"), ("rina", "claimed")]

    async def test_the_trail_of_an_unknown_review_is_not_found(self) -> None:
        with pytest.raises(handlers.ReviewNotFound):
            await handlers.audit_trail(uuid.uuid4(), uow=FakeReviewUnitOfWork())


class TestWorkQueue:
    async def test_filters_order_and_pages(self) -> None:
        uow = FakeReviewUnitOfWork()
        kk_bayah = submitted(kecamatan_code="36.02.03")
        biodata = submitted("biodata_wni")
        kk_rangkas = submitted()
        await queue(uow, kk_bayah, clock=Clock(T0))
        await queue(uow, biodata, clock=Clock(T0 + timedelta(hours=1)))  # due T0+25h
        await queue(uow, kk_rangkas, clock=Clock(T0 + timedelta(hours=2)))  # due T0+74h
        await handlers.request_information(
            kk_rangkas.request_id, reviewer="rina", reason="x", missing_items=[], uow=uow, policy=MANUAL
        )

        async def ids(**query) -> list[uuid.UUID]:  # type: ignore[no-untyped-def]
            return [r.request_id for r in await handlers.list_reviews(ReviewQuery(**query), uow=uow)]

        assert await ids() == [kk_bayah.request_id, biodata.request_id, kk_rangkas.request_id]
        assert await ids(order=QueueOrder.due) == [biodata.request_id, kk_bayah.request_id, kk_rangkas.request_id]
        assert await ids(status=ReviewStatus.pending) == [kk_bayah.request_id, biodata.request_id]
        assert await ids(request_type="kartu_keluarga") == [kk_bayah.request_id, kk_rangkas.request_id]
        assert await ids(kecamatan_code="36.02.14") == [biodata.request_id, kk_rangkas.request_id]
        assert await ids(overdue_at=T0 + timedelta(hours=30)) == [biodata.request_id]
        assert await ids(overdue_at=T0 + timedelta(days=30)) == [kk_bayah.request_id, biodata.request_id]
        assert await ids(limit=1, offset=1) == [biodata.request_id]
