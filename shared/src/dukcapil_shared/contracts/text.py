"""What people may type: names, addresses, reasons and notes, checked by the same rules in every service.

Text that citizens and staff send ends up on signed PDFs, in e-mails and SMS, on reviewers' screens and in the
events other services read. So every free-text field is normalised to NFC without surrounding white space, and
refuses what could hide or reorder what a reader sees, or break what prints it: control and format characters
(Unicode categories Cc and Cf, and line or paragraph separators; tabs and line breaks only in multi-line notes),
bidirectional overrides and isolates, unassigned code points (Cn), private-use characters (Co), surrogates (Cs),
and long runs of combining marks. Each field has a length cap, chosen so that every document's layout keeps
to its pages (services/documents/tests/unit/test_page_limits.py renders every type with every field at its
cap), and reasons have a minimum.

`clean_text` is plain Python, for domain code that checks nested details (intake checks each detail with the rule
of its field: PERSON_NAME, STREET, PLACE, DETAIL_TEXT...); the `Annotated` types below put the same rules on
pydantic request models. Either way a refusal carries a machine-readable code and a message in
English and Indonesian.
"""

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

NAME_MAX = 60
"""A person's name: at most 60 letters including spaces, in Latin letters (Permendagri 73/2022 on names in
population documents; it also bars digits and punctuation in new names, but older names keep ' . , -)."""
STREET_MAX = 150
PLACE_MAX = 150
CITY_MAX = 60
SHORT_TEXT_MAX = 100
DETAIL_TEXT_MAX = 300
REASON_MIN = 5
REASON_MAX = 1000
NOTE_MAX = 2000
NOTE_MAX_LINES = 40
FIELD_NAME_MAX = 40
DETAILS_MAX = 4000
"""Characters of text in all of a document's corrected details."""
MAX_PEOPLE = 20
"""The most people one request lists in one place: members of a KK, people who move or stay."""

_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_MULTILINE_CONTROLS = frozenset("\t\n")
_NAME_PUNCTUATION = frozenset(" '’.,-")
_MAX_COMBINING_RUN = 2


@dataclass(frozen=True)
class TextRule:
    max_length: int
    min_length: int = 1
    multiline: bool = False
    """Tabs and line breaks allowed (a note or a reason), at most max_lines lines."""
    max_lines: int = 1
    name: bool = False
    """A person's name: Latin letters (with their accents), spaces and ' ’ . , - only."""


PERSON_NAME = TextRule(max_length=NAME_MAX, name=True)
STREET = TextRule(max_length=STREET_MAX)
PLACE = TextRule(max_length=PLACE_MAX)
CITY = TextRule(max_length=CITY_MAX)
SHORT_TEXT = TextRule(max_length=SHORT_TEXT_MAX)
DETAIL_TEXT = TextRule(max_length=DETAIL_TEXT_MAX)
REASON = TextRule(min_length=REASON_MIN, max_length=REASON_MAX, multiline=True, max_lines=20)
NOTE = TextRule(max_length=NOTE_MAX, multiline=True, max_lines=NOTE_MAX_LINES)
FIELD_NAME = TextRule(max_length=FIELD_NAME_MAX)


@dataclass(frozen=True)
class TextProblem:
    code: str
    context: Mapping[str, Any]

    @property
    def message_en(self) -> str:
        return MESSAGES[self.code][0].format(**self.context)

    @property
    def message_id(self) -> str:
        return MESSAGES[self.code][1].format(**self.context)


class TextRefused(ValueError):
    def __init__(self, problem: TextProblem, path: str = "") -> None:
        super().__init__(problem.message_en)
        self.problem = problem
        self.path = path
        """Where in a nested value, e.g. `.members.0.name`; empty for a plain text."""


def clean_text(value: str, rule: TextRule) -> str:
    """`value` in NFC, without surrounding white space (and with line breaks as \\n); TextRefused if it breaks
    the rule."""
    text = unicodedata.normalize("NFC", value)
    if rule.multiline:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.strip()
    if len(text) > rule.max_length:  # before the characters are looked at one by one
        raise TextRefused(_problem("text_too_long", max_length=rule.max_length, length=len(text)))
    _check_characters(text, rule)
    if not text and rule.min_length > 0:
        raise TextRefused(_problem("text_blank"))
    if len(text) < rule.min_length:
        raise TextRefused(_problem("text_too_short", min_length=rule.min_length, length=len(text)))
    if rule.multiline and text.count("\n") + 1 > rule.max_lines:
        raise TextRefused(_problem("text_too_many_lines", max_lines=rule.max_lines))
    return text


