"""The office's checks of a request's applicant and details, per type; every problem is reported at once.

Each problem names the field (as a path), a machine-readable code, and a message in English and Indonesian.
What is allowed but worth a reviewer's eye becomes a flag instead (a NIK from outside Lebak, a late death
report, a move into Lebak that will need e-KTP recording).

Details hold only the fields the catalogue lists (and people and addresses only theirs): whatever else a client
sent would be printed on the document under "Keterangan lain". Their text follows contracts/text.py (names,
places, streets, each with its cap), relations and causes come from fixed lists, lists of people hold at most 20.
Once they pass, the details come back normalised and typed (contracts/details.py), in `Checked.details`: the checks
read the JSON the client sent, so that each problem is told in the office's words; everything after reads the model.
"""

import copy
import datetime as dt
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from dukcapil_intake.requests.domain.catalogue import (
    CAUSE_CATEGORIES,
    FAMILY_RELATIONS,
    KK_REASONS,
    MOVE_REASONS,
    SERVICES,
)
from dukcapil_shared.contracts.common import Person, Sex
from dukcapil_shared.contracts.details import (
    KartuKeluargaDetails,
    MoveAddress,
    NamedPerson,
    RequestDetails,
    typed_details,
)
from dukcapil_shared.contracts.identity import InvalidNumber, Nik, parse_kk_number, parse_nik
from dukcapil_shared.contracts.regions import find_kecamatan, find_village, is_in_lebak, region_name
from dukcapil_shared.contracts.text import (
    CITY,
    DETAIL_TEXT,
    MAX_PEOPLE,
    PERSON_NAME,
    PLACE,
    STREET,
    TextRefused,
    TextRule,
    clean_text,
)
from dukcapil_shared.refusals import Problem, Refusal

ADULT_AGE = 17
DEATH_REPORT_DAYS = 30

FLAG_NIK_OUTSIDE_LEBAK = "nik_outside_lebak"
FLAG_LATE_DEATH_REPORT = "late_death_report"
FLAG_RECORDING_NEEDED = "ktp_el_recording_needed"

_VILLAGE_CODE = re.compile(r"\d{2}\.\d{2}\.\d{2}\.\d{4}")
PERSON_FIELDS = frozenset(NamedPerson.model_fields)
ADDRESS_FIELDS = frozenset(MoveAddress.model_fields)


class SubmissionInvalid(Refusal):
    """Every problem at once, each with its field: the answer's details."""

    code = "invalid_request"
    message = "The request does not pass the office's checks: see details for each field to fix."
    message_id = "Permohonan belum memenuhi syarat: lihat rincian untuk setiap isian yang perlu diperbaiki."

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(problems=problems)
        self.args = ("; ".join(problem.message for problem in problems),)


@dataclass
class Checked:
    """The details as checked, and what the checks found beyond problems: flags for the reviewer and the attachment
    checklist."""

    details: RequestDetails
    """Typed, their text in NFC without surrounding white space."""
    flags: list[str] = field(default_factory=list)
    required_attachments: list[str] = field(default_factory=list)


def check_request(request_type: str, applicant: Person, details: Mapping[str, Any], today: dt.date) -> Checked:
    """Check a request of a type that can be done online, then type its details; raise SubmissionInvalid with every
    problem."""
    check = _Check(today)
    sent = copy.deepcopy(dict(details))
    nik = check.applicant(applicant)
    if nik is not None and not is_in_lebak(nik.regency):
        check.flag(FLAG_NIK_OUTSIDE_LEBAK)
    check.known_fields(
        "details", sent, [attribute.code for attribute in SERVICES[request_type].attributes], also=("type",)
    )
    check.details_type(request_type, sent)
    {
        "kartu_keluarga": check.kartu_keluarga,
        "akta_kematian": check.akta_kematian,
        "surat_pindah": check.surat_pindah,
        "biodata_wni": check.biodata_wni,
    }[request_type](sent)
    typed = check.typed(request_type, sent) if not check.problems else None
    if typed is None:
        raise SubmissionInvalid(check.problems)
    reason = typed.reason if isinstance(typed, KartuKeluargaDetails) else None
    return Checked(
        details=typed, flags=check.flags, required_attachments=SERVICES[request_type].required_attachments(reason)
    )


