"""The pre-checks against the population register (SIAK): is each person a request names registered, under that
name, alive where they must be, on the family card the request states, and is a death not registered already.

The register is consulted for every NIK and card a request names (`RegisterQuestions`); what it answered
(`RegisterAnswers`) is then judged here without any I/O. A name is compared tolerantly: case, punctuation and word
order aside, with a small edit distance allowed (rapidfuzz). The register's name is reported masked (S**** B*****), so
that a check shows a mismatch without handing the register's data to whoever reads it.

Which failed checks keep a request from automatic approval is the office's policy (`blocking`): by default an
unknown NIK, a dead applicant, witness or mover, a member missing from the stated card and a death registered already;
a name that does not match is a warning. A register that did not answer gives every check the status not_done.
"""

import datetime as dt
import re
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from dukcapil_review.domain.prechecks import CheckStatus, Evidence, PreCheck
from dukcapil_shared.contracts import (
    AktaKematianDetails,
    BiodataWniDetails,
    KartuKeluargaDetails,
    Person,
    RequestDetails,
    SuratPindahDetails,
)
from dukcapil_shared.contracts.details import KkReason
from dukcapil_shared.contracts.identity import mask_number

REGISTER_KNOWN = "register_known"
REGISTER_NAME = "register_name"
REGISTER_ALIVE = "register_alive"
REGISTER_FAMILY_CARD = "register_family_card"
REGISTER_DEATH_NOT_REGISTERED = "register_death_not_registered"
REGISTER_CHECKS = (
    REGISTER_KNOWN,
    REGISTER_NAME,
    REGISTER_ALIVE,
    REGISTER_FAMILY_CARD,
    REGISTER_DEATH_NOT_REGISTERED,
)
DEFAULT_BLOCKING = frozenset({REGISTER_KNOWN, REGISTER_ALIVE, REGISTER_FAMILY_CARD, REGISTER_DEATH_NOT_REGISTERED})
NAME_SIMILARITY = 85
"""The least similarity (0-100, word order and case aside) at which two names are taken to be the same."""

# The reasons for which the members named are on the stated card already (for add_member and new_family they
# are not, yet).
_MEMBERS_ON_CARD = frozenset({KkReason.remove_member, KkReason.split, KkReason.data_change})


@dataclass(frozen=True)
class RegisteredPerson:
    nik: str
    name: str
    birth_date: dt.date | None
    female: bool | None
    alive: bool
    died_on: dt.date | None
    kk_number: str | None
    kecamatan_code: str | None


@dataclass(frozen=True)
class RegisteredFamily:
    kk_number: str
    kecamatan_code: str | None
    member_niks: frozenset[str]


@dataclass(frozen=True)
class Named:
    """One person a request names, in the role they have in it."""

    role: str
    """applicant, deceased, witness, member, mover, staying, new_head, person"""
    index: int | None
    nik: str
    name: str | None

    @property
    def subject_id(self) -> str:
        label = _ROLE_ID[self.role]
        return f"{label} ke-{self.index}" if self.index is not None else label

    @property
    def subject_en(self) -> str:
        label = _ROLE_EN[self.role]
        return f"{label} {self.index}" if self.index is not None else label

    @property
    def must_be_alive(self) -> bool:
        return self.role != "deceased"


_ROLE_ID = {
    "applicant": "pemohon",
    "deceased": "almarhum/almarhumah",
    "witness": "saksi",
    "member": "anggota keluarga",
    "mover": "anggota yang pindah",
    "staying": "anggota yang tinggal",
    "new_head": "kepala keluarga baru",
    "person": "orang yang biodatanya diminta",
}
_ROLE_EN = {
    "applicant": "the applicant",
    "deceased": "the deceased",
    "witness": "witness",
    "member": "family member",
    "mover": "moving member",
    "staying": "staying member",
    "new_head": "the new head of the household",
    "person": "the person whose biodata is asked for",
}


@dataclass(frozen=True)
class RegisterQuestions:
    """What to ask the register about one request: its people, and the family card it states (if any)."""

    people: tuple[Named, ...]
    stated_card: str | None
    card_members: tuple[Named, ...]
    """The people who must be on the stated card (or, with no card stated, on the applicant's own card)."""
    members_may_be_new: bool
    """A new member (a newborn, someone joining) is not in the register yet: unknown is no finding for them."""
    death: Named | None

    @property
    def checks_a_card(self) -> bool:
        return self.stated_card is not None or bool(self.card_members)

    @property
    def niks(self) -> list[str]:
        return list(dict.fromkeys(person.nik for person in self.people))


