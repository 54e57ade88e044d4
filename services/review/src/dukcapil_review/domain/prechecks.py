"""The checks run on every request before a reviewer sees it; each result is shown in Indonesian and English.

A failed pre-check never stops a reviewer from deciding: it tells them what to look at, and it keeps the
request from being approved automatically.
"""

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from dukcapil_shared.contracts import (
    AktaKematianDetails,
    BiodataWniDetails,
    NamedPerson,
    Person,
    RequestDetails,
    SuratPindahDetails,
)
from dukcapil_shared.contracts.identity import InvalidNumber, Nik, parse_nik
from dukcapil_shared.contracts.regions import LEBAK, region_name

ATTACHMENTS_COMPLETE = "attachments_complete"
NIK_CONSISTENCY = "nik_consistency"
REGION_IN_LEBAK = "region_in_lebak"
REPORTED_ON_TIME = "reported_on_time"
NO_DUPLICATE = "no_duplicate"

NIK_OUTSIDE_LEBAK = "nik_outside_lebak"
LATE_DEATH_REPORT = "late_death_report"
AKTA_KEMATIAN = "akta_kematian"


class CheckStatus(StrEnum):
    passed = "passed"
    failed = "failed"
    """Something is wrong, and the office's policy keeps the request from being approved automatically."""
    warning = "warning"
    """Something for the reviewer to look at, which the policy lets pass."""
    not_done = "not_done"
    """The check could not be made (the register did not answer); it is tried again."""


@dataclass(frozen=True)
class Evidence:
    """One person or card a check looked at, and what was found, for the reviewer to see."""

    subject_id: str
    """Who, in Indonesian: pemohon, almarhum/almarhumah, saksi ke-1, anggota ke-2..."""
    subject_en: str
    nik: str
    """Masked, as logs and outsiders see it (the region and the serial)."""
    finding: str
    """ok, unknown_nik, name_mismatch, deceased, not_on_card, card_unknown, death_registered"""
    note_id: str
    note_en: str
    declared_name: str | None = None
    register_name: str | None = None
    """The register's name, masked (S**** B*****): enough to see a mismatch, not to learn a name."""
    similarity: int | None = None
    """0-100: how alike the declared and the registered names are, word order and case aside."""
    died_on: str | None = None
    """The date of death the register holds (YYYY-MM-DD)."""


@dataclass(frozen=True)
class PreCheck:
    code: str
    passed: bool
    message_id: str
    message_en: str
    status: str = ""
    """A CheckStatus; left empty, it follows `passed` (the checks that cannot warn, and reviews stored before)."""
    evidence: tuple[Evidence, ...] = ()

    def __post_init__(self) -> None:
        if not self.status:
            object.__setattr__(self, "status", CheckStatus.passed if self.passed else CheckStatus.failed)
        # Read back from storage, evidence comes as a list of mappings.
        evidence = tuple(item if isinstance(item, Evidence) else Evidence(**item) for item in self.evidence)
        object.__setattr__(self, "evidence", evidence)

    @property
    def blocks_automatic_approval(self) -> bool:
        """Failed, or not done yet: a warning does not block."""
        return self.status in (CheckStatus.failed, CheckStatus.not_done)


@dataclass(frozen=True)
class PossibleDuplicate:
    """Another review of the same type for the same person, open or recently approved."""

    request_number: str
    status: str


@dataclass(frozen=True)
class _Problem:
    id: str
    en: str


def attachments_complete(required_kinds: Sequence[str], uploaded: Sequence[Mapping[str, Any]]) -> PreCheck:
    """Every kind on intake's checklist is among the uploaded scans."""
    uploaded_kinds = {attachment.get("kind") for attachment in uploaded}
    missing = [kind for kind in dict.fromkeys(required_kinds) if kind not in uploaded_kinds]
    if missing:
        names = ", ".join(missing)
        return PreCheck(
            ATTACHMENTS_COMPLETE,
            False,
            f"Lampiran wajib belum diunggah: {names}.",
            f"Required attachments not uploaded yet: {names}.",
        )
    if not required_kinds:
        return PreCheck(
            ATTACHMENTS_COMPLETE,
            True,
            "Tidak ada lampiran wajib untuk permohonan ini.",
            "No attachments are required for this request.",
        )
    return PreCheck(
        ATTACHMENTS_COMPLETE, True, "Semua lampiran wajib sudah diunggah.", "Every required attachment is uploaded."
    )


