"""A form per request type, built from intake's catalogue (`GET /services`), and the way back: the form's fields into
the JSON body intake takes, and intake's error details onto the fields they concern.

Every input is named by its path in the request body (`applicant.nik`, `details.members.0.relation`,
`delivery.address.street`), the path intake's error details name (`body.details.members.0.relation`), so an error
finds its field without a table to keep in step. Lists of people are rows of inputs; a row left empty is dropped,
and the rows are numbered again before the body is built, so that the numbers in intake's answer are the rows the
citizen sees on the re-rendered form.
"""

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from dukcapil_web.domain.i18n import Language, bilingual, help_text, label, pick, value_label

Kind = Literal["text", "date", "select", "radio", "checkbox", "textarea", "number_id"]

PERSON_PARTS = ("nik", "name", "relation", "birth_date", "married", "sex")
ADDRESS_PARTS = ("street", "rt", "rw", "kecamatan_code", "village_code", "city", "postal_code")
MAX_ROWS = 20
"""Intake takes at most 20 people in a list."""


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclass
class Field:
    name: str
    """The input's name: its path in the request body."""
    label: str
    kind: Kind = "text"
    required: bool = False
    help: str | None = None
    choices: tuple[Choice, ...] = ()
    inputmode: str | None = None
    autocomplete: str | None = None
    maxlength: int | None = None
    value: str = ""
    errors: list[str] = field(default_factory=list)

    @property
    def id(self) -> str:
        return "f-" + self.name.replace(".", "-")


@dataclass
class Fieldset:
    name: str
    """The path of the object or list it holds (`details.members`): errors about the whole land here."""
    legend: str
    fields: list[Field] = field(default_factory=list)
    rows: list[list[Field]] | None = None
    """For a list: one row of fields per item."""
    required: bool = False
    help: str | None = None
    errors: list[str] = field(default_factory=list)
    min_rows: int = 1

    @property
    def id(self) -> str:
        return "g-" + self.name.replace(".", "-")

    @property
    def repeatable(self) -> bool:
        return self.rows is not None

    def all_fields(self) -> Iterable[Field]:
        yield from self.fields
        for row in self.rows or ():
            yield from row


@dataclass
class Region:
    code: str
    name: str


@dataclass
class RequestForm:
    service: str
    title: str
    description: str
    sections: list[Fieldset]
    general_errors: list[str] = field(default_factory=list)

    def fields(self) -> Iterable[Field]:
        for section in self.sections:
            yield from section.all_fields()

    def field_named(self, name: str) -> Field | None:
        return next((f for f in self.fields() if f.name == name), None)

    def errors(self) -> list[tuple[str, str]]:
        """Every error, in the order of the page, with the id of what it is about (for the summary's links)."""
        found: list[tuple[str, str]] = [("", message) for message in self.general_errors]
        for section in self.sections:
            found += [(section.id, message) for message in section.errors]
            for item in section.all_fields():
                found += [(item.id, message) for message in item.errors]
        return found


@dataclass(frozen=True)
class ScanKind:
    code: str
    description: str


