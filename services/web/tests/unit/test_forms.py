"""The forms built from intake's recorded `GET /services`, the request bodies they make, and intake's errors
placed beside the fields they concern."""

import pytest

from dukcapil_web.domain import forms

from ..fakes import CATALOGUE

KECAMATAN = [forms.Region("36.02.14", "Rangkasbitung"), forms.Region("36.02.01", "Malingping")]


def form_for(code: str, language: str = "id", **kwargs):  # type: ignore[no-untyped-def]
    service = forms.find_service(CATALOGUE, code)
    assert service is not None
    return forms.build_form(service, language=language, kecamatan=KECAMATAN, **kwargs)  # type: ignore[arg-type]


def names(form: forms.RequestForm) -> list[str]:
    return [item.name for item in form.fields()]


def test_every_online_service_of_the_catalogue_gets_a_form_and_ktp_el_none() -> None:
    online = [service["code"] for service in forms.online_services(CATALOGUE)]
    assert online == ["kartu_keluarga", "akta_kematian", "surat_pindah", "biodata_wni"]
    for code in online:
        assert {"applicant.nik", "applicant.name", "delivery.method", "delivery.phone"} <= set(names(form_for(code)))


def test_the_kartu_keluarga_form_has_the_catalogues_fields_named_by_their_path_in_the_body() -> None:
    form = form_for("kartu_keluarga")
    reason = form.field_named("details.reason")
    assert reason is not None and reason.kind == "select" and reason.required
    assert [choice.value for choice in reason.choices] == [
        "new_family",
        "add_member",
        "remove_member",
        "split",
        "data_change",
        "lost_or_damaged",
    ]
    assert reason.choices[1].label == "Tambah anggota (kelahiran, ikut KK)"
    members = next(section for section in form.sections if section.name == "details.members")
    assert members.repeatable and len(members.rows or []) == 1
    assert [item.name for item in (members.rows or [[]])[0]] == [
        "details.members.0.nik",
        "details.members.0.name",
        "details.members.0.relation",
        "details.members.0.birth_date",
        "details.members.0.married",
    ]
    relation = form.field_named("details.members.0.relation")
    assert relation is not None and "kepala_keluarga" in [c.value for c in relation.choices]
    married = form.field_named("details.members.0.married")
    assert married is not None and married.kind == "checkbox"
    kk_number = form.field_named("details.kk_number")
    assert kk_number is not None and kk_number.inputmode == "numeric" and kk_number.maxlength == 16


def test_a_list_of_exactly_two_gets_two_rows_and_no_more() -> None:
    form = form_for("akta_kematian", add_row="details.witnesses")
    witnesses = next(section for section in form.sections if section.name == "details.witnesses")
    assert [[item.name for item in row] for row in witnesses.rows or []] == [
        ["details.witnesses.0.nik", "details.witnesses.0.name"],
        ["details.witnesses.1.nik", "details.witnesses.1.name"],
    ]
    deceased = next(section for section in form.sections if section.name == "details.deceased")
    assert [item.name for item in deceased.fields] == ["details.deceased.nik", "details.deceased.name"]
    cause = form.field_named("details.cause_category")
    assert cause is not None and cause.kind == "radio" and not cause.required


def test_addresses_take_the_parts_the_catalogue_names_and_a_kecamatan_outside_lebak_is_typed() -> None:
    form = form_for("surat_pindah")
    origin = form.field_named("details.origin.kecamatan_code")
    destination = form.field_named("details.destination.kecamatan_code")
    assert origin is not None and origin.kind == "select" and origin.choices[0].value == "36.02.14"
    assert destination is not None and destination.kind == "text"
    assert form.field_named("details.origin.village_code") is not None
    assert form.field_named("details.destination.village_code") is None
    moving = form.field_named("details.moving_members.0")
    assert moving is not None and moving.kind == "number_id"


def test_adding_a_row_keeps_what_was_typed() -> None:
    values = {"details.members.0.nik": "3602145003240001", "details.members.0.name": "Nur Aisyah"}
    form = form_for("kartu_keluarga", values=values, add_row="details.members")
    members = next(section for section in form.sections if section.name == "details.members")
    assert len(members.rows or []) == 2
    assert form.field_named("details.members.0.name").value == "Nur Aisyah"  # type: ignore[union-attr]


def test_the_body_is_the_json_intake_takes_with_empty_rows_dropped_and_the_rest_renumbered() -> None:
    submitted = {
        "applicant.nik": "3602141205850003",
        "applicant.name": " Ahmad Fauzi ",
        "applicant.birth_date": "1985-05-12",
        "applicant.sex": "male",
        "details.reason": "add_member",
        "details.kk_number": "3602141202100005",
        "details.members.0.nik": "",
        "details.members.0.name": "",
        "details.members.1.nik": "3602145003240001",
        "details.members.1.name": "Nur Aisyah",
        "details.members.1.relation": "anak",
        "details.members.1.married": "true",
        "delivery.method": "pickup",
        "delivery.pickup_kecamatan_code": "36.02.14",
        "delivery.address.street": "typed before choosing pickup",
        "delivery.phone": "081234567890",
        "delivery.email": "",
    }
    shape = form_for("kartu_keluarga", values=submitted)
    values = forms.compact_rows(shape, submitted)
    form = form_for("kartu_keluarga", values=values)
    assert forms.request_body("kartu_keluarga", form, values) == {
        "type": "kartu_keluarga",
        "applicant": {"nik": "3602141205850003", "name": "Ahmad Fauzi", "birth_date": "1985-05-12", "sex": "male"},
        "details": {
            "reason": "add_member",
            "kk_number": "3602141202100005",
            "members": [{"nik": "3602145003240001", "name": "Nur Aisyah", "relation": "anak", "married": True}],
        },
        "delivery": {"method": "pickup", "pickup_kecamatan_code": "36.02.14", "phone": "081234567890"},
    }
    assert form.field_named("details.members.0.name").value == "Nur Aisyah"  # type: ignore[union-attr]


