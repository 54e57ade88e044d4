import datetime as dt
import uuid
from collections.abc import Mapping

import pytest
from pydantic import BaseModel, ValidationError

from dukcapil_shared.contracts import (
    AktaKematianDetails,
    BiodataWniDetails,
    Delivery,
    DocumentIssued,
    Envelope,
    KartuKeluargaDetails,
    Person,
    RequestApproved,
    RequestResubmitted,
    RequestSubmitted,
    SuratPindahDetails,
)
from dukcapil_shared.contracts.details import (
    DETAILS_BY_TYPE,
    REQUEST_DETAILS,
    DetailsTypeMismatch,
    details_json,
    details_shown,
    typed_details,
)

SITI = Person(nik="3602144107900001", name="Siti Aminah")
PICKUP = Delivery(method="pickup", pickup_kecamatan_code="36.02.14")

# As intake sends them today: no `type`, the fields of the catalogue, people and addresses as given.
KK = {
    "reason": "add_member",
    "kk_number": "3602141201150003",
    "members": [{"nik": "3602140301250001", "name": "Rudi", "relation": "anak", "birth_date": "2025-01-03"}],
}
DEATH = {
    "deceased": {"nik": "3602140101500001", "name": "Ahmad Sukarna"},
    "date_of_death": "2026-11-20",
    "place_of_death": "RSUD dr. Adjidarmo, Rangkasbitung",
    "reporter_relation": "anak",
    "witnesses": [{"nik": "3602140202800001", "name": "Budi"}, {"nik": "3602144303850002", "name": "Sri"}],
}
MOVE = {
    "origin": {"street": "Jl. Multatuli 5", "kecamatan_code": "36.02.14", "village_code": "36.02.14.1001"},
    "destination": {"street": "Jl. Merdeka 1", "kecamatan_code": "32.01.01"},
    "reason": "pekerjaan",
    "moving_members": ["3602144107900001"],
}
BIODATA = {"person_nik": "3602144107900001"}


def submitted(request_type: str, details: dict) -> RequestSubmitted:
    return RequestSubmitted(
        request_id=uuid.uuid4(),
        request_number="LBK-3602.14-20261128-0001",
        request_type=request_type,
        applicant=SITI,
        details=details,
        delivery=PICKUP,
        kecamatan_code="36.02.14",
        channel="online",
    )


@pytest.mark.parametrize(
    ("request_type", "details", "model"),
    [
        ("kartu_keluarga", KK, KartuKeluargaDetails),
        ("akta_kematian", DEATH, AktaKematianDetails),
        ("surat_pindah", MOVE, SuratPindahDetails),
        ("biodata_wni", BIODATA, BiodataWniDetails),
        ("biodata_wni", {}, BiodataWniDetails),
    ],
)
def test_the_request_type_fills_the_details_type_and_picks_the_model(
    request_type: str, details: dict, model: type
) -> None:
    event = submitted(request_type, details)
    assert type(event.details) is model
    assert event.details.type == request_type
    assert REQUEST_DETAILS.validate_python({**details, "type": request_type}) == event.details


def test_the_discriminator_alone_picks_the_model() -> None:
    details = REQUEST_DETAILS.validate_python({"type": "akta_kematian", **DEATH})
    assert isinstance(details, AktaKematianDetails)
    assert details.date_of_death == dt.date(2026, 11, 20)
    assert details.witnesses[1].name == "Sri"
    with pytest.raises(ValidationError):
        REQUEST_DETAILS.validate_python(DEATH)  # neither a type nor a request type beside it
    with pytest.raises(ValidationError):
        REQUEST_DETAILS.validate_python({"type": "ktp_el"})


def test_details_of_another_type_than_the_request_are_refused() -> None:
    with pytest.raises(ValidationError, match="details are of type 'kartu_keluarga', the request is 'surat_pindah'"):
        submitted("surat_pindah", {**KK, "type": "kartu_keluarga"})
    with pytest.raises(ValidationError):
        submitted("surat_pindah", KK)  # filled in as surat_pindah, which these fields are not
    with pytest.raises(DetailsTypeMismatch):
        typed_details(KartuKeluargaDetails.model_validate(KK), "biodata_wni")


def test_typed_details_travel_as_they_were_given_plus_their_type() -> None:
    event = submitted("kartu_keluarga", KK)
    data = Envelope.wrap(event, source="/dukcapil/lebak/intake").data
    assert data["details"] == {"type": "kartu_keluarga", **KK}
    again = RequestSubmitted.model_validate(data)
    assert again == event
    assert details_shown(again.details) == KK