def check_applicant(applicant: Person, today: dt.date) -> None:
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

    def known_fields(
        self, path: str, value: dict[str, Any], known: Collection[str], also: Collection[str] = ()
    ) -> None:
        """A problem for each key that is not one of `known` (which the answer lists) or `also` (accepted unlisted)."""
        for key in value:
            if key not in known and key not in also:
                shown = ascii(str(key)[:40])[1:-1]  # whatever the key holds, the answer shows it inert
                self.problem(
                    f"{path}.{shown}", "unknown_field",
                    f"{shown!r} is not a field here; the fields are {', '.join(known)}.",
                    f"{shown!r} bukan isian yang dikenal; isian yang tersedia: {', '.join(known)}.",
                )  # fmt: skip

    def text(
        self, path: str, container: dict[str, Any], key: str, what: str, apa: str, rule: TextRule, required: bool = True
    ) -> str | None:
        """The text at container[key], normalised in place; a problem if it is missing (when required) or breaks the
        rule."""
        value = container.get(key)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not value.strip():
            self.problem(path, "required", f"Give {what}.", f"Isi {apa}.")
            return None
        try:
            container[key] = clean_text(value, rule)
        except TextRefused as refused:
            self.problem(path, refused.problem.code, refused.problem.message_en, refused.problem.message_id)
            return None
        return container[key]

    def optional_date(self, path: str, value: Any, what: str, apa: str) -> None:
        if value is not None:
            self.date(path, value, what, apa)

    def digits(self, path: str, value: Any, count: tuple[int, int], what: str, apa: str) -> None:
        low, high = count
        if value is not None and not (isinstance(value, str) and value.isascii() and value.isdigit()
                                      and low <= len(value) <= high):  # fmt: skip
            size = f"{low}" if low == high else f"{low} to {high}"
            self.problem(
                path, "digits_required", f"Give {what} as {size} digits.", f"Isi {apa} dengan {size} angka."
            )  # fmt: skip

    def date(self, path: str, value: Any, what: str, apa: str) -> dt.date | None:
        if isinstance(value, str) and _is_date(value):
            return dt.date.fromisoformat(value)
        self.problem(path, "date_invalid", f"Give {what} as YYYY-MM-DD.", f"Isi {apa} dengan format TTTT-BB-HH.")
        return None

    def person(self, path: str, value: Any) -> tuple[Nik | None, dict[str, Any]]:
        if not isinstance(value, dict):
            self.problem(path, "person_required", "Give the person as {nik, name}.", "Isi data orang: {nik, name}.")
            return None, {}
        self.known_fields(path, value, sorted(PERSON_FIELDS))
        nik = self.nik(f"{path}.nik", value.get("nik"))
        self.text(f"{path}.name", value, "name", "the name", "nama", PERSON_NAME)
        if value.get("relation") is not None:
            self.relation(f"{path}.relation", value["relation"])
        self.optional_date(f"{path}.birth_date", value.get("birth_date"), "the birth date", "tanggal lahir")
        if value.get("married") is not None and not isinstance(value["married"], bool):
            self.problem(f"{path}.married", "boolean_required", "Give married as true or false.",
                         "Isi married dengan true atau false.")  # fmt: skip
        if value.get("sex") is not None and value["sex"] not in ("male", "female"):
            self.problem(f"{path}.sex", "sex_invalid", "Give sex as male or female.",
                         "Isi jenis kelamin dengan male atau female.")  # fmt: skip
        return nik, value

    def people(self, path: str, value: Any) -> list[tuple[Nik | None, dict[str, Any]]]:
        if not isinstance(value, list) or not value:
            self.problem(path, "people_required", "Give at least one person.", "Isi paling sedikit satu orang.")
            return []
        if self.too_many(path, value):
            return []
        return [self.person(f"{path}.{index}", item) for index, item in enumerate(value)]

    def relation(self, path: str, value: Any) -> None:
        if value is None or value == "":
            self.problem(path, "required", "Give the relation.", "Isi hubungan keluarga.")
        elif value not in FAMILY_RELATIONS:
            self.problem(
                path, "relation_invalid", f"Give the relation as one of {', '.join(FAMILY_RELATIONS)}.",
                f"Isi hubungan keluarga dengan salah satu dari {', '.join(FAMILY_RELATIONS)}.",
            )  # fmt: skip

    def too_many(self, path: str, value: list[Any], most: int = MAX_PEOPLE) -> bool:
        if len(value) <= most:
            return False
        self.problem(
            path, "too_many_people", f"At most {most} people in one request; make a second request for the others.",
            f"Paling banyak {most} orang dalam satu permohonan; ajukan permohonan kedua untuk selebihnya.",
        )  # fmt: skip
        return True

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

    def applicant(self, applicant: Person) -> Nik | None:
        nik = self.nik("applicant.nik", applicant.nik)
        if nik is None:
            return None
        declared = applicant.birth_date
        if declared is not None:
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
        declared_sex = applicant.sex
        if declared_sex is not None and (declared_sex == Sex.female) != nik.female:
            encoded_sex = "female" if nik.female else "male"
            self.problem(
                "applicant.sex",
                "nik_sex_mismatch",
                f"The NIK is a {encoded_sex} person's (women's day of birth is +40), not {declared_sex}.",
                "Jenis kelamin tidak sesuai dengan NIK (tanggal lahir perempuan ditambah 40).",
            )
        return nik

    # --- per type ---

    def details_type(self, request_type: str, details: dict[str, Any]) -> None:
        """Details may say their type (as the events do), which must then be the request's."""
        if "type" in details and details["type"] != request_type:
            self.problem(
                "details.type", "details_type_mismatch",
                f"These are the details of a {request_type} request: give type {request_type} or leave it out.",
                f"Rincian ini untuk permohonan {request_type}: isi type dengan {request_type} atau kosongkan.",
            )  # fmt: skip

    def typed(self, request_type: str, details: dict[str, Any]) -> RequestDetails | None:
        """The checked details as their contract's model; what the checks missed and the model refuses is a problem
        too (with the model's words), never an error of the office's."""
        try:
            return typed_details(details, request_type)
        except ValidationError as refused:
            for error in refused.errors(include_url=False):
                where = ".".join(str(part) for part in error["loc"][1:])  # after the union's tag, the type
                self.problem(
                    f"details.{where}" if where else "details", "invalid_value", f"{error['msg']}.",
                    "Isian tidak valid: periksa kembali.",
                )  # fmt: skip
            return None

    def kartu_keluarga(self, details: dict[str, Any]) -> None:
        reason = details.get("reason")
        if reason not in KK_REASONS:
            self.problem(
                "details.reason",
                "reason_invalid",
                f"The reason must be one of {', '.join(KK_REASONS)}.",
                f"Alasan harus salah satu dari {', '.join(KK_REASONS)}.",
            )
        if reason != "new_family" or details.get("kk_number") is not None:
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
        self.text("details.changes", details, "changes", "what changes", "perubahan data", DETAIL_TEXT, required=False)
        if reason in ("new_family", "add_member", "remove_member", "split") or details.get("members") is not None:
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
        self.text("details.place_of_death", details, "place_of_death", "the place of death", "tempat kematian", PLACE)
        self.relation("details.reporter_relation", details.get("reporter_relation"))
        cause = details.get("cause_category")
        if cause is not None and cause not in CAUSE_CATEGORIES:
            self.problem(
                "details.cause_category", "cause_invalid", f"The cause must be one of {', '.join(CAUSE_CATEGORIES)}.",
                f"Sebab kematian harus salah satu dari {', '.join(CAUSE_CATEGORIES)}.",
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
        elif not self.too_many("details.moving_members", moving):
            for index, value in enumerate(moving):
                self.nik(f"details.moving_members.{index}", value)
        remaining = details.get("remaining_members")
        staying = []
        if remaining is not None and not isinstance(remaining, list):
            self.problem(
                "details.remaining_members", "people_required", "List the members who stay as [{nik, name}].",
                "Sebutkan anggota keluarga yang tetap: [{nik, name}].",
            )  # fmt: skip
        elif remaining and not self.too_many("details.remaining_members", remaining):
            staying = [self.person(f"details.remaining_members.{i}", p) for i, p in enumerate(remaining)]
        if details.get("new_head_of_household") is not None:
            self.person("details.new_head_of_household", details["new_head_of_household"])
        if staying and not any(self.adult_or_married(nik, person) for nik, person in staying):
            if not details.get("new_head_of_household"):
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
        self.known_fields(path, value, sorted(ADDRESS_FIELDS))
        self.text(f"{path}.street", value, "street", "the street address", "alamat", STREET)
        if self.text(f"{path}.city", value, "city", "the city", "kota/kabupaten", CITY, required=False) is None:
            value.pop("city", None)  # a null city is none given: the address's default
        self.digits(f"{path}.rt", value.get("rt"), (1, 3), "the RT", "RT")
        self.digits(f"{path}.rw", value.get("rw"), (1, 3), "the RW", "RW")
        self.digits(f"{path}.postal_code", value.get("postal_code"), (5, 5), "the postal code", "kode pos")
        code = value.get("kecamatan_code")
        if not isinstance(code, str) or region_name(code) is None or code.count(".") != 2:
            self.problem(
                f"{path}.kecamatan_code", "region_unknown", "Give a real kecamatan code, e.g. 36.02.14.",
                "Isi kode kecamatan yang benar, misalnya 36.02.14.",
            )  # fmt: skip
            return None
        village_code = value.get("village_code")
        if village_code is not None and not (isinstance(village_code, str) and _VILLAGE_CODE.fullmatch(village_code)):
            self.problem(
                f"{path}.village_code", "village_unknown", "Give the village code as 36.02.14.1001 (or leave it out).",
                "Isi kode desa/kelurahan seperti 36.02.14.1001 (atau kosongkan).",
            )  # fmt: skip
        elif village_code is not None and find_kecamatan(code) is not None:
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
