"""Follow-on drafts against a fake register: made when an akta kematian (or a surat pindah into Lebak) is issued,
filled from the register, offered with a link, expired on time, and confirmed once however often it is confirmed."""

import copy
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from dukcapil_intake.dispatch import RequestsDesk, follow_drafts, follow_requests
from dukcapil_intake.follow_ons.domain.follow_ons import (
    DraftExpired,
    DraftNotFound,
    DraftNotReady,
    DraftOffered,
    DraftStatus,
    FollowOnDraft,
    FollowOnKind,
    PrefillSchedule,
)
from dukcapil_intake.follow_ons.domain.links import FollowOnLinks
from dukcapil_intake.follow_ons.domain.register import FamilyMember, RegisteredFamily, RegisteredPerson
from dukcapil_intake.follow_ons.service_layer import follow_ons
from dukcapil_intake.follow_ons.service_layer.register import Register, RegisterUnavailable
from dukcapil_intake.follow_ons.service_layer.repository import DraftChanged, DraftFilter, DraftRepository
from dukcapil_intake.follow_ons.service_layer.unit_of_work import FollowOnsUnitOfWork
from dukcapil_intake.requests.domain.access_codes import AccessCodeMistyped
from dukcapil_intake.requests.domain.events import RequestEvent
from dukcapil_intake.requests.service_layer import handlers
from dukcapil_shared.contracts import Delivery, DocumentIssued, Envelope, Person
from dukcapil_shared.contracts.details import AktaKematianDetails, SuratPindahDetails
from dukcapil_testing import FakeUnitOfWork
from dukcapil_testing.fakes import FixedClock

from ...fakes import FakeNotificationsUnitOfWork, FakeRequestsUnitOfWork

LINKS = FollowOnLinks(b"follow-on-test-key-16", "https://layanan.example.id")
LIFETIME = timedelta(days=30)
REPORTER = Person(nik="3602141205850003", name="Ahmad Fauzi", birth_date=date(1985, 5, 12), sex="male")
DECEASED = Person(nik="3602140101500001", name="Sanusi")
KK = "3602140101100001"
FAMILY = RegisteredFamily(
    kk_number=KK,
    address="Kp. Cibadak RT 002 RW 005",
    village="Cijoro Lebak",
    kecamatan_code="36.02.14",
    head_nik=DECEASED.nik,
    members=(
        FamilyMember(DECEASED.nik, "SANUSI", "KEPALA KELUARGA", date(1950, 1, 1), "L", alive=False),
        FamilyMember("3602144107550002", "ROHAYATI", "ISTRI", date(1955, 7, 1), "P"),
        FamilyMember(REPORTER.nik, "AHMAD FAUZI", "ANAK", date(1985, 5, 12), "L"),
    ),
)
PICKUP = Delivery.model_validate(
    {"method": "pickup", "pickup_kecamatan_code": "36.02.14", "phone": "081234567890", "email": "ahmad@example.id"}
)


class FakeRegister(Register):
    def __init__(self) -> None:
        self.people = {
            DECEASED.nik: RegisteredPerson(
                DECEASED.nik, "SANUSI", date(1950, 1, 1), "L", False, KK, "KEPALA KELUARGA", "36.02.14"
            )
        }
        self.families = {KK: FAMILY}
        self.answering = True
        self.asked = 0

    async def person(self, nik: str) -> RegisteredPerson | None:
        return self._answer(self.people.get(nik))

    async def family(self, kk_number: str) -> RegisteredFamily | None:
        return self._answer(self.families.get(kk_number))

    def _answer(self, found: Any) -> Any:
        self.asked += 1
        if not self.answering:
            raise RegisterUnavailable("timed out")
        return found


