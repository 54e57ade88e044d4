"""Follow-on drafts: the request an issued document leads to, prepared by the office and submitted only when the
family (with the link sent to them) or a kecamatan operator confirms it.

An akta kematian leads to the family card without the deceased; a surat pindah into Lebak to a new family card at the
destination and an e-KTP recording there. A draft is made at once from what intake knows (inside the transaction
that records the issued document, so it is never lost), then filled from the population register outside any
transaction; a register that does not answer is asked again later, and only a filled draft is offered to the family.
Drafts expire: an offer nobody took up does not stay open for ever.
"""

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from dukcapil_intake.follow_ons.domain.register import FamilyMember, RegisteredFamily, RegisteredPerson, relation_of
from dukcapil_shared.contracts import Delivery, DeliveryMethod, DocumentIssued, Person
from dukcapil_shared.contracts.details import AktaKematianDetails, SuratPindahDetails
from dukcapil_shared.contracts.regions import find_kecamatan, is_in_lebak
from dukcapil_shared.refusals import Refusal, RefusalKind


class FollowOnKind(StrEnum):
    family_card_without_deceased = "kk_remove_deceased"
    family_card_at_destination = "kk_new_after_move"
    ektp_recording = "ktp_el_recording"


TITLES = {
    FollowOnKind.family_card_without_deceased: (
        "Perubahan Kartu Keluarga: almarhum/almarhumah dikeluarkan dari KK",
        "Family card change: the deceased removed from the card",
    ),
    FollowOnKind.family_card_at_destination: (
        "Kartu Keluarga baru di alamat tujuan pindah",
        "A new family card at the new address",
    ),
    FollowOnKind.ektp_recording: ("Jadwal perekaman KTP-el", "An e-KTP recording appointment"),
}


class DraftStatus(StrEnum):
    awaiting_register = "awaiting_register"
    """Made from what intake knows; the register is asked (again) for the rest before the family is told."""
    offered = "offered"
    """Filled in; the family was sent the link; it waits for them or an operator to confirm."""
    unmatched = "unmatched"
    """The register does not know the person or their family card: only the kecamatan counter can take it further."""
    confirmed = "confirmed"
    """Submitted as a request (or booked) of its own."""
    expired = "expired"


_OPEN = {DraftStatus.awaiting_register, DraftStatus.offered, DraftStatus.unmatched}


class DraftNotFound(Refusal):
    """No draft with that id, or the token does not open it: one answer for both."""

    code = "not_found"
    message = "No follow-on request with that link: check that the whole link was opened."
    message_id = "Tidak ada permohonan lanjutan dengan tautan tersebut: pastikan tautan dibuka utuh."
    kind = RefusalKind.not_found

    def __init__(self, what: object = None) -> None:
        super().__init__()
        if what is not None:
            self.args = (str(what),)


class DraftExpired(Refusal):
    code = "follow_on_expired"
    message = (
        "This offer has expired and can no longer be confirmed. You can still apply as usual, online or at your "
        "kecamatan office."
    )
    message_id = (
        "Penawaran ini sudah kedaluwarsa dan tidak dapat dikonfirmasi lagi. Anda tetap dapat mengajukan permohonan "
        "seperti biasa, secara daring atau di kantor kecamatan."
    )
    kind = RefusalKind.conflict


class DraftNotReady(Refusal):
    code = "follow_on_not_ready"
    message = (
        "This follow-on request is not filled in yet (the population register has not answered, or does not know "
        "the person): the kecamatan office completes it."
    )
    message_id = (
        "Permohonan lanjutan ini belum lengkap (data kependudukan belum diperoleh): kantor kecamatan akan "
        "melengkapinya."
    )
    kind = RefusalKind.conflict


@dataclass(frozen=True)
class Origin:
    """The request whose document led to the draft."""

    request_id: uuid.UUID
    number: str
    type: str
    document_number: str


@dataclass(frozen=True)
class DraftOffered:
    """A draft is ready for the family: they are told, with the link to confirm it."""

    draft: "FollowOnDraft"
    at: datetime


