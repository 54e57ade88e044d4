"""The renderer's fonts are read once per process and shared, and what it writes is still what fpdf2 writes."""

import io
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pypdf
import qrcode
from fpdf import FPDF
from fpdf.fonts import TTFFont
from fpdf.output import OutputProducer
from qrcode.constants import ERROR_CORRECT_M

from dukcapil_documents.adapters import pdf
from dukcapil_documents.adapters.fonts import FontSet, parse_font
from dukcapil_documents.adapters.layout import load_layouts
from dukcapil_documents.adapters.pdf import FONT, FONT_PATHS, FpdfDocumentRenderer, Signatory
from dukcapil_documents.domain.model import Document

from .test_pdf import CASES, SIGNATORY, a_document, url_of

LAYOUTS = load_layouts()


class FpdfOwnFonts:
    """fpdf2 on its own, as the renderer was before fonts were shared: each document reads its fonts with
    `add_font`, and fpdf2 subsets them as it writes the file."""

    output_producer = OutputProducer

    def install(self, document: FPDF) -> None:
        for style, path in FONT_PATHS.items():
            document.add_font(FONT, style, str(path))


class CountingParse:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    def __call__(self, path: Path, family: str, style: str) -> TTFFont:
        self.calls.append((path.name, style))
        return parse_font(path, family, style)


def renderer(fonts: Any, signatory: Signatory = SIGNATORY) -> FpdfDocumentRenderer:
    return FpdfDocumentRenderer(layouts=LAYOUTS, signatory=signatory, fonts=fonts)


def documents() -> list[Document]:
    """One of each type, a name and details beyond Basic Latin (and beyond the font), and two pages."""
    found = [a_document(request_type, holder, details) for request_type, (holder, details, _) in CASES.items()]
    holder, details, _ = CASES["kartu_keluarga"]
    beyond_latin = {**details, "changes": "Guru “honorer” — 中 Ωμέγα"}
    found.append(a_document("kartu_keluarga", {**holder, "name": "Łucja Škoda-Nguyễn"}, beyond_latin))
    found.append(a_document("kartu_keluarga", holder, {**details, "members": details["members"] * 20}))
    return found


def pages_of(content: bytes) -> tuple[list[bytes], list[str], list[bytes]]:
    """Each page's content stream and text, and every picture: the page as drawn, fonts apart."""
    reader = pypdf.PdfReader(io.BytesIO(content), strict=True)
    return (
        [page.get_contents().get_data() for page in reader.pages],
        [page.extract_text() for page in reader.pages],
        [image.data for page in reader.pages for image in page.images],
    )


def test_fonts_are_read_once_for_any_number_of_documents_and_renderers() -> None:
    parse = CountingParse()
    fonts = FontSet(FONT, FONT_PATHS, parse=parse)
    first, second = renderer(fonts), renderer(fonts, Signatory(name="Dra. Lain Pejabat", nip="197002021990012002"))
    holder, details, _ = CASES["akta_kematian"]

    first.render_now(document := a_document("akta_kematian", holder, details), url_of(document))
    assert sorted(parse.calls) == [
        ("DejaVuSans-Bold.ttf", "B"),
        ("DejaVuSans-Oblique.ttf", "I"),
        ("DejaVuSans.ttf", ""),
    ]
    subsets = fonts.subsets_made

    for request_type, (holder, details, _) in CASES.items():
        for render in (first, second):
            document = a_document(request_type, holder, details)
            render.render_now(document, url_of(document))
    assert len(parse.calls) == 3, "no font is read again"
    assert fonts.subsets_made == subsets, "documents in Basic Latin share the fonts' subsets"


def test_warming_up_leaves_nothing_for_the_first_document_in_basic_latin_to_read_or_make() -> None:
    parse = CountingParse()
    fonts = FontSet(FONT, FONT_PATHS, parse=parse)
    warm = renderer(fonts)
    warm.warm_up()
    assert len(parse.calls) == 3 and fonts.subsets_made == 3
    holder, details, _ = CASES["surat_pindah"]
    document = a_document("surat_pindah", holder, details)
    content = warm.render_now(document, url_of(document))
    assert len(parse.calls) == 3 and fonts.subsets_made == 3
    assert content == renderer(FontSet(FONT, FONT_PATHS)).render_now(document, url_of(document))


def test_with_exact_subsets_each_file_is_byte_for_byte_what_fpdf2_alone_writes() -> None:
    shared = renderer(FontSet(FONT, FONT_PATHS, block=1))
    alone = renderer(FpdfOwnFonts())
    for document in documents():
        assert shared.render_now(document, url_of(document)) == alone.render_now(document, url_of(document))


def test_the_shared_subsets_change_the_embedded_fonts_only() -> None:
    shared = renderer(FontSet(FONT, FONT_PATHS))
    alone = renderer(FpdfOwnFonts())
    for document in documents():
        content = shared.render_now(document, url_of(document))
        assert pages_of(content) == pages_of(alone.render_now(document, url_of(document)))
        assert pypdf.PdfReader(io.BytesIO(content), strict=True).metadata.title == f"{document.title} {document.number}"


def test_a_document_renders_to_the_same_bytes_every_time() -> None:
    holder, details, _ = CASES["kartu_keluarga"]
    document = a_document("kartu_keluarga", holder, details)
    fonts = FontSet(FONT, FONT_PATHS)
    cold = renderer(fonts).render_now(document, url_of(document))
    warm = renderer(fonts).render_now(document, url_of(document))
    other_process = renderer(FontSet(FONT, FONT_PATHS)).render_now(document, url_of(document))
    assert cold == warm == other_process
    assert renderer(pdf.FONTS).render_now(document, url_of(document)) == cold


def test_documents_rendered_at_once_on_several_threads_are_those_rendered_one_at_a_time() -> None:
    work = [document for document in documents() for _ in range(2)]
    alone = renderer(FontSet(FONT, FONT_PATHS))
    one_at_a_time = [alone.render_now(document, url_of(document)) for document in work]
    shared = renderer(FontSet(FONT, FONT_PATHS))
    with ThreadPoolExecutor(max_workers=4) as pool:
        at_once = list(pool.map(lambda document: shared.render_now(document, url_of(document)), work))
    assert at_once == one_at_a_time


def test_the_qr_picture_is_the_one_qrcode_draws() -> None:
    for token in ("Qx7_-" + "a" * 27, "0" * 32, "zZ-_" * 8):
        url = f"https://dukcapil.lebakkab.go.id/verify/{token}"
        code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=8, border=2, mask_pattern=pdf.QR_MASK_PATTERN)
        code.add_data(url)
        code.make(fit=True)
        drawn = code.make_image(fill_color="black", back_color="white").get_image()
        ours = pdf._qr_image(url)
        assert (ours.mode, ours.size, ours.tobytes()) == (drawn.mode, drawn.size, drawn.tobytes())
