import hashlib
import uuid
from datetime import UTC, date, datetime

import pytest

from dukcapil_documents.domain.model import (
    KINDS,
    Document,
    UnsupportedDocumentType,
    document_kind,
    document_number,
    issue_year,
    mask_name,
    mask_nik,
    new_verification_token,
    printable,
    verification_url,
)

HOLDER = {"nik": "3602144107900001", "name": "Siti Aminah", "birth_date": "1990-07-01", "sex": "female"}


def a_document(**changes) -> Document:  # type: ignore[no-untyped-def]
    fields = dict(
        id=uuid.uuid4(), request_id=uuid.uuid4(), request_number="360214-20261128-0007", type="kartu_keluarga",
        number="KK/3602/2026/000001", holder=HOLDER, details={}, kecamatan_code="36.02.14",
        verification_token="t" * 32, storage_key="x.pdf", issued_at=datetime(2026, 11, 28, 3, tzinfo=UTC),
    )  # fmt: skip
    return Document(**{**fields, **changes})


@pytest.mark.parametrize(
    ("request_type", "sequence", "number"),
    [
        ("kartu_keluarga", 1, "KK/3602/2026/000001"),
        ("akta_kematian", 42, "AKM/3602/2026/000042"),
        ("surat_pindah", 999_999, "SKPWNI/3602/2026/999999"),
        ("biodata_wni", 1_234_567, "BIO/3602/2026/1234567"),
    ],
)
def test_document_numbers_name_the_type_the_regency_the_year_and_the_sequence(
    request_type: str, sequence: int, number: str
) -> None:
    assert document_number(document_kind(request_type), 2026, sequence) == number


def test_every_type_has_its_own_code_and_a_human_title() -> None:
    assert len({kind.code for kind in KINDS.values()}) == len(KINDS)
    assert {kind.title for kind in KINDS.values()} == {
        "KARTU KELUARGA", "AKTA KEMATIAN", "SURAT KETERANGAN PINDAH WNI", "BIODATA PENDUDUK WNI",
    }  # fmt: skip


def test_ktp_el_is_not_issued_as_a_document() -> None:
    with pytest.raises(UnsupportedDocumentType):
        document_kind("ktp_el")


def test_the_year_of_issue_is_the_office_calendar_year_in_wib() -> None:
    assert issue_year(datetime(2026, 12, 31, 16, 59, tzinfo=UTC)) == 2026
    assert issue_year(datetime(2026, 12, 31, 17, 0, tzinfo=UTC)) == 2027


def test_a_verification_reveals_the_holder_only_masked() -> None:
    verification = a_document().verification()
    assert verification.genuine and verification.status == "valid"
    assert verification.holder_name_masked == "S*** A*****"
    assert verification.nik_masked == "360214******0001"
    assert verification.document_title == "KARTU KELUARGA"


def test_masking_copes_with_odd_names() -> None:
    assert mask_name("Muhammad  Rizki  Pratama") == "M******* R**** P******"
    assert mask_name("Sukarno") == "S******"
    assert mask_nik("123") == "***"


def test_verification_tokens_are_unguessable_and_fit_a_url() -> None:
    tokens = {new_verification_token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(len(token) == 32 and token.replace("-", "").replace("_", "").isalnum() for token in tokens)
    assert verification_url("https://dukcapil.lebakkab.go.id/", "abc") == "https://dukcapil.lebakkab.go.id/verify/abc"


def test_a_document_is_sealed_with_the_checksum_of_its_file() -> None:
    document = a_document()
    document.seal(b"%PDF-1.4 content")
    assert document.checksum_sha256 == hashlib.sha256(b"%PDF-1.4 content").hexdigest()
    assert document.matches(b"%PDF-1.4 content")
    assert not document.matches(b"%PDF-1.4 tampered")


def test_details_are_printed_in_indonesian_without_attachments() -> None:
    document = a_document(
        details={
            "reason": "pisah KK",
            "date_of_death": "2026-11-20",
            "witnesses": [{"name": "Budi", "nik": "3602141203800002"}],
            "address": {"street": "Kp. Cibeureum 12", "rt": "002", "rw": "005", "city": "Kabupaten Lebak"},
            "late_report": False,
            "attachments": ["scan-1.pdf"],
        }
    )
    assert document.detail_rows() == [
        ("Alasan", "pisah KK"),
        ("Tanggal Kematian", "20 November 2026"),
        ("Saksi", "Nama: Budi, NIK: 3602141203800002"),
        ("Alamat", "Kp. Cibeureum 12, RT 002/RW 005, Kabupaten Lebak"),
        ("Late report", "Tidak"),
    ]


def test_the_holder_is_printed_with_indonesian_labels() -> None:
    assert a_document().holder_rows() == [
        ("Nama Lengkap", "Siti Aminah"),
        ("NIK", "3602144107900001"),
        ("Tanggal Lahir", "1 Juli 1990"),
        ("Jenis Kelamin", "Perempuan"),
    ]
    assert printable(date(2026, 1, 5)) == "5 Januari 2026"
    assert printable(None) == "-"