@dataclass(frozen=True)
class RegisterAnswers:
    """What the register said: a person or card it does not know is None."""

    people: Mapping[str, RegisteredPerson | None] = field(default_factory=dict)
    families: Mapping[str, RegisteredFamily | None] = field(default_factory=dict)


def questions_for(applicant: Person, details: RequestDetails) -> RegisterQuestions:
    """The people and card a request names, each in its role."""
    people = [Named("applicant", None, applicant.nik, applicant.name)]
    card_members: list[Named] = []
    stated_card = None
    members_may_be_new = False
    death = None
    match details:
        case AktaKematianDetails():
            death = Named("deceased", None, details.deceased.nik, details.deceased.name)
            people.append(death)
            people += [Named("witness", i, w.nik, w.name) for i, w in enumerate(details.witnesses, start=1)]
        case KartuKeluargaDetails():
            members = [Named("member", i, m.nik, m.name) for i, m in enumerate(details.members or [], start=1)]
            people += members
            stated_card = details.kk_number
            members_may_be_new = details.reason not in _MEMBERS_ON_CARD
            if stated_card:
                # Whoever asks to change a card is on it; so are the members it removes, splits off or corrects.
                card_members = people[:1] + (members if details.reason in _MEMBERS_ON_CARD else [])
        case SuratPindahDetails():
            movers = [Named("mover", i, nik, None) for i, nik in enumerate(details.moving_members, start=1)]
            staying = [Named("staying", i, m.nik, m.name) for i, m in enumerate(details.remaining_members or [], 1)]
            people += movers + staying
            if details.new_head_of_household is not None:
                head = details.new_head_of_household
                people.append(Named("new_head", None, head.nik, head.name))
            card_members = [person for person in movers if person.nik != applicant.nik]
        case BiodataWniDetails(person_nik=str() as nik) if nik != applicant.nik:
            people.append(Named("person", None, nik, None))
    return RegisterQuestions(tuple(people), stated_card, tuple(card_members), members_may_be_new, death)


def cards_to_ask(questions: RegisterQuestions, answers: RegisterAnswers) -> list[str]:
    """The family cards to look up once the people are known: the stated one, else the applicant's own when some
    members must be on it (the movers of a surat pindah)."""
    if questions.stated_card:
        return [questions.stated_card]
    if questions.card_members:
        applicant = answers.people.get(questions.people[0].nik)
        if applicant is not None and applicant.kk_number:
            return [applicant.kk_number]
    return []


def register_prechecks(
    questions: RegisterQuestions, answers: RegisterAnswers, *, blocking: Collection[str] = DEFAULT_BLOCKING
) -> list[PreCheck]:
    """Judge what the register answered: one pre-check per kind of finding, each with its evidence."""
    checks = [_known(questions, answers), _names(questions, answers), _alive(questions, answers)]
    if questions.checks_a_card:
        checks.append(_family_card(questions, answers))
    if questions.death is not None:
        checks.append(_death_not_registered(questions.death, answers))
    return [_as_policy_says(check, blocking) for check in checks]


def register_not_done(questions: RegisterQuestions, reason_id: str, reason_en: str) -> list[PreCheck]:
    """Every register check a request would get, not done, with why and what happens next."""
    codes = [REGISTER_KNOWN, REGISTER_NAME, REGISTER_ALIVE]
    if questions.checks_a_card:
        codes.append(REGISTER_FAMILY_CARD)
    if questions.death is not None:
        codes.append(REGISTER_DEATH_NOT_REGISTERED)
    return [
        PreCheck(
            code,
            False,
            f"Belum diperiksa dengan register kependudukan: {reason_id}",
            f"Not checked against the population register yet: {reason_en}",
            status=CheckStatus.not_done,
        )
        for code in codes
    ]


def is_register_check(check: PreCheck) -> bool:
    return check.code in REGISTER_CHECKS


def mask_name(name: str) -> str:
    """SITI BADRIAH -> S*** B******: each word's first letter, the rest hidden."""
    return " ".join(word[0] + "*" * (len(word) - 1) for word in name.split())


def name_similarity(declared: str, registered: str) -> int:
    """0-100; case, punctuation and word order do not count (Aminah, Siti = SITI AMINAH)."""
    return round(fuzz.token_sort_ratio(_normalised(declared), _normalised(registered)))


def _normalised(name: str) -> str:
    return " ".join(re.sub(r"[^\w\s]|_|\d", " ", name.casefold()).split())


