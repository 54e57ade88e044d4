import io
import os
import re
import shutil
import subprocess
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pypdf
import pytest

from dukcapil_documents.adapters import pdf as pdf_adapter
from dukcapil_documents.adapters.layout import load_layouts
from dukcapil_documents.adapters.pdf import FpdfDocumentRenderer, Signatory
from dukcapil_documents.domain.model import Document
from dukcapil_shared.contracts import Person
from dukcapil_shared.contracts.details import typed_details

A4_POINTS = (595.28, 841.89)
SIGNATORY = Signatory(name="Drs. H. Contoh Pejabat, M.Si.", nip="197001011990011001")
ATTACHMENTS = [{"id": "att-1", "kind": "kk_lama", "content_type": "application/pdf", "size": 10, "sha256": "ff" * 32}]

CASES: dict[str, tuple[dict[str, Any], dict[str, Any], list[str]]] = {
    "kartu_keluarga": (
        {"nik": "3602141205850003", "name": "Ahmad Fauzi", "birth_date": "1985-05-12", "sex": "male"},
        {
            "reason": "add_member",
            "kk_number": "3602141202100005",
            "members": [
                {"nik": "3602145003240001", "name": "Nur Aisyah", "relation": "anak", "birth_date": "2024-03-10"}
            ],
            "attachments": ATTACHMENTS,
        },
        [
            "KARTU KELUARGA", "KK/3602/2026/000012", "3602141202100005", "Ahmad Fauzi", "3602141205850003",
            "Kepala Keluarga", "12 Mei 1985", "Nur Aisyah", "3602145003240001", "Anak", "10 Maret 2024",
            "Anggota baru", "Penambahan anggota keluarga", "Rangkasbitung",
        ],
    ),
    "akta_kematian": (
        {"nik": "3602144107900001", "name": "Siti Aminah", "birth_date": "1990-07-01", "sex": "female"},
        {
            "deceased": {"nik": "3602140101500002", "name": "Sarmadi"},
            "date_of_death": "2026-11-20",
            "place_of_death": "RSUD dr. Adjidarmo, Rangkasbitung",
            "cause_category": "sakit",
            "reporter_relation": "anak",
            "witnesses": [{"nik": "3602141111800004", "name": "Dedi"}, {"nik": "3602142010820006", "name": "Euis"}],
            "attachments": ATTACHMENTS,
        },
        [
            "AKTA KEMATIAN", "AKM/3602/2026/000012", "Sarmadi", "3602140101500002", "Laki-laki",
            "Jumat, 20 November 2026", "RSUD dr. Adjidarmo, Rangkasbitung", "Sakit", "DATA PELAPOR", "Siti Aminah",
            "3602144107900001", "Anak", "DATA SAKSI", "Dedi", "3602141111800004", "Euis", "3602142010820006",
        ],
    ),
    "surat_pindah": (
        {"nik": "3602031503920007", "name": "Yusuf Maulana", "birth_date": "1992-03-15", "sex": "male"},
        {
            "origin": {"street": "Kp. Sawarna", "village_code": "36.02.03.2002", "kecamatan_code": "36.02.03"},
            "destination": {"street": "Jl. Raya Serang No. 5", "kecamatan_code": "36.04.05"},
            "reason": "pekerjaan",
            "moving_members": ["3602031503920007", "3602034404950003"],
            "attachments": ATTACHMENTS,
        },
        [
            "SURAT KETERANGAN PINDAH WNI", "SKPWNI/3602/2026/000012", "Yusuf Maulana", "3602031503920007",
            "Kp. Sawarna", "Desa Sawarna", "Kec. Bayah", "Jl. Raya Serang No. 5", "Kec. Kramatwatu",
            "Kabupaten Serang", "Antar kabupaten/kota dalam satu provinsi", "Pekerjaan",
            "ANGGOTA KELUARGA YANG PINDAH", "3602034404950003",
        ],
    ),
    "biodata_wni": (
        {"nik": "3602144107900001", "name": "Siti Aminah", "birth_date": "1990-07-01", "sex": "female"},
        {"person_nik": "3602144107900001", "attachments": ATTACHMENTS},
        [
            "BIODATA PENDUDUK WNI", "BIO/3602/2026/000012", "Siti Aminah", "3602144107900001", "Perempuan",
            "1 Juli 1990", "WNI", "Rangkasbitung",
        ],
    ),
}  # fmt: skip
CODES = {"kartu_keluarga": "KK", "akta_kematian": "AKM", "surat_pindah": "SKPWNI", "biodata_wni": "BIO"}


