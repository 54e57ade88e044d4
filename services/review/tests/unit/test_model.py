import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from dukcapil_review.domain.model import Review, ReviewPolicy, ReviewRefused, ReviewStatus
from dukcapil_review.domain.prechecks import PreCheck
from dukcapil_shared.contracts import Delivery, Person
from dukcapil_shared.working_days import WorkingCalendar

from ..fakes import details_of

T0 = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
CLAIM = timedelta(minutes=30)


def a_review(status: ReviewStatus = ReviewStatus.pending, request_type: str = "kartu_keluarga") -> Review:
    return Review(
        request_id=uuid.uuid4(),
        request_number="LBK-3602.14-20261130-0001",
        request_type=request_type,
        applicant=Person(nik="3602144107900001", name="Siti Aminah"),
        details=details_of(request_type),
        delivery=Delivery(method="pickup"),
        kecamatan_code="36.02.14",
        status=status,
        received_at=T0,
        updated_at=T0,
        due_at=T0 + timedelta(hours=72),
    )


def actions(review: Review) -> list[tuple[str, str]]:
    return [(entry.actor, entry.action) for entry in review.new_audit]


class TestClaims:
    def test_a_claim_holds_the_review_until_it_expires(self) -> None:
        review = a_review()
        review.claim("rina", T0, CLAIM)
        assert review.claim_holder(T0 + timedelta(minutes=29)) == "rina"
        assert review.claim_holder(T0 + CLAIM) is None

    def test_nobody_else_claims_or_decides_while_the_claim_lives(self) -> None:
        review = a_review()
        review.claim("rina", T0, CLAIM)
        for act in (
            lambda: review.claim("budi", T0 + timedelta(minutes=10), CLAIM),
            lambda: review.approve("budi", None, T0 + timedelta(minutes=10), CLAIM),
            lambda: review.reject("budi", "Data salah", T0 + timedelta(minutes=10), CLAIM),
            lambda: review.request_information("budi", "Scan buram", [], T0 + timedelta(minutes=10), CLAIM),
            lambda: review.release("budi", T0 + timedelta(minutes=10)),
        ):
            with pytest.raises(ReviewRefused) as refused:
                act()
            assert refused.value.code == "claimed_by_another"
            assert refused.value.extra == {
                "claimed_by": "rina",
                "claim_expires_at": (T0 + CLAIM).isoformat(),
            }
        assert review.status == ReviewStatus.pending and review.claimed_by == "rina"

    def test_an_expired_claim_lets_another_reviewer_take_over(self) -> None:
        review = a_review()
        review.claim("rina", T0, CLAIM)
        review.claim("budi", T0 + CLAIM + timedelta(seconds=1), CLAIM)
        assert review.claim_holder(T0 + timedelta(minutes=31)) == "budi"

    def test_deciding_without_a_claim_claims_implicitly(self) -> None:
        review = a_review()
        review.approve("rina", None, T0, CLAIM)
        assert review.status == ReviewStatus.approved and review.decided_by == "rina"
        assert review.new_audit[-1].details == {"automatic": False, "note": None, "implicit_claim": True}

    def test_every_action_of_the_holder_extends_the_claim(self) -> None:
        review = a_review()
        review.claim("rina", T0, CLAIM)
        review.claim("rina", T0 + timedelta(minutes=20), CLAIM)
        assert review.claim_expires_at == T0 + timedelta(minutes=50)
        assert review.new_audit[-1].details["extended"] is True
        review.request_information("rina", "Scan KK buram", ["kk_lama"], T0 + timedelta(minutes=45), CLAIM)
        assert review.claim_holder(T0 + timedelta(minutes=70)) == "rina"
        assert review.new_audit[-1].details["implicit_claim"] is False

    def test_a_final_decision_or_a_cancellation_ends_the_claim(self) -> None:
        approved, cancelled = a_review(), a_review()
        approved.claim("rina", T0, CLAIM)
        approved.approve("rina", None, T0 + timedelta(minutes=1), CLAIM)
        cancelled.claim("rina", T0, CLAIM)
        cancelled.cancel("Tidak jadi", T0 + timedelta(minutes=1))
        assert (approved.claimed_by, cancelled.claimed_by) == (None, None)

    def test_the_holder_releases_and_anyone_may_claim_again(self) -> None:
        review = a_review()
        review.claim("rina", T0, CLAIM)
        assert review.release("rina", T0 + timedelta(minutes=5))
        assert review.claim_holder(T0 + timedelta(minutes=5)) is None
        assert not review.release("rina", T0 + timedelta(minutes=6)), "nothing left to release"
        review.claim("budi", T0 + timedelta(minutes=6), CLAIM)
        assert actions(review) == [("rina", "claimed"), ("rina", "released"), ("budi", "claimed")]

    def test_only_a_pending_review_can_be_claimed(self) -> None:
        with pytest.raises(ReviewRefused) as refused:
            a_review(ReviewStatus.info_requested).claim("rina", T0, CLAIM)
        assert refused.value.code == "not_pending"