def online_services(catalogue: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [service for service in catalogue if service.get("online")]


def find_service(catalogue: list[dict[str, Any]], code: str) -> dict[str, Any] | None:
    return next((service for service in catalogue if service.get("code") == code), None)


def scan_checklist(service: dict[str, Any], reason: str | None, language: Language) -> list[ScanKind]:
    """The scans a request of this type and reason needs, as the catalogue lists them."""
    attachments: dict[str, list[dict[str, str]]] = service.get("attachments") or {}
    kinds = [*attachments.get("*", []), *(attachments.get(reason or "", []) if reason else [])]
    return [ScanKind(kind["code"], bilingual(kind["description"], language)) for kind in kinds]


def scan_descriptions(catalogue: list[dict[str, Any]], language: Language) -> dict[str, str]:
    """Every scan kind the catalogue names, with its description in the reader's language."""
    return {
        kind["code"]: bilingual(kind["description"], language)
        for service in catalogue
        for kinds in (service.get("attachments") or {}).values()
        for kind in kinds
    }


def build_form(
    service: dict[str, Any],
    *,
    language: Language,
    kecamatan: list[Region],
    values: Mapping[str, str] | None = None,
    add_row: str | None = None,
) -> RequestForm:
    """The form for one request type; `values` fills it again (after an error), `add_row` names a list that gets
    one more row."""
    values = dict(values or {})
    lebak = tuple(Choice(region.code, f"{region.name} ({region.code})") for region in kecamatan)
    sections = [
        _applicant(language),
        *_details(service, language, lebak, values, add_row),
        _delivery(language, lebak),
        _contacts(language),
    ]
    form = RequestForm(
        service=service["code"],
        title=service.get("name", service["code"]),
        description=service.get("description", ""),
        sections=sections,
    )
    for item in form.fields():
        item.value = values.get(item.name, "")
    return form


def _applicant(language: Language) -> Fieldset:
    return Fieldset(
        name="applicant",
        legend=pick(language, "Data pemohon", "About you (the applicant)"),
        required=True,
        fields=[
            _nik("applicant.nik", "nik", language, required=True),
            Field("applicant.name", label("name", language), required=True, autocomplete="name", maxlength=60),
            Field(
                "applicant.birth_date",
                label("birth_date", language),
                kind="date",
                required=True,
                help=help_text("birth_date", language),
                autocomplete="bday",
            ),
            Field(
                "applicant.sex",
                label("sex", language),
                kind="radio",
                required=True,
                choices=_choices(("male", "female"), language),
            ),
        ],
    )


def _details(
    service: dict[str, Any],
    language: Language,
    lebak: tuple[Choice, ...],
    values: Mapping[str, str],
    add_row: str | None,
) -> list[Fieldset]:
    plain = Fieldset(name="details", legend=pick(language, "Rincian permohonan", "About the request"), required=True)
    sections = [plain]
    for attribute in sorted(service.get("attributes", []), key=lambda a: not a.get("required", False)):
        code, datatype = attribute["code"], attribute.get("datatype", "string")
        name = f"details.{code}"
        description = attribute.get("description", "")
        required = bool(attribute.get("required"))
        hint = help_text(code, language)
        if datatype in ("person", "address"):
            parts = _parts(description, PERSON_PARTS if datatype == "person" else ADDRESS_PARTS)
            group = Fieldset(name=name, legend=label(code, language), required=required, help=hint)
            group.fields = [_part(name, part, language, lebak, description) for part in parts]
            sections.append(group)
        elif datatype in ("people", "nik_list"):
            exactly_two = description.lower().startswith("exactly two")
            group = Fieldset(
                name=name, legend=label(code, language), required=required, help=hint, min_rows=2 if exactly_two else 1
            )
            count = max(group.min_rows, _rows_given(values, name))
            if add_row == name:
                count += 1
            count = min(count, 2 if exactly_two else MAX_ROWS)
            if datatype == "people":
                parts = _parts(description, PERSON_PARTS, default=("nik", "name"))
                group.rows = [
                    [_part(f"{name}.{index}", part, language, lebak, description) for part in parts]
                    for index in range(count)
                ]
            else:
                group.rows = [
                    [_nik(f"{name}.{index}", "nik", language, required=required and index == 0)]
                    for index in range(count)
                ]
            sections.append(group)
        else:
            plain.fields.append(_scalar(name, code, datatype, attribute, language, required, hint))
    return sections


def _scalar(
    name: str,
    code: str,
    datatype: str,
    attribute: dict[str, Any],
    language: Language,
    required: bool,
    hint: str | None,
) -> Field:
    allowed = attribute.get("values") or []
    if allowed:
        kind: Kind = "radio" if len(allowed) <= 3 else "select"
        return Field(
            name, label(code, language), kind=kind, required=required, help=hint, choices=_choices(allowed, language)
        )
    if datatype in ("nik", "kk_number"):
        return _nik(name, code, language, required=required)
    if datatype == "date":
        return Field(name, label(code, language), kind="date", required=required, help=hint)
    if datatype == "boolean":
        return Field(name, label(code, language), kind="checkbox", required=False, help=hint)
    long_text = code in ("changes",)
    return Field(
        name,
        label(code, language),
        kind="textarea" if long_text else "text",
        required=required,
        # The catalogue's description is English, written for developers: shown only to an English reader.
        help=hint or (attribute.get("description") if language == "en" else None),
        maxlength=300 if long_text else 150,
    )


def _part(prefix: str, part: str, language: Language, lebak: tuple[Choice, ...], description: str) -> Field:
    name = f"{prefix}.{part}"
    match part:
        case "nik":
            return _nik(name, "nik", language, required=True)
        case "name":
            return Field(name, label("name", language), required=True, maxlength=60)
        case "relation":
            return Field(name, label("relation", language), kind="select", choices=_relations(description, language))
        case "birth_date":
            return Field(name, label("birth_date", language), kind="date")
        case "married":
            return Field(name, label("married", language), kind="checkbox")
        case "sex":
            return Field(name, label("sex", language), kind="radio", choices=_choices(("male", "female"), language))
        case "street":
            return Field(name, label("street", language), required=True, autocomplete="street-address", maxlength=150)
        case "rt" | "rw":
            return Field(name, label(part, language), inputmode="numeric", maxlength=3)
        case "postal_code":
            return Field(
                name,
                label(part, language),
                inputmode="numeric",
                maxlength=5,
                help=help_text(part, language),
                autocomplete="postal-code",
            )
        case "kecamatan_code" if "any kecamatan" not in description.lower():
            return Field(name, label(part, language), kind="select", required=True, choices=lebak)
        case "kecamatan_code":
            return Field(
                name,
                label(part, language),
                required=True,
                maxlength=8,
                help=pick(
                    language, "Kode wilayah kecamatan, contoh 36.01.05", "The kecamatan's region code, e.g. 36.01.05"
                ),
            )
        case "village_code":
            return Field(name, label(part, language), maxlength=13, help=help_text(part, language))
    return Field(name, label(part, language), maxlength=100)


def _delivery(language: Language, lebak: tuple[Choice, ...]) -> Fieldset:
    return Fieldset(
        name="delivery",
        legend=pick(language, "Pengambilan dokumen", "Receiving the document"),
        required=True,
        help=pick(
            language,
            "Isi kantor kecamatan bila diambil sendiri, atau alamat bila dikirim kurir.",
            "Name the kecamatan office if you collect it, or the address if it is sent by courier.",
        ),
        fields=[
            Field(
                "delivery.method",
                label("method", language),
                kind="radio",
                required=True,
                choices=_choices(("pickup", "courier"), language),
            ),
            Field(
                "delivery.pickup_kecamatan_code", label("pickup_kecamatan_code", language), kind="select", choices=lebak
            ),
            Field("delivery.recipient_name", label("recipient_name", language), autocomplete="name", maxlength=60),
            Field("delivery.address.street", label("street", language), autocomplete="street-address", maxlength=150),
            Field("delivery.address.rt", label("rt", language), inputmode="numeric", maxlength=3),
            Field("delivery.address.rw", label("rw", language), inputmode="numeric", maxlength=3),
            Field("delivery.address.kecamatan_code", label("kecamatan_code", language), kind="select", choices=lebak),
            Field(
                "delivery.address.village_code",
                label("village_code", language),
                maxlength=13,
                help=help_text("village_code", language),
            ),
            Field(
                "delivery.address.postal_code",
                label("postal_code", language),
                inputmode="numeric",
                maxlength=5,
                autocomplete="postal-code",
                help=help_text("postal_code", language),
            ),
        ],
    )


def _contacts(language: Language) -> Fieldset:
    return Fieldset(
        name="contacts",
        legend=pick(language, "Kontak untuk kabar permohonan", "Where we tell you about the request"),
        fields=[
            Field(
                "delivery.phone",
                label("phone", language),
                inputmode="tel",
                autocomplete="tel",
                maxlength=20,
                help=help_text("phone", language),
            ),
            Field(
                "delivery.email",
                label("email", language),
                inputmode="email",
                autocomplete="email",
                maxlength=200,
                help=help_text("email", language),
            ),
        ],
    )


def _nik(name: str, code: str, language: Language, *, required: bool) -> Field:
    return Field(
        name,
        label(code, language),
        kind="number_id",
        required=required,
        help=help_text(code, language),
        inputmode="numeric",
        maxlength=16,
    )


def _choices(values: Iterable[str], language: Language) -> tuple[Choice, ...]:
    return tuple(Choice(value, value_label(value, language)) for value in values)


_BRACES = re.compile(r"\{([a-z_,\s]+)\}")
_RELATIONS = re.compile(r"relation: one of ([a-z_,\s]+)")


def _parts(description: str, known: tuple[str, ...], default: tuple[str, ...] | None = None) -> tuple[str, ...]:
    """The parts of a person or an address that the catalogue's description names, `{nik, name}`, in its order."""
    found = _BRACES.search(description)
    if not found:
        return default or (known[:2] if known is PERSON_PARTS else ("street", "kecamatan_code"))
    named = [part.strip() for part in found.group(1).split(",")]
    return tuple(part for part in named if part in known)


def _relations(description: str, language: Language) -> tuple[Choice, ...]:
    found = _RELATIONS.search(description)
    values = [value.strip() for value in found.group(1).split(",")] if found else ["lainnya"]
    return _choices([value for value in values if value], language)


def _rows_given(values: Mapping[str, str], prefix: str) -> int:
    indices = [int(match.group(1)) for key in values if (match := re.match(rf"{re.escape(prefix)}\.(\d+)(\.|$)", key))]
    return max(indices) + 1 if indices else 0


# --- from the form to the request body ---


def compact_rows(form: RequestForm, values: Mapping[str, str]) -> dict[str, str]:
    """The submitted values with the empty rows of every list dropped and the rest numbered from 0 again."""
    compacted = {key: value.strip() for key, value in values.items() if isinstance(value, str)}
    for section in form.sections:
        if not section.repeatable:
            continue
        rows: list[dict[str, str]] = []
        for row in section.rows or []:
            taken = {item.name: compacted.pop(item.name, "") for item in row}
            if any(value for value in taken.values()):
                rows.append(taken)
        for index, taken in enumerate(rows):
            for old_name, value in taken.items():
                suffix = old_name[len(section.name) + 1 :].split(".", 1)
                new_name = f"{section.name}.{index}" + (f".{suffix[1]}" if len(suffix) > 1 else "")
                compacted[new_name] = value
    return compacted


def request_body(service_code: str, form: RequestForm, values: Mapping[str, str]) -> dict[str, Any]:
    """The JSON body of `POST /requests` from the form's (compacted) values. Empty inputs are left out, so that
    intake's own messages say what is missing; the delivery carries only the part of the method chosen."""
    body: dict[str, Any] = {"type": service_code, "applicant": {}, "details": {}, "delivery": {}}
    for item in form.fields():
        raw = values.get(item.name, "").strip()
        if not raw:
            continue
        value: Any = True if item.kind == "checkbox" else raw
        _put(body, item.name.split("."), value)
    delivery = body["delivery"]
    if delivery.get("method") == "pickup":
        delivery.pop("address", None)
        delivery.pop("recipient_name", None)
    elif delivery.get("method") == "courier":
        delivery.pop("pickup_kecamatan_code", None)
    return body


def _put(target: dict[str, Any], path: list[str], value: Any) -> None:
    head, rest = path[0], path[1:]
    if not rest:
        target[head] = value
        return
    if rest[0].isdigit():
        items: list[Any] = target.setdefault(head, [])
        index = int(rest[0])
        while len(items) <= index:
            items.append({} if len(rest) > 1 else None)
        if len(rest) == 1:
            items[index] = value
        else:
            _put(items[index], rest[1:], value)
        return
    _put(target.setdefault(head, {}), rest, value)


# --- from intake's errors to the fields ---


@dataclass(frozen=True)
class ErrorDetail:
    field: str | None
    message: str
    message_id: str | None = None
    code: str | None = None

    def text(self, language: Language) -> str:
        if language == "id" and self.message_id:
            return self.message_id
        return self.message


def details_of(error_body: Mapping[str, Any]) -> list[ErrorDetail]:
    """The details of intake's error body (`{"error": {"details": [...]}}`)."""
    details = (error_body.get("error") or {}).get("details") or []
    return [
        ErrorDetail(
            field=item.get("field"),
            message=item.get("message", ""),
            message_id=item.get("message_id"),
            code=item.get("code"),
        )
        for item in details
        if isinstance(item, dict)
    ]


def place_errors(form: RequestForm, details: Iterable[ErrorDetail], language: Language) -> None:
    """Each error beside the field it concerns: its own input, else the nearest fieldset or row that holds the
    path (a missing person, a list that needs two), else at the top of the form."""
    fields = {item.name: item for item in form.fields()}
    sections = {section.name: section for section in form.sections}
    for detail in details:
        path = (detail.field or "").removeprefix("body.").removeprefix("body")
        parts = path.split(".") if path else []
        text = detail.text(language)
        placed = False
        while parts:
            name = ".".join(parts)
            if name in fields:
                fields[name].errors.append(text)
                placed = True
                break
            if name in sections:
                sections[name].errors.append(text)
                placed = True
                break
            row_field = next((item for item in fields.values() if item.name.startswith(name + ".")), None)
            if row_field is not None and parts[-1].isdigit():
                row_field.errors.append(text)
                placed = True
                break
            parts.pop()
        if not placed:
            form.general_errors.append(text)