def nik_consistency(applicant: Person, details: RequestDetails) -> PreCheck:
    """Every NIK in the request is well formed and agrees with the birth date and sex declared beside it;
    for a death, the deceased is neither the reporter nor a witness."""
    problems = list(_person_problems("pemohon", "applicant", applicant))
    for path, value in _bare_niks(details):
        problems += _nik_problems(path, path, value)
    for path, person in _people_in(details):
        problems += _person_problems(path, path, person)
    if isinstance(details, AktaKematianDetails):
        problems += _death_problems(applicant, details)
    if problems:
        return PreCheck(
            NIK_CONSISTENCY,
            False,
            "NIK tidak konsisten: " + "; ".join(problem.id for problem in problems) + ".",
            "NIK inconsistent: " + "; ".join(problem.en for problem in problems) + ".",
        )
    return PreCheck(
        NIK_CONSISTENCY,
        True,
        "Semua NIK sah dan sesuai dengan tanggal lahir dan jenis kelamin yang dinyatakan.",
        "Every NIK is valid and agrees with the declared birth date and sex.",
    )


def region_in_lebak(applicant_nik: str, flags: Sequence[str]) -> PreCheck:
    """The applicant's NIK was issued in Lebak; if not, the reviewer checks where they live now."""
    regency = f"{applicant_nik[0:2]}.{applicant_nik[2:4]}"
    if regency == LEBAK and NIK_OUTSIDE_LEBAK not in flags:
        return PreCheck(
            REGION_IN_LEBAK,
            True,
            "NIK pemohon diterbitkan di Kabupaten Lebak (36.02).",
            "The applicant's NIK was issued in Kabupaten Lebak (36.02).",
        )
    where = f"{region_name(regency) or 'wilayah tidak dikenal'} ({regency})"
    return PreCheck(
        REGION_IN_LEBAK,
        False,
        f"NIK pemohon diterbitkan di luar Kabupaten Lebak: {where}; periksa domisili pemohon.",
        f"The applicant's NIK was issued outside Kabupaten Lebak: {where}; check where the applicant lives now.",
    )


def reported_on_time(flags: Sequence[str]) -> PreCheck:
    """A death is reported within 30 days; a late report is accepted but the reviewer is told."""
    if LATE_DEATH_REPORT in flags:
        return PreCheck(
            REPORTED_ON_TIME,
            False,
            "Kematian dilaporkan lebih dari 30 hari setelah tanggal kematian (laporan terlambat).",
            "The death was reported more than 30 days after it happened (late report).",
        )
    return PreCheck(
        REPORTED_ON_TIME,
        True,
        "Kematian dilaporkan dalam 30 hari.",
        "The death was reported within 30 days.",
    )


def no_duplicate(duplicates: Sequence[PossibleDuplicate]) -> PreCheck:
    """No other request of the same type for the same person is open or was approved recently."""
    if duplicates:
        listed = ", ".join(f"{d.request_number} ({d.status})" for d in duplicates)
        return PreCheck(
            NO_DUPLICATE,
            False,
            f"Kemungkinan duplikat: permohonan jenis yang sama untuk orang yang sama: {listed}.",
            f"Possible duplicate: requests of the same type for the same person: {listed}.",
        )
    return PreCheck(
        NO_DUPLICATE,
        True,
        "Tidak ada permohonan lain yang sama untuk orang ini.",
        "No other request of this type for this person.",
    )


def subject_nik(applicant: Person, details: RequestDetails) -> str:
    """Whose document it is, for finding duplicates: the deceased for a death, else the applicant."""
    if isinstance(details, AktaKematianDetails):
        return details.deceased.nik
    return applicant.nik


