import datetime as dt
from enum import StrEnum
from typing import get_args

import pytest

from dukcapil_intake.requests.domain import validation
from dukcapil_intake.requests.domain.catalogue import SERVICES
from dukcapil_intake.requests.domain.validation import (
    FLAG_LATE_DEATH_REPORT,
    FLAG_NIK_OUTSIDE_LEBAK,
    FLAG_RECORDING_NEEDED,
    SubmissionInvalid,
    check_request,
)
from dukcapil_shared.contracts import (
    AktaKematianDetails,
    BiodataWniDetails,
    KartuKeluargaDetails,
    KkReason,
    Person,
    SuratPindahDetails,
)
from dukcapil_shared.contracts.details import DETAILS_BY_TYPE, typed_details

TODAY = dt.date(2026, 11, 28)
SITI = Person.model_validate(
    {"nik": "3602144107900001", "name": "Siti Aminah", "birth_date": "1990-07-01", "sex": "female"}
)
AHMAD = {"nik": "3602141205850003", "name": "Ahmad Fauzi"}
WITNESSES = [{"nik": "3602141111800004", "name": "Dedi"}, {"nik": "3602142010820006", "name": "Euis"}]


def problems(request_type: str, details: dict, applicant: Person = SITI) -> dict[str, str]:
    with pytest.raises(SubmissionInvalid) as invalid:
        check_request(request_type, applicant, details, TODAY)
    for problem in invalid.value.problems:
        assert problem.message and problem.message_id, "every problem is explained in English and Indonesian"
    return {problem.field: problem.code for problem in invalid.value.problems}


def death(**changes: object) -> dict:
    return {
        "deceased": {"nik": "3602140101500002", "name": "Sarmadi"},
        "date_of_death": "2026-11-20",
        "place_of_death": "RSUD dr. Adjidarmo",
        "reporter_relation": "anak",
        "witnesses": WITNESSES,
    } | changes


def test_the_applicants_nik_must_agree_with_the_declared_birth_date_and_sex() -> None:
    found = problems("biodata_wni", {}, SITI.model_copy(update={"birth_date": dt.date(1990, 7, 2), "sex": "male"}))
    assert found == {"body.applicant.birth_date": "nik_birth_date_mismatch", "body.applicant.sex": "nik_sex_mismatch"}


def test_a_structurally_wrong_nik_is_refused_with_its_reason() -> None:
    wrong = Person(nik="3602144107900000", name="X")
    assert problems("biodata_wni", {}, wrong) == {"body.applicant.nik": "nik_serial"}


def test_a_nik_from_outside_lebak_is_accepted_and_flagged() -> None:
    checked = check_request("biodata_wni", Person(nik="3173014107900001", name="Rina"), {}, TODAY)
    assert checked.flags == [FLAG_NIK_OUTSIDE_LEBAK]


def test_every_problem_of_a_death_report_is_reported_at_once() -> None:
    found = problems(
        "akta_kematian",
        {"deceased": {"nik": "123", "name": ""}, "date_of_death": "2026-12-01", "witnesses": WITNESSES[:1]},
    )
    assert found == {
        "body.details.deceased.nik": "nik_format",
        "body.details.deceased.name": "required",
        "body.details.date_of_death": "death_in_future",
        "body.details.place_of_death": "required",
        "body.details.reporter_relation": "required",
        "body.details.witnesses": "two_witnesses_required",
    }


def test_a_death_reported_after_30_days_is_accepted_and_flagged_late() -> None:
    assert check_request("akta_kematian", SITI, death(date_of_death="2026-10-29"), TODAY).flags == []
    late = check_request("akta_kematian", SITI, death(date_of_death="2026-10-28"), TODAY)
    assert late.flags == [FLAG_LATE_DEATH_REPORT]
    assert late.required_attachments == list(SERVICES["akta_kematian"].attachments["*"])


def test_the_deceased_cannot_witness() -> None:
    found = problems("akta_kematian", death(witnesses=[WITNESSES[0], {"nik": "3602140101500002", "name": "S"}]))
    assert found == {"body.details.witnesses": "witness_is_deceased"}


def test_kartu_keluarga_reasons_and_their_checklists() -> None:
    assert problems("kartu_keluarga", {"reason": "moved"}) == {
        "body.details.reason": "reason_invalid",
        "body.details.kk_number": "kk_number_required",
    }
    checked = check_request(
        "kartu_keluarga",
        SITI,
        {
            "reason": "add_member",
            "kk_number": "3602141202100005",
            "members": [{"nik": "3602145003240001", "name": "N"}],
        },
        TODAY,
    )
    assert checked.required_attachments == ["kk_lama", "akta_kelahiran"]
    assert problems("kartu_keluarga", {"reason": "add_member", "kk_number": "3602141202100000"}) == {
        "body.details.kk_number": "kk_serial",
        "body.details.members": "people_required",
    }


