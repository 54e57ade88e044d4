"""The office's checks of a request's applicant and details, per type; every problem is reported at once.

Each problem names the field (as a path), a machine-readable code, and a message in English and Indonesian.
What is allowed but worth a reviewer's eye becomes a flag instead (a NIK from outside Lebak, a late death
report, a move into Lebak that will need e-KTP recording).
"""

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from dukcapil_intake.domain.catalogue import KK_REASONS, MOVE_REASONS, SERVICES
from dukcapil_shared.contracts.identity import InvalidNumber, Nik, parse_kk_number, parse_nik
from dukcapil_shared.contracts.regions import find_kecamatan, find_village, is_in_lebak, region_name

ADULT_AGE = 17
DEATH_REPORT_DAYS = 30

FLAG_NIK_OUTSIDE_LEBAK = "nik_outside_lebak"
FLAG_LATE_DEATH_REPORT = "late_death_report"
FLAG_RECORDING_NEEDED = "ktp_el_recording_needed"


@dataclass(frozen=True)
class Problem:
    field: str
    code: str
    message_en: str
    message_id: str


class SubmissionInvalid(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(problem.message_en for problem in problems))
        self.problems = problems


@dataclass
class Checked:
    """What the checks found beyond problems: flags for the reviewer and the attachment checklist."""

    flags: list[str] = field(default_factory=list)
    required_attachments: list[str] = field(default_factory=list)


def check_request(request_type: str, applicant: dict[str, Any], details: dict[str, Any], today: dt.date) -> Checked:
    """Check a request of a type that can be done online; raise SubmissionInvalid with every problem."""
    check = _Check(today)
    nik = check.applicant(applicant)
    if nik is not None and not is_in_lebak(nik.regency):
        check.flag(FLAG_NIK_OUTSIDE_LEBAK)
    {
        "kartu_keluarga": check.kartu_keluarga,
        "akta_kematian": check.akta_kematian,
        "surat_pindah": check.surat_pindah,
        "biodata_wni": check.biodata_wni,
    }[request_type](details)
    if check.problems:
        raise SubmissionInvalid(check.problems)
    reason = details.get("reason") if request_type == "kartu_keluarga" else None
    return Checked(flags=check.flags, required_attachments=SERVICES[request_type].required_attachments(reason))


def check_applicant(applicant: dict[str, Any], today: dt.date) -> None:
    """The applicant's NIK, and that it agrees with the declared birth date and sex."""
    check = _Check(today)
    check.applicant(applicant)
    if check.problems:
        raise SubmissionInvalid(check.problems)


