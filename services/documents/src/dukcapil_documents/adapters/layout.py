"""Document layouts as data: one TOML file per document type, and office.toml for what all of them share.

The files ship in `dukcapil_documents/templates/`; a folder given in the settings (DOCUMENTS_TEMPLATES_DIR)
may hold replacements for any of them. They are read and checked once at start, so a mistake in a layout
stops the service with a message naming the file, instead of spoiling documents later.

A value is text with placeholders: `{details.date_of_death|weekday_date}` is a path into the document's data,
then filters applied left to right. A path that leads nowhere prints as nothing; a value that ends up empty
prints as `-`, or, for a row marked optional, leaves the row out.
"""

import re
import tomllib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from importlib.resources import files
from pathlib import Path
from typing import Any

from dukcapil_documents.domain.model import (
    KINDS,
    Document,
    kecamatan_name,
    printable,
    sex_from_nik,
    tanggal,
)
from dukcapil_shared.contracts import Person
from dukcapil_shared.contracts.details import details_shown
from dukcapil_shared.contracts.regions import WIB

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_WEEKDAYS = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")


class LayoutError(ValueError):
    pass


@dataclass(frozen=True)
class Line:
    text: str
    size: float = 10
    style: str = ""


@dataclass(frozen=True)
class FieldRow:
    label: str
    value: str
    optional: bool = False


@dataclass(frozen=True)
class FieldsBlock:
    heading: str | None
    rows: tuple[FieldRow, ...]


@dataclass(frozen=True)
class Column:
    header: str
    value: str
    width: float | None = None


@dataclass(frozen=True)
class TableBlock:
    heading: str | None
    rows: str
    columns: tuple[Column, ...]
    numbered: bool = False
    optional: bool = False


@dataclass(frozen=True)
class ParagraphBlock:
    text: str
    style: str = ""


@dataclass(frozen=True)
class OtherDetailsBlock:
    heading: str | None


Block = FieldsBlock | TableBlock | ParagraphBlock | OtherDetailsBlock


@dataclass(frozen=True)
class Signature:
    place_and_date: str
    title: tuple[str, ...]
    name: str
    identifier: str
    note: tuple[str, ...]


@dataclass(frozen=True)
class Office:
    letterhead: tuple[Line, ...]
    signature: Signature
    footer: tuple[str, ...]
    lettered_headings: bool
    words: dict[str, dict[str, str]]


@dataclass(frozen=True)
class Layout:
    type: str
    title: str | None
    blocks: tuple[Block, ...]
    words: dict[str, dict[str, str]]
    shown_elsewhere: frozenset[str] = frozenset()

    def printed_details(self) -> set[str]:
        """The details keys a placeholder of this layout prints, and those it prints through other data."""
        keys = set(self.shown_elsewhere)
        for block in self.blocks:
            if isinstance(block, TableBlock) and block.rows.startswith("details."):
                keys.add(block.rows.split(".")[1])
        for text in _texts(self.blocks):
            for path, _filters in _placeholders(text):
                parts = path.split(".")
                if parts[0] == "details" and len(parts) > 1:
                    keys.add(parts[1])
        return keys


@dataclass(frozen=True)
class Layouts:
    office: Office
    by_type: dict[str, Layout]

    def for_type(self, document_type: str) -> Layout:
        return self.by_type[document_type]