def test_a_member_who_splits_off_must_be_17_or_married() -> None:
    details = {
        "reason": "split",
        "kk_number": "3602141202100005",
        "members": [
            {"nik": "3602141205100003", "name": "Sixteen and a half", "birth_date": "2010-05-12"},
            {"nik": "3602141205090003", "name": "Seventeen", "birth_date": "2009-05-12"},
            {"nik": "3602141205100004", "name": "Married young", "birth_date": "2010-05-12", "married": True},
        ],
    }
    assert problems("kartu_keluarga", details) == {"body.details.members.0": "split_member_too_young"}


def move(**changes: object) -> dict:
    return {
        "origin": {"street": "Kp. Sawarna", "kecamatan_code": "36.02.03", "village_code": "36.02.03.2002"},
        "destination": {"street": "Jl. Raya Serang No. 5", "kecamatan_code": "36.04.05"},
        "reason": "pekerjaan",
        "moving_members": ["3602031503920007"],
    } | changes


def test_a_move_needs_real_region_codes() -> None:
    check_request("surat_pindah", SITI, move(), TODAY)
    found = problems(
        "surat_pindah",
        move(
            origin={"street": "Kp. Sawarna", "kecamatan_code": "36.02.03", "village_code": "36.02.14.1002"},
            destination={"street": "x", "kecamatan_code": "36.99.01"},
        ),
    )
    assert found == {
        "body.details.origin.village_code": "village_unknown",
        "body.details.destination.kecamatan_code": "region_unknown",
    }


def test_a_move_leaving_only_minors_on_the_kk_must_name_a_new_head() -> None:
    children = [{"nik": "3602035003200001", "name": "Anak", "birth_date": "2020-03-10"}]
    assert problems("surat_pindah", move(remaining_members=children)) == {
        "body.details.new_head_of_household": "new_head_required"
    }
    check_request("surat_pindah", SITI, move(remaining_members=children, new_head_of_household=AHMAD), TODAY)
    with_adult = [*children, {"nik": "3602031503920008", "name": "Dewasa", "birth_date": "1992-03-15"}]
    check_request("surat_pindah", SITI, move(remaining_members=with_adult), TODAY)


def test_a_move_into_lebak_flags_the_e_ktp_recording_at_the_new_kecamatan() -> None:
    into_lebak = move(
        origin={"street": "Jl. Raya Serang No. 5", "kecamatan_code": "36.04.05"},
        destination={"street": "Kp. Sawarna", "kecamatan_code": "36.02.03"},
    )
    assert check_request("surat_pindah", SITI, into_lebak, TODAY).flags == [FLAG_RECORDING_NEEDED]


def test_biodata_names_a_valid_person() -> None:
    assert problems("biodata_wni", {"person_nik": "12"}) == {"body.details.person_nik": "nik_format"}
    assert check_request("biodata_wni", SITI, {}, TODAY).required_attachments == ["surat_pengantar_rt_rw"]


def test_details_hold_only_the_catalogues_fields() -> None:
    assert problems("biodata_wni", {"person_nik": SITI.nik, "note": "a" * 100_000}) == {
        "body.details.note": "unknown_field"
    }
    found = problems(
        "akta_kematian",
        death(
            deceased={"nik": "3602140101500002", "name": "Sarmadi", "biography": "x"},
            witnesses=[WITNESSES[0] | {"html": "<b>"}, WITNESSES[1]],
        ),
    )
    assert found == {
        "body.details.deceased.biography": "unknown_field",
        "body.details.witnesses.0.html": "unknown_field",
    }
    assert problems("surat_pindah", move(origin=move()["origin"] | {"x" * 1000: 1})) == {
        f"body.details.origin.{'x' * 40}": "unknown_field"
    }
    assert problems("biodata_wni", {"a\u202eb\n": 1}) == {"body.details.a\\u202eb\\n": "unknown_field"}


def test_every_text_in_the_details_follows_the_text_rules() -> None:
    found = problems(
        "akta_kematian",
        death(
            deceased={"nik": "3602140101500002", "name": "Sarmadi\u202e"},
            place_of_death="RSUD\x00",
            reporter_relation="a" * 41,  # a code of the family relations
            witnesses=[
                WITNESSES[0] | {"name": "Dedi 2", "relation": "tetangga"},
                WITNESSES[1] | {"name": "Eu\u200bis"},
            ],
            cause_category="<script>",
        ),
    )
    assert found == {
        "body.details.deceased.name": "text_bidi_control",
        "body.details.place_of_death": "text_control_character",
        "body.details.reporter_relation": "relation_invalid",
        "body.details.witnesses.0.name": "name_characters",
        "body.details.witnesses.0.relation": "relation_invalid",
        "body.details.witnesses.1.name": "text_control_character",
        "body.details.cause_category": "cause_invalid",
    }
    moved = move(origin={"street": "Kp.\ue000", "kecamatan_code": "36.04.05", "rt": "1a", "village_code": "x" * 500})
    assert problems("surat_pindah", moved) == {
        "body.details.origin.street": "text_private_use",
        "body.details.origin.rt": "digits_required",
        "body.details.origin.village_code": "village_unknown",
    }
    kk = {"reason": "data_change", "kk_number": "3602141202100005", "changes": "x" * 301}
    assert problems("kartu_keluarga", kk) == {"body.details.changes": "text_too_long"}


