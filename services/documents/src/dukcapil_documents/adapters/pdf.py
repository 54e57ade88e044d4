"""The issued document as an A4 PDF in Indonesian (fpdf2), drawn from its layout file, with a QR code for
public verification.

Every page has the office's letterhead and a footer; the body is the type's layout (templates/<type>.toml);
the signature block of the head of the office carries the QR code. Text is set in DejaVu Sans (shipped in
`fonts/`), which covers every Latin-script name; a character beyond the font is folded to its base letter, or
printed as `?`.
"""

import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from string import ascii_uppercase
from typing import Any

import anyio
import qrcode
from fpdf import FPDF
from fpdf.enums import Align, XPos, YPos
from fpdf.fonts import FontFace
from fpdf.line_break import BREAKING_SPACE_SYMBOLS_STR, FORM_FEED, NBSP, SOFT_HYPHEN, TextLine
from fpdf.table import draw_box_borders
from fpdf.util import FloatTolerance
from PIL import Image
from qrcode.constants import ERROR_CORRECT_M

from dukcapil_documents.adapters.fonts import FontSet
from dukcapil_documents.adapters.layout import (
    Block,
    FieldsBlock,
    Layout,
    Layouts,
    Office,
    OtherDetailsBlock,
    ParagraphBlock,
    Printer,
    TableBlock,
    data_of,
)
from dukcapil_documents.domain.model import Document
from dukcapil_documents.service_layer.ports import DocumentRenderer

FONT = "DejaVu"
_FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf", "I": "DejaVuSans-Oblique.ttf"}
FONT_PATHS = {style: Path(str(files("dukcapil_documents") / "fonts" / name)) for style, name in _FONT_FILES.items()}
FONTS = FontSet(FONT, FONT_PATHS)
"""The fonts every renderer of this process shares: read once, on the first document."""
AUTHOR = "Dinas Kependudukan dan Pencatatan Sipil Kabupaten Lebak"
LABEL_WIDTH = 66
COLON_WIDTH = 4
FIELD_LINE = 4.6
FIELD_PADDING_TOP = 0.4
FIELD_PADDING_BOTTOM = 0.4
NUMBER_WIDTH = 9
QR_SIZE = 28
QR_BOX = 8
QR_BORDER = 2
QR_MASK_PATTERN = 0
SIGNATURE_WIDTH = 82
NOTE_LINE = 3.6
NOTE_PADDING = 2
BODY_SIZE = 10
TABLE_SIZE = 8.5
TABLE_LINE = 4.2
TABLE_PADDING_Y = 1
TABLE_PADDING_X = 1.2
TABLE_HEADING_FILL = FontFace(fill_color=(228, 228, 228)).fill_color


@dataclass(frozen=True)
class Signatory:
    name: str
    nip: str


class FpdfDocumentRenderer(DocumentRenderer):
    def __init__(self, *, layouts: Layouts, signatory: Signatory, fonts: FontSet = FONTS) -> None:
        self._layouts = layouts
        self._signatory = signatory
        self._fonts = fonts

    def warm_up(self) -> None:
        """Do now what the first document would otherwise wait for: reading the fonts."""
        self._fonts.warm_up()

    async def render(self, document: Document, *, verification_url: str) -> bytes:
        # fpdf2 is pure Python and takes tens of milliseconds: keep the event loop free meanwhile.
        return await anyio.to_thread.run_sync(self.render_now, document, verification_url)

    def render_now(self, document: Document, verification_url: str) -> bytes:
        office = self._layouts.office
        layout = self._layouts.for_type(document.type)
        printer = Printer(
            data_of(
                document,
                verification_url=verification_url,
                signer_name=self._signatory.name,
                signer_nip=self._signatory.nip,
            ),
            {**office.words, **layout.words},
        )
        title = layout.title or document.title
        pdf = _Page(footer=[printer.text(line) for line in office.footer], fonts=self._fonts)
        pdf.set_title(f"{title} {document.number}")
        pdf.set_author(AUTHOR)
        pdf.set_subject(f"Permohonan {document.request_number}")
        pdf.set_keywords(f"{document.type} {document.number} kunci-tanda-tangan:{document.signing_key_id}")
        pdf.set_creator("dukcapil-documents")
        pdf.set_lang("id-ID")
        pdf.set_creation_date(document.issued_at)
        pdf.add_page()
        _letterhead(pdf, office, printer)
        _title(pdf, title, document.number)
        letters = iter(ascii_uppercase) if office.lettered_headings else None
        for block in layout.blocks:
            _draw(pdf, block, printer, document, layout, letters)
        _signature(pdf, office, printer, verification_url)
        return bytes(pdf.output(output_producer_class=self._fonts.output_producer))


