"""The service catalogue, in the spirit of Open311 service definitions: what can be requested, with which
details and which scans, and what cannot be done online.

Pure data: intake validates against it, publishes each request's attachment checklist with it, and serves it
at `GET /services`.
"""

from dataclasses import dataclass, field
from enum import StrEnum

from dukcapil_shared.contracts.details import CauseCategory, FamilyRelation, KkReason, MoveReason


@dataclass(frozen=True)
class Attribute:
    code: str
    datatype: str
    """string, date, boolean, nik, kk_number, region_code, person, people, address, nik_list"""
    required: bool
    description: str
    values: tuple[str, ...] = ()
    """Allowed values, for datatype `string` with a fixed list."""


@dataclass(frozen=True)
class AttachmentKind:
    code: str
    description: str


@dataclass(frozen=True)
class Service:
    code: str
    name: str
    form: str | None
    description: str
    online: bool
    attributes: tuple[Attribute, ...] = ()
    attachments: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Attachment kinds required, by reason; the key `*` applies to every request of the type."""
    in_person_reason: str | None = None

    def required_attachments(self, reason: str | None) -> list[str]:
        return [*self.attachments.get("*", ()), *self.attachments.get(reason or "", ())]

    def accepts_attachment(self, kind: str) -> bool:
        return any(kind in kinds for kinds in self.attachments.values()) or kind in OPTIONAL_ATTACHMENTS


ATTACHMENT_KINDS = {
    kind.code: kind
    for kind in (
        AttachmentKind("kk_lama", "Kartu Keluarga lama / the current family card"),
        AttachmentKind("buku_nikah", "Buku nikah atau akta perkawinan / marriage certificate"),
        AttachmentKind("akta_cerai", "Akta perceraian / divorce certificate"),
        AttachmentKind("akta_kelahiran", "Akta kelahiran anggota baru / birth certificate of the new member"),
        AttachmentKind("skpwni", "SKPWNI dari daerah asal / relocation letter from the place of origin"),
        AttachmentKind("surat_kehilangan", "Surat keterangan hilang dari kepolisian / police report of the loss"),
        AttachmentKind("surat_kematian", "Surat keterangan kematian (dokter, rumah sakit, atau desa, F-2.29)"),
        AttachmentKind("ktp_el_almarhum", "KTP-el almarhum / the deceased's ID card"),
        AttachmentKind("ktp_el_pelapor", "KTP-el pelapor / the reporter's ID card"),
        AttachmentKind("ktp_el_saksi", "KTP-el kedua saksi / both witnesses' ID cards"),
        AttachmentKind("surat_kuasa", "Surat kuasa, bila dilaporkan oleh kuasa / power of attorney"),
        AttachmentKind("surat_pernyataan_pemilik_rumah", "Surat pernyataan pemilik rumah / landlord's statement"),
        AttachmentKind("surat_pengantar_rt_rw", "Surat pengantar RT/RW / neighbourhood head's letter"),
        AttachmentKind("surat_pernyataan_f104", "Surat pernyataan (F-1.04) / signed statement"),
    )
}
OPTIONAL_ATTACHMENTS = {"surat_kuasa", "surat_pernyataan_pemilik_rumah", "surat_pernyataan_f104", "skpwni"}


def _values(choices: type[StrEnum]) -> tuple[str, ...]:
    return tuple(choice.value for choice in choices)


# The fixed lists are the contracts' (contracts/details.py): what the catalogue offers is what the events carry.
MOVE_REASONS = _values(MoveReason)
FAMILY_RELATIONS = _values(FamilyRelation)
"""Status hubungan dalam keluarga: a person's place in the family, as the KK prints it."""
CAUSE_CATEGORIES = _values(CauseCategory)
KK_REASONS = _values(KkReason)