def test_members_dates_and_flags_that_are_printed_must_be_what_they_say() -> None:
    member = {"nik": "3602145003240001", "name": "Nur", "birth_date": "x" * 5000, "married": "ya", "sex": "?"}
    found = problems("kartu_keluarga", {"reason": "data_change", "kk_number": "3602141202100005", "members": [member]})
    assert found == {
        "body.details.members.0.birth_date": "date_invalid",
        "body.details.members.0.married": "boolean_required",
        "body.details.members.0.sex": "sex_invalid",
    }


def test_a_request_lists_at_most_twenty_people_in_one_place() -> None:
    members = [{"nik": f"36021450032400{index:02d}", "name": "Anak"} for index in range(1, 22)]
    kk = {"reason": "add_member", "kk_number": "3602141202100005"}
    assert problems("kartu_keluarga", kk | {"members": members}) == {"body.details.members": "too_many_people"}
    check_request("kartu_keluarga", SITI, kk | {"members": members[:20]}, TODAY)
    assert problems("surat_pindah", move(moving_members=[SITI.nik] * 21)) == {
        "body.details.moving_members": "too_many_people"
    }


def test_the_checked_details_come_back_normalised_and_the_submitted_ones_untouched() -> None:
    details = death(place_of_death="  Rume\u0301 sakit  ", deceased={"nik": "3602140101500002", "name": " Sarmadi "})
    checked = check_request("akta_kematian", SITI, details, TODAY)
    assert isinstance(checked.details, AktaKematianDetails)
    assert checked.details.place_of_death == "Rumé sakit" and checked.details.deceased.name == "Sarmadi"
    assert details["place_of_death"] == "  Rume\u0301 sakit  "


def test_the_checked_details_are_their_types_contract_and_may_say_their_type() -> None:
    kk = {"reason": "data_change", "kk_number": "3602141202100005", "changes": "Pekerjaan"}
    checked = check_request("kartu_keluarga", SITI, kk, TODAY)
    assert checked.details == KartuKeluargaDetails(
        reason=KkReason.data_change, kk_number="3602141202100005", changes="Pekerjaan"
    )
    assert checked.details.model_dump(mode="json") == {"type": "kartu_keluarga", **kk}, "as given, and typed"
    assert check_request("kartu_keluarga", SITI, {"type": "kartu_keluarga", **kk}, TODAY).details == checked.details
    assert problems("kartu_keluarga", {"type": "biodata_wni", **kk}) == {"body.details.type": "details_type_mismatch"}
    assert check_request("biodata_wni", SITI, {}, TODAY).details == BiodataWniDetails()
    moved = check_request("surat_pindah", SITI, move(destination={"street": "Jl. Baru", "kecamatan_code": "36.04.05",
                                                                  "city": None}), TODAY)  # fmt: skip
    assert isinstance(moved.details, SuratPindahDetails)
    assert "city" not in moved.details.destination.model_fields_set, "a null city is none given"


def test_the_catalogue_lists_the_contracts_fields_and_their_fixed_values() -> None:
    for code, model in DETAILS_BY_TYPE.items():
        attributes = {attribute.code: attribute for attribute in SERVICES[code].attributes}
        fields = {name: field for name, field in model.model_fields.items() if name != "type"}
        assert list(attributes) == list(fields), code
        for name, field in fields.items():
            assert attributes[name].required == field.is_required(), f"{code}.{name}"
            assert attributes[name].values == _choices(field.annotation), f"{code}.{name}"


def _choices(annotation: object) -> tuple[str, ...]:
    """The values of the fixed list a field takes (its enum, alone or with None), else none."""
    for candidate in (annotation, *get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, StrEnum):
            return tuple(choice.value for choice in candidate)
    return ()


def test_what_the_contract_refuses_after_the_checks_is_a_problem_too(monkeypatch: pytest.MonkeyPatch) -> None:
    """Should a check fall behind its contract, the client still hears which field, never an error of the office."""

    def stricter(details: dict, request_type: str) -> object:
        return typed_details({**details, "reason": "tightened"}, request_type)

    monkeypatch.setattr(validation, "typed_details", stricter)
    kk = {"reason": "data_change", "kk_number": "3602141202100005", "changes": "Pekerjaan"}
    assert problems("kartu_keluarga", kk) == {"body.details.reason": "invalid_value"}
