"""What the population register (SIAK) says about a person and a family card, as intake reads it."""

from dataclasses import dataclass
from datetime import date

from dukcapil_shared.contracts.details import FamilyRelation

# The register's words for a place in the family, and ours (the KK's relation codes).
RELATIONS = {
    "KEPALA KELUARGA": FamilyRelation.kepala_keluarga,
    "SUAMI": FamilyRelation.suami,
    "ISTRI": FamilyRelation.istri,
    "ANAK": FamilyRelation.anak,
    "MENANTU": FamilyRelation.menantu,
    "CUCU": FamilyRelation.cucu,
    "ORANG TUA": FamilyRelation.orang_tua,
    "MERTUA": FamilyRelation.mertua,
    "FAMILI LAIN": FamilyRelation.famili_lain,
    "PEMBANTU": FamilyRelation.pembantu,
}


def relation_of(register_word: str | None) -> FamilyRelation:
    return RELATIONS.get((register_word or "").strip().upper(), FamilyRelation.lainnya)


@dataclass(frozen=True)
class RegisteredPerson:
    nik: str
    name: str
    birth_date: date | None
    sex: str | None
    """L or P, as the register writes it."""
    alive: bool
    kk_number: str | None
    relation: str | None
    kecamatan_code: str | None


@dataclass(frozen=True)
class FamilyMember:
    nik: str
    name: str
    relation: str
    """The register's word, e.g. KEPALA KELUARGA."""
    birth_date: date | None = None
    sex: str | None = None
    alive: bool = True


@dataclass(frozen=True)
class RegisteredFamily:
    kk_number: str
    address: str
    village: str | None
    kecamatan_code: str | None
    head_nik: str | None
    members: tuple[FamilyMember, ...]
