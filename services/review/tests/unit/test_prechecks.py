import datetime as dt

import pytest

from dukcapil_review.domain.prechecks import (
    PossibleDuplicate,
    attachments_complete,
    nik_consistency,
    no_duplicate,
    region_in_lebak,
    reported_on_time,
    run_prechecks,
    subject_nik,
)
from dukcapil_shared.contracts import (
    AktaKematianDetails,
    BiodataWniDetails,
    KartuKeluargaDetails,
    NamedPerson,
    Person,
    SuratPindahDetails,
)

SITI = Person(nik="3602144107900001", name="Siti Aminah", birth_date="1990-07-01", sex="female")
AHMAD = Person(nik="3602141205850003", name="Ahmad Fauzi", birth_date="1985-05-12", sex="male")
DEATH = AktaKematianDetails(
    deceased=NamedPerson(nik="3602140101500002", name="Sarmadi"),
    date_of_death="2026-11-20",
    place_of_death="Rangkasbitung",
    reporter_relation="anak",
    witnesses=[NamedPerson(nik="3602141111800004", name="Dedi"), NamedPerson(nik="3602141205850003", name="Ahmad")],
)
BIODATA = BiodataWniDetails()


def members(*people: NamedPerson) -> KartuKeluargaDetails:
    return KartuKeluargaDetails(reason="add_member", kk_number="3602141201150003", members=list(people))


def death(**changes: object) -> AktaKematianDetails:
    return DEATH.model_copy(update=changes)


def scan(kind: str) -> dict[str, object]:
    return {"id": f"att-{kind}", "kind": kind, "content_type": "application/pdf", "size": 1024, "sha256": "0" * 64}


class TestAttachmentsComplete:
    def test_passes_when_every_required_kind_is_uploaded(self) -> None:
        check = attachments_complete(["kk_lama", "akta_kelahiran"], [scan("akta_kelahiran"), scan("kk_lama")])
        assert check.code == "attachments_complete" and check.passed
        assert check.message_id == "Semua lampiran wajib sudah diunggah."
        assert check.message_en == "Every required attachment is uploaded."

    def test_names_the_missing_kinds(self) -> None:
        check = attachments_complete(["surat_kematian", "ktp_pelapor", "ktp_saksi"], [scan("ktp_pelapor")])
        assert not check.passed
        assert check.message_id == "Lampiran wajib belum diunggah: surat_kematian, ktp_saksi."
        assert check.message_en == "Required attachments not uploaded yet: surat_kematian, ktp_saksi."

    def test_passes_when_nothing_is_required(self) -> None:
        check = attachments_complete([], [])
        assert check.passed and check.message_en == "No attachments are required for this request."


class TestNikConsistency:
    def test_passes_for_valid_niks_that_agree_with_what_was_declared(self) -> None:
        details = members(NamedPerson(nik="3602145003240001", name="Nur", birth_date="2024-03-10", sex="female"))
        check = nik_consistency(AHMAD, details)
        assert check.code == "nik_consistency" and check.passed
        assert check.message_en == "Every NIK is valid and agrees with the declared birth date and sex."

    def test_a_declared_birth_date_that_disagrees_with_the_nik(self) -> None:
        check = nik_consistency(SITI.model_copy(update={"birth_date": dt.date(1990, 7, 2)}), BIODATA)
        assert not check.passed
        assert "tanggal lahir pemohon (1990-07-02) tidak sesuai dengan NIK (1990-07-01)" in check.message_id
        assert "the birth date of applicant (1990-07-02) disagrees with the NIK (1990-07-01)" in check.message_en

    def test_the_century_comes_from_the_declared_birth_date(self) -> None:
        born_1905 = Person(nik="3602140101050001", name="Mbah", birth_date="1905-01-01", sex="male")
        born_2005 = born_1905.model_copy(update={"birth_date": dt.date(2005, 1, 1)})
        assert nik_consistency(born_1905, BIODATA).passed
        assert nik_consistency(born_2005, BIODATA).passed

    def test_a_declared_sex_that_disagrees_with_the_nik(self) -> None:
        check = nik_consistency(SITI.model_copy(update={"sex": "male"}), BIODATA)
        assert not check.passed
        assert "jenis kelamin pemohon tidak sesuai dengan NIK (NIK menunjukkan perempuan)" in check.message_id
        assert "the sex of applicant disagrees with the NIK (the NIK says female)" in check.message_en

    def test_nothing_declared_means_only_the_structure_is_checked(self) -> None:
        assert nik_consistency(Person(nik="3602144107900001", name="Siti"), BIODATA).passed

    @pytest.mark.parametrize(
        ("nik", "id_phrase", "en_phrase"),
        [
            ("3602144107900000", "nomor urutnya tidak boleh 0000", "its serial cannot be 0000"),
            ("3602143202900001", "tanggal lahir di dalamnya tidak sah", "the birth date in it is no real date"),
            ("9902144107900001", "kode provinsinya tidak dikenal", "its province code does not exist"),
            ("3699144107900001", "kode kabupaten/kotanya tidak dikenal", "its regency code does not exist"),
        ],
    )
    def test_an_invalid_applicant_nik_is_named(self, nik: str, id_phrase: str, en_phrase: str) -> None:
        check = nik_consistency(Person(nik=nik, name="X"), BIODATA)
        assert not check.passed
        assert f"NIK pemohon ({nik}) {id_phrase}" in check.message_id
        assert f"the NIK of applicant ({nik}): {en_phrase}" in check.message_en

    def test_every_nik_in_the_details_is_checked(self) -> None:
        biodata = nik_consistency(AHMAD, BiodataWniDetails(person_nik="3602144107900000"))
        assert "details.person_nik (3602144107900000): its serial cannot be 0000" in biodata.message_en
        move = SuratPindahDetails(
            origin={"street": "Jl. Multatuli 5", "kecamatan_code": "36.02.14"},
            destination={"street": "Jl. Merdeka 1", "kecamatan_code": "32.01.01"},
            reason="pekerjaan",
            moving_members=["3602031503920007", "3602033202920001"],
            new_head_of_household=NamedPerson(nik="9902144107900001", name="Kepala"),
        )
        check = nik_consistency(AHMAD, move)
        assert not check.passed
        assert "details.new_head_of_household (9902144107900001): its province code" in check.message_en
        assert "details.moving_members[1] (3602033202920001)" in check.message_en
        assert "3602031503920007" not in check.message_en

    def test_a_person_in_the_details_is_checked_against_their_declared_data(self) -> None:
        details = members(NamedPerson(nik="3602145003240001", name="Nur", sex="male"))
        check = nik_consistency(AHMAD, details)
        assert not check.passed and "the sex of details.members[0] disagrees with the NIK" in check.message_en

    def test_a_death_with_distinct_deceased_reporter_and_witnesses_passes(self) -> None:
        assert nik_consistency(SITI, DEATH).passed

    def test_the_deceased_cannot_be_the_reporter(self) -> None:
        details = death(deceased=NamedPerson(nik=SITI.nik, name="Siti"))
        check = nik_consistency(SITI, details)
        assert not check.passed
        assert "NIK almarhum/almarhumah sama dengan NIK pelapor" in check.message_id
        assert "the deceased's NIK is the reporter's own" in check.message_en

    def test_the_deceased_cannot_be_a_witness(self) -> None:
        details = death(
            witnesses=[NamedPerson(nik="3602141111800004", name="Dedi"), NamedPerson(nik="3602140101500002", name="X")]
        )
        check = nik_consistency(SITI, details)
        assert not check.passed
        assert "NIK almarhum/almarhumah sama dengan NIK saksi ke-2" in check.message_id
        assert "the deceased's NIK is the same as witness 2's" in check.message_en

    def test_every_problem_is_reported_at_once(self) -> None:
        details = death(
            deceased=NamedPerson(nik=SITI.nik, name="Siti"),
            witnesses=[NamedPerson(nik="3602142020820006", name="Dedi"), DEATH.witnesses[1]],
        )
        check = nik_consistency(SITI.model_copy(update={"sex": "male"}), details)
        assert check.message_en.count(";") == 2