def test_addresses_in_details_keep_their_city_out_when_none_was_given() -> None:
    details = typed_details(MOVE, "surat_pindah")
    assert isinstance(details, SuratPindahDetails)
    assert details.origin.city == "Kabupaten Lebak"  # the contract's default, for readers
    assert details_shown(details) == MOVE  # but not added to what travels and what is stored


def test_every_event_carrying_details_fills_their_type_from_request_type() -> None:
    approved = RequestApproved(
        request_id=uuid.uuid4(),
        request_number="LBK-1",
        request_type="akta_kematian",
        applicant=SITI,
        details=DEATH,
        delivery=PICKUP,
        kecamatan_code="36.02.14",
        reviewer="rina",
    )
    issued = DocumentIssued(
        request_id=approved.request_id,
        document_id=uuid.uuid4(),
        document_number="AKM/3602/2026/000001",
        request_type="akta_kematian",
        checksum_sha256="0" * 64,
        applicant=SITI,
        delivery=PICKUP,
        kecamatan_code="36.02.14",
        details=approved.details,
    )
    assert isinstance(approved.details, AktaKematianDetails) and issued.details == approved.details
    assert DocumentIssued.model_validate({**issued.model_dump(mode="json"), "details": None}).details is None


def test_a_resubmissions_details_are_typed_by_its_request_type_or_their_own() -> None:
    for details, request_type, model in (
        (KK, "kartu_keluarga", KartuKeluargaDetails),
        (DEATH, "akta_kematian", AktaKematianDetails),
        (MOVE, "surat_pindah", SuratPindahDetails),
        ({}, "biodata_wni", BiodataWniDetails),
    ):
        by_request = RequestResubmitted(request_id=uuid.uuid4(), request_type=request_type, details=details)
        by_details = RequestResubmitted(request_id=uuid.uuid4(), details={**details, "type": request_type})
        assert type(by_request.details) is type(by_details.details) is model
    with pytest.raises(ValidationError):
        RequestResubmitted(request_id=uuid.uuid4(), request_type="surat_pindah", details=KK)
    with pytest.raises(ValidationError):  # neither says the type: nothing guesses it from the fields
        RequestResubmitted(request_id=uuid.uuid4(), details=DEATH)


def test_the_details_leave_unknown_fields_aside_like_every_contract() -> None:
    details = typed_details({**BIODATA, "added_later": 1}, "biodata_wni")
    assert details == BiodataWniDetails(person_nik=BIODATA["person_nik"])


def test_intakes_date_forms_are_read() -> None:
    details = typed_details({**DEATH, "date_of_death": "20261120"}, "akta_kematian")
    assert isinstance(details, AktaKematianDetails) and details.date_of_death == dt.date(2026, 11, 20)


def test_details_are_read_by_attribute_and_are_never_their_json() -> None:
    details = typed_details(DEATH, "akta_kematian")
    assert isinstance(details, AktaKematianDetails)
    assert details.deceased.nik == "3602140101500001" and details.date_of_death == dt.date(2026, 11, 20)
    assert not isinstance(details, Mapping) and not hasattr(details, "get")
    assert details != details_json(details) and details != DEATH


def test_the_json_schema_is_a_documented_one_of_with_a_discriminator() -> None:
    schema = REQUEST_DETAILS.json_schema()
    assert schema["discriminator"]["propertyName"] == "type"
    assert (
        set(schema["discriminator"]["mapping"])
        == set(DETAILS_BY_TYPE)
        == {
            "kartu_keluarga",
            "akta_kematian",
            "surat_pindah",
            "biodata_wni",
        }
    )
    assert len(schema["oneOf"]) == 4
    for name, definition in schema["$defs"].items():
        if "properties" not in definition:
            continue  # an enum
        for field, property_ in definition["properties"].items():
            assert property_.get("description"), f"{name}.{field} has no description"


def test_the_details_are_frozen_value_objects() -> None:
    details = typed_details(KK, "kartu_keluarga")
    assert isinstance(details, BaseModel)
    with pytest.raises(ValidationError):
        details.reason = "split"  # type: ignore[misc]
    assert hash(typed_details(BIODATA, "biodata_wni")) == hash(typed_details(BIODATA, "biodata_wni"))