class FakeDraftRepository(DraftRepository):
    def __init__(self) -> None:
        self.committed: dict[uuid.UUID, FollowOnDraft] = {}
        self.pending: dict[uuid.UUID, FollowOnDraft] = {}

    def _all(self) -> list[FollowOnDraft]:
        return list({**self.committed, **self.pending}.values())

    async def add(self, draft: FollowOnDraft) -> None:
        self.pending[draft.id] = copy.deepcopy(draft)

    async def get(self, draft_id: uuid.UUID) -> FollowOnDraft | None:
        return copy.deepcopy(self.pending.get(draft_id) or self.committed.get(draft_id))

    async def exists(self, origin_request_id: uuid.UUID, kind: FollowOnKind) -> bool:
        return any(d.origin.request_id == origin_request_id and d.kind == kind for d in self._all())

    async def save(self, draft: FollowOnDraft) -> None:
        current = self.pending.get(draft.id) or self.committed[draft.id]
        if current.version != draft.version:
            raise DraftChanged(str(draft.id))
        draft.version += 1
        self.pending[draft.id] = copy.deepcopy(draft)

    async def due_for_prefill(self, now: datetime, *, limit: int) -> list[FollowOnDraft]:
        due = [
            d
            for d in self.committed.values()
            if d.status == DraftStatus.awaiting_register and d.next_prefill_at and d.next_prefill_at <= now
        ]
        return copy.deepcopy(due[:limit])

    async def due_to_expire(self, now: datetime, *, limit: int) -> list[FollowOnDraft]:
        return copy.deepcopy([d for d in self.committed.values() if d.is_open() and d.expires_at <= now][:limit])

    async def from_origin(self, origin_request_id: uuid.UUID) -> list[FollowOnDraft]:
        return copy.deepcopy([d for d in self.committed.values() if d.origin.request_id == origin_request_id])

    async def list(self, where: DraftFilter, *, limit: int, offset: int) -> list[FollowOnDraft]:
        found = [
            d
            for d in self.committed.values()
            if where.kecamatan_code in (None, d.kecamatan_code) and where.status in (None, d.status)
        ]
        return copy.deepcopy(found[offset : offset + limit])


class FakeFollowOnsUnitOfWork(FakeUnitOfWork, FollowOnsUnitOfWork):
    def __init__(self, notices: FakeNotificationsUnitOfWork) -> None:
        super().__init__()
        self.drafts = FakeDraftRepository()
        self.notices = notices

    async def hand_on(self, happened: Sequence[DraftOffered]) -> None:
        await follow_drafts(notifications=lambda _: self.notices, notify=True)(self, happened)

    async def commit(self) -> None:
        await super().commit()
        self.drafts.committed.update(self.drafts.pending)
        self.drafts.pending = {}
        await self.notices.commit()

    async def rollback(self) -> None:
        await super().rollback()
        self.drafts.pending = {}
        await self.notices.rollback()


class RequestsWithFollowOns(FakeRequestsUnitOfWork):
    """The requests, with the drafts' unit of work joined to their transaction as production wires it."""

    def __init__(self, clock: FixedClock) -> None:
        super().__init__()
        self.follow_ons = FakeFollowOnsUnitOfWork(self.notices)
        self.clock = clock

    async def hand_on(self, happened: Sequence[RequestEvent]) -> None:
        followers = follow_requests(
            notifications=lambda _: self.notices,
            agencies=lambda _: self.agency_log,
            notify=True,
            clock=self.clock,
            follow_on_drafts=lambda _: self.follow_ons,
            follow_on_lifetime=LIFETIME,
        )
        await followers(self, happened)

    async def commit(self) -> None:
        await super().commit()
        self.follow_ons.drafts.committed.update(self.follow_ons.drafts.pending)
        self.follow_ons.drafts.pending = {}

    async def rollback(self) -> None:
        await super().rollback()
        self.follow_ons.drafts.pending = {}


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 12, 1, 2, 0, tzinfo=UTC))


@pytest.fixture
def world(clock: FixedClock) -> RequestsWithFollowOns:
    return RequestsWithFollowOns(clock)


async def issue(
    world: RequestsWithFollowOns, request_type: str, details: object, *, number: str = "AKM/1"
) -> uuid.UUID:
    """Submit a request and let documents issue it, as the consumer records it; its id."""
    submitted = await handlers.submit_request(
        handlers.SubmitRequest(
            type=request_type,
            applicant=REPORTER,
            details=details.model_dump(mode="json"),  # type: ignore[attr-defined]
            delivery=PICKUP,
        ),
        uow=world,
        clock=world.clock,
        today=date(2026, 12, 1),
    )
    event = DocumentIssued(
        request_id=submitted.id,
        document_id=uuid.uuid4(),
        document_number=number,
        request_type=request_type,
        checksum_sha256="0" * 64,
        applicant=REPORTER,
        delivery=PICKUP,
        kecamatan_code="36.02.14",
        details=details,
    )
    await deliver(world, event)
    return submitted.id