def a_document(request_type: str, holder: dict[str, Any], details: dict[str, Any]) -> Document:
    return Document(
        id=uuid.uuid4(),
        request_id=uuid.uuid4(),
        request_number="LBK-3602.14-20261128-0007",
        type=request_type,
        number=f"{CODES[request_type]}/3602/2026/000012",
        holder=Person.model_validate(holder),
        details=typed_details(details, request_type),
        kecamatan_code="36.02.14",
        verification_token="Qx7_-" + "a" * 27,
        storage_key="x.pdf",
        issued_at=datetime(2026, 11, 28, 3, 0, tzinfo=UTC),
        signing_key_id="3f2a9c01d4e5b6a7",
    )


def url_of(document: Document) -> str:
    return f"https://dukcapil.lebakkab.go.id/verify/{document.verification_token}"


async def render(document: Document) -> bytes:
    renderer = FpdfDocumentRenderer(layouts=load_layouts(), signatory=SIGNATORY)
    return await renderer.render(document, verification_url=url_of(document))


def text_of(content: bytes) -> str:
    """The PDF's text with lines joined, so that a value wrapped over two lines is still found."""
    reader = pypdf.PdfReader(io.BytesIO(content), strict=True)
    return " ".join(" ".join(page.extract_text() for page in reader.pages).split())


@pytest.mark.parametrize("request_type", list(CASES))
async def test_each_type_renders_an_a4_pdf_in_indonesian_with_its_data(request_type: str) -> None:
    holder, details, expected = CASES[request_type]
    document = a_document(request_type, holder, details)

    content = await render(document)

    assert content.startswith(b"%PDF-") and content.rstrip().endswith(b"%%EOF")
    reader = pypdf.PdfReader(io.BytesIO(content), strict=True)
    assert len(reader.pages) == 1
    first = reader.pages[0]
    assert (round(float(first.mediabox.width), 2), round(float(first.mediabox.height), 2)) == A4_POINTS
    text = text_of(content)
    for common in (
        "PEMERINTAH KABUPATEN LEBAK",
        "DINAS KEPENDUDUKAN DAN PENCATATAN SIPIL",
        f"Nomor: {document.number}",
        "Lebak, 28 November 2026",
        "KEPALA DINAS KEPENDUDUKAN DAN",
        "Drs. H. Contoh Pejabat, M.Si.",
        "NIP. 19700101 199001 1 001",
        "Ditandatangani secara elektronik",
        "3f2a9c01d4e5b6a7",
        "LBK-3602.14-20261128-0007",
        url_of(document),
        *expected,
    ):
        assert common in text, common
    assert "att-1" not in text and "kk_lama" not in text and "ff" * 32 not in text, "attachments are never printed"
    assert "Attachments" not in text and "Lampiran" not in text
    assert sum(len(page.images) for page in reader.pages) == 1, "the QR code"
    assert reader.metadata is not None and reader.metadata.title == f"{document.title} {document.number}"
    assert "kunci-tanda-tangan:3f2a9c01d4e5b6a7" in (reader.metadata.get("/Keywords") or "")


async def test_details_no_layout_names_are_printed_under_other_details(tmp_path: Path) -> None:
    shipped = (Path(pdf_adapter.__file__).parent.parent / "templates" / "kartu_keluarga.toml").read_text()
    without_changes = "\n".join(line for line in shipped.splitlines() if "details.changes" not in line)
    (tmp_path / "kartu_keluarga.toml").write_text(without_changes)
    holder, details, _ = CASES["kartu_keluarga"]
    document = a_document("kartu_keluarga", holder, {**details, "changes": "Diterima di loket"})
    renderer = FpdfDocumentRenderer(layouts=load_layouts(tmp_path), signatory=SIGNATORY)
    text = text_of(await renderer.render(document, verification_url=url_of(document)))
    assert "KETERANGAN LAIN" in text and "Perubahan Data" in text and "Diterima di loket" in text
    assert "KETERANGAN LAIN" not in text_of(await render(a_document("kartu_keluarga", holder, details)))