def clean_values(
    value: Any, rule: TextRule, *, max_items: int = MAX_PEOPLE, max_depth: int = 3, max_chars: int = DETAILS_MAX
) -> Any:
    """A JSON value with every string in it cleaned by `rule` (keys as FIELD_NAME), no object or list longer than
    `max_items` or nested deeper than `max_depth`, and at most `max_chars` characters of text in all; TextRefused
    naming the first place that breaks a rule."""
    total = 0

    def clean(item: Any, depth: int, path: str) -> Any:
        nonlocal total
        try:
            if isinstance(item, str):
                cleaned = clean_text(item, rule)
                total += len(cleaned)
                if total > max_chars:
                    raise TextRefused(_problem("text_too_long", max_length=max_chars, length=total))
                return cleaned
            if isinstance(item, dict | list) and (len(item) > max_items or depth >= max_depth):
                raise TextRefused(_problem("too_many_items", max_items=max_items, max_depth=max_depth))
            if isinstance(item, dict):
                keys = [clean_text(str(key), FIELD_NAME) for key in item]
        except TextRefused as refused:
            raise TextRefused(refused.problem, path) from None
        if isinstance(item, dict):
            return {
                key: clean(child, depth + 1, f"{path}.{key}") for key, child in zip(keys, item.values(), strict=True)
            }
        if isinstance(item, list):
            return [clean(child, depth + 1, f"{path}.{index}") for index, child in enumerate(item)]
        return item

    return clean(value, 0, "")


def _check_characters(text: str, rule: TextRule) -> None:
    combining = 0
    for position, char in enumerate(text, start=1):
        category = unicodedata.category(char)
        if char in _BIDI_CONTROLS:
            raise TextRefused(_problem("text_bidi_control", **_where(char, position)))
        if category == "Cs":
            raise TextRefused(_problem("text_surrogate", **_where(char, position)))
        if category in ("Cc", "Cf", "Zl", "Zp") and not (rule.multiline and char in _MULTILINE_CONTROLS):
            raise TextRefused(_problem("text_control_character", **_where(char, position)))
        if category == "Cn":
            raise TextRefused(_problem("text_unassigned", **_where(char, position)))
        if category == "Co":
            raise TextRefused(_problem("text_private_use", **_where(char, position)))
        combining = combining + 1 if category.startswith("M") else 0
        if combining > _MAX_COMBINING_RUN:
            raise TextRefused(_problem("text_combining_marks", position=position, max_marks=_MAX_COMBINING_RUN))
        if rule.name and not (_is_latin(char, category) or char in _NAME_PUNCTUATION):
            raise TextRefused(_problem("name_characters", **_where(char, position)))


def _is_latin(char: str, category: str) -> bool:
    """A letter of the Latin script as Indonesian (and Vietnamese, Turkish...) names use it, or an accent on one."""
    code = ord(char)
    if category.startswith("L"):
        plain = unicodedata.normalize("NFKC", char) == char  # not a ligature, digraph or styled form
        return char.isascii() or (plain and (0xC0 <= code <= 0x24F or 0x1E00 <= code <= 0x1EFF))
    return category == "Mn" and 0x300 <= code <= 0x36F


def _where(char: str, position: int) -> dict[str, Any]:
    visible = unicodedata.category(char)[0] in "LNPS"
    return {"character": f"U+{ord(char):04X} ({char})" if visible else f"U+{ord(char):04X}", "position": position}