def _known(questions: RegisterQuestions, answers: RegisterAnswers) -> PreCheck:
    evidence = []
    for person in _unique(questions.people):
        found = answers.people.get(person.nik)
        if found is not None:
            evidence.append(_evidence(person, "ok", "terdaftar", "registered", registered=found))
        elif person.role == "member" and questions.members_may_be_new:
            evidence.append(
                _evidence(
                    person,
                    "ok",
                    "belum terdaftar (anggota baru)",
                    "not registered yet (a new member)",
                )
            )
        else:
            evidence.append(_evidence(person, "unknown_nik", "NIK tidak terdaftar", "NIK not in the register"))
    unknown = [item for item in evidence if item.finding == "unknown_nik"]
    if unknown:
        return _failed(
            REGISTER_KNOWN,
            evidence,
            "NIK tidak terdaftar di register kependudukan: " + _listed_id(unknown) + ".",
            "NIK not in the population register: " + _listed_en(unknown) + ".",
        )
    return _passed(
        REGISTER_KNOWN,
        evidence,
        "Setiap NIK dalam permohonan terdaftar di register kependudukan.",
        "Every NIK in the request is in the population register.",
    )


def _names(questions: RegisterQuestions, answers: RegisterAnswers) -> PreCheck:
    evidence = []
    for person in _unique(questions.people):
        found = answers.people.get(person.nik)
        if found is None or not person.name:
            continue
        similarity = name_similarity(person.name, found.name)
        if similarity >= NAME_SIMILARITY:
            evidence.append(
                _evidence(person, "ok", "nama sesuai", "the name matches", registered=found, similarity=similarity)
            )
        else:
            evidence.append(
                _evidence(
                    person,
                    "name_mismatch",
                    f"nama '{person.name}' tidak sesuai dengan register ({mask_name(found.name)})",
                    f"the name '{person.name}' differs from the register's ({mask_name(found.name)})",
                    registered=found,
                    similarity=similarity,
                )
            )
    mismatched = [item for item in evidence if item.finding == "name_mismatch"]
    if mismatched:
        return _failed(
            REGISTER_NAME,
            evidence,
            "Nama tidak sesuai dengan register kependudukan: " + "; ".join(_noted_id(e) for e in mismatched) + ".",
            "Names differ from the population register: " + "; ".join(_noted_en(e) for e in mismatched) + ".",
        )
    if not evidence:
        return _passed(
            REGISTER_NAME,
            evidence,
            "Tidak ada nama yang dapat dibandingkan dengan register.",
            "No name could be compared with the register.",
        )
    return _passed(
        REGISTER_NAME,
        evidence,
        "Nama dalam permohonan sesuai dengan register kependudukan.",
        "The names in the request match the population register.",
    )


def _alive(questions: RegisterQuestions, answers: RegisterAnswers) -> PreCheck:
    evidence = []
    for person in _unique(questions.people):
        found = answers.people.get(person.nik)
        if found is None or not person.must_be_alive:
            continue
        if found.alive:
            evidence.append(_evidence(person, "ok", "hidup", "alive", registered=found))
        else:
            died = _iso(found.died_on)
            evidence.append(
                _evidence(
                    person,
                    "deceased",
                    f"tercatat meninggal dunia{f' pada {died}' if died else ''}",
                    f"registered as dead{f' since {died}' if died else ''}",
                    registered=found,
                )
            )
    dead = [item for item in evidence if item.finding == "deceased"]
    if dead:
        return _failed(
            REGISTER_ALIVE,
            evidence,
            "Orang yang tercatat meninggal dunia di register: " + "; ".join(_noted_id(e) for e in dead) + ".",
            "People the register holds as dead: " + "; ".join(_noted_en(e) for e in dead) + ".",
        )
    return _passed(
        REGISTER_ALIVE,
        evidence,
        "Pemohon, saksi dan anggota yang disebut tercatat hidup.",
        "The applicant, witnesses and members named are registered as alive.",
    )