@dataclass(frozen=True)
class PrefillSchedule:
    delays: tuple[float, ...] = (30, 120, 600, 1800, 3600)
    """Seconds before each new question to the register after it did not answer; the last one repeats until the
    draft expires (the register is down for maintenance, not gone)."""

    def next_attempt(self, attempts: int, now: datetime) -> datetime:
        return now + timedelta(seconds=self.delays[min(attempts, len(self.delays)) - 1])


@dataclass
class FollowOnDraft:
    id: uuid.UUID
    kind: FollowOnKind
    origin: Origin
    kecamatan_code: str
    """The office that serves it: the family's kecamatan (the destination's after a move)."""
    applicant: Person
    """The reporter of the death, or the one who asked for the move: who is told and who confirms."""
    delivery: Delivery
    """How the new document reaches them, and where they are told (its phone and e-mail)."""
    subject_niks: list[str]
    """Whom it is about: the deceased, or the members who moved."""
    status: DraftStatus
    created_at: datetime
    expires_at: datetime
    details: dict[str, Any] | None = None
    """The request's details as they will be submitted (a family card's); none for an e-KTP recording."""
    family: list[FamilyMember] = field(default_factory=list)
    """The family card as the register has it, to show the family what changes."""
    note: str | None = None
    """What the office should know (why it is unmatched)."""
    prefill_attempts: int = 0
    next_prefill_at: datetime | None = None
    confirmed_at: datetime | None = None
    confirmed_by: str | None = None
    """'citizen', or the operator's username."""
    result_id: uuid.UUID | None = None
    result_number: str | None = None
    """The request (or booking) it became."""
    version: int = 0
    events: list[DraftOffered] = field(default_factory=list, compare=False, repr=False)

    @property
    def request_type(self) -> str:
        return "ktp_el" if self.kind == FollowOnKind.ektp_recording else "kartu_keluarga"

    @property
    def title(self) -> tuple[str, str]:
        return TITLES[self.kind]

    def is_open(self) -> bool:
        return self.status in _OPEN

    def collect_events(self) -> list[DraftOffered]:
        happened, self.events = self.events, []
        return happened

    # --- filling in from the register ---

    def register_unavailable(self, now: datetime, schedule: PrefillSchedule) -> None:
        self.prefill_attempts += 1
        self.next_prefill_at = schedule.next_attempt(self.prefill_attempts, now)

    def fill_removal(self, person: RegisteredPerson | None, family: RegisteredFamily | None, now: datetime) -> None:
        """The family card without the deceased: their card's number and members, from the register."""
        self.prefill_attempts += 1
        if person is None:
            self._unmatched("the deceased's NIK is not in the population register")
            return
        if family is None or person.kk_number is None:
            self._unmatched("the population register has no family card for the deceased")
            return
        listed = next((member for member in family.members if member.nik == person.nik), None)
        deceased: dict[str, Any] = {
            "nik": person.nik,
            "name": person.name,
            "relation": relation_of(listed.relation if listed else person.relation).value,
        }
        if person.birth_date is not None:
            deceased["birth_date"] = person.birth_date.isoformat()
        self.details = {"reason": "remove_member", "kk_number": family.kk_number, "members": [deceased]}
        self.family = list(family.members)
        if family.kecamatan_code and find_kecamatan(family.kecamatan_code) is not None:
            self.kecamatan_code = family.kecamatan_code
        self._offer(now)

    def fill_new_family(self, movers: dict[str, RegisteredPerson | None], now: datetime) -> None:
        """A new family card at the destination for those who moved: their names from the register, the applicant's
        from the request; a mover the register does not know stays for the counter to complete."""
        self.prefill_attempts += 1
        members: list[dict[str, Any]] = []
        for nik in self.subject_niks:
            person = movers.get(nik)
            if person is None and nik == self.applicant.nik:
                person = RegisteredPerson(nik, self.applicant.name, self.applicant.birth_date, None, True, None,
                                          "KEPALA KELUARGA", None)  # fmt: skip
            if person is None:
                self._unmatched("a member who moved is not in the population register")
                return
            member: dict[str, Any] = {"nik": nik, "name": person.name}
            member["relation"] = "kepala_keluarga" if nik == self.applicant.nik else relation_of(person.relation).value
            if person.birth_date is not None:
                member["birth_date"] = person.birth_date.isoformat()
            members.append(member)
        self.details = {"reason": "new_family", "members": members}
        self.family = [FamilyMember(m["nik"], m["name"], m["relation"].replace("_", " ").upper()) for m in members]
        self._offer(now)

    def without_register(self) -> None:
        """The office consults no population register: the counter completes the draft from the family's papers."""
        self.prefill_attempts += 1
        self._unmatched("no population register is consulted here (INTAKE_REGISTER_URL is empty)")

    def _unmatched(self, note: str) -> None:
        self.status, self.note, self.next_prefill_at = DraftStatus.unmatched, note, None

    def _offer(self, now: datetime) -> None:
        self.status, self.note, self.next_prefill_at = DraftStatus.offered, None, None
        self.events.append(DraftOffered(self, now))

    # --- confirming and expiring ---

    def ensure_confirmable(self, now: datetime) -> None:
        if self.status == DraftStatus.expired or (self.is_open() and now >= self.expires_at):
            raise DraftExpired()
        if self.status != DraftStatus.offered:
            raise DraftNotReady()

    def confirmed(self, *, result_id: uuid.UUID, result_number: str, by: str, now: datetime) -> None:
        self.status, self.confirmed_at, self.confirmed_by = DraftStatus.confirmed, now, by
        self.result_id, self.result_number = result_id, result_number
        self.next_prefill_at = None

    def expire(self, now: datetime) -> bool:
        """Expire an open draft whose time is up; True if it did."""
        if not self.is_open() or now < self.expires_at:
            return False
        self.status, self.next_prefill_at = DraftStatus.expired, None
        return True


