"""What a request says beyond its applicant and delivery: one model per type, told apart by `type`.

The fields are those of intake's catalogue (GET /services), with the shapes intake has always sent: intake checks
them (NIKs, region codes, the fixed lists, the text rules) before they travel, so these models are the contract
for reading them, not the office's checks. On the wire a request's details sit beside its `request_type`, which
fills `type` when a producer leaves it out (`typed_details`).

Details serialize as they were given: a field a producer left out stays out (and `type` is always there), so the
JSON read back is the JSON sent, and what reviewers and the printed document show does not grow empty fields.
"""

import datetime as dt
from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    SerializerFunctionWrapHandler,
    TypeAdapter,
    model_serializer,
)

from dukcapil_shared.contracts.common import Address, ContractModel, Person
from dukcapil_shared.contracts.text import MAX_PEOPLE


class KkReason(StrEnum):
    """Why a family card (KK) is issued or changes."""

    new_family = "new_family"
    add_member = "add_member"
    remove_member = "remove_member"
    split = "split"
    data_change = "data_change"
    lost_or_damaged = "lost_or_damaged"


class MoveReason(StrEnum):
    """Why a family moves (SKPWNI)."""

    pekerjaan = "pekerjaan"
    pendidikan = "pendidikan"
    keluarga = "keluarga"
    keamanan = "keamanan"
    lainnya = "lainnya"


class CauseCategory(StrEnum):
    """The cause of a death, as the death certificate's form groups it."""

    sakit = "sakit"
    kecelakaan = "kecelakaan"
    lainnya = "lainnya"


class FamilyRelation(StrEnum):
    """Status hubungan dalam keluarga: a person's place in the family, as the KK prints it."""

    kepala_keluarga = "kepala_keluarga"
    suami = "suami"
    istri = "istri"
    anak = "anak"
    menantu = "menantu"
    cucu = "cucu"
    orang_tua = "orang_tua"
    mertua = "mertua"
    famili_lain = "famili_lain"
    pembantu = "pembantu"
    lainnya = "lainnya"


def _iso_date(value: Any) -> Any:
    # Intake takes any ISO 8601 date Python reads (20260105 too); pydantic alone would read YYYY-MM-DD only.
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


IsoDate = Annotated[dt.date, BeforeValidator(_iso_date)]