async def deliver(world: RequestsWithFollowOns, event: DocumentIssued) -> None:
    envelope = Envelope.wrap(event, source="/dukcapil/lebak/documents")
    async with world:
        await handlers.record_lifecycle_event(world, event, envelope)
        await world.commit()


DEATH = AktaKematianDetails.model_validate(
    {
        "deceased": DECEASED.model_dump(),
        "date_of_death": "2026-11-25",
        "place_of_death": "RSUD Adjidarmo",
        "reporter_relation": "anak",
        "witnesses": [{"nik": "3602144107900001", "name": "Siti Aminah"}, {"nik": "3602141503800002", "name": "Ujang"}],
    }
)


def drafts(world: RequestsWithFollowOns) -> list[FollowOnDraft]:
    return list(world.follow_ons.drafts.committed.values())


async def fill(world: RequestsWithFollowOns, register: Register | None) -> int:
    return await follow_ons.fill_from_register(
        unit_of_work=lambda: world.follow_ons, register=register, schedule=PrefillSchedule(), clock=world.clock
    )


async def confirm(world: RequestsWithFollowOns, draft_id: uuid.UUID, confirmer: follow_ons.Confirmer | None = None):  # type: ignore[no-untyped-def]
    return await follow_ons.confirm_draft(
        draft_id,
        confirmer or follow_ons.Confirmer(),
        uow=lambda: world.follow_ons,
        submissions=RequestsDesk(lambda: world, recording_capacity=40, clock=world.clock),
        clock=world.clock,
    )


async def test_an_issued_akta_kematian_leads_to_a_draft_filled_from_the_register_and_offered_with_a_link(
    world: RequestsWithFollowOns,
) -> None:
    origin = await issue(world, "akta_kematian", DEATH)
    [draft] = drafts(world)
    assert (draft.kind, draft.status, draft.subject_niks) == (
        FollowOnKind.family_card_without_deceased,
        DraftStatus.awaiting_register,
        [DECEASED.nik],
    )
    assert world.notices.notifications.of_kind("follow_on_offered") == []  # nothing to confirm yet

    assert await fill(world, FakeRegister()) == 1

    [draft] = drafts(world)
    assert draft.status == DraftStatus.offered
    assert draft.details == {
        "reason": "remove_member",
        "kk_number": KK,
        "members": [{"nik": DECEASED.nik, "name": "SANUSI", "relation": "kepala_keluarga", "birth_date": "1950-01-01"}],
    }
    assert [member.name for member in draft.family] == ["SANUSI", "ROHAYATI", "AHMAD FAUZI"]
    offers = world.notices.notifications.of_kind("follow_on_offered")
    assert {offer.channel.value for offer in offers} == {"sms", "email"}
    assert all(offer.request_id == origin for offer in offers)
    token = str(LINKS.token(draft.id))
    # The stored notice names the draft, never its token; the link is put in only as it is sent.
    assert all(token not in offer.body and f"[[tautan-lanjutan:{draft.id}]]" in offer.body for offer in offers)
    sent = LINKS.fill(offers[0].body)
    assert f"https://layanan.example.id/lanjutan/{draft.id}?kode={token}" in sent


async def test_confirming_submits_the_draft_once_as_a_request_that_follows_the_akta_kematian(
    world: RequestsWithFollowOns,
) -> None:
    origin = await issue(world, "akta_kematian", DEATH)
    await fill(world, FakeRegister())
    [draft] = drafts(world)

    first = await confirm(world, draft.id)
    second = await confirm(world, draft.id)  # the button clicked twice

    assert first.status == second.status == DraftStatus.confirmed
    assert first.result_id == second.result_id and first.result_number == second.result_number
    assert first.confirmed_by == "citizen"
    new = world.requests.committed[first.result_id]
    assert len(world.requests.committed) == 2
    assert new.type == "kartu_keluarga" and new.details.reason == "remove_member" and new.details.kk_number == KK
    assert new.status.value == "submitted" and new.channel == "online"
    assert new.follows is not None and new.follows.id == origin
    akta = world.requests.committed[origin]
    assert [link.id for link in akta.led_to] == [new.id]
    assert [entry.event_type for entry in new.history] == ["request.submitted.v1", "request.follows.v1"]
    assert akta.history[-1].event_type == "request.led_to.v1" and new.number in akta.history[-1].note
    # The new request's receipt (with its own access code) goes out like any submission's.
    assert {n.request_id for n in world.notices.notifications.of_kind("received")} == {origin, new.id}


