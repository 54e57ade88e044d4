"""Events for other agencies: a small, versioned catalogue, minimised for outsiders.

The lifecycle events (events.py) are the services' own and never leave the office. When a document is issued
or revoked, intake derives one of these and publishes it to two topic exchanges (messaging/topology.py):
`dukcapil.public`, where every NIK and KK number is masked, and `dukcapil.public.identified`, where they are in
full, for the agencies the office entitles to them. No event carries a name, a phone number, an address line
or an attachment.

The routing key is the event type and the code of the Lebak kecamatan whose office registered it, e.g.
`death.registered.v1.36.02.14`, so an agency's entitlement is a topic pattern such as
`death.registered.v1.36.02.#` (every kecamatan of Lebak). Every message is a CloudEvents 1.0 envelope like the
internal ones (envelope.py): `type` is the event type (`death.registered.v1`, without the region), `subject`
the document number, `source` `/dukcapil/lebak`, `id` the event's own id (the AMQP message id, the same on
both exchanges and in replays, so a subscriber's idempotency drops duplicates).

Within a version only optional fields are added; a breaking change is a new type (`death.registered.v2`)
published beside the old one until every agency has moved.
"""

import functools
import uuid
from datetime import date, datetime
from typing import Annotated, Any, ClassVar, Self

from pydantic import BaseModel, Field
from pydantic.fields import FieldInfo

from dukcapil_shared.contracts.common import ContractModel
from dukcapil_shared.contracts.envelope import Envelope
from dukcapil_shared.contracts.identity import mask_number

PUBLIC_SOURCE = "/dukcapil/lebak"
"""The CloudEvents source of every public event: the office, not one of its services."""

_MASKED = "x-masked-on-dukcapil.public"
_IDENTITY_NUMBER = r"^\d{6}(\d{6}|\*{6})\d{4}$"
_KECAMATAN = r"^\d{2}\.\d{2}\.\d{2}$"
IdentityNumber = Annotated[str, Field(pattern=_IDENTITY_NUMBER)]


def _identity_number(description: str, **kwargs: Any) -> Any:
    """A NIK or KK number: in full on dukcapil.public.identified, masked on dukcapil.public."""
    return Field(
        description=f"{description}. In full on dukcapil.public.identified; masked on dukcapil.public "
        "(region and serial kept, the six digits of the date hidden: 360214******0001)",
        json_schema_extra={_MASKED: True},
        **kwargs,
    )


class PublicEvent(ContractModel):
    event_type: ClassVar[str]
    version: ClassVar[int] = 1

    document_number: str = Field(description="The document's official number, e.g. AKM/3602/2026/000001")
    region_code: str = Field(
        description="Kode wilayah of the Lebak kecamatan whose office registered it, e.g. 36.02.14; the routing "
        "key ends with it",
        pattern=_KECAMATAN,
    )

    @classmethod
    def type_name(cls) -> str:
        """The CloudEvents type, e.g. death.registered.v1."""
        return f"{cls.event_type}.v{cls.version}"

    def routing_key(self) -> str:
        return f"{self.type_name()}.{self.region_code}"

    def masked(self) -> Self:
        """The same event with every NIK and KK number masked, as published on dukcapil.public."""
        return _masked_copy(self)

    def envelope(self, *, event_id: uuid.UUID, time: datetime, identified: bool) -> Envelope:
        """The CloudEvents envelope as an agency receives it: identified, or with identity numbers masked."""
        data = self if identified else self.masked()
        return Envelope(
            id=event_id,
            source=PUBLIC_SOURCE,
            type=self.type_name(),
            time=time,
            subject=self.document_number,
            data=data.model_dump(mode="json"),
        )


class DeathRegistered(PublicEvent):
    """A death was registered: the office issued an akta kematian (death certificate)."""

    event_type = "death.registered"

    deceased_nik: IdentityNumber = _identity_number("The deceased's NIK")
    date_of_death: date = Field(description="Day of death")


class FamilyMember(ContractModel):
    nik: IdentityNumber = _identity_number("The member's NIK")
    relation: str | None = Field(
        default=None, description="The member's place in the family as declared, e.g. anak, istri, suami"
    )


class FamilyCardIssued(PublicEvent):
    """A Kartu Keluarga (family card) was issued: a new family, a member added or removed, a household split,
    a data change, or a replacement for a lost or damaged card."""

    event_type = "family_card.issued"

    reason: str = Field(
        description="new_family, add_member, remove_member, split, data_change or lost_or_damaged (more may be added)"
    )
    previous_kk_number: IdentityNumber | None = _identity_number(
        "The number of the family card the request changed; absent for a new family", default=None
    )
    members: list[FamilyMember] = Field(
        default_factory=list,
        description="The members the change concerns (added, removed, splitting off, or the new family's); empty "
        "for a data change or a replacement",
    )


class ResidenceMoved(PublicEvent):
    """People move residence: the office issued a Surat Keterangan Pindah WNI (SKPWNI)."""

    event_type = "residence.moved"

    origin_kecamatan_code: str = Field(description="The kecamatan they move from, e.g. 36.02.14", pattern=_KECAMATAN)
    destination_kecamatan_code: str = Field(
        description="The kecamatan they move to, anywhere in Indonesia, e.g. 32.01.01", pattern=_KECAMATAN
    )
    people_count: int = Field(description="How many people move", ge=1)
    mover_niks: list[IdentityNumber] = _identity_number("The NIKs of the people who move")


class BiodataIssued(PublicEvent):
    """A printout of a person's registered data (Biodata Penduduk WNI) was issued."""

    event_type = "biodata.issued"

    person_nik: IdentityNumber = _identity_number("The NIK of the person whose data was printed")


class PublicDocumentRevoked(PublicEvent):
    """A document announced earlier was revoked. When a corrected document replaces it, the corrected one is
    announced on its own, with a new number, by the event of its type."""

    event_type = "document.revoked"

    revoked_event_type: str = Field(
        description="The type of the event that announced the revoked document, e.g. death.registered.v1"
    )
    corrected: bool = Field(description="True when a corrected document replaces it")


PUBLIC_EVENTS: tuple[type[PublicEvent], ...] = (
    DeathRegistered,
    FamilyCardIssued,
    ResidenceMoved,
    BiodataIssued,
    PublicDocumentRevoked,
)


def public_event_class(type_name: str) -> type[PublicEvent] | None:
    """The public event model of a CloudEvents type such as death.registered.v1."""
    return _by_type().get(type_name)


@functools.cache
def _by_type() -> dict[str, type[PublicEvent]]:
    return {cls.type_name(): cls for cls in PUBLIC_EVENTS}


def _masked_copy(model: BaseModel) -> Any:
    changes: dict[str, Any] = {}
    for name, field in type(model).model_fields.items():
        value = getattr(model, name)
        if _is_identity_number(field):
            changes[name] = [mask_number(item) for item in value] if isinstance(value, list) else _mask(value)
        elif isinstance(value, BaseModel):
            changes[name] = _masked_copy(value)
        elif isinstance(value, list) and value and isinstance(value[0], BaseModel):
            changes[name] = [_masked_copy(item) for item in value]
    return model.model_copy(update=changes)


def _is_identity_number(field: FieldInfo) -> bool:
    return isinstance(field.json_schema_extra, dict) and field.json_schema_extra.get(_MASKED) is True


def _mask(value: str | None) -> str | None:
    return mask_number(value) if value is not None else None
