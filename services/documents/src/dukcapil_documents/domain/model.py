"""An issued population document: what it says, how it is numbered, and what a public check reveals.

Document numbers: `<CODE>/3602/<YEAR>/<SEQUENCE>`, e.g. `KK/3602/2026/000001`.
- CODE names the document type: KK (kartu keluarga), AKM (akta kematian), SKPWNI (surat keterangan pindah
  WNI), BIO (biodata penduduk WNI);
- 3602 is the kode wilayah of Kabupaten Lebak, so numbers stay unique beside other regencies' documents;
- YEAR is the year of issue in Western Indonesian Time (WIB, UTC+7), the office's own calendar;
- SEQUENCE counts from 000001 within the type and year, zero-padded to at least six digits.
A number is taken from a counter in the same transaction as the document, so it is never reused and a
rolled-back issue does not leave a gap. A corrected document gets a new number from the same sequence.

Lifecycle: a document is issued `valid`. An approved revocation makes it `revoked`; an approved correction
makes it `superseded` by a new document (new number, same request). Neither is ever deleted, so both stay
verifiable as such, and a request has at most one valid document at a time.

Signatures: each PDF carries the office's signature inside it (PAdES, with the certificate chain), so that the file
in hand proves itself offline; the office also signs `signed_payload` (the scheme, the document's id and number,
and the SHA-256 of the signed PDF) with its key and keeps that signature beside the document (detached), so any
change to the file, or a file swapped between documents, no longer matches its record.
"""

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from dukcapil_shared.contracts import (
    AktaKematianDetails,
    BiodataWniDetails,
    Delivery,
    KartuKeluargaDetails,
    NamedPerson,
    Person,
    RequestDetails,
    SuratPindahDetails,
)
from dukcapil_shared.contracts.details import DETAILS_BY_TYPE, details_json, details_shown, typed_details
from dukcapil_shared.contracts.identity import InvalidNumber, parse_nik
from dukcapil_shared.contracts.regions import WIB, find_village, region_name
from dukcapil_shared.refusals import Refusal, RefusalKind

REGENCY_CODE = "3602"
SIGNATURE_SCHEME = "dukcapil-lebak-document-v1"


class UnsupportedDocumentType(Refusal):
    """The office does not issue this request type as a document (e.g. KTP-el, a card made in person)."""

    code = "unsupported_document_type"


class DocumentStatus(StrEnum):
    valid = "valid"
    superseded = "superseded"
    revoked = "revoked"


class NotAPdf(Refusal):
    """A file given to check is not a PDF at all."""

    code = "not_a_pdf"
    message = "The file sent is not a PDF: send the document's PDF file as field `file`."
    message_id = "Berkas yang dikirim bukan PDF: kirim berkas PDF dokumen pada kolom `file`."


class DocumentNotCurrent(Refusal):
    """Only a valid document can be revoked or corrected; this one already was."""

    code = "document_not_current"
    kind = RefusalKind.conflict

    def __init__(self, number: str, status: DocumentStatus) -> None:
        super().__init__(
            f"Document {number} is already {status.value}: only a valid document can be revoked or corrected.",
            document_status=status.value,
        )
        self.number = number
        self.status = status


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


@dataclass(frozen=True)
class NumberReservation:
    """The number a request's document will carry, taken from its type's sequence before the document is drawn,
    so that drawing waits on no lock and is never redone for a number another document took meanwhile. It is
    the same for every delivery of the request's approval, so numbers stay unique and without gaps even when a
    document is drawn twice after a crash; it ends when the document is issued under it."""

    request_id: uuid.UUID
    kind: DocumentKind
    year: int
    sequence: int
    reserved_at: datetime

    @property
    def number(self) -> str:
        return document_number(self.kind, self.year, self.sequence)


def new_verification_token() -> str:
    return secrets.token_urlsafe(24)


def verification_url(public_base_url: str, token: str) -> str:
    return f"{public_base_url.rstrip('/')}/verify/{token}"


