import hashlib
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from dukcapil_documents.domain.model import (
    KINDS,
    DetailsNotCorrectable,
    Document,
    DocumentNotCurrent,
    DocumentStatus,
    EmbeddedSignature,
    FamilyRow,
    FileVerdict,
    FileVerification,
    UnsupportedDocumentType,
    Verification,
    corrected_details,
    document_kind,
    document_number,
    issue_year,
    looks_like_pdf,
    mask_name,
    mask_nik,
    new_verification_token,
    printable,
    sex_from_nik,
    verification_url,
)
from dukcapil_shared.contracts import KartuKeluargaDetails, MoveAddress, NamedPerson, Person

from ..details import details_of

HOLDER = Person(nik="3602144107900001", name="Siti Aminah", birth_date="1990-07-01", sex="female")


def a_document(**changes) -> Document:  # type: ignore[no-untyped-def]
    request_type = changes.get("type", "kartu_keluarga")
    fields = dict(
        id=uuid.uuid4(), request_id=uuid.uuid4(), request_number="360214-20261128-0007", type=request_type,
        number="KK/3602/2026/000001", holder=HOLDER, details=details_of(request_type), kecamatan_code="36.02.14",
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
    verification = a_document().verification(signature_valid=True, count=4)
    assert verification.genuine and verification.status == "valid" and verification.verification_count == 4
    assert verification.holder_name_masked == "S*** A*****"
    assert verification.nik_masked == "360214******0001"
    assert verification.document_title == "KARTU KELUARGA"
    assert not a_document().verification(signature_valid=False, count=1).genuine


def test_a_death_certificate_verifies_by_the_deceased() -> None:
    document = a_document(type="akta_kematian")
    verification = document.verification(signature_valid=True, count=1)
    assert (verification.holder_name_masked, verification.nik_masked) == ("S******", "360214******0002")


def test_masking_copes_with_odd_names() -> None:
    assert mask_name("Muhammad  Rizki  Pratama") == "M******* R**** P******"
    assert mask_name("Sukarno") == "S******"
    assert mask_nik("123") == "***"


def test_verification_tokens_are_unguessable_and_fit_a_url() -> None:
    tokens = {new_verification_token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(len(token) == 32 and token.replace("-", "").replace("_", "").isalnum() for token in tokens)
    assert verification_url("https://dukcapil.lebakkab.go.id/", "abc") == "https://dukcapil.lebakkab.go.id/verify/abc"


def test_the_signed_payload_names_the_document_and_the_hash_of_its_file() -> None:
    document = a_document(checksum_sha256="ab" * 32)
    payload = document.signed_payload()
    assert payload == f"dukcapil-lebak-document-v1\n{document.id}\nKK/3602/2026/000001\n{'ab' * 32}".encode()
    assert document.signed_payload("cd" * 32) != payload
    assert a_document(checksum_sha256="ab" * 32).signed_payload() != payload, "another document, same file"


def test_a_revocation_records_who_why_and_when_and_happens_once() -> None:
    document, moment = a_document(), datetime(2026, 12, 1, tzinfo=UTC)
    document.revoke(reason="keliru", by="kabid", at=moment)
    assert (document.status, document.revoked_by, document.revocation_reason, document.revoked_at) == (
        DocumentStatus.revoked, "kabid", "keliru", moment,
    )  # fmt: skip
    assert not document.is_current
    with pytest.raises(DocumentNotCurrent, match="already revoked"):
        document.revoke(reason="lagi", by="kabid", at=moment)


def test_a_correction_keeps_the_request_and_changes_what_was_approved() -> None:
    budi = {"nik": "3602140505150002", "name": "Budi"}
    old = a_document(details=details_of("kartu_keluarga", members=[budi], changes="x"), verification_count=5)
    new = old.corrected(
        id=uuid.uuid4(), number="KK/3602/2026/000009", changes={"reason": "data_change", "changes": None},
        holder=None, verification_token="n" * 32, issued_at=datetime(2026, 12, 1, tzinfo=UTC),
    )  # fmt: skip
    assert (new.request_id, new.type, new.holder, new.supersedes) == (old.request_id, old.type, old.holder, old.id)
    assert new.details == details_of("kartu_keluarga", reason="data_change", members=[budi])
    assert new.status is DocumentStatus.valid and new.verification_count == 0 and new.signature == ""
    assert new.storage_key == f"{old.request_id}.{new.id}.pdf"
    old.revoke(reason="r", by="k", at=datetime(2026, 12, 1, tzinfo=UTC), superseded_by=new.id)
    assert old.status is DocumentStatus.superseded and old.superseded_by == new.id
    with pytest.raises(DocumentNotCurrent):
        old.corrected(
            id=uuid.uuid4(), number="n", changes={}, holder=None, verification_token="t", issued_at=old.issued_at
        )


def test_corrected_details_replace_given_fields_and_drop_nulls() -> None:
    details = details_of("kartu_keluarga", changes="nama")
    assert corrected_details(details, {"reason": "data_change", "changes": None}) == KartuKeluargaDetails(
        reason="data_change", kk_number="3602141202100005"
    )
    death = details_of("akta_kematian")
    corrected = corrected_details(death, {"deceased": {"nik": "3602140101500002", "name": "Sarmadi bin Ali"}})
    assert corrected.deceased == NamedPerson(nik="3602140101500002", name="Sarmadi bin Ali")


def test_a_correction_must_leave_details_of_the_documents_type() -> None:
    death = details_of("akta_kematian")
    with pytest.raises(DetailsNotCorrectable, match="biography: not a field of akta_kematian details"):
        corrected_details(death, {"biography": "..."})
    with pytest.raises(DetailsNotCorrectable, match="type"):
        corrected_details(death, {"type": "biodata_wni"})
    with pytest.raises(DetailsNotCorrectable, match="place_of_death"):
        corrected_details(death, {"place_of_death": None})  # a required field cannot be removed
    with pytest.raises(DetailsNotCorrectable, match="reporter_relation"):
        corrected_details(death, {"reporter_relation": "tetangga"})


def test_the_family_card_lists_the_head_first_then_the_members_concerned() -> None:
    nur = {"nik": "3602145003240001", "name": "Nur Aisyah", "relation": "anak"}
    siti = {"nik": "3602144107900001", "name": "Siti Aminah", "relation": "istri"}
    document = a_document(details=details_of("kartu_keluarga", reason="add_member", members=[siti, nur]))
    assert document.family() == [
        FamilyRow(HOLDER, "kepala_keluarga", None),
        FamilyRow(NamedPerson.model_validate(nur), "anak", "add_member"),
    ]


def test_a_move_names_who_moves_and_how_far() -> None:
    document = a_document(
        type="surat_pindah",
        details=details_of("surat_pindah", moving_members=["3602144107900001", "3602034404950003"]),
    )
    assert document.moving_members() == [HOLDER, "3602034404950003"]
    assert document.move_classification() == "antar_kabupaten"
    for destination, classification in (("36.02.03", "dalam_kecamatan"), ("36.02.14", "antar_kecamatan"),
                                          ("31.71.01", "antar_provinsi")):  # fmt: skip
        moved = document.details.model_copy(
            update={"destination": MoveAddress(street="Jl. Raya", kecamatan_code=destination)}
        )
        assert replace(document, details=moved).move_classification() == classification


def test_sex_is_read_from_the_nik() -> None:
    assert sex_from_nik("3602144107900001") == "female"
    assert sex_from_nik("3602140101500002") == "male"
    assert sex_from_nik("123") is None


def test_a_document_is_sealed_with_the_checksum_of_its_file() -> None:
    document = a_document()
    document.seal(b"%PDF-1.4 content")
    assert document.checksum_sha256 == hashlib.sha256(b"%PDF-1.4 content").hexdigest()
    assert document.matches(b"%PDF-1.4 content")
    assert not document.matches(b"%PDF-1.4 tampered")


def test_details_are_printed_in_indonesian_without_attachments() -> None:
    death = a_document(type="akta_kematian", details=details_of("akta_kematian", cause_category="sakit"))
    assert death.detail_rows(leaving_out={"deceased"}) == [
        ("Tanggal Kematian", "20 November 2026"),
        ("Tempat Kematian", "Kp. Sawarna"),
        ("Sebab Kematian", "sakit"),
        ("Hubungan Pelapor", "anak"),
        ("Saksi", "NIK: 3602141111800004, Nama: Dedi; NIK: 3602141205850003, Nama: Ahmad"),
    ]
    origin = {"street": "Kp. Cibeureum 12", "rt": "002", "rw": "005", "kecamatan_code": "36.02.03", "city": "Lebak"}
    move = a_document(type="surat_pindah", details=details_of("surat_pindah", origin=origin))
    assert move.detail_rows()[0] == (
        "Alamat Asal", "Kp. Cibeureum 12, RT 002/RW 005, Kec. Bayah, Lebak, Provinsi Banten"
    )  # fmt: skip


def test_addresses_are_printed_with_region_names() -> None:
    assert printable(
        {"street": "Kp. Sawarna", "rt": "001", "village_code": "36.02.03.2002", "kecamatan_code": "36.02.03"}
    ) == ("Kp. Sawarna, RT 001/RW -, Desa Sawarna, Kec. Bayah, Kabupaten Lebak, Provinsi Banten")
    assert printable({"street": "Jl. Raya Serang 5", "kecamatan_code": "36.04.05", "postal_code": "42161"}) == (
        "Jl. Raya Serang 5, Kec. Kramatwatu, Kabupaten Serang 42161, Provinsi Banten"
    )


def test_the_holder_is_printed_with_indonesian_labels() -> None:
    assert a_document().holder_rows() == [
        ("Nama Lengkap", "Siti Aminah"),
        ("NIK", "3602144107900001"),
        ("Tanggal Lahir", "1 Juli 1990"),
        ("Jenis Kelamin", "Perempuan"),
    ]
    assert printable(date(2026, 1, 5)) == "5 Januari 2026"
    assert printable(None) == "-"


_SEALED = EmbeddedSignature(present=True, intact=True, whole_file=True, trusted=True, by_office=True)
_RECORD = Verification(
    document_number="AKM/3602/2026/000001", document_type="akta_kematian", document_title="AKTA KEMATIAN",
    issued_at=datetime(2026, 11, 28, tzinfo=UTC), holder_name_masked="S******", nik_masked="360214******0002",
)  # fmt: skip


@pytest.mark.parametrize(
    ("signature", "document", "verdict"),
    [
        (_SEALED, _RECORD, FileVerdict.genuine),
        (EmbeddedSignature(), _RECORD, FileVerdict.signature_missing),
        (replace(_SEALED, whole_file=False), _RECORD, FileVerdict.signature_invalid),
        (replace(_SEALED, trusted=False), _RECORD, FileVerdict.signature_invalid),
        (_SEALED, replace(_RECORD, signature_valid=False), FileVerdict.signature_invalid),
        (replace(_SEALED, intact=False, trusted=False), None, FileVerdict.signature_invalid),
        (replace(_SEALED, whole_file=False), None, FileVerdict.signature_invalid),
        (replace(_SEALED, trusted=False, by_office=False), None, FileVerdict.unknown_file),
        (EmbeddedSignature(), None, FileVerdict.unknown_file),
    ],
)
def test_a_file_is_genuine_only_as_an_issued_documents_content_under_a_valid_signature_of_the_office(
    signature: EmbeddedSignature, document: Verification | None, verdict: FileVerdict
) -> None:
    answer = FileVerification(checksum_sha256="ab" * 32, signature=signature, document=document)
    assert answer.verdict is verdict and answer.genuine is (verdict is FileVerdict.genuine)
    assert answer.message and answer.message_id and answer.message != answer.message_id
    if document is not None and verdict is not FileVerdict.genuine:
        assert document.document_number in answer.message and document.document_number in answer.message_id


def test_a_pdf_is_told_by_its_header() -> None:
    assert looks_like_pdf(b"%PDF-1.7\n...") and looks_like_pdf(b"\xef\xbb\xbf%PDF-1.4")
    assert not looks_like_pdf(b"\x89PNG\r\n")
    assert not looks_like_pdf(b" " * 1024 + b"%PDF-1.7") and not looks_like_pdf(b"")
