"""DejaVu Sans for the PDF renderer, parsed once per process instead of once per document.

fpdf2 reads and parses every font it is given for each FPDF object (`add_font`), and when it writes the file
it subsets each font with fontTools, which edits the parsed font in place: so a font serves one document only,
and the two steps took most of the time of rendering one. Here:

- each font file is parsed once (`FontSet`), and every document gets a light copy of it (`FontSet.install`)
  that shares the parsed tables and keeps its own record of the characters the document uses;
- the embedded font is a subset made of whole blocks of 128 code points (Basic Latin, Latin-1 Supplement, ...)
  that hold the characters the document uses, made once per set of blocks and kept (`FontSet.program`). Every
  document in Latin script gets the same few subsets, so making one is rare. The file is larger than with a
  subset of exactly the characters used (about 20 kB for a document in Basic Latin) and draws the same glyphs;
  the page itself (its content stream, text and image) is byte for byte what fpdf2 alone writes;
- fpdf2 measures a line again for each character it adds to it: the width of a text is kept per font;
- the CIDToGIDMap (128 kB, compressed for each font of each document) is kept compressed per font, for the
  documents that use the same characters in the same order (most, in the bold and italic fonts).

`FontOutputProducer` writes the fonts into the PDF as fpdf2 does (same objects in the same order: Type0 font,
CIDFontType2, ToUnicode map, CIDSystemInfo, descriptor, CIDToGIDMap, font file), taking the font file from
the kept subsets.
"""

import copy
import io
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fontTools import subset as ftsubset
from fontTools import ttLib
from fpdf import FPDF
from fpdf.fonts import PDFFontDescriptor, SubsetMap, TTFFont
from fpdf.output import LOGGER as FPDF_LOGGER
from fpdf.output import (
    CIDSystemInfo,
    OutputProducer,
    PDFFont,
    PDFFontStream,
    _build_cmap_blocks,
    _tt_font_widths,
)
from fpdf.syntax import Name, PDFArray, PDFContentStream

BLOCK = 128
"""Code points per block: a document using any character of a block embeds the font's glyphs for all of it
(1 embeds exactly the characters used, as fpdf2 does)."""
KEPT_WIDTHS = 10_000
"""Texts whose width is kept per font; past that the record starts again. The texts worth keeping are the layouts'
fixed ones, back within a document; the rest are each document's own (six or seven a document: names, numbers,
addresses) at about 1.5 kB each with the record. At 100,000 the record reached some 20 MB, a tenth of the service's
memory, after about 15,000 documents (the service grew 24 MB over the first 15,000 of a backlog); at 10,000 it stays
within about 2 MB."""
KEPT_MAPS = 64
"""Compressed CIDToGIDMap streams kept per font (a few hundred bytes each)."""
KEPT_SUBSETS = 64
"""Subsets kept per font; a document that needs another one makes it (about a tenth of a second)."""

# The same options fpdf2 subsets with (fpdf/output.py, OutputProducer._add_fonts).
_DROPPED_TABLES = [
    "FFTM", "GDEF", "GPOS", "GSUB", "MATH", "hdmx", "meta", "sbix", "CBDT", "CBLC", "EBDT", "EBLC", "EBSC",
    "SVG ", "CPAL", "COLR",
]  # fmt: skip


@dataclass(frozen=True)
class FontProgram:
    """A subset of one font as embedded: its file, compressed, and the glyph ids it gives glyph names."""

    compressed: bytes
    length: int
    glyph_ids: Mapping[str, int]


def parse_font(path: Path, family: str, style: str) -> TTFFont:
    """The font as fpdf2 reads it (metrics, character map, descriptor): the slow step, done once per font."""
    pdf = FPDF()
    pdf.add_font(family, style, str(path))
    return pdf.fonts[f"{family.lower()}{''.join(sorted(style.upper()))}"]