def mask_name(name: str) -> str:
    """Siti Aminah -> S*** A*****: enough to recognise the holder, not to learn the name."""
    return " ".join(word[0] + "*" * (len(word) - 1) for word in name.split())


def file_checksum(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def looks_like_pdf(content: bytes) -> bool:
    """A PDF begins with `%PDF-` within its first 1024 bytes (ISO 32000)."""
    return b"%PDF-" in content[:1024]


class DetailsNotCorrectable(ValueError):
    """A correction names a field the document's type does not have, or leaves its details incomplete or wrong."""


def corrected_details(details: RequestDetails, changes: dict[str, Any]) -> RequestDetails:
    """The details after a correction: changed fields replace the old values, a field set to null is removed; the
    result must still be details of the document's type."""
    fields = DETAILS_BY_TYPE[details.type].model_fields
    unknown = sorted(key for key in changes if key not in fields or key == "type")
    if unknown:
        raise DetailsNotCorrectable(
            f"{', '.join(unknown)}: not a field of {details.type} details; the fields are "
            f"{', '.join(name for name in fields if name != 'type')}"
        )
    merged = {**details_json(details), **changes}
    try:
        return typed_details({key: value for key, value in merged.items() if value is not None}, details.type)
    except ValueError as error:  # pydantic's ValidationError is one
        raise DetailsNotCorrectable(str(error)) from None


def sex_from_nik(nik: str) -> str | None:
    """male or female, as encoded in a NIK's day of birth (plus 40 for women); None for a malformed NIK."""
    try:
        return "female" if parse_nik(nik).female else "male"
    except InvalidNumber:
        return None


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
    holder: Person
    """The applicant as approved."""
    details: RequestDetails
    kecamatan_code: str
    verification_token: str
    storage_key: str
    issued_at: datetime
    checksum_sha256: str = ""
    delivery: Delivery | None = None
    """How the approved request is delivered, kept for the announcement of a corrected document."""
    signature: str = ""
    signing_key_id: str = ""
    status: DocumentStatus = DocumentStatus.valid
    revoked_at: datetime | None = None
    revoked_by: str | None = None
    revocation_recorded_by: str | None = None
    """The document officer who recorded the revocation or correction (revoked_by names who approved it)."""
    revocation_reason: str | None = None
    superseded_by: uuid.UUID | None = None
    supersedes: uuid.UUID | None = None
    verification_count: int = 0

    @property
    def kind(self) -> DocumentKind:
        return document_kind(self.type)

    @property
    def title(self) -> str:
        return self.kind.title

    @property
    def is_current(self) -> bool:
        return self.status is DocumentStatus.valid

    def seal(self, content: bytes) -> None:
        """Record the checksum of the rendered file: what was issued, byte for byte."""
        self.checksum_sha256 = file_checksum(content)

    def matches(self, content: bytes) -> bool:
        return file_checksum(content) == self.checksum_sha256

    def signed_payload(self, checksum_sha256: str | None = None) -> bytes:
        """What the office signs: the document's identity and its file's SHA-256 (by default the recorded one)."""
        checksum = self.checksum_sha256 if checksum_sha256 is None else checksum_sha256
        return "\n".join((SIGNATURE_SCHEME, str(self.id), self.number, checksum)).encode()

    def revoke(
        self,
        *,
        reason: str,
        by: str,
        at: datetime,
        superseded_by: uuid.UUID | None = None,
        recorded_by: str | None = None,
    ) -> None:
        """Withdraw a valid document; with `superseded_by`, because a corrected document replaces it."""
        if not self.is_current:
            raise DocumentNotCurrent(self.number, self.status)
        self.status = DocumentStatus.superseded if superseded_by else DocumentStatus.revoked
        self.revoked_at = at
        self.revoked_by = by
        self.revocation_recorded_by = recorded_by
        self.revocation_reason = reason
        self.superseded_by = superseded_by

    def corrected(
        self,
        *,
        id: uuid.UUID,
        number: str,
        changes: dict[str, Any],
        holder: Person | None,
        verification_token: str,
        issued_at: datetime,
    ) -> "Document":
        """The replacement after an approved correction: same request and type, a new number and new details."""
        if not self.is_current:
            raise DocumentNotCurrent(self.number, self.status)
        return replace(
            self,
            id=id,
            number=number,
            holder=holder or self.holder,
            details=corrected_details(self.details, changes),
            verification_token=verification_token,
            storage_key=f"{self.request_id}.{id}.pdf",
            issued_at=issued_at,
            checksum_sha256="",
            signature="",
            signing_key_id="",
            status=DocumentStatus.valid,
            revoked_at=None,
            revoked_by=None,
            revocation_reason=None,
            superseded_by=None,
            supersedes=self.id,
            verification_count=0,
        )

    def subject(self) -> Person:
        """The person the document is about: the deceased on a death certificate, otherwise the holder."""
        match self.details:
            case AktaKematianDetails():
                return self.details.deceased
            case BiodataWniDetails(person_nik=str() as nik) if nik != self.holder.nik:
                return Person(nik=nik, name="-")
        return self.holder

    def head_of_family(self) -> Person:
        return self.holder

    def family(self) -> list["FamilyRow"]:
        """The family card's member table: the head first, then the members the request is about, with the change."""
        head = self.head_of_family()
        rows = [FamilyRow(head, "kepala_keluarga", None)]
        if isinstance(self.details, KartuKeluargaDetails):
            rows += [
                FamilyRow(member, member.relation, self.details.reason)
                for member in self.details.members or []
                if member.nik != head.nik
            ]
        return rows

    def moving_members(self) -> list[Person | str]:
        """Who moves: each NIK, as the person the request names with it where it does."""
        if not isinstance(self.details, SuratPindahDetails):
            return []
        known = {person.nik: person for person in self._people()}
        return [known.get(nik, nik) for nik in self.details.moving_members]

    def move_classification(self) -> str | None:
        """How far the move goes, from the kecamatan codes: within a kecamatan, regency, province, or beyond."""
        if not isinstance(self.details, SuratPindahDetails):
            return None
        origin, destination = self.details.origin.kecamatan_code, self.details.destination.kecamatan_code
        if origin == destination:
            return "dalam_kecamatan"
        if origin[:5] == destination[:5]:
            return "antar_kecamatan"
        if origin[:2] == destination[:2]:
            return "antar_kabupaten"
        return "antar_provinsi"

    def verification(
        self, *, signature_valid: bool, count: int, replacement_number: str | None = None
    ) -> "Verification":
        subject = self.subject()
        return Verification(
            document_number=self.number,
            document_type=self.type,
            document_title=self.title,
            issued_at=self.issued_at,
            holder_name_masked=mask_name(subject.name),
            nik_masked=mask_nik(subject.nik),
            status=self.status,
            signature_valid=signature_valid,
            checksum_sha256=self.checksum_sha256,
            signing_key_id=self.signing_key_id,
            verification_count=count,
            revoked_at=self.revoked_at,
            superseded_by_number=replacement_number,
        )

    def holder_rows(self) -> list[tuple[str, str]]:
        """The holder's data as printed: label and value, in Indonesian."""
        rows = [("Nama Lengkap", self.holder.name), ("NIK", self.holder.nik)]
        if self.holder.birth_date:
            rows.append(("Tanggal Lahir", printable(self.holder.birth_date)))
        if self.holder.sex:
            rows.append(("Jenis Kelamin", _SEX.get(self.holder.sex, self.holder.sex)))
        return rows

    def detail_rows(self, *, leaving_out: set[str] | frozenset[str] = frozenset()) -> list[tuple[str, str]]:
        """The approved details as printed: label and value, in Indonesian; attachments are never printed."""
        return [
            (label_of(key), printable(value))
            for key, value in details_shown(self.details).items()
            if key not in _NOT_PRINTED and key not in leaving_out
        ]

    def _people(self) -> list[Person]:
        people = [self.holder]
        for name in type(self.details).model_fields:
            value = getattr(self.details, name)
            if isinstance(value, NamedPerson):
                people.append(value)
            elif isinstance(value, list):
                people.extend(item for item in value if isinstance(item, NamedPerson))
        return people


@dataclass(frozen=True)
class FamilyRow:
    """A line of the family card's member table."""

    person: Person
    relation: str | None
    change: str | None


@dataclass(frozen=True)
class Verification:
    """What anyone holding the QR code may learn: whether the document is genuine and in force, and whose it
    is, masked."""

    document_number: str
    document_type: str
    document_title: str
    issued_at: datetime
    holder_name_masked: str
    nik_masked: str
    status: DocumentStatus = DocumentStatus.valid
    signature_valid: bool = True
    checksum_sha256: str = ""
    signing_key_id: str = ""
    verification_count: int = 0
    revoked_at: datetime | None = None
    superseded_by_number: str | None = None

    @property
    def genuine(self) -> bool:
        """Issued by the office, and the stored file still matches its electronic signature."""
        return self.signature_valid

    @property
    def message(self) -> str:
        if not self.signature_valid:
            return (
                "The stored file no longer matches its electronic signature: this document cannot be confirmed "
                "as genuine."
            )
        if self.status is DocumentStatus.superseded:
            return f"Genuine, but superseded by document {self.superseded_by_number}: it is no longer in force."
        if self.status is DocumentStatus.revoked:
            return "Genuine, but revoked by the office: it is no longer in force."
        return "Genuine and in force."

    @property
    def message_id(self) -> str:
        if not self.signature_valid:
            return (
                "Berkas dokumen tidak cocok dengan tanda tangan elektroniknya: keaslian dokumen ini tidak dapat "
                "dipastikan."
            )
        if self.status is DocumentStatus.superseded:
            return (
                f"Dokumen asli, tetapi telah diganti dengan dokumen nomor {self.superseded_by_number} dan tidak "
                "berlaku lagi."
            )
        if self.status is DocumentStatus.revoked:
            return "Dokumen asli, tetapi telah dicabut oleh Disdukcapil dan tidak berlaku lagi."
        return "Dokumen asli dan berlaku."


@dataclass(frozen=True)
class EmbeddedSignature:
    """What the signature inside a PDF says, checked offline against the roots the office trusts."""

    present: bool = False
    intact: bool = False
    """The signed bytes are unchanged."""
    whole_file: bool = False
    """It is the file's only signature and covers every byte of it: nothing was added after signing."""
    trusted: bool = False
    """Its signer's certificate validates up to a root the office trusts (the office's own certificate)."""
    by_office: bool = False
    """Made with a certificate that chains to a root the office trusts, whether or not the signed bytes are intact."""
    signer: str | None = None
    signed_at: datetime | None = None

    @property
    def valid(self) -> bool:
        return self.present and self.intact and self.whole_file and self.trusted


class FileVerdict(StrEnum):
    genuine = "genuine"
    unknown_file = "unknown_file"
    """No document the office issued has exactly this content."""
    signature_missing = "signature_missing"
    """The content is an issued document's, from before documents carried a signature inside."""
    signature_invalid = "signature_invalid"
    """The signature inside does not validate: the file was changed after the office signed it."""


@dataclass(frozen=True)
class FileVerification:
    """What anyone holding a PDF may learn about that very file: whether the office issued it as it is, and if so
    what a check of the document's QR code tells."""

    checksum_sha256: str
    signature: EmbeddedSignature
    document: Verification | None = None
    """The issued document with exactly this content, as its public verification shows it; None if there is none."""

    @property
    def verdict(self) -> FileVerdict:
        if self.document is None:
            # The office's signature over other content: someone changed the file after it was signed.
            return FileVerdict.signature_invalid if self.signature.by_office else FileVerdict.unknown_file
        if not self.signature.present:
            return FileVerdict.signature_missing
        if not (self.signature.valid and self.document.signature_valid):
            return FileVerdict.signature_invalid
        return FileVerdict.genuine

    @property
    def genuine(self) -> bool:
        return self.verdict is FileVerdict.genuine

    @property
    def message(self) -> str:
        number = self.document.document_number if self.document else ""
        match self.verdict:
            case FileVerdict.genuine:
                return self.document.message if self.document else ""
            case FileVerdict.signature_missing:
                return (
                    f"This file is document {number}, issued before documents carried an electronic signature inside "
                    "the file: check it by its QR code."
                )
            case FileVerdict.signature_invalid if self.document:
                return (
                    f"This file is document {number}, but its electronic signature does not validate: it cannot be "
                    "confirmed as genuine."
                )
            case FileVerdict.signature_invalid:
                return (
                    "This file was changed after Disdukcapil Kabupaten Lebak signed it: it is not a document issued "
                    "by the office."
                )
        return (
            "This file is not a document issued by Disdukcapil Kabupaten Lebak: no document the office issued has "
            "exactly this content."
        )

    @property
    def message_id(self) -> str:
        number = self.document.document_number if self.document else ""
        match self.verdict:
            case FileVerdict.genuine:
                return self.document.message_id if self.document else ""
            case FileVerdict.signature_missing:
                return (
                    f"Berkas ini adalah dokumen nomor {number} yang diterbitkan sebelum dokumen memuat tanda tangan "
                    "elektronik di dalam berkasnya: periksa keasliannya melalui kode QR."
                )
            case FileVerdict.signature_invalid if self.document:
                return (
                    f"Berkas ini adalah dokumen nomor {number}, tetapi tanda tangan elektroniknya tidak sah: keaslian "
                    "dokumen ini tidak dapat dipastikan."
                )
            case FileVerdict.signature_invalid:
                return (
                    "Berkas ini telah diubah setelah ditandatangani Disdukcapil Kabupaten Lebak: berkas ini bukan "
                    "dokumen yang diterbitkan oleh Disdukcapil."
                )
        return (
            "Berkas ini bukan dokumen yang diterbitkan oleh Disdukcapil Kabupaten Lebak: tidak ada dokumen terbitan "
            "Disdukcapil yang isinya persis sama."
        )


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
    "origin": "Alamat Asal",
    "destination": "Alamat Tujuan",
    "remaining_members": "Anggota Keluarga yang Tetap",
    "new_head_of_household": "Kepala Keluarga Pengganti",
    "changes": "Perubahan Data",
    "person_nik": "NIK yang Dimohonkan",
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
    village_code = str(address.get("village_code") or "")
    if village := find_village(village_code):
        parts.append(f"{'Kel.' if village.is_kelurahan else 'Desa'} {village.name}")
    elif village_code:
        parts.append(f"Desa/Kel. {village_code}")
    kecamatan_code = str(address.get("kecamatan_code") or "")
    if kecamatan_code:
        parts.append(f"Kec. {region_name(kecamatan_code) or kecamatan_code}")
    regency = region_name(kecamatan_code[:5]) if kecamatan_code else None
    city = address.get("city") or (_proper(regency) if regency else "")
    parts.append(f"{city} {address.get('postal_code') or ''}".strip())
    if province := region_name(kecamatan_code[:2]) if kecamatan_code else None:
        parts.append(f"Provinsi {_proper(province)}")
    return ", ".join(part for part in parts if part)


def kecamatan_name(code: str) -> str:
    """36.02.03 -> Bayah; an unknown code stays as it is."""
    return region_name(code) or code


def _proper(name: str) -> str:
    """KABUPATEN SERANG -> Kabupaten Serang, keeping abbreviations such as DKI and DI."""
    return " ".join(word if word in _ABBREVIATIONS else word.capitalize() for word in name.split())


_ABBREVIATIONS = {"DKI", "DI", "ADM.", "KEP."}
