"""A document never grows past its layout's pages, whatever the citizen typed.

Each type is rendered with the most the contracts let a request carry (contracts/text.py and intake's checks):
every text at its cap, as many people as a list may hold, in the widest character the rules allow and the font
has, packed tightly and as words sized to waste the most of each line. The pages each layout may take:

- biodata_wni: one. Two blocks of fields, none of them free text but the holder's name.
- akta_kematian: two. Fixed fields and two witnesses; at their caps the names and the place of death wrap, and
  the signature block moves to a second page.
- kartu_keluarga: five. The family table holds the head and up to MAX_PEOPLE members; a name of 60 of the widest
  letters, in words that fill half its 42 mm column, takes nine lines (a real name takes two or three).
- surat_pindah: five. Two addresses, and two tables of up to MAX_PEOPLE people each (who moves, who stays).

The word lengths tried are those that cost the most pages (found by trying 1 to 30).
"""

import functools
import io
import itertools
from typing import Any

import pypdf
import pytest
from fontTools.ttLib import TTFont

from dukcapil_documents.adapters.pdf import FONT_PATHS
from dukcapil_shared.contracts.text import (
    CITY_MAX,
    DETAIL_TEXT,
    DETAIL_TEXT_MAX,
    MAX_PEOPLE,
    NAME_MAX,
    PERSON_NAME,
    PLACE_MAX,
    STREET_MAX,
    TextRefused,
    TextRule,
    clean_text,
)

from .test_pdf import a_document, render

MOST_PAGES = {"biodata_wni": 1, "akta_kematian": 2, "kartu_keluarga": 5, "surat_pindah": 5}


@functools.cache
def widest(rule: TextRule) -> str:
    """The widest character of the regular face that the rule lets through and every face can print."""
    faces = [TTFont(path) for path in FONT_PATHS.values()]
    printable = set.intersection(*(set(face.getBestCmap()) for face in faces))
    regular = TTFont(FONT_PATHS[""])
    cmap, metrics = regular.getBestCmap(), regular["hmtx"]

    def allowed(code: int) -> bool:
        try:
            return clean_text(chr(code), rule) == chr(code)
        except TextRefused:
            return False

    return chr(max((code for code in printable if allowed(code)), key=lambda code: metrics[cmap[code]][0]))


def filler(length: int, word: int | None, glyph: str) -> str:
    """`length` characters of `glyph`: one unbroken run, or words of `word` characters (the wrap breaks lines
    between words, so words just over half a column waste nearly half of every line)."""
    if word is None:
        return glyph * length
    return "".join(itertools.islice(itertools.cycle(glyph * word + " "), length)).strip().ljust(length, glyph)


def maximal(request_type: str, word: int | None) -> tuple[dict[str, Any], dict[str, Any]]:
    def name() -> str:
        return clean_text(filler(NAME_MAX, word, widest(PERSON_NAME)), PERSON_NAME)

    def text(length: int) -> str:
        return clean_text(filler(length, word, widest(DETAIL_TEXT)), DETAIL_TEXT)

    def person(serial: int) -> dict[str, Any]:
        return {
            "nik": f"36021450032{serial:05d}",
            "name": name(),
            "relation": "famili_lain",
            "birth_date": "2000-12-31",
            "married": True,
            "sex": "female",
        }

    def address(kecamatan: str, village: str | None) -> dict[str, Any]:
        return {
            "street": text(STREET_MAX),
            "rt": "999",
            "rw": "999",
            "village_code": village,
            "kecamatan_code": kecamatan,
            "city": text(CITY_MAX),
            "postal_code": "42312",
        }

    holder = {"nik": "3602141205850003", "name": name(), "birth_date": "1985-05-12", "sex": "male"}
    people = [person(serial) for serial in range(1, MAX_PEOPLE + 1)]
    details: dict[str, dict[str, Any]] = {
        "kartu_keluarga": {
            "reason": "lost_or_damaged",
            "kk_number": "3602141202100005",
            "changes": text(DETAIL_TEXT_MAX),
            "members": people,
        },
        "akta_kematian": {
            "deceased": {"nik": "3602140101500002", "name": name()},
            "date_of_death": "2026-11-25",
            "place_of_death": text(PLACE_MAX),
            "cause_category": "kecelakaan",
            "reporter_relation": "kepala_keluarga",
            "witnesses": people[:2],
        },
        "surat_pindah": {
            "origin": address("36.02.03", "36.02.03.2002"),
            "destination": address("36.04.05", None),
            "reason": "pendidikan",
            "moving_members": [person["nik"] for person in people],
            "remaining_members": people,
            "new_head_of_household": person(99),
        },
        "biodata_wni": {"person_nik": "3602144107900001"},
    }
    return holder, details[request_type]


@pytest.mark.parametrize("request_type", list(MOST_PAGES))
async def test_every_field_at_its_cap_stays_within_the_layouts_pages(request_type: str) -> None:
    pages = {}
    for word in (None, 6, 9, 13, 17):
        holder, details = maximal(request_type, word)
        content = await render(a_document(request_type, holder, details))
        pages[word] = len(pypdf.PdfReader(io.BytesIO(content)).pages)
    assert max(pages.values()) <= MOST_PAGES[request_type], f"{request_type}: pages by word length {pages}"


def test_the_widest_characters_are_wider_than_any_real_text() -> None:
    assert widest(PERSON_NAME) == "\u01f6", "LATIN CAPITAL LETTER HWAIR, 1.11 em (W is 0.99)"
    assert widest(DETAIL_TEXT) == "\u2031", "PER TEN THOUSAND SIGN, 1.74 em"
