"""Value objects that appear inside several events."""

from datetime import date
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from dukcapil_shared.contracts.text import City, PersonName, ShortText, Street


class ContractModel(BaseModel):
    """Base of every wire model: unknown fields are ignored so that producers may add optional ones."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class RequestType(StrEnum):
    kartu_keluarga = "kartu_keluarga"
    akta_kematian = "akta_kematian"
    surat_pindah = "surat_pindah"
    biodata_wni = "biodata_wni"
    ktp_el = "ktp_el"


class Sex(StrEnum):
    male = "male"
    female = "female"


class Person(ContractModel):
    nik: str = Field(description="NIK, the 16-digit population identity number", pattern=r"^\d{16}$")
    name: str = Field(description="Full name as registered", min_length=1, max_length=200)
    birth_date: date | None = Field(default=None, description="Date of birth as declared")
    sex: Sex | None = Field(default=None, description="Sex as declared")


class Address(ContractModel):
    street: str = Field(description="Street, house number, hamlet (kampung/dusun)", min_length=1, max_length=300)
    rt: str | None = Field(default=None, description="RT (neighbourhood unit) number", max_length=3)
    rw: str | None = Field(default=None, description="RW (community unit) number", max_length=3)
    village_code: str | None = Field(
        default=None, description="Kode wilayah of the desa/kelurahan, e.g. 36.02.14.1001", max_length=13
    )
    kecamatan_code: str = Field(
        description="Kode wilayah of the kecamatan, e.g. 36.02.14", pattern=r"^\d{2}\.\d{2}\.\d{2}$"
    )
    city: str = Field(default="Kabupaten Lebak", description="Regency or city", max_length=100)
    postal_code: str | None = Field(default=None, description="Five-digit postal code", pattern=r"^\d{5}$")


class DeliveryMethod(StrEnum):
    courier = "courier"
    pickup = "pickup"


class Delivery(ContractModel):
    method: DeliveryMethod = Field(description="Courier to an address, or pickup at the kecamatan office")
    recipient_name: str | None = Field(default=None, description="Who receives the parcel", max_length=200)
    phone: str | None = Field(
        default=None, description="Recipient's phone: for the courier, and for SMS notices", max_length=20
    )
    email: str | None = Field(default=None, description="Where e-mail notices go", max_length=200)
    address: Address | None = Field(default=None, description="Delivery address; required for courier")
    pickup_kecamatan_code: str | None = Field(
        default=None,
        description="Kecamatan office where the document waits for pickup",
        pattern=r"^\d{2}\.\d{2}\.\d{2}$",
    )


class AttachmentRef(ContractModel):
    """A scan uploaded with a request; its content stays at intake and never travels in events."""

    id: str = Field(description="The attachment's id at intake")
    kind: str = Field(description="What it is, from the catalogue's checklist, e.g. surat_kematian")
    content_type: str = Field(description="application/pdf, image/jpeg or image/png")
    size: int = Field(description="Size in bytes")
    sha256: str = Field(description="SHA-256 of the content")


# What a citizen or a member of staff sends: the same shapes, with the text rules of contracts/text.py. The events
# keep the looser wire models above, so that an event already on its way still reads after a rule is tightened.

PHONE_PATTERN = r"^[0-9+() .-]{5,20}$"


class PersonInput(Person):
    name: PersonName = Field(description="Full name as registered: Latin letters, spaces and ' . , - (at most 60)")


class AddressInput(Address):
    street: Street = Field(description="Street, house number, hamlet (kampung/dusun)")
    rt: str | None = Field(default=None, description="RT (neighbourhood unit) number", pattern=r"^\d{1,3}$")
    rw: str | None = Field(default=None, description="RW (community unit) number", pattern=r"^\d{1,3}$")
    village_code: str | None = Field(
        default=None, description="Kode wilayah of the desa/kelurahan, e.g. 36.02.14.1001", pattern=r"^[\d.]{1,13}$"
    )
    city: City = Field(default="Kabupaten Lebak", description="Regency or city")


class DeliveryInput(Delivery):
    recipient_name: PersonName | None = Field(default=None, description="Who receives the parcel")
    phone: str | None = Field(
        default=None, description="Recipient's phone: for the courier, and for SMS notices", pattern=PHONE_PATTERN
    )
    email: ShortText | None = Field(default=None, description="Where e-mail notices go")
    address: AddressInput | None = Field(default=None, description="Delivery address; required for courier")