class TestRegionInLebak:
    def test_passes_for_a_lebak_nik(self) -> None:
        check = region_in_lebak("3602144107900001", [])
        assert check.code == "region_in_lebak" and check.passed
        assert check.message_id == "NIK pemohon diterbitkan di Kabupaten Lebak (36.02)."

    def test_a_nik_from_elsewhere_asks_the_reviewer_to_check_the_domicile(self) -> None:
        check = region_in_lebak("3603121505880002", [])
        assert not check.passed
        assert check.message_id == (
            "NIK pemohon diterbitkan di luar Kabupaten Lebak: KABUPATEN TANGERANG (36.03); periksa domisili pemohon."
        )
        assert "check where the applicant lives now" in check.message_en

    def test_intakes_flag_is_enough(self) -> None:
        assert not region_in_lebak("3602144107900001", ["nik_outside_lebak"]).passed


class TestReportedOnTime:
    def test_passes_without_the_late_flag(self) -> None:
        check = reported_on_time(["nik_outside_lebak"])
        assert check.code == "reported_on_time" and check.passed
        assert check.message_id == "Kematian dilaporkan dalam 30 hari."

    def test_a_late_report_fails(self) -> None:
        check = reported_on_time(["late_death_report"])
        assert not check.passed
        assert check.message_id.startswith("Kematian dilaporkan lebih dari 30 hari")
        assert check.message_en == "The death was reported more than 30 days after it happened (late report)."


class TestNoDuplicate:
    def test_passes_without_other_requests(self) -> None:
        check = no_duplicate([])
        assert check.code == "no_duplicate" and check.passed
        assert check.message_id == "Tidak ada permohonan lain yang sama untuk orang ini."

    def test_names_the_other_requests(self) -> None:
        check = no_duplicate([PossibleDuplicate("LBK-0001", "pending"), PossibleDuplicate("LBK-0002", "approved")])
        assert not check.passed
        assert check.message_id.endswith("LBK-0001 (pending), LBK-0002 (approved).")
        assert check.message_en.startswith("Possible duplicate: requests of the same type for the same person")


def test_the_checks_run_for_each_type() -> None:
    common = {"attachments": [], "required_attachments": [], "flags": [], "duplicates": []}
    death = run_prechecks(request_type="akta_kematian", applicant=SITI, details=DEATH, **common)
    biodata = run_prechecks(request_type="biodata_wni", applicant=SITI, details=BIODATA, **common)
    assert [c.code for c in death] == [
        "attachments_complete",
        "nik_consistency",
        "region_in_lebak",
        "reported_on_time",
        "no_duplicate",
    ]
    assert "reported_on_time" not in [c.code for c in biodata]
    assert all(c.passed for c in death + biodata)


def test_the_person_a_death_certificate_is_about_is_the_deceased() -> None:
    assert subject_nik(SITI, DEATH) == "3602140101500002"
    assert subject_nik(AHMAD, members()) == AHMAD.nik
