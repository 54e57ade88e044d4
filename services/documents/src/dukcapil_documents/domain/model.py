"""An issued population document: what it says, how it is numbered, and what a public check reveals.

Document numbers: `<CODE>/3602/<YEAR>/<SEQUENCE>`, e.g. `KK/3602/2026/000001`.
- CODE names the document type: KK (kartu keluarga), AKM (akta kematian), SKPWNI (surat keterangan pindah
  WNI), BIO (biodata penduduk WNI);
- 3602 is the kode wilayah of Kabupaten Lebak, so numbers stay unique beside other regencies' documents;
- YEAR is the year of issue in Western Indonesian Time (WIB, UTC+7), the office's own calendar;
- SEQUENCE counts from 000001 within the type and year, zero-padded to at least six digits.
A number is taken from a counter in the same transaction as the document, so it is never reused and a
rolled-back issue does not leave a gap.
"""

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

WIB = timezone(timedelta(hours=7), "WIB")
REGENCY_CODE = "3602"


class UnsupportedDocumentType(Exception):
    """The office does not issue this request type as a document (e.g. KTP-el, a card made in person)."""


@dataclass(frozen=True)
class DocumentKind:
    request_type: str
    code: str
    title: str
    form: str


KINDS = {
    kind.request_type: kind
    for kind in (
        DocumentKind("kartu_keluarga", "KK", "KARTU KELUARGA", "F-1.02"),
        DocumentKind("akta_kematian", "AKM", "AKTA KEMATIAN", "F-2.01"),
        DocumentKind("surat_pindah", "SKPWNI", "SURAT KETERANGAN PINDAH WNI", "F-1.03"),
        DocumentKind("biodata_wni", "BIO", "BIODATA PENDUDUK WNI", "F-1.01"),
    )
}


def document_kind(request_type: str) -> DocumentKind:
    kind = KINDS.get(request_type)
    if kind is None:
        raise UnsupportedDocumentType(f"{request_type!r} is not issued as a document by this service")
    return kind


def issue_year(moment: datetime) -> int:
    return moment.astimezone(WIB).year


def document_number(kind: DocumentKind, year: int, sequence: int) -> str:
    return f"{kind.code}/{REGENCY_CODE}/{year}/{sequence:06d}"


def new_verification_token() -> str:
    return secrets.token_urlsafe(24)


def verification_url(public_base_url: str, token: str) -> str:
    return f"{public_base_url.rstrip('/')}/verify/{token}"


def mask_name(name: str) -> str:
    """Siti Aminah -> S*** A*****: enough to recognise the holder, not to learn the name."""
    return " ".join(word[0] + "*" * (len(word) - 1) for word in name.split())


def mask_nik(nik: str) -> str:
    """3602144107900001 -> 360214******0001: region of issue and serial, not the birth date."""
    return f"{nik[:6]}{'*' * (len(nik) - 10)}{nik[-4:]}" if len(nik) > 10 else "*" * len(nik)


@dataclass
class Document:
    id: uuid.UUID
    request_id: uuid.UUID
    request_number: str
    type: str
    number: str
    holder: dict[str, Any]
    """The applicant as approved: nik, name, birth_date, sex."""
    details: dict[str, Any]
    kecamatan_code: str
    verification_token: str
    storage_key: str
    issued_at: datetime
    checksum_sha256: str = ""

    @property
    def kind(self) -> DocumentKind:
        return document_kind(self.type)

    @property
    def title(self) -> str:
        return self.kind.title

    def seal(self, content: bytes) -> None:
        """Record the checksum of the rendered file: what was issued, byte for byte."""
        self.checksum_sha256 = hashlib.sha256(content).hexdigest()

    def matches(self, content: bytes) -> bool:
        return hashlib.sha256(content).hexdigest() == self.checksum_sha256

    def verification(self) -> "Verification":
        return Verification(
            document_number=self.number,
            document_type=self.type,
            document_title=self.title,
            issued_at=self.issued_at,
            holder_name_masked=mask_name(self.holder.get("name", "")),
            nik_masked=mask_nik(self.holder.get("nik", "")),
        )

    def holder_rows(self) -> list[tuple[str, str]]:
        """The holder's data as printed: label and value, in Indonesian."""
        rows = [("Nama Lengkap", self.holder.get("name", "-")), ("NIK", self.holder.get("nik", "-"))]
        if self.holder.get("birth_date"):
            rows.append(("Tanggal Lahir", printable(self.holder["birth_date"])))
        if self.holder.get("sex"):
            rows.append(("Jenis Kelamin", _SEX.get(self.holder["sex"], self.holder["sex"])))
        return rows

    def detail_rows(self) -> list[tuple[str, str]]:
        """The approved details as printed: label and value, in Indonesian; attachments are never printed."""
        return [(label_of(key), printable(value)) for key, value in self.details.items() if key not in _NOT_PRINTED]