async def test_names_in_any_latin_script_are_printed_and_other_scripts_marked() -> None:
    holder = {"nik": "3602144107900001", "name": "Łucja Škoda-Nguyễn", "birth_date": "1990-07-01"}
    details = {"reason": "data_change", "kk_number": "3602141202100005", "changes": "Guru “honorer” — 中"}
    text = text_of(await render(a_document("kartu_keluarga", holder, details)))
    assert "Łucja Škoda-Nguyễn" in text
    assert "Guru “honorer” — ?" in text


def test_the_qr_code_on_the_page_reads_as_the_verification_address(tmp_path: Path) -> None:
    if shutil.which("pdftoppm") is None or shutil.which("zbarimg") is None:
        missing = "pdftoppm (poppler-utils) and zbarimg (zbar-tools) are needed to read the QR code off the page"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{missing}; .ci/run installs them")
        pytest.skip(missing)
    holder, details, _ = CASES["akta_kematian"]
    document = a_document("akta_kematian", holder, details)
    pdf = tmp_path / "document.pdf"
    renderer = FpdfDocumentRenderer(layouts=load_layouts(), signatory=SIGNATORY)
    pdf.write_bytes(renderer.render_now(document, url_of(document)))

    subprocess.run(["pdftoppm", "-png", "-r", "150", "-f", "1", "-l", "1", pdf, tmp_path / "page"], check=True)
    [page] = tmp_path.glob("page*.png")
    decoded = subprocess.run(["zbarimg", "--quiet", "--raw", page], capture_output=True, text=True, check=True)
    assert decoded.stdout.strip() == url_of(document)
    assert re.fullmatch(r"https://dukcapil\.lebakkab\.go\.id/verify/[A-Za-z0-9_-]{32}", decoded.stdout.strip())


def test_fields_are_laid_out_exactly_as_fpdf2s_borderless_table_would_lay_them_out(tmp_path: Path) -> None:
    """The fields are drawn row by row for speed; the page must not change: short fields, a label and a value that
    wrap, a line break inside a value and enough rows to run onto a second page, compared pixel for pixel."""
    if shutil.which("pdftoppm") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("pdftoppm (poppler-utils) is needed to compare the pages; .ci/run installs it")
        pytest.skip("pdftoppm (poppler-utils) is needed to compare the pages")
    long = "Kampung Cibeureum Hilir RT 004 RW 012 Desa Sukamanah, dekat Masjid Agung Al-A'raf sebelah utara pasar lama"
    rows = [
        ("Nama Lengkap", "Siti Aminah"),
        ("Hubungan dengan yang Meninggal dunia menurut keterangan pelapor", "Anak kandung"),
        ("Alamat", long),
        ("Catatan", "baris pertama\nbaris kedua"),
        *[(f"Anggota {number}", f"{long} ({number})") for number in range(1, 16)],
    ]

    def page(draw: Any) -> bytes:
        document = pdf_adapter._Page(footer=["kaki halaman"], fonts=pdf_adapter.FONTS)
        document.add_page()
        draw(document)
        return bytes(document.output(output_producer_class=pdf_adapter.FONTS.output_producer))

    def as_table(document: Any) -> None:
        document.set_font(pdf_adapter.FONT, "", pdf_adapter.BODY_SIZE)
        with document.table(
            col_widths=(
                pdf_adapter.LABEL_WIDTH,
                pdf_adapter.COLON_WIDTH,
                document.epw - pdf_adapter.LABEL_WIDTH - pdf_adapter.COLON_WIDTH,
            ),
            width=document.epw,
            first_row_as_headings=False,
            borders_layout="NONE",
            line_height=pdf_adapter.FIELD_LINE,
            padding=(pdf_adapter.FIELD_PADDING_TOP, 1, pdf_adapter.FIELD_PADDING_BOTTOM, 1),
            text_align=("LEFT", "CENTER", "LEFT"),
            v_align="TOP",
        ) as table:
            for label, value in rows:
                row = table.row()
                row.cell(label)
                row.cell(":")
                row.cell(value)
        document.ln(3)

    pictures = {}
    for name, content in (
        ("ours", page(lambda document: pdf_adapter._fields(document, rows))),
        ("table", page(as_table)),
    ):
        (tmp_path / f"{name}.pdf").write_bytes(content)
        subprocess.run(["pdftoppm", "-png", "-r", "100", tmp_path / f"{name}.pdf", tmp_path / name], check=True)
        pictures[name] = [path.read_bytes() for path in sorted(tmp_path.glob(f"{name}-*.png"))]
    assert len(pictures["table"]) == 2, "the rows are meant to run onto a second page"
    assert pictures["ours"] == pictures["table"]