async def test_an_operator_confirms_at_the_counter_as_an_assisted_request_of_their_office(
    world: RequestsWithFollowOns,
) -> None:
    await issue(world, "akta_kematian", DEATH)
    await fill(world, FakeRegister())
    [draft] = drafts(world)
    at_counter = follow_ons.Confirmer(
        by="op.rangkasbitung", operator="op.rangkasbitung", office="Kantor Kecamatan Rangkasbitung",
        operator_kecamatan="36.02.14",
    )  # fmt: skip
    confirmed = await confirm(world, draft.id, at_counter)
    new = world.requests.committed[confirmed.result_id]
    assert (new.channel, new.operator, confirmed.confirmed_by) == ("assisted", "op.rangkasbitung", "op.rangkasbitung")


async def test_a_register_that_does_not_answer_is_asked_again_later_and_the_offer_waits_for_it(
    world: RequestsWithFollowOns, clock: FixedClock
) -> None:
    await issue(world, "akta_kematian", DEATH)
    register = FakeRegister()
    register.answering = False

    assert await fill(world, register) == 0
    [draft] = drafts(world)
    assert (draft.status, draft.prefill_attempts) == (DraftStatus.awaiting_register, 1)
    assert draft.next_prefill_at == clock() + timedelta(seconds=30)
    with pytest.raises(DraftNotReady):
        await confirm(world, draft.id)  # nothing to submit from what intake alone knows

    register.answering = True
    clock.advance(seconds=29)
    assert await fill(world, register) == 0  # not due yet
    clock.advance(seconds=2)
    assert await fill(world, register) == 1
    assert drafts(world)[0].status == DraftStatus.offered


async def test_a_deceased_the_register_does_not_know_is_left_for_the_counter(world: RequestsWithFollowOns) -> None:
    await issue(world, "akta_kematian", DEATH)
    register = FakeRegister()
    register.people = {}
    assert await fill(world, register) == 0
    [draft] = drafts(world)
    assert draft.status == DraftStatus.unmatched and draft.next_prefill_at is None
    assert world.notices.notifications.of_kind("follow_on_offered") == []


async def test_without_a_register_a_draft_is_left_for_the_counter_at_once(world: RequestsWithFollowOns) -> None:
    await issue(world, "akta_kematian", DEATH)
    assert await fill(world, None) == 0
    [draft] = drafts(world)
    assert (draft.status, draft.next_prefill_at, draft.prefill_attempts) == (DraftStatus.unmatched, None, 1)
    assert draft.note is not None and "INTAKE_REGISTER_URL" in draft.note
    assert world.notices.notifications.of_kind("follow_on_offered") == []
    assert await fill(world, None) == 0, "nothing is due any more: no round asks again"
    assert drafts(world)[0].prefill_attempts == 1


async def test_drafts_expire_and_an_expired_draft_cannot_be_confirmed(
    world: RequestsWithFollowOns, clock: FixedClock
) -> None:
    await issue(world, "akta_kematian", DEATH)
    await fill(world, FakeRegister())
    [draft] = drafts(world)

    clock.advance(LIFETIME - timedelta(seconds=1))
    assert await follow_ons.expire_drafts(unit_of_work=lambda: world.follow_ons, clock=clock) == 0
    clock.advance(seconds=1)
    with pytest.raises(DraftExpired):  # even before the periodic job marks it
        await confirm(world, draft.id)
    assert await follow_ons.expire_drafts(unit_of_work=lambda: world.follow_ons, clock=clock) == 1
    assert drafts(world)[0].status == DraftStatus.expired
    with pytest.raises(DraftExpired):
        await confirm(world, draft.id)
    assert len(world.requests.committed) == 1


