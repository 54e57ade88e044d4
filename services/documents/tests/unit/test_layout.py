from pathlib import Path

import pytest

from dukcapil_documents.adapters.layout import LayoutError, Printer, load_layouts
from dukcapil_documents.domain.model import KINDS


def test_every_document_type_has_a_shipped_layout() -> None:
    layouts = load_layouts()
    assert set(layouts.by_type) == set(KINDS)
    assert layouts.office.letterhead[0].text == "PEMERINTAH KABUPATEN LEBAK"
    assert {"members", "head_of_family", "reason", "kk_number"} <= layouts.for_type("kartu_keluarga").printed_details()
    assert "witnesses" in layouts.for_type("akta_kematian").printed_details()


def test_a_layout_in_the_templates_folder_replaces_the_shipped_one(tmp_path: Path) -> None:
    (tmp_path / "biodata_wni.toml").write_text(
        'title = "BIODATA"\n[[blocks]]\ntype = "paragraph"\ntext = "Nama: {subject.name|upper}"\n'
    )
    layouts = load_layouts(tmp_path)
    assert layouts.for_type("biodata_wni").title == "BIODATA"
    assert layouts.for_type("kartu_keluarga") == load_layouts().for_type("kartu_keluarga")


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('text = "{holder.name|shout}"', "unknown filter 'shout'"),
        ('text = "{details.reason|words:nowhere}"', r"no \[words.nowhere\] table"),
        ('text = "{secrets.key}"', "unknown data"),
    ],
)
def test_a_mistake_in_a_layout_stops_the_service_naming_the_file(tmp_path: Path, text: str, problem: str) -> None:
    (tmp_path / "surat_pindah.toml").write_text(f'[[blocks]]\ntype = "paragraph"\n{text}\n')
    with pytest.raises(LayoutError, match=rf"surat_pindah\.toml: {problem}"):
        load_layouts(tmp_path)


def test_a_malformed_layout_file_is_reported(tmp_path: Path) -> None:
    (tmp_path / "akta_kematian.toml").write_text("[[blocks]\n")
    with pytest.raises(LayoutError, match=r"akta_kematian\.toml"):
        load_layouts(tmp_path)
    (tmp_path / "akta_kematian.toml").write_text('[[blocks]]\ntype = "poster"\n')
    with pytest.raises(LayoutError, match="poster"):
        load_layouts(tmp_path)


def test_placeholders_are_filled_and_empty_ones_print_as_a_dash() -> None:
    printer = Printer(
        {
            "holder": {"name": "Siti", "nik": "3602144107900001", "sex": "female"},
            "details": {"date_of_death": "2026-11-20", "reason": "add_member", "witnesses": [{"name": "Dedi"}]},
            "signer": {"nip": "197001011990011001"},
        },
        {"sex": {"female": "Perempuan"}, "reason": {"add_member": "Penambahan anggota"}},
    )
    assert printer.text("{holder.name|upper} ({holder.sex|sex})") == "SITI (Perempuan)"
    assert printer.text("{holder.nik|sex_from_nik}") == "Perempuan"
    assert printer.text("{details.date_of_death|weekday_date}") == "Jumat, 20 November 2026"
    assert printer.text("{details.date_of_death|date}") == "20 November 2026"
    assert printer.text("{details.reason|words:reason}") == "Penambahan anggota"
    assert printer.text("{details.kind|words:reason}") == "-"
    assert printer.text("{details.missing.deeper}") == "-"
    assert printer.fill("{details.missing} (NIK {details.gone})") == ""
    assert printer.text("NIP. {signer.nip|nip}") == "NIP. 19700101 199001 1 001"
    assert printer.text("{row.name}", row={"name": "Dedi"}) == "Dedi"
    assert printer.rows("details.witnesses") == [{"name": "Dedi"}]
    assert printer.rows("details.reason") == []
    assert Printer({"details": {"reason": "lost_card"}}, {"reason": {}}).text("{details.reason|words:reason}") == (
        "Lost card"
    )