@dataclass(frozen=True)
class Verification:
    """What anyone holding the QR code may learn: that the document is genuine, and whose it is, masked."""

    document_number: str
    document_type: str
    document_title: str
    issued_at: datetime
    holder_name_masked: str
    nik_masked: str
    genuine: bool = True
    status: str = "valid"


_SEX = {"male": "Laki-laki", "female": "Perempuan"}
_NOT_PRINTED = {"attachments"}
_LABELS = {
    "reason": "Alasan",
    "kk_number": "Nomor KK",
    "family_card_number": "Nomor KK",
    "head_of_family": "Kepala Keluarga",
    "members": "Anggota Keluarga",
    "moving_members": "Anggota Keluarga yang Pindah",
    "deceased": "Yang Meninggal",
    "deceased_name": "Nama yang Meninggal",
    "date_of_death": "Tanggal Kematian",
    "place_of_death": "Tempat Kematian",
    "cause": "Sebab Kematian",
    "cause_category": "Sebab Kematian",
    "reporter": "Pelapor",
    "reporter_relation": "Hubungan Pelapor",
    "relation": "Hubungan",
    "witnesses": "Saksi",
    "origin_address": "Alamat Asal",
    "destination_address": "Alamat Tujuan",
    "address": "Alamat",
    "birth_place": "Tempat Lahir",
    "birth_date": "Tanggal Lahir",
    "religion": "Agama",
    "occupation": "Pekerjaan",
    "marital_status": "Status Perkawinan",
    "name": "Nama",
    "nik": "NIK",
}
_MONTHS = (
    "Januari", "Februari", "Maret", "April", "Mei", "Juni",
    "Juli", "Agustus", "September", "Oktober", "November", "Desember",
)  # fmt: skip
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def label_of(key: str) -> str:
    return _LABELS.get(key) or key.replace("_", " ").strip().capitalize()


def tanggal(day: date) -> str:
    """A date the Indonesian way: 28 November 2026."""
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def printable(value: Any) -> str:
    """A details value in words: dates in Indonesian, addresses on one line, lists and records flattened."""
    match value:
        case None | "":
            return "-"
        case bool():
            return "Ya" if value else "Tidak"
        case datetime():
            return tanggal(value.astimezone(WIB).date())
        case date():
            return tanggal(value)
        case str() if _ISO_DATE.match(value):
            try:
                return tanggal(date.fromisoformat(value))
            except ValueError:
                return value
        case dict() if "street" in value:
            return _address(value)
        case dict():
            return ", ".join(f"{label_of(str(key))}: {printable(item)}" for key, item in value.items())
        case list() | tuple():
            return "; ".join(printable(item) for item in value) or "-"
    return str(value)


def _address(address: dict[str, Any]) -> str:
    parts = [str(address["street"])]
    if address.get("rt") or address.get("rw"):
        parts.append(f"RT {address.get('rt') or '-'}/RW {address.get('rw') or '-'}")
    if address.get("village_code"):
        parts.append(f"Desa/Kel. {address['village_code']}")
    if address.get("kecamatan_code"):
        parts.append(f"Kec. {address['kecamatan_code']}")
    city = address.get("city") or ""
    parts.append(f"{city} {address.get('postal_code') or ''}".strip())
    return ", ".join(part for part in parts if part)
