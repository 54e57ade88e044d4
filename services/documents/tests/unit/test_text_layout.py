"""The renderer breaks and justifies lines itself, for speed: what it draws must be what fpdf2's `multi_cell` draws."""

import random
import re
from collections.abc import Callable

import pytest
from fpdf.enums import XPos, YPos

from dukcapil_documents.adapters import pdf as pdf_adapter

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