# Each code's message in English and in Indonesian, with the placeholders of its context.
MESSAGES: Mapping[str, tuple[str, str]] = {
    "text_blank": ("Fill this in: it is empty.", "Isian ini masih kosong."),
    "text_too_short": (
        "Too short: write at least {min_length} characters.",
        "Terlalu pendek: tulis paling sedikit {min_length} karakter.",
    ),
    "text_too_long": (
        "Too long: {length} characters, at most {max_length} fit.",
        "Terlalu panjang: {length} karakter, paling banyak {max_length}.",
    ),
    "text_too_many_lines": (
        "Too many lines: at most {max_lines}.",
        "Terlalu banyak baris: paling banyak {max_lines}.",
    ),
    "text_control_character": (
        "Remove the control character {character} at position {position} (tabs and line breaks only belong in notes).",
        "Hapus karakter kendali {character} pada posisi {position} (tab dan baris baru hanya untuk catatan).",
    ),
    "text_bidi_control": (
        "Remove the text-direction character {character} at position {position}: it can make the text read "
        "differently from what it says.",
        "Hapus karakter pengatur arah teks {character} pada posisi {position}: karakter itu dapat mengubah cara "
        "teks terbaca.",
    ),
    "text_unassigned": (
        "Remove {character} at position {position}: it is not a character of Unicode.",
        "Hapus {character} pada posisi {position}: bukan karakter Unicode yang sah.",
    ),
    "text_private_use": (
        "Remove {character} at position {position}: a private-use character shows differently on every device.",
        "Hapus {character} pada posisi {position}: karakter khusus (private use) tampil berbeda di setiap perangkat.",
    ),
    "text_surrogate": (
        "Remove {character} at position {position}: a lone surrogate is not text.",
        "Hapus {character} pada posisi {position}: surrogate tunggal bukan teks.",
    ),
    "text_combining_marks": (
        "Too many accents on one letter at position {position}: at most {max_marks}.",
        "Terlalu banyak tanda diakritik pada satu huruf di posisi {position}: paling banyak {max_marks}.",
    ),
    "name_characters": (
        "A name is written in Latin letters, with spaces and ' . , - only: remove {character} at position {position}.",
        "Nama ditulis dengan huruf Latin, spasi, dan tanda ' . , - saja: hapus {character} pada posisi {position}.",
    ),
    "too_many_items": (
        "At most {max_items} items, nested at most {max_depth} deep.",
        "Paling banyak {max_items} butir, bertingkat paling dalam {max_depth}.",
    ),
    # pydantic's own codes, so that every 422 speaks both languages
    "missing": ("Field required.", "Isian ini wajib diisi."),
    "string_type": ("Give text.", "Isi dengan teks."),
    "string_too_short": ("Too short.", "Terlalu pendek."),
    "string_too_long": ("Too long.", "Terlalu panjang."),
    "string_pattern_mismatch": ("Not in the expected format.", "Format tidak sesuai."),
    "too_long": ("Too many items.", "Terlalu banyak butir."),
    "enum": ("Choose one of the allowed values.", "Pilih salah satu nilai yang tersedia."),
    "literal_error": ("Choose one of the allowed values.", "Pilih salah satu nilai yang tersedia."),
    "date_from_datetime_parsing": ("Give a date as YYYY-MM-DD.", "Isi tanggal dengan format TTTT-BB-HH."),
    "date_parsing": ("Give a date as YYYY-MM-DD.", "Isi tanggal dengan format TTTT-BB-HH."),
}


def message_id(code: str, context: Mapping[str, Any] | None = None) -> str | None:
    """The Indonesian message of a code, filled from its context; None for a code without one."""
    messages = MESSAGES.get(code)
    if messages is None:
        return None
    try:
        return messages[1].format(**(context or {}))
    except (KeyError, IndexError, ValueError):
        return None


def _problem(code: str, **context: Any) -> TextProblem:
    return TextProblem(code, context)


def _validator(rule: TextRule) -> AfterValidator:
    def validate(value: str) -> str:
        try:
            return clean_text(value, rule)
        except TextRefused as refused:
            problem = refused.problem
            raise PydanticCustomError(problem.code, MESSAGES[problem.code][0], dict(problem.context)) from None

    return AfterValidator(validate)


def _values_validator(rule: TextRule) -> AfterValidator:
    def validate(value: Any) -> Any:
        try:
            return clean_values(value, rule)
        except TextRefused as refused:
            problem = refused.problem
            where = f"{refused.path.lstrip('.')}: " if refused.path else ""
            raise PydanticCustomError(problem.code, where + MESSAGES[problem.code][0], dict(problem.context)) from None

    return AfterValidator(validate)


def _schema(rule: TextRule) -> Any:
    return Field(json_schema_extra={"minLength": rule.min_length, "maxLength": rule.max_length})


PersonName = Annotated[str, _schema(PERSON_NAME), _validator(PERSON_NAME)]
Street = Annotated[str, _schema(STREET), _validator(STREET)]
City = Annotated[str, _schema(CITY), _validator(CITY)]
ShortText = Annotated[str, _schema(SHORT_TEXT), _validator(SHORT_TEXT)]
Reason = Annotated[str, _schema(REASON), _validator(REASON)]
"""Why a request is refused, sent back or cancelled, or a document withdrawn: at least REASON_MIN characters."""
Note = Annotated[str, _schema(NOTE), _validator(NOTE)]
DetailValues = Annotated[dict[str, Any], _values_validator(DETAIL_TEXT)]
"""Details as staff correct them: every text in them within DETAIL_TEXT, at most MAX_PEOPLE keys or items a level, three
levels deep, DETAILS_MAX characters in all."""
