"""The agencies' event catalogue: versioned, documented, minimised, and masked on dukcapil.public."""

import json
import re
import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
from pydantic import ValidationError

from dukcapil_shared.contracts import Envelope
from dukcapil_shared.contracts.identity import mask_number
from dukcapil_shared.contracts.public import (
    PUBLIC_EVENTS,
    PUBLIC_SOURCE,
    DeathRegistered,
    FamilyCardIssued,
    FamilyMember,
    ResidenceMoved,
    public_event_class,
)

SIXTEEN_DIGITS = re.compile(r"(?<!\d)\d{16}(?!\d)")
T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)

# Every field an agency can receive. A new one must be added here on purpose, after asking whether agencies need it.
ALLOWED_FIELDS = {
    "document_number",
    "region_code",
    "deceased_nik",
    "date_of_death",
    "reason",
    "previous_kk_number",
    "members",
    "nik",
    "relation",
    "origin_kecamatan_code",
    "destination_kecamatan_code",
    "people_count",
    "mover_niks",
    "person_nik",
    "revoked_event_type",
    "corrected",
}


def field_names(schema: dict[str, Any]) -> set[str]:
    names = set(schema.get("properties", {}))
    for definition in schema.get("$defs", {}).values():
        names |= set(definition.get("properties", {}))
    return names


def test_every_public_event_is_versioned_and_documented_field_by_field() -> None:
    names = [event.type_name() for event in PUBLIC_EVENTS]
    assert names == [
        "death.registered.v1",
        "family_card.issued.v1",
        "residence.moved.v1",
        "biodata.issued.v1",
        "document.revoked.v1",
    ]
    for event in PUBLIC_EVENTS:
        assert public_event_class(event.type_name()) is event
        assert event.__doc__
        for model in (event, FamilyMember):
            for name, field in model.model_fields.items():
                assert field.description, f"{model.__name__}.{name} has no description"
    assert public_event_class("request.submitted.v1") is None


def test_no_public_event_can_carry_a_name_a_contact_an_address_or_an_attachment() -> None:
    for event in PUBLIC_EVENTS:
        fields = field_names(event.model_json_schema())
        assert fields <= ALLOWED_FIELDS, (
            f"{event.type_name()} has fields no agency was meant to get: {fields - ALLOWED_FIELDS}"
        )
        for forbidden in ("name", "phone", "email", "address", "street", "attachment", "rt", "rw", "postal"):
            assert not [field for field in fields if forbidden in field.split("_")], (event.type_name(), forbidden)


def family_card() -> FamilyCardIssued:
    return FamilyCardIssued(
        document_number="KK/3602/2026/000007",
        region_code="36.02.14",
        reason="add_member",
        previous_kk_number="3602141202100005",
        members=[FamilyMember(nik="3602145003240001", relation="anak")],
    )


def test_masking_hides_the_date_digits_of_every_identity_number_even_nested_ones() -> None:
    event = family_card()
    masked = event.masked()
    assert masked.previous_kk_number == "360214******0005"
    assert masked.members == [FamilyMember(nik="360214******0001", relation="anak")]
    assert event.members[0].nik == "3602145003240001", "the original is left as it was"
    move = ResidenceMoved(
        document_number="SKPWNI/3602/2026/000001",
        region_code="36.02.03",
        origin_kecamatan_code="36.02.03",
        destination_kecamatan_code="36.04.05",
        people_count=2,
        mover_niks=["3602031503920007", "3602035107950002"],
    )
    assert move.masked().mover_niks == ["360203******0007", "360203******0002"]
    assert mask_number(mask_number("3602031503920007")) == "360203******0007"


def test_the_envelopes_are_cloudevents_with_the_document_as_subject_and_one_id_for_both_variants() -> None:
    event = DeathRegistered(
        document_number="AKM/3602/2026/000001",
        region_code="36.02.14",
        deceased_nik="3602140101500002",
        date_of_death=date(2026, 11, 20),
    )
    event_id = uuid.uuid4()
    masked = event.envelope(event_id=event_id, time=T0, identified=False)
    identified = event.envelope(event_id=event_id, time=T0, identified=True)
    assert event.routing_key() == "death.registered.v1.36.02.14"
    for envelope in (masked, identified):
        wire = json.loads(envelope.to_json())
        assert (wire["id"], wire["type"], wire["subject"], wire["source"]) == (
            str(event_id),
            "death.registered.v1",
            "AKM/3602/2026/000001",
            PUBLIC_SOURCE,
        )
        assert Envelope.model_validate(wire) == envelope
    assert masked.data["deceased_nik"] == "360214******0002"
    assert not SIXTEEN_DIGITS.search(masked.to_json().decode())
    assert identified.data["deceased_nik"] == "3602140101500002"
    assert DeathRegistered.model_validate(masked.data).deceased_nik == "360214******0002", "agencies can parse both"


def test_malformed_identity_numbers_and_region_codes_are_refused() -> None:
    with pytest.raises(ValidationError):
        DeathRegistered(
            document_number="AKM/3602/2026/000001", region_code="36.02.14", deceased_nik="123", date_of_death=T0.date()
        )
    with pytest.raises(ValidationError):
        DeathRegistered(
            document_number="AKM/3602/2026/000001",
            region_code="36.02",
            deceased_nik="3602140101500002",
            date_of_death=T0.date(),
        )