def test_a_courier_delivery_carries_its_address_and_no_pickup_office() -> None:
    values = {
        "delivery.method": "courier",
        "delivery.pickup_kecamatan_code": "36.02.01",
        "delivery.recipient_name": "Ahmad Fauzi",
        "delivery.address.street": "Jl. Multatuli No. 12",
        "delivery.address.kecamatan_code": "36.02.14",
        "delivery.address.postal_code": "42312",
        "details.moving_members.0": "3602145003240001",
    }
    body = forms.request_body("surat_pindah", form_for("surat_pindah", values=values), values)
    assert body["delivery"] == {
        "method": "courier",
        "recipient_name": "Ahmad Fauzi",
        "address": {"street": "Jl. Multatuli No. 12", "kecamatan_code": "36.02.14", "postal_code": "42312"},
    }
    assert body["details"] == {"moving_members": ["3602145003240001"]}


# Intake's answer to a Kartu Keluarga with problems everywhere (422 invalid_request), as recorded.
INVALID = {
    "error": {
        "code": "invalid_request",
        "message": "The request does not pass the office's checks: see details for each field to fix. / "
        "Permohonan belum memenuhi syarat: lihat rincian untuk setiap isian yang perlu diperbaiki.",
        "details": [
            {
                "field": "body.applicant.birth_date",
                "code": "nik_birth_date_mismatch",
                "message": "The NIK encodes the birth date 12-05-1985, not 13-05-1985.",
                "message_id": "Tanggal lahir dalam NIK adalah 12-05-1985, bukan 13-05-1985.",
            },
            {
                "field": "body.details.members.0.relation",
                "code": "relation_invalid",
                "message": "Give the relation as one of ...",
                "message_id": "Isi hubungan keluarga dengan salah satu ...",
            },
            {
                "field": "body.details.members",
                "code": "members_required",
                "message": "Name the members concerned.",
                "message_id": "Sebutkan anggota keluarga yang bersangkutan.",
            },
            {
                "field": "body.delivery.address",
                "code": "missing",
                "message": "Field required",
                "message_id": "Wajib diisi.",
            },
            {
                "field": "body.details.members.3",
                "code": "person_required",
                "message": "Give a person.",
                "message_id": "Isi data orang.",
            },
            {"field": "body.type", "code": "whatever", "message": "Not in English only"},
        ],
    }
}


@pytest.mark.parametrize(
    ("language", "birth_date_error"),
    [
        ("id", "Tanggal lahir dalam NIK adalah 12-05-1985, bukan 13-05-1985."),
        ("en", "The NIK encodes the birth date 12-05-1985, not 13-05-1985."),
    ],
)
def test_each_error_lands_beside_its_field_in_the_chosen_language(language: str, birth_date_error: str) -> None:
    form = form_for("kartu_keluarga", language=language)
    forms.place_errors(form, forms.details_of(INVALID), language)  # type: ignore[arg-type]
    assert form.field_named("applicant.birth_date").errors == [birth_date_error]  # type: ignore[union-attr]
    relation = form.field_named("details.members.0.relation")
    assert relation is not None and len(relation.errors) == 1
    sections = {section.name: section for section in form.sections}
    # The list itself, and a row the form does not show: the list's fieldset.
    assert sections["details.members"].errors == (
        ["Sebutkan anggota keluarga yang bersangkutan.", "Isi data orang."]
        if language == "id"
        else ["Name the members concerned.", "Give a person."]
    )
    assert len(sections["delivery"].errors) == 1  # no input is the address itself: its fieldset
    # A field the form has no input for: at the top, never lost (in English when that is all there is).
    assert form.general_errors == ["Not in English only"]
    ids = [target for target, _ in form.errors()]
    assert ids[0] == "" and "f-applicant-birth_date" in ids and "g-details-members" in ids


def test_the_checklist_per_reason_in_the_readers_language() -> None:
    service = forms.find_service(CATALOGUE, "kartu_keluarga")
    assert service is not None
    assert [kind.code for kind in forms.scan_checklist(service, "add_member", "id")] == ["kk_lama", "akta_kelahiran"]
    assert forms.scan_checklist(service, "add_member", "en")[1].description == "birth certificate of the new member"
    assert forms.scan_descriptions(CATALOGUE, "id")["kk_lama"] == "Kartu Keluarga lama"
