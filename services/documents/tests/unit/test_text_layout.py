"""The renderer breaks and justifies lines itself, for speed: what it draws must be what fpdf2's `multi_cell` draws."""

import os
import random
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from fpdf.enums import XPos, YPos
from fpdf.fonts import FontFace

from dukcapil_documents.adapters import pdf as pdf_adapter
from dukcapil_documents.adapters.layout import Printer, TableBlock, load_layouts

WORDS = (
    "Kepala Dinas Kependudukan dan Pencatatan Sipil Kabupaten Lebak menerangkan bahwa telah dicatat kematian "
    "penduduk: 360214-20261128-0042 Łucja Škoda-Nguyễn https://dukcapil.lebakkab.go.id/verify/Qx7_-aaaaaaaaaaaaaaa "
    + "x"
    * 90
).split()


def texts(seed: int, count: int) -> list[str]:
    pick = random.Random(seed)
    made = []
    for _ in range(count):
        words = [pick.choice(WORDS) for _ in range(pick.randint(1, 60))]
        made.append("".join(word + pick.choice([" ", " ", " ", "  ", "\n"]) for word in words).rstrip())
    return made


def a_page() -> pdf_adapter._Page:
    page = pdf_adapter._Page(footer=["kaki halaman"], fonts=pdf_adapter.FONTS)
    page.add_page()
    return page


@pytest.mark.parametrize(("style", "size"), [("", 10), ("I", 7.5), ("B", 8.5)])
def test_lines_are_broken_where_multi_cell_breaks_them(style: str, size: float) -> None:
    page = a_page()
    page.set_font(pdf_adapter.FONT, style, size)
    pick = random.Random(size)
    for text in [*texts(int(size), 150), "a\n\nb", "x" * 300 + " y", " " * 40 + "x", "soft\u00adhyphen " * 20]:
        width = pick.uniform(8, 170)
        assert page.lines(text, width) == page.multi_cell(width, 1, text, dry_run=True, output="LINES"), text


def test_a_justified_paragraph_is_drawn_as_multi_cell_draws_it() -> None:
    """Byte for byte in the pages' content, across page breaks (the alias of the page count aside)."""

    def drawn(y: float, text: str, draw: Callable[[pdf_adapter._Page, str], None]) -> tuple[list[bytes], float]:
        page = a_page()
        page.set_font(pdf_adapter.FONT, "", pdf_adapter.BODY_SIZE)
        page.set_y(y)
        draw(page, text)
        contents = [re.sub(rb"::placeholder:[^:]*::", b"", bytes(each.contents)) for each in page.pages.values()]
        return contents, page.get_y()

    pick = random.Random(5)
    for text in texts(5, 80):
        y = pick.uniform(15, 260)
        ours = drawn(y, text, lambda page, text: page.justified(5, text))
        theirs = drawn(
            y, text, lambda page, text: page.multi_cell(0, 5, text, align="J", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        )
        assert ours == theirs, text


def test_tables_are_drawn_as_fpdf2s_table_draws_them(tmp_path: Path) -> None:
    """Shaded headings, borders, wrapped and centred cells, and enough rows to run onto a second page (the headings
    repeated there), pixel for pixel."""
    if shutil.which("pdftoppm") is None:
        if os.environ.get("CI") == "true":
            pytest.fail("pdftoppm (poppler-utils) is needed to compare the pages; .ci/run installs it")
        pytest.skip("pdftoppm (poppler-utils) is needed to compare the pages")
    [block] = [block for block in load_layouts().for_type("akta_kematian").blocks if isinstance(block, TableBlock)]
    names = ["Dedi", "Muhammad Rizky Pratama Wijaya Kusuma Ningrat Sastro Atmodjo bin Abdullah", "Łucja Škoda-Nguyễn"]
    items: list[dict[str, object]] = [
        {"name": names[number % 3], "nik": f"36021411118000{number:02d}"} for number in range(40)
    ]
    printer = Printer({}, {})

    def as_fpdf2_table(page: pdf_adapter._Page) -> None:
        """The renderer's table as it was, with fpdf2's `table`."""
        widths = [pdf_adapter.NUMBER_WIDTH, *(column.width or 0 for column in block.columns)]
        widths[2] = page.epw - widths[0] - widths[1]
        page.set_font(pdf_adapter.FONT, "", pdf_adapter.TABLE_SIZE)
        with page.table(
            col_widths=widths,
            width=sum(widths),
            align="LEFT",
            headings_style=FontFace(emphasis="BOLD", fill_color=(228, 228, 228)),
            line_height=4.2,
            padding=(1, 1.2),
            text_align="LEFT",
            v_align="MIDDLE",
        ) as table:
            heading = table.row()
            for header in ["No.", *(column.header for column in block.columns)]:
                heading.cell(header)
            for number, item in enumerate(items, start=1):
                row = table.row()
                row.cell(str(number), align="CENTER")
                for column in block.columns:
                    row.cell(page.covered(printer.text(column.value, row=item)))
        page.ln(4)

    pictures = {}
    for name, draw in (
        ("ours", lambda page: pdf_adapter._table(page, block, printer, items)),
        ("table", as_fpdf2_table),
    ):
        page = a_page()
        page.set_y(150)
        draw(page)
        page.cell(0, 5, "after the table")
        (tmp_path / f"{name}.pdf").write_bytes(
            bytes(page.output(output_producer_class=pdf_adapter.FONTS.output_producer))
        )
        subprocess.run(["pdftoppm", "-png", "-r", "100", tmp_path / f"{name}.pdf", tmp_path / name], check=True)
        pictures[name] = [path.read_bytes() for path in sorted(tmp_path.glob(f"{name}-*.png"))]
    assert len(pictures["table"]) == 2, "the rows are meant to run onto a second page"
    assert pictures["ours"] == pictures["table"]