def run_prechecks(
    *,
    request_type: str,
    applicant: Person,
    details: RequestDetails,
    attachments: Sequence[Mapping[str, Any]],
    required_attachments: Sequence[str],
    flags: Sequence[str],
    duplicates: Sequence[PossibleDuplicate],
) -> list[PreCheck]:
    results = [
        attachments_complete(required_attachments, attachments),
        nik_consistency(applicant, details),
        region_in_lebak(applicant.nik, flags),
    ]
    if request_type == AKTA_KEMATIAN:
        results.append(reported_on_time(flags))
    results.append(no_duplicate(duplicates))
    return results


_INVALID_NIK = {
    "nik_format": ("harus tepat 16 angka", "must be exactly 16 digits"),
    "nik_unknown_province": ("kode provinsinya tidak dikenal", "its province code does not exist"),
    "nik_unknown_regency": ("kode kabupaten/kotanya tidak dikenal", "its regency code does not exist"),
    "nik_birth_date": ("tanggal lahir di dalamnya tidak sah", "the birth date in it is no real date"),
    "nik_serial": ("nomor urutnya tidak boleh 0000", "its serial cannot be 0000"),
}


def _parse(id_label: str, en_label: str, number: str) -> tuple[Nik | None, list[_Problem]]:
    try:
        return parse_nik(number), []
    except InvalidNumber as error:
        in_id, in_en = _INVALID_NIK.get(error.code, ("tidak sah", "is not valid"))
        return None, [_Problem(f"NIK {id_label} ({number}) {in_id}", f"the NIK of {en_label} ({number}): {in_en}")]


def _nik_problems(id_label: str, en_label: str, number: str) -> list[_Problem]:
    return _parse(id_label, en_label, number)[1]


def _person_problems(id_label: str, en_label: str, person: Person) -> list[_Problem]:
    number = person.nik
    nik, problems = _parse(id_label, en_label, number)
    if nik is None:
        return problems
    declared_birth = person.birth_date
    if declared_birth is not None:
        try:
            encoded = nik.birth_date(century_hint=declared_birth)
        except InvalidNumber:
            encoded = None
        if encoded != declared_birth:
            shown = encoded.isoformat() if encoded else f"{number[6:12]} (tidak sah / invalid)"
            problems.append(
                _Problem(
                    f"tanggal lahir {id_label} ({declared_birth.isoformat()}) tidak sesuai dengan NIK ({shown})",
                    f"the birth date of {en_label} ({declared_birth.isoformat()}) disagrees with the NIK ({shown})",
                )
            )
    declared_sex = person.sex
    if declared_sex is not None and (declared_sex == "female") != nik.female:
        in_nik_id, in_nik_en = ("perempuan", "female") if nik.female else ("laki-laki", "male")
        problems.append(
            _Problem(
                f"jenis kelamin {id_label} tidak sesuai dengan NIK (NIK menunjukkan {in_nik_id})",
                f"the sex of {en_label} disagrees with the NIK (the NIK says {in_nik_en})",
            )
        )
    return problems


def _death_problems(applicant: Person, details: AktaKematianDetails) -> list[_Problem]:
    deceased = details.deceased.nik
    problems = []
    if deceased == applicant.nik:
        problems.append(
            _Problem("NIK almarhum/almarhumah sama dengan NIK pelapor", "the deceased's NIK is the reporter's own")
        )
    for number, witness in enumerate(details.witnesses, start=1):
        if witness.nik == deceased:
            problems.append(
                _Problem(
                    f"NIK almarhum/almarhumah sama dengan NIK saksi ke-{number}",
                    f"the deceased's NIK is the same as witness {number}'s",
                )
            )
    return problems


def _bare_niks(details: RequestDetails) -> Iterator[tuple[str, str]]:
    """The NIKs in the details that stand alone, without a person's name and declared data beside them."""
    match details:
        case SuratPindahDetails():
            for index, number in enumerate(details.moving_members):
                yield f"details.moving_members[{index}]", number
        case BiodataWniDetails(person_nik=str() as number):
            yield "details.person_nik", number


def _people_in(details: RequestDetails) -> Iterator[tuple[str, NamedPerson]]:
    """Every person the details name, whose declared birth date and sex are checked against their NIK."""
    for name in type(details).model_fields:
        value = getattr(details, name)
        if isinstance(value, NamedPerson):
            yield f"details.{name}", value
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, NamedPerson):
                    yield f"details.{name}[{index}]", item