SERVICES: dict[str, Service] = {
    service.code: service
    for service in (
        Service(
            code="kartu_keluarga",
            name="Kartu Keluarga (KK)",
            form="F-1.02",
            description="Issue or update the family card.",
            online=True,
            attributes=(
                Attribute("reason", "string", True, "Why the card changes", KK_REASONS),
                Attribute("kk_number", "kk_number", False, "The current KK number; required unless new_family"),
                Attribute(
                    "members",
                    "people",
                    False,
                    "The members concerned: [{nik, name, relation, birth_date, married}], at most 20; required for "
                    "new_family, add_member, remove_member and split. A member who splits off must be 17 or older, or "
                    f"married. relation: one of {', '.join(FAMILY_RELATIONS)}.",
                ),
                Attribute("changes", "string", False, "What changes, for data_change"),
            ),
            attachments={
                "*": ("kk_lama",),
                "new_family": ("buku_nikah",),
                "add_member": ("akta_kelahiran",),
                "remove_member": (),
                "split": ("buku_nikah",),
                "data_change": (),
                "lost_or_damaged": ("surat_kehilangan",),
            },
        ),
        Service(
            code="akta_kematian",
            name="Akta Kematian",
            form="F-2.01",
            description="Register a death. Report within 30 days; a later report is accepted and marked late.",
            online=True,
            attributes=(
                Attribute("deceased", "person", True, "The deceased: {nik, name}"),
                Attribute("date_of_death", "date", True, "Day of death (YYYY-MM-DD); not in the future"),
                Attribute("place_of_death", "string", True, "Where the death happened"),
                Attribute("cause_category", "string", False, "Cause of death", CAUSE_CATEGORIES),
                Attribute(
                    "reporter_relation", "string", True, "How the reporter (the applicant) is related", FAMILY_RELATIONS
                ),
                Attribute("witnesses", "people", True, "Exactly two witnesses: [{nik, name}]"),
            ),
            attachments={"*": ("surat_kematian", "kk_lama", "ktp_el_almarhum", "ktp_el_pelapor", "ktp_el_saksi")},
        ),
        Service(
            code="surat_pindah",
            name="Surat Keterangan Pindah WNI (SKPWNI)",
            form="F-1.03",
            description="Move residence, within or out of the regency.",
            online=True,
            attributes=(
                Attribute("origin", "address", True, "{street, kecamatan_code, village_code}: where the family lives"),
                Attribute("destination", "address", True, "{street, kecamatan_code}: any kecamatan of Indonesia"),
                Attribute("reason", "string", True, "Why", MOVE_REASONS),
                Attribute("moving_members", "nik_list", True, "NIKs of the family members who move (at most 20)"),
                Attribute(
                    "remaining_members",
                    "people",
                    False,
                    "Members who stay on the KK: [{nik, name, birth_date, married}], at most 20",
                ),
                Attribute(
                    "new_head_of_household",
                    "person",
                    False,
                    "{nik, name}: required when only minors would remain on the KK",
                ),
            ),
            attachments={"*": ("kk_lama",)},
        ),
        Service(
            code="biodata_wni",
            name="Biodata Penduduk WNI",
            form="F-1.01",
            description="A printout of the registered personal data.",
            online=True,
            attributes=(Attribute("person_nik", "nik", False, "Whose biodata; the applicant's when left out"),),
            attachments={"*": ("surat_pengantar_rt_rw",)},
        ),
        Service(
            code="ktp_el",
            name="KTP Elektronik (e-KTP)",
            form=None,
            description="The electronic identity card.",
            online=False,
            in_person_reason=(
                "Perekaman (biometric recording: fingerprints, face photo, signature) needs the person at a device "
                "in a kecamatan office. Book a recording day with POST /perekaman-bookings."
            ),
        ),
    )
}

BRING_TO_PEREKAMAN = (
    "Kartu Keluarga (asli atau fotokopi) / the family card",
    "KTP-el lama atau surat keterangan hilang dari kepolisian, bila mengganti / the old card or a police report",
)