class _Check:
    def __init__(self, today: dt.date) -> None:
        self.today = today
        self.problems: list[Problem] = []
        self.flags: list[str] = []

    def problem(self, path: str, code: str, en: str, id_: str) -> None:
        self.problems.append(Problem(f"body.{path}", code, en, id_))

    def flag(self, flag: str) -> None:
        if flag not in self.flags:
            self.flags.append(flag)

    # --- building blocks ---

    def nik(self, path: str, value: Any) -> Nik | None:
        if not isinstance(value, str):
            self.problem(path, "nik_required", "Give the 16-digit NIK.", "Isi NIK 16 digit.")
            return None
        try:
            return parse_nik(value)
        except InvalidNumber as invalid:
            self.problem(path, invalid.code, str(invalid), "NIK tidak valid: periksa kembali 16 digitnya.")
            return None

    def text(self, path: str, value: Any, what: str, apa: str) -> str | None:
        if not isinstance(value, str) or not value.strip():
            self.problem(path, "required", f"Give {what}.", f"Isi {apa}.")
            return None
        return value

    def date(self, path: str, value: Any, what: str, apa: str) -> dt.date | None:
        if isinstance(value, str) and _is_date(value):
            return dt.date.fromisoformat(value)
        self.problem(path, "date_invalid", f"Give {what} as YYYY-MM-DD.", f"Isi {apa} dengan format TTTT-BB-HH.")
        return None

    def person(self, path: str, value: Any) -> tuple[Nik | None, dict[str, Any]]:
        if not isinstance(value, dict):
            self.problem(path, "person_required", "Give the person as {nik, name}.", "Isi data orang: {nik, name}.")
            return None, {}
        nik = self.nik(f"{path}.nik", value.get("nik"))
        self.text(f"{path}.name", value.get("name"), "the name", "nama")
        return nik, value

    def people(self, path: str, value: Any) -> list[tuple[Nik | None, dict[str, Any]]]:
        if not isinstance(value, list) or not value:
            self.problem(path, "people_required", "Give at least one person.", "Isi paling sedikit satu orang.")
            return []
        return [self.person(f"{path}.{index}", item) for index, item in enumerate(value)]

    def birth_date(self, nik: Nik | None, declared: Any) -> dt.date | None:
        hint = dt.date.fromisoformat(declared) if isinstance(declared, str) and _is_date(declared) else None
        if nik is None:
            return hint
        try:
            return nik.birth_date(century_hint=hint, today=self.today)
        except InvalidNumber:
            return None

    def adult_or_married(self, nik: Nik | None, person: dict[str, Any]) -> bool:
        born = self.birth_date(nik, person.get("birth_date"))
        return person.get("married") is True or (born is not None and _age(born, self.today) >= ADULT_AGE)

    # --- the applicant ---

    def applicant(self, applicant: dict[str, Any]) -> Nik | None:
        nik = self.nik("applicant.nik", applicant.get("nik"))
        if nik is None:
            return None
        declared_birth = applicant.get("birth_date")
        if declared_birth:
            declared = dt.date.fromisoformat(str(declared_birth))
            try:
                encoded = nik.birth_date(century_hint=declared)
            except InvalidNumber as invalid:
                self.problem("applicant.nik", invalid.code, str(invalid), "Tanggal lahir dalam NIK tidak valid.")
                return None
            if encoded != declared:
                self.problem(
                    "applicant.birth_date",
                    "nik_birth_date_mismatch",
                    f"The NIK encodes the birth date {encoded:%d-%m-%Y}, not {declared:%d-%m-%Y}.",
                    f"Tanggal lahir dalam NIK adalah {encoded:%d-%m-%Y}, bukan {declared:%d-%m-%Y}.",
                )
        declared_sex = applicant.get("sex")
        if declared_sex and (declared_sex == "female") != nik.female:
            encoded_sex = "female" if nik.female else "male"
            self.problem(
                "applicant.sex",
                "nik_sex_mismatch",
                f"The NIK is a {encoded_sex} person's (women's day of birth is +40), not {declared_sex}.",
                "Jenis kelamin tidak sesuai dengan NIK (tanggal lahir perempuan ditambah 40).",
            )
        return nik

    # --- per type ---

    def kartu_keluarga(self, details: dict[str, Any]) -> None:
        reason = details.get("reason")
        if reason not in KK_REASONS:
            self.problem(
                "details.reason",
                "reason_invalid",
                f"The reason must be one of {', '.join(KK_REASONS)}.",
                f"Alasan harus salah satu dari {', '.join(KK_REASONS)}.",
            )
        if reason != "new_family":
            if isinstance(details.get("kk_number"), str):
                try:
                    parse_kk_number(details["kk_number"])
                except InvalidNumber as invalid:
                    self.problem("details.kk_number", invalid.code, str(invalid), "Nomor KK tidak valid.")
            else:
                self.problem(
                    "details.kk_number", "kk_number_required", "Give the current 16-digit KK number.",
                    "Isi nomor KK yang sekarang (16 digit).",
                )  # fmt: skip
        if reason in ("new_family", "add_member", "remove_member", "split"):
            members = self.people("details.members", details.get("members"))
            if reason == "split":
                for index, (nik, member) in enumerate(members):
                    if not self.adult_or_married(nik, member):
                        self.problem(
                            f"details.members.{index}",
                            "split_member_too_young",
                            "A member who splits off into a KK of their own must be 17 or older, or married.",
                            "Anggota yang pisah KK harus berumur 17 tahun atau lebih, atau sudah menikah.",
                        )

    def akta_kematian(self, details: dict[str, Any]) -> None:
        deceased_nik, _ = self.person("details.deceased", details.get("deceased"))
        died = self.date("details.date_of_death", details.get("date_of_death"), "the day of death", "tanggal kematian")
        if died is not None:
            if died > self.today:
                self.problem(
                    "details.date_of_death", "death_in_future", "The day of death cannot be in the future.",
                    "Tanggal kematian tidak boleh di masa depan.",
                )  # fmt: skip
            elif (self.today - died).days > DEATH_REPORT_DAYS:
                self.flag(FLAG_LATE_DEATH_REPORT)
        self.text("details.place_of_death", details.get("place_of_death"), "the place of death", "tempat kematian")
        self.text(
            "details.reporter_relation", details.get("reporter_relation"),
            "how the reporter is related to the deceased", "hubungan pelapor dengan almarhum",
        )  # fmt: skip
        witnesses = details.get("witnesses")
        if not isinstance(witnesses, list) or len(witnesses) != 2:
            self.problem(
                "details.witnesses", "two_witnesses_required", "Name exactly two witnesses, each {nik, name}.",
                "Sebutkan tepat dua orang saksi, masing-masing {nik, name}.",
            )  # fmt: skip
        else:
            witness_niks = [self.person(f"details.witnesses.{i}", w)[0] for i, w in enumerate(witnesses)]
            if deceased_nik is not None and any(w and w.number == deceased_nik.number for w in witness_niks):
                self.problem(
                    "details.witnesses", "witness_is_deceased", "The deceased cannot be a witness.",
                    "Almarhum tidak bisa menjadi saksi.",
                )  # fmt: skip

    def surat_pindah(self, details: dict[str, Any]) -> None:
        origin = self.address("details.origin", details.get("origin"))
        destination = self.address("details.destination", details.get("destination"))
        if origin and destination and not is_in_lebak(origin) and is_in_lebak(destination):
            self.flag(FLAG_RECORDING_NEEDED)
        reason = details.get("reason")
        if reason not in MOVE_REASONS:
            self.problem(
                "details.reason", "reason_invalid", f"The reason must be one of {', '.join(MOVE_REASONS)}.",
                f"Alasan pindah harus salah satu dari {', '.join(MOVE_REASONS)}.",
            )  # fmt: skip
        moving = details.get("moving_members")
        if not isinstance(moving, list) or not moving:
            self.problem(
                "details.moving_members", "moving_members_required", "List the NIKs of the members who move.",
                "Sebutkan NIK anggota keluarga yang pindah.",
            )  # fmt: skip
        else:
            for index, value in enumerate(moving):
                self.nik(f"details.moving_members.{index}", value)
        remaining = details.get("remaining_members") or []
        staying = [self.person(f"details.remaining_members.{i}", p) for i, p in enumerate(remaining)]
        if staying and not any(self.adult_or_married(nik, person) for nik, person in staying):
            if details.get("new_head_of_household"):
                self.person("details.new_head_of_household", details["new_head_of_household"])
            else:
                self.problem(
                    "details.new_head_of_household",
                    "new_head_required",
                    "Only minors would remain on the KK: name the adult who becomes the head of the household.",
                    "Yang tersisa di KK hanya anak di bawah umur: sebutkan orang dewasa yang menjadi kepala keluarga.",
                )

    def biodata_wni(self, details: dict[str, Any]) -> None:
        if "person_nik" in details:
            self.nik("details.person_nik", details["person_nik"])

    def address(self, path: str, value: Any) -> str | None:
        """A kecamatan anywhere in Indonesia; a village, if given for Lebak, must lie in that kecamatan."""
        if not isinstance(value, dict):
            self.problem(
                path, "address_required", "Give {street, kecamatan_code}.", "Isi alamat: {street, kecamatan_code}."
            )
            return None
        self.text(f"{path}.street", value.get("street"), "the street address", "alamat")
        code = value.get("kecamatan_code")
        if not isinstance(code, str) or region_name(code) is None or code.count(".") != 2:
            self.problem(
                f"{path}.kecamatan_code", "region_unknown", "Give a real kecamatan code, e.g. 36.02.14.",
                "Isi kode kecamatan yang benar, misalnya 36.02.14.",
            )  # fmt: skip
            return None
        village_code = value.get("village_code")
        if village_code is not None and find_kecamatan(code) is not None:
            village = find_village(village_code)
            if village is None or village.kecamatan_code != code:
                self.problem(
                    f"{path}.village_code", "village_unknown",
                    f"{village_code} is not a desa or kelurahan of kecamatan {code}.",
                    f"{village_code} bukan desa/kelurahan di kecamatan {code}.",
                )  # fmt: skip
        return code


def _is_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _age(born: dt.date, today: dt.date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))