class _Font:
    """One parsed font, and the subsets of it made so far."""

    def __init__(
        self, path: Path, family: str, style: str, *, block: int, parse: Callable[[Path, str, str], TTFFont]
    ) -> None:
        self.parsed = parse(path, family, style)
        if self.parsed.is_cff or self.parsed.color_font is not None or self.parsed.is_symbol:
            raise ValueError(f"{path.name}: only TrueType outline fonts with a Unicode character map are supported")
        self.data = path.read_bytes()
        self._block = block
        self._names_by_block: dict[int, set[str]] = {}
        for code_point, glyph_name in self.parsed.cmap.items():
            self._names_by_block.setdefault(code_point // block, set()).add(glyph_name)
        self.widths: dict[str, int] = {}
        """Width of a text in font units per 1000 em, by text: fpdf2 measures each line again per character."""
        self._programs: OrderedDict[frozenset[int], FontProgram] = OrderedDict()
        self._cid_to_gid_maps: OrderedDict[tuple[tuple[int, int], ...], bytes] = OrderedDict()
        self._lock = threading.Lock()
        self.subsets_made = 0

    def program(self, code_points: Iterable[int]) -> FontProgram:
        blocks = frozenset(code_point // self._block for code_point in code_points)
        with self._lock:
            program = self._programs.get(blocks)
            if program is None:
                program = self._subset(blocks)
                self._programs[blocks] = program
                if len(self._programs) > KEPT_SUBSETS:
                    self._programs.popitem(last=False)
            else:
                self._programs.move_to_end(blocks)
            return program

    def cid_to_gid_map(self, glyph_ids: tuple[tuple[int, int], ...]) -> bytes:
        """The CIDToGIDMap stream fpdf2 writes for these (code, glyph id) pairs, compressed. It spans every code
        (128 kB, a millisecond to compress) and is the same for every document that uses the same characters in the
        same order, as most do in the bold and italic fonts (the fixed texts)."""
        with self._lock:
            compressed = self._cid_to_gid_maps.get(glyph_ids)
            if compressed is not None:
                self._cid_to_gid_maps.move_to_end(glyph_ids)
                return compressed
        cid_to_gid = bytearray(256 * 256 * 2)
        for code, glyph_id in glyph_ids:
            cid_to_gid[code * 2] = glyph_id >> 8
            cid_to_gid[code * 2 + 1] = glyph_id & 0xFF
        compressed = zlib.compress(cid_to_gid, level=PDFContentStream._COMPRESSION_LEVEL)
        with self._lock:
            self._cid_to_gid_maps[glyph_ids] = compressed
            if len(self._cid_to_gid_maps) > KEPT_MAPS:
                self._cid_to_gid_maps.popitem(last=False)
        return compressed

    def _subset(self, blocks: frozenset[int]) -> FontProgram:
        names = sorted(set().union(*(self._names_by_block.get(block, ()) for block in blocks)))
        options = ftsubset.Options(notdef_outline=True, recommended_glyphs=True)
        options.drop_tables += _DROPPED_TABLES
        font = ttLib.TTFont(io.BytesIO(self.data), recalcTimestamp=False, lazy=True)
        subsetter = ftsubset.Subsetter(options)
        subsetter.populate(glyphs=names)
        subsetter.subset(font)
        output = io.BytesIO()
        font.save(output)
        content = output.getvalue()
        glyph_ids = {name: font.getGlyphID(name) for name in font.getGlyphOrder()}
        font.close()
        self.subsets_made += 1
        return FontProgram(
            compressed=zlib.compress(content, level=PDFContentStream._COMPRESSION_LEVEL),
            length=len(content),
            glyph_ids=glyph_ids,
        )


class FontSet:
    """The renderer's fonts, parsed once (lazily, on first use) and shared by every document and thread.

    A document takes them with `install(pdf)` in place of `add_font`, and is written with
    `pdf.output(output_producer_class=FontSet.output_producer)`."""

    def __init__(
        self,
        family: str,
        files: Mapping[str, Path],
        *,
        block: int = BLOCK,
        parse: Callable[[Path, str, str], TTFFont] = parse_font,
    ) -> None:
        self.family = family
        self._files = dict(files)
        self._block = block
        self._parse = parse
        self._fonts: dict[str, _Font] | None = None
        self._lock = threading.Lock()

    def _loaded(self) -> dict[str, _Font]:
        if self._fonts is None:
            with self._lock:
                if self._fonts is None:
                    self._fonts = {
                        style: _Font(path, self.family, style, block=self._block, parse=self._parse)
                        for style, path in self._files.items()
                    }
        return self._fonts

    def warm_up(self) -> None:
        """Read the fonts and make their Basic Latin subsets now rather than on the first document (about half a
        second)."""
        for font in self._loaded().values():
            font.program([0x00, *range(0x20, 0x7F)])

    @property
    def output_producer(self) -> type[OutputProducer]:
        return FontOutputProducer

    def install(self, pdf: FPDF) -> None:
        """Make the fonts available to `pdf` as `add_font` would, without reading them again."""
        for font in self._loaded().values():
            copied = _copy(font, index=len(pdf.fonts) + 1)
            pdf.fonts[copied.fontkey] = copied

    @property
    def subsets_made(self) -> int:
        return sum(font.subsets_made for font in self._loaded().values())


class _SharedFont(TTFFont):
    """A font for one document: the parsed font's tables and metrics, shared (read only), with the per-document
    state fpdf2 keeps on a font (which characters were used, under which codes) its own."""

    __slots__ = ("source",)
    source: _Font

    def get_text_width(self, text: str, font_size_pt: float, text_shaping_params: Any) -> tuple[int, float]:
        """TTFFont.get_text_width, with the sum of the characters' widths (whole numbers, so the same in any
        order) remembered per text; only for unshaped text in a font with a Unicode character map."""
        if text_shaping_params:
            return super().get_text_width(text, font_size_pt, text_shaping_params)
        if font_size_pt > self.biggest_size_pt:
            self.biggest_size_pt = font_size_pt
        widths = self.source.widths
        units = widths.get(text)
        if units is None:
            units = sum(map(self.cw.__getitem__, map(ord, text)))
            if len(widths) >= KEPT_WIDTHS:
                widths.clear()
            widths[text] = units
        return len(text), units * font_size_pt * 0.001


def _copy(source: _Font, *, index: int) -> _SharedFont:
    parsed = source.parsed
    font = _SharedFont.__new__(_SharedFont)
    font.source = source
    for attribute in (
        "type", "ttffile", "is_compressed", "fontkey", "collection_font_number", "ttfont", "is_cff",
        "is_cid_keyed", "is_symbol", "cff_ros", "scale", "cw", "cmap", "glyph_ids", "name", "up", "ut", "sp",
        "ss", "emphasis", "palette_index", "color_font",
    ):  # fmt: skip
        setattr(font, attribute, getattr(parsed, attribute))
    font.i = index
    font._hbfont = None
    font.biggest_size_pt = 0
    font.desc = copy.copy(parsed.desc)
    font.missing_glyphs = []
    font.subset = SubsetMap(font)
    return font


class FontOutputProducer(OutputProducer):
    """fpdf2's writer, embedding the fonts of a `FontSet` from its kept subsets."""

    def _add_fonts(self, image_objects_per_index, gfxstate_objs_per_name, pattern_objs_per_name):  # type: ignore[no-untyped-def]
        if self.fpdf._compliance is not None:
            raise NotImplementedError("PDF/A output is not supported with shared fonts")
        objects = {}
        for font in sorted(self.fpdf.fonts.values(), key=lambda font: font.i):
            if not isinstance(font, _SharedFont):
                raise ValueError(f"font {font.fontkey} was not installed from a FontSet")
            objects[font.i] = self._add_font(font)
        return objects

    def _add_font(self, font: _SharedFont) -> PDFFont:
        fontname = f"MPDFAA+{font.name}"
        if font.missing_glyphs:
            message = ", ".join(
                f"'{chr(x)}' ({chr(x).encode('unicode-escape').decode()})" for x in font.missing_glyphs[:10]
            )
            if len(font.missing_glyphs) > 10:
                message += f", ... (and {len(font.missing_glyphs) - 10} others)"
            FPDF_LOGGER.warning("Font %s is missing the following glyphs: %s", fontname, message)

        used = [(glyph, code) for glyph, code in font.subset.items() if glyph is not None]
        program = font.source.program(code_point for glyph, _ in used for code_point in glyph.unicode)
        missing = [glyph.glyph_name for glyph, _ in used if glyph.glyph_name not in program.glyph_ids]
        if missing:  # pragma: no cover - every used glyph comes from the character map the blocks are made of
            raise AssertionError(f"glyphs {missing} are not in the subset of {font.fontkey}")

        composite_font_obj = PDFFont(subtype="Type0", base_font=fontname, encoding="Identity-H")
        self._add_pdf_obj(composite_font_obj, "fonts")
        cid_font_obj = PDFFont(
            subtype="CIDFontType2", base_font=fontname, d_w=font.desc.missing_width, w=_tt_font_widths(font)
        )
        self._add_pdf_obj(cid_font_obj, "fonts")
        composite_font_obj.descendant_fonts = PDFArray([cid_font_obj])

        bf_char = [
            f"<{code:04X}> <{''.join(_utf16_hex(unicode) for unicode in glyph.unicode)}>\n"
            for glyph, code in used
            if isinstance(glyph.unicode, tuple) and glyph.unicode
        ]
        to_unicode_obj = PDFContentStream(
            (
                "/CIDInit /ProcSet findresource begin\n"
                "12 dict begin\n"
                "begincmap\n"
                "/CIDSystemInfo\n"
                "<</Registry (Adobe)\n"
                "/Ordering (UCS)\n"
                "/Supplement 0\n"
                ">> def\n"
                "/CMapName /Adobe-Identity-UCS def\n"
                "/CMapType 2 def\n"
                "1 begincodespacerange\n"
                "<0000> <FFFF>\n"
                "endcodespacerange\n"
                f"{_build_cmap_blocks(bf_char, 'bfchar')}"
                "endcmap\n"
                "CMapName currentdict /CMap defineresource pop\n"
                "end\n"
                "end"
            ).encode("latin-1")
        )
        self._add_pdf_obj(to_unicode_obj, "fonts")
        composite_font_obj.to_unicode = to_unicode_obj

        cid_system_info_obj = CIDSystemInfo()
        self._add_pdf_obj(cid_system_info_obj, "fonts")
        cid_font_obj.c_i_d_system_info = cid_system_info_obj

        font_descriptor_obj: PDFFontDescriptor = font.desc
        font_descriptor_obj.font_name = Name(fontname)
        self._add_pdf_obj(font_descriptor_obj, "fonts")
        cid_font_obj.font_descriptor = font_descriptor_obj

        cid_to_gid_map_obj = _Compressed(
            font.source.cid_to_gid_map(tuple((code, program.glyph_ids[glyph.glyph_name]) for glyph, code in used))
        )
        self._add_pdf_obj(cid_to_gid_map_obj, "fonts")
        cid_font_obj.c_i_d_to_g_i_d_map = cid_to_gid_map_obj

        font_file_obj = _CompressedFontStream(program)
        self._add_pdf_obj(font_file_obj, "fonts")
        font_descriptor_obj.font_file2 = font_file_obj

        font.subset.pick.cache_clear()
        font.subset.get_glyph.cache_clear()
        return composite_font_obj


class _Compressed(PDFContentStream):
    """A stream as PDFContentStream(contents, compress=True) writes it, from contents compressed beforehand."""

    def __init__(self, compressed: bytes) -> None:
        super().__init__(contents=b"", compress=False)
        self._contents = compressed
        self.filter = Name("FlateDecode")
        self.length = len(compressed)


class _CompressedFontStream(PDFFontStream):
    """A font file stream as PDFFontStream writes it, from a program compressed beforehand."""

    def __init__(self, program: FontProgram) -> None:
        # Not PDFFontStream.__init__: it would compress the font again.
        PDFContentStream.__init__(self, contents=b"", compress=False)
        self._contents = program.compressed
        self.filter = Name("FlateDecode")
        self.length = len(program.compressed)
        self.length1 = program.length


def _utf16_hex(unicode: int) -> str:
    if unicode > 0xFFFF:
        high = 0xD800 | (unicode - 0x10000) >> 10
        low = 0xDC00 | (unicode & 0x3FF)
        return f"{high:04X}{low:04X}"
    return f"{unicode:04X}"