class _AsGiven(ContractModel):
    """Serializes the fields that were given (and `type`, where there is one): see the module's docstring."""

    @model_serializer(mode="wrap")
    def _as_given(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if not isinstance(data, dict):
            return data
        return {key: value for key, value in data.items() if key in self.model_fields_set or key == "type"}


class NamedPerson(Person, _AsGiven):
    """A person the details name: a family member, the deceased, a witness, a new head of the household."""

    relation: FamilyRelation | None = Field(
        default=None, description="Their place in the family, as the KK prints it (status hubungan dalam keluarga)"
    )
    birth_date: IsoDate | None = Field(default=None, description="Date of birth as declared")
    married: bool | None = Field(default=None, description="Married (or ever married), as declared")


class MoveAddress(Address, _AsGiven):
    """Where a family moves from or to: any kecamatan of Indonesia; a Lebak village lies in its kecamatan."""


class _Details(_AsGiven):
    type: str


class KartuKeluargaDetails(_Details):
    """Issue or update the family card (F-1.02)."""

    type: Literal["kartu_keluarga"] = Field(default="kartu_keluarga", description="The request type: kartu_keluarga")
    reason: KkReason = Field(description="Why the card changes")
    kk_number: str | None = Field(
        default=None,
        pattern=r"^\d{16}$",
        description="The current 16-digit KK number; given unless the reason is new_family",
    )
    members: list[NamedPerson] | None = Field(
        default=None,
        max_length=MAX_PEOPLE,
        description="The members concerned (with relation, birth date, married); given for new_family, add_member, "
        "remove_member and split. A member who splits off is 17 or older, or married.",
    )
    changes: str | None = Field(default=None, description="What changes, for data_change")


class AktaKematianDetails(_Details):
    """Register a death (F-2.01)."""

    type: Literal["akta_kematian"] = Field(default="akta_kematian", description="The request type: akta_kematian")
    deceased: NamedPerson = Field(description="The deceased")
    date_of_death: IsoDate = Field(description="Day of death; a report more than 30 days later is flagged late")
    place_of_death: str = Field(description="Where the death happened")
    cause_category: CauseCategory | None = Field(default=None, description="Cause of death")
    reporter_relation: FamilyRelation = Field(description="How the reporter (the applicant) is related to the deceased")
    witnesses: list[NamedPerson] = Field(min_length=2, max_length=2, description="The two witnesses")


class SuratPindahDetails(_Details):
    """Move residence, within or out of the regency (SKPWNI, F-1.03)."""

    type: Literal["surat_pindah"] = Field(default="surat_pindah", description="The request type: surat_pindah")
    origin: MoveAddress = Field(description="Where the family lives now")
    destination: MoveAddress = Field(description="Where it moves: any kecamatan of Indonesia")
    reason: MoveReason = Field(description="Why the family moves")
    moving_members: list[Annotated[str, Field(pattern=r"^\d{16}$")]] = Field(
        min_length=1, max_length=MAX_PEOPLE, description="The NIKs of the family members who move"
    )
    remaining_members: list[NamedPerson] | None = Field(
        default=None, max_length=MAX_PEOPLE, description="The members who stay on the KK (birth date, married)"
    )
    new_head_of_household: NamedPerson | None = Field(
        default=None, description="Who becomes the head of the household; given when only minors would remain"
    )


class BiodataWniDetails(_Details):
    """A printout of the registered personal data (F-1.01)."""

    type: Literal["biodata_wni"] = Field(default="biodata_wni", description="The request type: biodata_wni")
    person_nik: str | None = Field(
        default=None, pattern=r"^\d{16}$", description="Whose biodata (a NIK); the applicant's when left out"
    )


RequestDetails = Annotated[
    KartuKeluargaDetails | AktaKematianDetails | SuratPindahDetails | BiodataWniDetails,
    Field(discriminator="type"),
]
"""A request's details, by its type."""

REQUEST_DETAILS: TypeAdapter[RequestDetails] = TypeAdapter(RequestDetails)

DETAILS_BY_TYPE: Mapping[str, type[_Details]] = {
    model.model_fields["type"].default: model
    for model in (KartuKeluargaDetails, AktaKematianDetails, SuratPindahDetails, BiodataWniDetails)
}


class DetailsTypeMismatch(ValueError):
    """The details say one type, the request another."""


def with_type(details: Any, request_type: Any) -> Any:
    """Details (as JSON or a model) with `type` filled from the request's type when absent; raises
    DetailsTypeMismatch when they say another. Anything that is not details is left for validation to refuse."""
    if request_type is None:
        return details
    expected = str(getattr(request_type, "value", request_type))
    if isinstance(details, BaseModel):
        given = getattr(details, "type", expected)
    elif isinstance(details, Mapping):
        given = details.get("type", expected)
        if "type" not in details:
            details = {**details, "type": expected}
    else:
        return details
    if given != expected:
        raise DetailsTypeMismatch(f"the details are of type {given!r}, the request is {expected!r}")
    return details


def typed_details(details: Any, request_type: Any) -> RequestDetails:
    """Details read from JSON stored or received beside their request's type (which fills a missing `type`)."""
    return REQUEST_DETAILS.validate_python(with_type(details, request_type))


def details_json(details: RequestDetails) -> dict[str, Any]:
    """Details as JSON, as given (with `type`): what a service stores."""
    return details.model_dump(mode="json")


def details_shown(details: RequestDetails) -> dict[str, Any]:
    """Details as JSON without `type`, which their request shows beside them: as HTTP answers show them."""
    return {key: value for key, value in details.model_dump(mode="json").items() if key != "type"}