def load_layouts(override_dir: str | Path | None = None) -> Layouts:
    """The shipped layouts, each replaced by the file of the same name in `override_dir` if there is one."""

    def read(name: str) -> dict[str, Any]:
        override = Path(override_dir) / name if override_dir else None
        source = (
            override
            if override is not None and override.is_file()
            else files("dukcapil_documents") / "templates" / name
        )
        try:
            return tomllib.loads(source.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise LayoutError(f"layout {source}: {error}") from error

    office = _office(read("office.toml"))
    by_type = {}
    for document_type in KINDS:
        layout = _layout(document_type, read(f"{document_type}.toml"))
        _check(f"{document_type}.toml", layout, {**office.words, **layout.words})
        by_type[document_type] = layout
    _check("office.toml", None, office.words, _office_texts(office))
    return Layouts(office=office, by_type=by_type)


class Printer:
    """Fills a layout's placeholders from one document's data."""

    def __init__(self, data: dict[str, Any], words: dict[str, dict[str, str]]) -> None:
        self._data = data
        self._words = words

    def text(self, template: str, row: dict[str, Any] | None = None) -> str:
        """The template filled in; `-` where nothing is known."""
        return self.fill(template, row) or "-"

    def fill(self, template: str, row: dict[str, Any] | None = None) -> str:
        """The template filled in, or "" when it has placeholders and all of them are empty."""
        found: list[bool] = []

        def substitute(match: re.Match[str]) -> str:
            value = self._value(match.group(1), row)
            found.append(bool(value))
            return value

        filled = _PLACEHOLDER.sub(substitute, template)
        if found and not any(found):
            return ""
        return filled.strip()

    def rows(self, path: str) -> list[dict[str, Any]]:
        value = _resolve(self._data, path)
        if not isinstance(value, list):
            return []
        return [item if isinstance(item, dict) else {"value": item} for item in value]

    def _value(self, expression: str, row: dict[str, Any] | None) -> str:
        path, filters = _parse(expression)
        value = _resolve({**self._data, "row": row or {}}, path)
        for name, argument in filters:
            if value is None or value == "":
                return ""
            value = self._filter(name, argument, value)
        if value is None or value == "":
            return ""
        return value if isinstance(value, str) else printable(value)

    def _filter(self, name: str, argument: str | None, value: Any) -> Any:
        if name == "words":
            return self._words.get(argument or "", {}).get(str(value), _humanise(str(value)))
        if name == "sex":
            return self._words.get("sex", {}).get(str(value), str(value))
        if name == "sex_from_nik":
            sex = sex_from_nik(str(value))
            return self._words.get("sex", {}).get(sex, sex) if sex else None
        return _FILTERS[name](value)


def data_of(document: Document, *, verification_url: str, signer_name: str, signer_nip: str) -> dict[str, Any]:
    """What a layout's placeholders can reach."""
    return {
        "document": {
            "number": document.number,
            "title": document.title,
            "type": document.type,
            "request_number": document.request_number,
            "kecamatan_code": document.kecamatan_code,
            "issued_on": tanggal(document.issued_at.astimezone(WIB).date()),
            "signing_key_id": document.signing_key_id,
        },
        "holder": document.holder.model_dump(mode="json"),
        "details": details_shown(document.details),
        "subject": document.subject().model_dump(mode="json"),
        "head": document.head_of_family().model_dump(mode="json"),
        "family": [
            {**row.person.model_dump(mode="json"), "relation": row.relation, "change": row.change}
            for row in document.family()
        ],
        "moving": [
            person.model_dump(mode="json") if isinstance(person, Person) else {"nik": person}
            for person in document.moving_members()
        ],
        "move": {"classification": document.move_classification()},
        "verification_url": verification_url,
        "signer": {"name": signer_name, "nip": signer_nip},
    }


def _as_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.astimezone(WIB).date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        return None


def _date(value: Any) -> str:
    day = _as_date(value)
    return tanggal(day) if day else str(value)


def _weekday_date(value: Any) -> str:
    day = _as_date(value)
    return f"{_WEEKDAYS[day.weekday()]}, {tanggal(day)}" if day else str(value)


def _nip(value: Any) -> str:
    """19700101 199001 1 001: the NIP's birth date, appointment month, sex and serial, as it is printed."""
    digits = str(value).replace(" ", "")
    if len(digits) == 18 and digits.isdigit():
        return f"{digits[:8]} {digits[8:14]} {digits[14]} {digits[15:]}"
    return str(value)


_FILTERS: dict[str, Callable[[Any], Any]] = {
    "date": _date,
    "weekday_date": _weekday_date,
    "address": printable,
    "kecamatan": lambda value: kecamatan_name(str(value)),
    "upper": lambda value: printable(value).upper(),
    "nip": _nip,
}
_KNOWN_FILTERS = {*_FILTERS, "words", "sex", "sex_from_nik"}
_ROOTS = {"document", "holder", "details", "subject", "head", "family", "moving", "move", "verification_url", "signer"}


def _humanise(code: str) -> str:
    text = code.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def _resolve(data: Any, path: str) -> Any:
    value = data
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _parse(expression: str) -> tuple[str, list[tuple[str, str | None]]]:
    path, *filters = (part.strip() for part in expression.split("|"))
    parsed = []
    for item in filters:
        name, _, argument = item.partition(":")
        parsed.append((name.strip(), argument.strip() or None))
    return path, parsed


def _placeholders(text: str) -> list[tuple[str, list[tuple[str, str | None]]]]:
    return [_parse(match.group(1)) for match in _PLACEHOLDER.finditer(text)]


def _texts(blocks: Iterable[Block]) -> list[str]:
    texts: list[str] = []
    for block in blocks:
        match block:
            case FieldsBlock():
                texts += [row.value for row in block.rows]
            case TableBlock():
                texts += [column.value for column in block.columns]
            case ParagraphBlock():
                texts.append(block.text)
    return texts


def _office_texts(office: Office) -> list[str]:
    signature = office.signature
    return [
        *(line.text for line in office.letterhead),
        signature.place_and_date,
        *signature.title,
        signature.name,
        signature.identifier,
        *signature.note,
        *office.footer,
    ]


def _check(name: str, layout: Layout | None, words: dict[str, dict[str, str]], texts: list[str] | None = None) -> None:
    texts = texts if texts is not None else _texts(layout.blocks if layout else ())
    for text in texts:
        for path, filters in _placeholders(text):
            root = path.split(".")[0]
            if root not in {*_ROOTS, "row"}:
                raise LayoutError(f"{name}: unknown data {{{path}}}; known: {', '.join(sorted(_ROOTS))}, row")
            for filter_name, argument in filters:
                if filter_name not in _KNOWN_FILTERS:
                    raise LayoutError(f"{name}: unknown filter {filter_name!r} in {{{path}}}")
                if filter_name == "words" and argument not in words:
                    raise LayoutError(f"{name}: no [words.{argument}] table for {{{path}|words:{argument}}}")


def _office(spec: dict[str, Any]) -> Office:
    try:
        signature = spec["signature"]
        return Office(
            letterhead=tuple(
                Line(str(line["text"]), float(line.get("size", 10)), _style(line.get("style", "")))
                for line in spec["letterhead"]
            ),
            signature=Signature(
                place_and_date=str(signature["place_and_date"]),
                title=tuple(str(line) for line in signature["title"]),
                name=str(signature["name"]),
                identifier=str(signature.get("identifier", "")),
                note=tuple(str(line) for line in signature.get("note", ())),
            ),
            footer=tuple(str(line) for line in spec.get("footer", {}).get("lines", ())),
            lettered_headings=bool(spec.get("lettered_headings", True)),
            words=_words(spec),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise LayoutError(f"office.toml: missing or malformed {error}") from error


def _layout(document_type: str, spec: dict[str, Any]) -> Layout:
    try:
        return Layout(
            type=document_type,
            title=spec.get("title"),
            blocks=tuple(_block(block) for block in spec["blocks"]),
            words=_words(spec),
            shown_elsewhere=frozenset(spec.get("shown_elsewhere", ())),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise LayoutError(f"{document_type}.toml: missing or malformed {error}") from error


def _block(spec: dict[str, Any]) -> Block:
    heading = spec.get("heading")
    match spec["type"]:
        case "fields":
            return FieldsBlock(heading, tuple(_field_row(row) for row in spec["rows"]))
        case "table":
            return TableBlock(
                heading,
                rows=str(spec["rows"]),
                columns=tuple(
                    Column(str(column["header"]), str(column["value"]), column.get("width"))
                    for column in spec["columns"]
                ),
                numbered=bool(spec.get("numbered", False)),
                optional=bool(spec.get("optional", False)),
            )
        case "paragraph":
            return ParagraphBlock(str(spec["text"]), _style(spec.get("style", "")))
        case "other_details":
            return OtherDetailsBlock(heading)
    raise ValueError(f"block type {spec['type']!r} (fields, table, paragraph or other_details)")


def _field_row(row: Any) -> FieldRow:
    if isinstance(row, dict):
        return FieldRow(str(row["label"]), str(row["value"]), bool(row.get("optional", False)))
    label, value, *flags = row
    if any(flag != "optional" for flag in flags):
        raise ValueError(f"row {row!r}: the only flag is 'optional'")
    return FieldRow(str(label), str(value), bool(flags))


def _style(style: str) -> str:
    if set(style) - {"B", "I", "U"}:
        raise ValueError(f"style {style!r} (B, I, U or a combination)")
    return style


def _words(spec: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {
        name: {str(code): str(word) for code, word in table.items()} for name, table in spec.get("words", {}).items()
    }