def offers_after(
    issued: DocumentIssued, *, origin_number: str, now: datetime, lifetime: timedelta
) -> list[FollowOnDraft]:
    """The drafts an issued document leads to (none for a corrected one: its first issue made them)."""
    if issued.supersedes is not None:
        return []
    origin = Origin(issued.request_id, origin_number, issued.request_type.value, issued.document_number)

    def draft(kind: FollowOnKind, kecamatan_code: str, subject: list[str], delivery: Delivery) -> FollowOnDraft:
        return FollowOnDraft(
            id=uuid.uuid4(),
            kind=kind,
            origin=origin,
            kecamatan_code=kecamatan_code,
            applicant=issued.applicant,
            delivery=delivery,
            subject_niks=subject,
            status=DraftStatus.awaiting_register,
            created_at=now,
            expires_at=now + lifetime,
            next_prefill_at=now,
        )

    match issued.details:
        case AktaKematianDetails(deceased=deceased):
            return [
                draft(FollowOnKind.family_card_without_deceased, issued.kecamatan_code, [deceased.nik], issued.delivery)
            ]
        case SuratPindahDetails(origin=moved_from, destination=moved_to) if (
            not is_in_lebak(moved_from.kecamatan_code)
            and is_in_lebak(moved_to.kecamatan_code)
            and find_kecamatan(moved_to.kecamatan_code) is not None
        ):
            # The new card waits at the destination's office: the old address is outside Lebak.
            at_the_office = Delivery(
                method=DeliveryMethod.pickup,
                recipient_name=issued.delivery.recipient_name,
                phone=issued.delivery.phone,
                email=issued.delivery.email,
                pickup_kecamatan_code=moved_to.kecamatan_code,
            )
            movers = list(dict.fromkeys(issued.details.moving_members))
            card = draft(FollowOnKind.family_card_at_destination, moved_to.kecamatan_code, movers, at_the_office)
            recording = draft(
                FollowOnKind.ektp_recording, moved_to.kecamatan_code, [issued.applicant.nik], at_the_office
            )
            recording._offer(now)  # a recording needs nothing from the register
            return [card, recording]
    return []
