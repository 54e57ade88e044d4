"""The issued document as an A4 PDF in Indonesian (fpdf2), with a QR code for public verification.

One layout serves every document type for now: office letterhead, title and number, the holder, the approved
details, the request it answers, the signature block and the QR code.
"""

import unicodedata

import anyio
import qrcode
from fpdf import FPDF
from fpdf.enums import XPos, YPos
from qrcode.constants import ERROR_CORRECT_M

from dukcapil_documents.domain.model import WIB, Document, tanggal
from dukcapil_documents.service_layer.ports import DocumentRenderer

GOVERNMENT = "PEMERINTAH KABUPATEN LEBAK"
OFFICE = "DINAS KEPENDUDUKAN DAN PENCATATAN SIPIL"
OFFICE_PLACE = "Rangkasbitung, Kabupaten Lebak, Provinsi Banten"
SIGNATORY = ("KEPALA DINAS KEPENDUDUKAN DAN", "PENCATATAN SIPIL KABUPATEN LEBAK")
FONT = "Helvetica"
LABEL_WIDTH = 55


class FpdfDocumentRenderer(DocumentRenderer):
    async def render(self, document: Document, *, verification_url: str) -> bytes:
        # fpdf2 is pure Python and takes tens of milliseconds: keep the event loop free meanwhile.
        return await anyio.to_thread.run_sync(self.render_now, document, verification_url)

    def render_now(self, document: Document, verification_url: str) -> bytes:
        pdf = _Page(verification_url)
        pdf.set_title(_text(f"{document.title} {document.number}"))
        pdf.set_author("Dinas Kependudukan dan Pencatatan Sipil Kabupaten Lebak")
        pdf.set_subject(_text(f"Permohonan {document.request_number}"))
        pdf.set_creator("dukcapil-documents")
        pdf.set_lang("id-ID")
        pdf.set_creation_date(document.issued_at)
        pdf.add_page()
        _letterhead(pdf)
        _title(pdf, document)
        issued_on = tanggal(document.issued_at.astimezone(WIB).date())
        _section(pdf, "A. DATA PENDUDUK", document.holder_rows())
        _section(pdf, "B. KETERANGAN", document.detail_rows() or [("Keterangan", "-")])
        _section(
            pdf,
            "C. DATA PERMOHONAN",
            [
                ("Nomor Permohonan", document.request_number),
                ("ID Permohonan", str(document.request_id)),
                ("Kode Kecamatan", document.kecamatan_code),
                ("Tanggal Terbit", issued_on),
            ],
        )
        _signature(pdf, issued_on, verification_url)
        return bytes(pdf.output())


class _Page(FPDF):
    def __init__(self, verification_url: str) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self._verification_url = verification_url
        self.set_margins(left=20, top=15, right=20)
        self.set_auto_page_break(auto=True, margin=20)
        self.alias_nb_pages()

    def footer(self) -> None:
        self.set_y(-17)
        self.set_draw_color(160)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.set_font(FONT, "", 7.5)
        self.set_text_color(90)
        self.multi_cell(
            0,
            3.6,
            _text(
                "Dokumen ini diterbitkan dan ditandatangani secara elektronik oleh Dinas Kependudukan dan "
                f"Pencatatan Sipil Kabupaten Lebak. Periksa keaslian di {self._verification_url}"
            ),
            align="L",
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
        self.cell(0, 3.6, f"Halaman {self.page_no()}/{{nb}}", align="R")
        self.set_text_color(0)


def _letterhead(pdf: FPDF) -> None:
    pdf.set_font(FONT, "B", 13)
    pdf.cell(0, 6.5, GOVERNMENT, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "B", 14)
    pdf.cell(0, 7, OFFICE, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "", 9)
    pdf.cell(0, 5, OFFICE_PLACE, align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    y = pdf.get_y() + 2
    pdf.set_line_width(0.8)
    pdf.line(pdf.l_margin, y, pdf.w - pdf.r_margin, y)
    pdf.set_line_width(0.2)
    pdf.line(pdf.l_margin, y + 1.2, pdf.w - pdf.r_margin, y + 1.2)
    pdf.set_y(y + 7)


def _title(pdf: FPDF, document: Document) -> None:
    pdf.set_font(FONT, "BU", 16)
    pdf.cell(0, 8, _text(document.title), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "", 11)
    pdf.cell(0, 6, _text(f"Nomor: {document.number}"), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)


def _section(pdf: FPDF, heading: str, rows: list[tuple[str, str]]) -> None:
    pdf.set_font(FONT, "B", 11)
    pdf.cell(0, 7, heading, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "", 10)
    with pdf.table(
        col_widths=(LABEL_WIDTH, pdf.epw - LABEL_WIDTH),
        first_row_as_headings=False,
        borders_layout="HORIZONTAL_LINES",
        line_height=5,
        padding=(0.8, 2),
        text_align=("LEFT", "LEFT"),
    ) as table:
        for label, value in rows:
            row = table.row()
            row.cell(_text(label))
            row.cell(_text(value))
    pdf.ln(4)


def _signature(pdf: FPDF, issued_on: str, verification_url: str) -> None:
    block_height = 44
    if pdf.get_y() + block_height > pdf.page_break_trigger:
        pdf.add_page()
    top = pdf.get_y() + 2
    qr_size = 34
    pdf.image(_qr_image(verification_url), x=pdf.l_margin, y=top, w=qr_size, h=qr_size)
    pdf.set_xy(pdf.l_margin, top + qr_size + 1)
    pdf.set_font(FONT, "", 7.5)
    pdf.multi_cell(qr_size + 16, 3.4, "Pindai kode QR untuk memeriksa keaslian dokumen ini.", align="L")

    column_x = pdf.w - pdf.r_margin - 80
    pdf.set_xy(column_x, top)
    pdf.set_font(FONT, "", 10)
    pdf.cell(80, 5.5, _text(f"Lebak, {issued_on}"), align="C", new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_font(FONT, "B", 10)
    for line in SIGNATORY:
        pdf.cell(80, 5.5, line, align="C", new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.ln(9)
    pdf.set_x(column_x)
    pdf.set_font(FONT, "I", 9)
    pdf.cell(80, 5, "Ditandatangani secara elektronik", align="C", new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_y(max(pdf.get_y(), top + qr_size + 8))


def _qr_image(url: str):  # type: ignore[no-untyped-def]
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=8, border=2)
    code.add_data(url)
    code.make(fit=True)
    return code.make_image(fill_color="black", back_color="white").get_image()


_PUNCTUATION = str.maketrans({"‘": "'", "’": "'", "“": '"', "”": '"', "–": "-", "—": "-", "…": "..."})


def _text(value: str) -> str:
    """The built-in PDF fonts cover Latin-1 only: keep what they can show, fold or mark anything beyond."""
    return "".join(char if _latin1(char) else _fold(char) for char in value.translate(_PUNCTUATION))


def _fold(char: str) -> str:
    folded = "".join(part for part in unicodedata.normalize("NFKD", char) if not unicodedata.combining(part))
    return folded if folded and all(_latin1(part) for part in folded) else "?"


def _latin1(char: str) -> bool:
    try:
        char.encode("latin-1")
    except UnicodeEncodeError:
        return False
    return True