class _Page(FPDF):
    def __init__(self, *, footer: list[str], fonts: FontSet) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self._footer_lines = footer
        fonts.install(self)
        self._shown = _Shown([font.cmap for font in self.fonts.values()])
        self.set_margins(left=20, top=15, right=20)
        self.set_auto_page_break(auto=True, margin=24)
        self.alias_nb_pages()

    def footer(self) -> None:
        self.set_y(-22)
        self.set_draw_color(160)
        self.set_line_width(0.2)
        self.line(self.l_margin, self.get_y(), self.w - self.r_margin, self.get_y())
        self.ln(1)
        self.set_font(FONT, "", 7)
        self.set_text_color(90)
        for line in self._footer_lines:
            text = self.covered(line)
            for part in self.lines(text, self.epw):
                self.cell(self.epw, 3.3, part, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.cell(0, 3.3, f"Halaman {self.page_no()}/{{nb}}", align="R")
        self.set_text_color(0)
        self.set_draw_color(0)

    def lines(self, text: str, width: float) -> list[str]:
        """`text` as the lines fpdf2's `multi_cell` breaks it into (word wrap, a cell's margins on both sides) in a
        column `width` wide, in the current font."""
        if self.fits_on_one_line(text, width):
            return [text]
        wrapped = self._wrapped(text, width)
        if wrapped is None:
            return self.multi_cell(width, 1, text, dry_run=True, output="LINES")
        return [line for line, _ in wrapped]

    def justified(self, h: float, text: str) -> None:
        """What `multi_cell(0, h, text, align="J", new_x=LMARGIN, new_y=NEXT)` draws, with our line breaker: a line
        broken at a space is justified as multi_cell justifies it (the free width spread over its spaces); the last
        line, one cut inside a word or ended by a line break are set left."""
        width = self.w - self.r_margin - self.x
        wrapped = [(text, False)] if self.fits_on_one_line(text, width) else self._wrapped(text, width)
        if wrapped is None:
            self.multi_cell(width, h, text, align="J", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            return
        for index, (line, at_space) in enumerate(wrapped):
            last = index == len(wrapped) - 1
            new_x = XPos.LMARGIN if last else XPos.LEFT
            if at_space:
                # cell() has no word spacing: the line as multi_cell hands it to fpdf2's line renderer, with its
                # spaces counted for justification.
                fragments = self._preload_font_styles(line, False)
                text_line = TextLine(
                    fragments, text_width=0, number_of_spaces=line.count(" "), align=Align.J, height=h, max_width=width
                )
                self._render_styled_text_line(text_line, h, new_x=new_x, new_y=YPos.NEXT)
            else:
                self.cell(width, h, line, new_x=new_x, new_y=YPos.NEXT)

    def _wrapped(self, text: str, width: float) -> list[tuple[str, bool]] | None:
        """The lines of `text` in a column `width` wide as fpdf2's line breaker makes them, each with whether it was
        broken at a space; None for text with a character whose rules are fpdf2's alone (another kind of space, a
        soft hyphen).

        fpdf2's line breaker measures the line again for each character it adds (a paragraph took three
        milliseconds); this one adds up the font's widths once. It follows fpdf2's rules, with its arithmetic: break
        at the last space that fits (the space is dropped), or before the character that does not fit if there is
        none, and at each line break."""
        if not _PLAIN_BREAKS.isdisjoint(text) or text.endswith("\n"):
            return None
        available = width - 2 * self.c_margin
        scale = self.font_size_pt * 0.001 / self.k
        advance = self.current_font.cw
        lines = []
        for paragraph in text.split("\n"):
            start, end, units, space = 0, 0, 0, -1
            while end < len(paragraph):
                char = paragraph[end]
                char_units = advance[ord(char)]
                # fpdf2's comparison: the line's width plus the character's, each in document units.
                if FloatTolerance.greater_than(units * scale + char_units * scale, available):
                    if char == " ":
                        lines.append((paragraph[start:end], True))
                        start = end = end + 1
                    elif space >= 0:
                        lines.append((paragraph[start:space], True))
                        start = end = space + 1
                    else:
                        lines.append((paragraph[start:end], False))
                        start = end
                    units, space = 0, -1
                    continue
                if char == " ":
                    space = end
                units += char_units
                end += 1
            if start < len(paragraph) or not paragraph:
                lines.append((paragraph[start:], False))
        return lines

    def fits_on_one_line(self, text: str, width: float) -> bool:
        """Whether `text` fits a cell `width` wide, inside its margins, in the current font (measured without
        fpdf2's line breaker, which goes character by character)."""
        return "\n" not in text and self.get_string_width(text) <= width - 2 * self.c_margin

    def covered(self, value: str) -> str:
        """The text with each character the font cannot show folded to its base letter, or replaced by `?`."""
        return value.translate(self._shown)


def _letterhead(pdf: _Page, office: Office, printer: Printer) -> None:
    for line in office.letterhead:
        pdf.set_font(FONT, line.style, line.size)
        pdf.cell(
            0, line.size * 0.5, pdf.covered(printer.text(line.text)), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT
        )
    y = pdf.get_y() + 2
    pdf.set_line_width(0.8)
    pdf.line(pdf.l_margin, y, pdf.w - pdf.r_margin, y)
    pdf.set_line_width(0.2)
    pdf.line(pdf.l_margin, y + 1.2, pdf.w - pdf.r_margin, y + 1.2)
    pdf.set_y(y + 6)


def _title(pdf: _Page, title: str, number: str) -> None:
    pdf.set_font(FONT, "BU", 15)
    pdf.cell(0, 8, pdf.covered(title), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(FONT, "", 10.5)
    pdf.cell(0, 6, pdf.covered(f"Nomor: {number}"), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)


def _draw(
    pdf: _Page, block: Block, printer: Printer, document: Document, layout: Layout, letters: Iterator[str] | None
) -> None:
    match block:
        case FieldsBlock():
            rows = [(row.label, printer.fill(row.value)) for row in block.rows]
            shown = [
                (label, value or "-")
                for (label, value), row in zip(rows, block.rows, strict=True)
                if value or not row.optional
            ]
            if shown:
                _heading(pdf, block.heading, letters)
                _fields(pdf, shown)
        case TableBlock():
            items = printer.rows(block.rows)
            if items or not block.optional:
                _heading(pdf, block.heading, letters)
                _table(pdf, block, printer, items)
        case ParagraphBlock():
            pdf.set_font(FONT, block.style, BODY_SIZE)
            pdf.justified(5, pdf.covered(printer.text(block.text)))
            pdf.ln(3)
        case OtherDetailsBlock():
            rows = document.detail_rows(leaving_out=layout.printed_details())
            if rows:
                _heading(pdf, block.heading, letters)
                _fields(pdf, rows)


def _heading(pdf: _Page, heading: str | None, letters: Iterator[str] | None) -> None:
    if not heading:
        return
    letter = next(letters, None) if letters is not None else None
    pdf.set_font(FONT, "B", 10.5)
    text = f"{letter}. {heading}" if letter else heading
    pdf.cell(0, 6.5, pdf.covered(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def _fields(pdf: _Page, rows: list[tuple[str, str]]) -> None:
    """Label, colon and value in three columns without borders, a row per field, a long label or value wrapped.

    Drawn row by row rather than with fpdf2's `table`, which lays out every cell's text twice (to measure the row,
    then to draw it) through its line breaker, character by character: that was a third of a document's rendering.
    Most fields fit on one line, so a cell is measured with the font's widths and drawn as one `cell`; only a text
    that does not fit goes through `multi_cell`'s line breaker. The page is the table's, pixel for pixel (tested)."""
    pdf.set_font(FONT, "", BODY_SIZE)
    columns = (
        (pdf.l_margin, LABEL_WIDTH, "L"),
        (pdf.l_margin + LABEL_WIDTH, COLON_WIDTH, "C"),
        (pdf.l_margin + LABEL_WIDTH + COLON_WIDTH, pdf.epw - LABEL_WIDTH - COLON_WIDTH, "L"),
    )
    for label, value in rows:
        texts = (pdf.covered(label), ":", pdf.covered(value))
        lines = [pdf.lines(text, width) for text, (_x, width, _align) in zip(texts, columns, strict=True)]
        height = FIELD_PADDING_TOP + max(len(cell) for cell in lines) * FIELD_LINE + FIELD_PADDING_BOTTOM
        if pdf.get_y() + height > pdf.page_break_trigger:
            pdf.add_page()
        top = pdf.get_y()
        for cell_lines, (x, width, align) in zip(lines, columns, strict=True):
            for index, line in enumerate(cell_lines):
                pdf.set_xy(x, top + FIELD_PADDING_TOP + index * FIELD_LINE)
                pdf.cell(width, FIELD_LINE, line, align=align)
        pdf.set_xy(pdf.l_margin, top + height)
    pdf.ln(3)


def _table(pdf: _Page, block: TableBlock, printer: Printer, items: list[dict[str, object]]) -> None:
    """A bordered table with a shaded heading row, repeated on each page it runs onto, cells centred vertically.

    Drawn as fpdf2's `table` draws it (same boxes, same text positions: tested pixel for pixel), without its cost:
    fpdf2 lays out each cell's text twice through its line breaker (to measure the row, then to draw it), which was a
    fifth of a document's rendering."""
    fixed = sum(column.width or 0 for column in block.columns) + (NUMBER_WIDTH if block.numbered else 0)
    flexible = [column for column in block.columns if not column.width]
    share = max(pdf.epw - fixed, 10) / len(flexible) if flexible else 0
    widths = [column.width or share for column in block.columns]
    headers = [column.header for column in block.columns]
    aligns = ["L"] * len(block.columns)
    if block.numbered:
        widths, headers, aligns = [NUMBER_WIDTH, *widths], ["No.", *headers], ["C", *aligns]
    # fpdf2's arithmetic: each column its share of the table's width.
    total = sum(widths)
    widths = [width / total * total for width in widths]
    lefts = [pdf.l_margin + sum(widths[:index]) for index in range(len(widths))]
    pdf.set_font(FONT, "", TABLE_SIZE)
    heading = _TableRow(pdf, [pdf.covered(header) for header in headers], widths, heading=True)
    rows = []
    for number, item in enumerate(items or [{}], start=1):
        texts = [pdf.covered(printer.text(column.value, row=item)) for column in block.columns]
        if block.numbered:
            texts = [str(number) if items else "-", *texts]
        rows.append(_TableRow(pdf, texts, widths, heading=False))
    if pdf.will_page_break(heading.height + rows[0].height):  # the heading not alone at the foot of a page
        pdf.add_page()
    heading.draw(pdf, lefts, widths, ["L"] * len(widths))
    for row in rows:
        if pdf.will_page_break(row.height):
            pdf.add_page()
            heading.draw(pdf, lefts, widths, ["L"] * len(widths))
        row.draw(pdf, lefts, widths, aligns)
    pdf.ln(4)


class _TableRow:
    """One row of `_table`: its cells' lines, and its height (the tallest cell's, padding included)."""

    def __init__(self, pdf: _Page, texts: list[str], widths: list[float], *, heading: bool) -> None:
        self.heading = heading
        pdf.set_font(FONT, "B" if heading else "", TABLE_SIZE)
        # A cell's padding stands in for the cell margins fpdf2 leaves on each side of a line: the lines a column
        # width less the padding holds, with the margins given back.
        self.lines = [
            pdf.lines(text, width - 2 * TABLE_PADDING_X + 2 * pdf.c_margin) if text else []
            for text, width in zip(texts, widths, strict=True)
        ]
        pdf.set_font(FONT, "", TABLE_SIZE)
        heights = [_cell_height(lines) for lines in self.lines]
        self.heights = heights
        self.height = max(heights) or TABLE_LINE

    def draw(self, pdf: _Page, lefts: list[float], widths: list[float], aligns: list[str]) -> None:
        top = pdf.get_y()
        fill = TABLE_HEADING_FILL if self.heading else None
        pdf.set_font(FONT, "B" if self.heading else "", TABLE_SIZE)
        for left, width, align, lines, height in zip(lefts, widths, aligns, self.lines, self.heights, strict=True):
            draw_box_borders(pdf, left, top, left + width, top + self.height, border=1, fill_color=fill)
            text_top = top + (self.height - height) / 2 + TABLE_PADDING_Y
            for index, line in enumerate(lines):
                pdf.set_xy(left + TABLE_PADDING_X - pdf.c_margin, text_top + index * TABLE_LINE)
                pdf.cell(width - 2 * TABLE_PADDING_X + 2 * pdf.c_margin, TABLE_LINE, line, align=align)
        pdf.set_font(FONT, "", TABLE_SIZE)
        pdf.set_xy(pdf.l_margin, top + self.height)


def _cell_height(lines: list[str]) -> float:
    return len(lines) * TABLE_LINE + 2 * TABLE_PADDING_Y if lines else 0


def _signature(pdf: _Page, office: Office, printer: Printer, verification_url: str) -> None:
    signature = office.signature
    height = 5 * (2 + len(signature.title)) + QR_SIZE + 14
    if pdf.get_y() + height > pdf.page_break_trigger:
        pdf.add_page()
    top = pdf.get_y() + 2
    column_x = pdf.w - pdf.r_margin - SIGNATURE_WIDTH

    pdf.set_xy(column_x, top)
    pdf.set_font(FONT, "", BODY_SIZE)
    pdf.cell(
        SIGNATURE_WIDTH,
        5,
        pdf.covered(printer.text(signature.place_and_date)),
        align="C",
        new_x=XPos.LEFT,
        new_y=YPos.NEXT,
    )
    pdf.set_font(FONT, "B", BODY_SIZE)
    for line in signature.title:
        pdf.cell(SIGNATURE_WIDTH, 5, pdf.covered(printer.text(line)), align="C", new_x=XPos.LEFT, new_y=YPos.NEXT)
    qr_top = pdf.get_y() + 2
    pdf.image(_qr_image(verification_url), x=column_x + (SIGNATURE_WIDTH - QR_SIZE) / 2, y=qr_top, w=QR_SIZE, h=QR_SIZE)
    pdf.set_xy(column_x, qr_top + QR_SIZE + 2)
    pdf.set_font(FONT, "BU", BODY_SIZE)
    pdf.cell(SIGNATURE_WIDTH, 5, pdf.covered(printer.text(signature.name)), align="C", new_x=XPos.LEFT, new_y=YPos.NEXT)
    pdf.set_font(FONT, "", BODY_SIZE)
    if signature.identifier:
        pdf.cell(
            SIGNATURE_WIDTH,
            5,
            pdf.covered(printer.text(signature.identifier)),
            align="C",
            new_x=XPos.LEFT,
            new_y=YPos.NEXT,
        )
    bottom = pdf.get_y()

    if signature.note:
        # What multi_cell(border=1, padding=NOTE_PADDING) draws, with our line breaker: the box, then each line as a
        # cell whose own margin (c_margin) and position make up the padding.
        note_width = column_x - pdf.l_margin - 8
        pdf.set_font(FONT, "I", 7.5)
        pdf.set_draw_color(120)
        inset = NOTE_PADDING - pdf.c_margin
        lines = pdf.lines(pdf.covered("\n".join(printer.text(line) for line in signature.note)), note_width - 2 * inset)
        box_height = 2 * NOTE_PADDING + len(lines) * NOTE_LINE
        # fpdf2's own box drawing (rect() writes the same box from its other corner, a hair off in pixels).
        draw_box_borders(pdf, pdf.l_margin, qr_top, pdf.l_margin + note_width, qr_top + box_height, border=1)
        for index, line in enumerate(lines):
            pdf.set_xy(pdf.l_margin + inset, qr_top + NOTE_PADDING + index * NOTE_LINE)
            pdf.cell(note_width - 2 * inset, NOTE_LINE, line)
        pdf.set_draw_color(0)
        bottom = max(bottom, qr_top + box_height)
    pdf.set_y(bottom)


def _qr_image(url: str) -> Image.Image:
    """The QR code as a black and white picture of QR_BOX pixels a module: the picture qrcode's own
    `make_image` draws, drawn from the module matrix in one step instead of a rectangle a module."""
    # A fixed mask pattern: choosing the best of the eight (qrcode's default) draws and scores the symbol eight times,
    # a fifth of a document's rendering time. Every mask is valid (ISO/IEC 18004); the choice only lowers a penalty
    # score for patterns that could trouble a poor scanner, and the tests read each document's code back with zbar.
    code = qrcode.QRCode(
        error_correction=ERROR_CORRECT_M, box_size=QR_BOX, border=QR_BORDER, mask_pattern=QR_MASK_PATTERN
    )
    code.add_data(url)
    code.make(fit=True)
    matrix = code.get_matrix()
    size = len(matrix)
    modules = Image.new("1", (size, size))
    modules.putdata([0 if dark else 1 for row in matrix for dark in row])
    return modules.resize((size * QR_BOX, size * QR_BOX), Image.Resampling.NEAREST)


_PLAIN_BREAKS = frozenset(BREAKING_SPACE_SYMBOLS_STR.replace(" ", "") + FORM_FEED + NBSP + SOFT_HYPHEN + "\r")
"""Characters fpdf2's line breaker treats specially beyond spaces and line breaks: text with one goes to it."""
_PUNCTUATION = str.maketrans({"\u00a0": " ", "\u200b": ""})


class _Shown(dict[int, int | str]):
    """`covered`'s translation table, filled in as characters come: a character every font has stays, another is
    folded. (Building the set of the characters every font has took a millisecond and a half a document.)"""

    def __init__(self, cmaps: list[dict[int, Any]]) -> None:
        super().__init__(_PUNCTUATION)
        self._cmaps = cmaps

    def __missing__(self, code: int) -> int | str:
        shown = code == ord("\n") or self.has(code)
        self[code] = value = code if shown else _fold(chr(code), self.has)
        return value

    def has(self, code: int) -> bool:
        return all(code in cmap for cmap in self._cmaps)


def _fold(char: str, has: Callable[[int], bool]) -> str:
    folded = "".join(part for part in unicodedata.normalize("NFKD", char) if not unicodedata.combining(part))
    return folded if folded and all(has(ord(part)) for part in folded) else "?"