def _family_card(questions: RegisterQuestions, answers: RegisterAnswers) -> PreCheck:
    card_number = questions.stated_card or next(iter(cards_to_ask(questions, answers)), None)
    family = answers.families.get(card_number) if card_number else None
    masked_card = mask_number(card_number) if card_number else "-"
    if family is None:
        evidence = [
            Evidence(
                subject_id="kartu keluarga",
                subject_en="family card",
                nik=masked_card,
                finding="card_unknown",
                note_id="nomor KK tidak terdaftar" if card_number else "pemohon tidak tercatat pada KK mana pun",
                note_en="KK number not in the register" if card_number else "the applicant is on no family card",
            )
        ]
        return _failed(
            REGISTER_FAMILY_CARD,
            evidence,
            f"Kartu keluarga {masked_card} tidak ditemukan di register kependudukan.",
            f"Family card {masked_card} is not in the population register.",
        )
    evidence = []
    for person in _unique(questions.card_members):
        if person.nik in family.member_niks:
            evidence.append(_evidence(person, "ok", f"tercantum pada KK {masked_card}", f"on card {masked_card}"))
        else:
            evidence.append(
                _evidence(
                    person,
                    "not_on_card",
                    f"tidak tercantum pada KK {masked_card}",
                    f"not on family card {masked_card}",
                )
            )
    missing = [item for item in evidence if item.finding == "not_on_card"]
    if missing:
        return _failed(
            REGISTER_FAMILY_CARD,
            evidence,
            f"Anggota yang tidak tercantum pada KK {masked_card}: " + _listed_id(missing) + ".",
            f"Members not on family card {masked_card}: " + _listed_en(missing) + ".",
        )
    return _passed(
        REGISTER_FAMILY_CARD,
        evidence,
        f"Setiap anggota yang disebut tercantum pada KK {masked_card}.",
        f"Every member named is on family card {masked_card}.",
    )


def _death_not_registered(deceased: Named, answers: RegisterAnswers) -> PreCheck:
    found = answers.people.get(deceased.nik)
    if found is not None and not found.alive:
        died = _iso(found.died_on)
        evidence = [
            _evidence(
                deceased,
                "death_registered",
                f"kematian sudah tercatat{f' (tanggal {died})' if died else ''}",
                f"the death is registered already{f' ({died})' if died else ''}",
                registered=found,
            )
        ]
        return _failed(
            REGISTER_DEATH_NOT_REGISTERED,
            evidence,
            f"Kematian {deceased.subject_id} ({mask_number(deceased.nik)}) sudah tercatat di register"
            + (f" pada {died}" if died else "")
            + ": kemungkinan akta ganda.",
            f"The death of {deceased.subject_en} ({mask_number(deceased.nik)}) is registered already"
            + (f", on {died}" if died else "")
            + ": possibly a second certificate.",
        )
    note = ("tercatat hidup", "registered as alive") if found is not None else ("tidak terdaftar", "not registered")
    evidence = [_evidence(deceased, "ok", note[0], note[1], registered=found)]
    return _passed(
        REGISTER_DEATH_NOT_REGISTERED,
        evidence,
        "Kematian ini belum tercatat di register kependudukan.",
        "This death is not registered yet.",
    )


def _evidence(
    person: Named,
    finding: str,
    note_id: str,
    note_en: str,
    *,
    registered: RegisteredPerson | None = None,
    similarity: int | None = None,
) -> Evidence:
    return Evidence(
        subject_id=person.subject_id,
        subject_en=person.subject_en,
        nik=mask_number(person.nik),
        finding=finding,
        note_id=note_id,
        note_en=note_en,
        declared_name=person.name,
        register_name=mask_name(registered.name) if registered is not None else None,
        similarity=similarity,
        died_on=_iso(registered.died_on) if registered is not None else None,
    )


def _passed(code: str, evidence: list[Evidence], message_id: str, message_en: str) -> PreCheck:
    return PreCheck(code, True, message_id, message_en, status=CheckStatus.passed, evidence=tuple(evidence))


def _failed(code: str, evidence: list[Evidence], message_id: str, message_en: str) -> PreCheck:
    return PreCheck(code, False, message_id, message_en, status=CheckStatus.failed, evidence=tuple(evidence))


def _as_policy_says(check: PreCheck, blocking: Collection[str]) -> PreCheck:
    if check.status == CheckStatus.failed and check.code not in blocking:
        return PreCheck(
            check.code,
            False,
            check.message_id,
            check.message_en,
            status=CheckStatus.warning,
            evidence=check.evidence,
        )
    return check


def _unique(people: tuple[Named, ...]) -> Iterator[Named]:
    """Each NIK once, in its first role (an applicant who is also a mover is looked at as the applicant)."""
    seen = set()
    for person in people:
        if person.nik not in seen:
            seen.add(person.nik)
            yield person


def _listed_id(evidence: list[Evidence]) -> str:
    return ", ".join(f"{item.subject_id} ({item.nik})" for item in evidence)


def _listed_en(evidence: list[Evidence]) -> str:
    return ", ".join(f"{item.subject_en} ({item.nik})" for item in evidence)


def _noted_id(item: Evidence) -> str:
    return f"{item.subject_id} ({item.nik}): {item.note_id}"


def _noted_en(item: Evidence) -> str:
    return f"{item.subject_en} ({item.nik}): {item.note_en}"


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None