async def test_the_link_opens_its_own_draft_only(world: RequestsWithFollowOns) -> None:
    await issue(world, "akta_kematian", DEATH)
    await issue(world, "akta_kematian", DEATH, number="AKM/2")
    one, other = drafts(world)

    opened = await follow_ons.open_draft(one.id, str(LINKS.token(one.id)).lower(), uow=world.follow_ons, links=LINKS)
    assert opened.id == one.id
    with pytest.raises(DraftNotFound):
        await follow_ons.open_draft(one.id, str(LINKS.token(other.id)), uow=world.follow_ons, links=LINKS)
    with pytest.raises(AccessCodeMistyped):
        await follow_ons.open_draft(one.id, "not-a-token", uow=world.follow_ons, links=LINKS)
    other_key = FollowOnLinks(b"another-office-key-16", "https://layanan.example.id")
    with pytest.raises(DraftNotFound):
        await follow_ons.open_draft(one.id, str(other_key.token(one.id)), uow=world.follow_ons, links=LINKS)


async def test_a_redelivered_or_corrected_document_makes_no_second_draft(world: RequestsWithFollowOns) -> None:
    origin = await issue(world, "akta_kematian", DEATH)
    akta = world.requests.committed[origin]
    corrected = DocumentIssued(
        request_id=origin,
        document_id=uuid.uuid4(),
        document_number="AKM/1-P",
        request_type="akta_kematian",
        checksum_sha256="1" * 64,
        applicant=REPORTER,
        delivery=PICKUP,
        kecamatan_code="36.02.14",
        details=DEATH,
        supersedes=akta.document_id,
        supersedes_number="AKM/1",
    )
    await deliver(world, corrected)
    assert len(drafts(world)) == 1


async def test_a_move_into_lebak_offers_a_family_card_at_the_destination_and_an_e_ktp_recording(
    world: RequestsWithFollowOns,
) -> None:
    move = SuratPindahDetails.model_validate(
        {
            "origin": {"street": "Jl. Merdeka 1", "kecamatan_code": "32.01.01", "city": "Kabupaten Bogor"},
            "destination": {"street": "Jl. Multatuli 5", "kecamatan_code": "36.02.14"},
            "reason": "pekerjaan",
            "moving_members": [REPORTER.nik],
        }
    )
    await issue(world, "surat_pindah", move, number="SKPWNI/1")
    by_kind = {draft.kind: draft for draft in drafts(world)}
    assert set(by_kind) == {FollowOnKind.family_card_at_destination, FollowOnKind.ektp_recording}
    recording = by_kind[FollowOnKind.ektp_recording]
    assert recording.status == DraftStatus.offered  # the register has nothing to add to a booking
    assert len(world.notices.notifications.of_kind("follow_on_offered")) == 2  # its offer, by SMS and e-mail

    register = FakeRegister()
    register.people = {}  # a newcomer: the applicant's own data stand in
    await fill(world, register)
    card = {draft.kind: draft for draft in drafts(world)}[FollowOnKind.family_card_at_destination]
    assert card.status == DraftStatus.offered
    assert card.details == {
        "reason": "new_family",
        "members": [{"nik": REPORTER.nik, "name": REPORTER.name, "relation": "kepala_keluarga",
                     "birth_date": "1985-05-12"}],
    }  # fmt: skip

    booked = await confirm(world, recording.id)
    again = await confirm(world, recording.id)
    assert booked.result_number == again.result_number and booked.result_number.startswith("REK-360214-")
    assert len(world.bookings.committed) == 1


async def test_a_move_within_lebak_or_out_of_it_offers_nothing(world: RequestsWithFollowOns) -> None:
    out = SuratPindahDetails.model_validate(
        {
            "origin": {"street": "Jl. Multatuli 5", "kecamatan_code": "36.02.14"},
            "destination": {"street": "Jl. Veteran 2", "kecamatan_code": "36.01.01"},
            "reason": "pekerjaan",
            "moving_members": [REPORTER.nik],
        }
    )
    await issue(world, "surat_pindah", out, number="SKPWNI/2")
    assert drafts(world) == []