class TestDueDates:
    def test_the_due_date_follows_the_service_level_target_of_the_type_in_working_days(self) -> None:
        # T0 is Monday 30 November 2026, 15:00 WIB: a week without national holidays.
        policy = ReviewPolicy(sla_working_days={"biodata_wni": 2})
        assert policy.due_at("biodata_wni", T0) == T0 + timedelta(days=2)
        assert policy.due_at("kartu_keluarga", T0) == T0 + timedelta(days=3), "the default when not configured"
        assert ReviewPolicy().due_at("biodata_wni", T0) == T0 + timedelta(days=1)
        assert ReviewPolicy().due_at("something_new", T0) == T0 + timedelta(days=3)
        assert ReviewPolicy().due_at("kartu_keluarga", T0 + timedelta(days=3)) == T0 + timedelta(days=8), (
            "from Thursday, three working days skip the weekend"
        )

    def test_the_offices_own_day_off_moves_the_due_date(self) -> None:
        hari_jadi = WorkingCalendar(days_off={date(2026, 12, 2): "Hari Jadi Kabupaten Lebak"})
        assert ReviewPolicy(calendar=hari_jadi).due_at("kartu_keluarga", T0) == T0 + timedelta(days=4)

    def test_overdue_is_counted_in_working_days(self) -> None:
        policy = ReviewPolicy()
        due = T0 + timedelta(days=4)  # Friday 4 December, 15:00 WIB
        assert policy.working_days_overdue(due, due + timedelta(hours=2)) == 0
        assert policy.working_days_overdue(due, due + timedelta(days=3)) == 1, "the weekend does not count"
        assert policy.working_days_overdue(due, due - timedelta(days=1)) == 0

    def test_a_pending_review_past_its_due_date_is_overdue(self) -> None:
        review = a_review()
        assert not review.overdue(review.due_at)
        assert review.overdue(review.due_at + timedelta(seconds=1))

    def test_a_review_waiting_for_the_citizen_or_decided_is_not_overdue(self) -> None:
        later = T0 + timedelta(days=10)
        assert not a_review(ReviewStatus.info_requested).overdue(later)
        assert not a_review(ReviewStatus.approved).overdue(later)

    def test_a_resubmission_gives_a_new_due_date(self) -> None:
        review = a_review(ReviewStatus.info_requested)
        later = T0 + timedelta(days=10)
        review.resubmitted(
            details=review.details, attachments=[], flags=[], note=None, due_at=later + timedelta(hours=72), now=later
        )
        assert review.due_at == later + timedelta(hours=72) and not review.overdue(later)


class TestAutomaticApproval:
    def test_only_when_every_precheck_passed(self) -> None:
        review = a_review(request_type="biodata_wni")
        policy = ReviewPolicy(frozenset({"biodata_wni"}))
        review.prechecks = [PreCheck("a", True, "", ""), PreCheck("b", False, "", "")]
        assert not policy.approves_automatically(review)
        with pytest.raises(ReviewRefused):
            review.approve_automatically(T0)
        review.prechecks = [PreCheck("a", True, "", "")]
        assert policy.approves_automatically(review)
        review.approve_automatically(T0)
        assert review.automatic and actions(review) == [("policy:auto", "approved")]

    def test_a_review_without_prechecks_is_never_approved_automatically(self) -> None:
        review = a_review(request_type="biodata_wni")
        assert not ReviewPolicy(frozenset({"biodata_wni"})).approves_automatically(review)

    def test_types_not_in_the_policy_stay_manual(self) -> None:
        review = a_review()
        review.prechecks = [PreCheck("a", True, "", "")]
        assert not ReviewPolicy(frozenset({"biodata_wni"})).approves_automatically(review)
