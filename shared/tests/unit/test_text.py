"""The text rules every service applies to what people type."""

import unicodedata

import httpx
import pytest
from fastapi import FastAPI
from pydantic import BaseModel, ValidationError

from dukcapil_shared.contracts.text import (
    NAME_MAX,
    NOTE,
    PERSON_NAME,
    REASON,
    REASON_MIN,
    SHORT_TEXT,
    DetailValues,
    Note,
    PersonName,
    Reason,
    TextRefused,
    TextRule,
    clean_text,
    clean_values,
    message_id,
)
from dukcapil_shared.web import install_error_handlers


def refused(value: str, rule: TextRule = SHORT_TEXT) -> str:
    with pytest.raises(TextRefused) as refusal:
        clean_text(value, rule)
    problem = refusal.value.problem
    assert problem.message_en and problem.message_id and problem.message_en != problem.message_id
    return problem.code


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\x9b"])
def test_control_characters_are_refused(char: str) -> None:
    assert refused(f"Siti{char}Aminah") == "text_control_character"


@pytest.mark.parametrize("char", ["\u00ad", "\u200b", "\u200d", "\u2060", "\ufeff", "\U000e0041"])
def test_invisible_format_characters_are_refused(char: str) -> None:
    assert unicodedata.category(char) == "Cf"
    assert refused(f"Siti{char}Aminah") == "text_control_character"


@pytest.mark.parametrize(
    "char", [*map(chr, range(0x202A, 0x202F)), *map(chr, range(0x2066, 0x206A)), "\u200e", "\u061c"]
)
def test_bidi_overrides_isolates_and_marks_are_refused(char: str) -> None:
    assert refused(f"invoice{char}fdp.exe") == "text_bidi_control"


def test_line_and_paragraph_separators_are_refused() -> None:
    assert refused("a\u2028b") == refused("a\u2029b") == "text_control_character"


def test_unassigned_private_use_and_surrogate_code_points_are_refused() -> None:
    assert unicodedata.category("\u0378") == "Cn"
    assert refused("a\u0378b") == "text_unassigned"
    assert refused("a\U000fffffb") == "text_unassigned"  # a noncharacter
    assert refused("a\ue000b") == "text_private_use"
    assert refused("a\U000f0000b") == "text_private_use"
    assert refused("a\ud800b") == "text_surrogate"


def test_tabs_and_line_breaks_belong_in_notes_only() -> None:
    assert refused("Siti\tAminah", PERSON_NAME) == "text_control_character"
    assert refused("line\nbreak", SHORT_TEXT) == "text_control_character"
    assert clean_text("Baris satu\r\n\tBaris dua\rtiga", NOTE) == "Baris satu\n\tBaris dua\ntiga"
    assert refused("\n".join(["x"] * (NOTE.max_lines + 1)), NOTE) == "text_too_many_lines"


def test_text_is_normalised_to_nfc_and_trimmed() -> None:
    decomposed = "  Siti\u0301 Aminah\u0308  "
    cleaned = clean_text("  Siti\u0301 Aminah  ", PERSON_NAME)
    assert cleaned == "Sití Aminah" and unicodedata.is_normalized("NFC", cleaned) and len(cleaned) == 11
    assert clean_text(decomposed, PERSON_NAME) == unicodedata.normalize("NFC", decomposed.strip())


def test_a_pile_of_combining_marks_is_refused() -> None:
    assert clean_text("Nguyê\u0303n", PERSON_NAME) == "Nguyễn"
    assert refused("Za\u0301\u0300\u0302\u0303lgo", PERSON_NAME) == "text_combining_marks"


def test_names_hold_letters_spaces_and_a_little_punctuation() -> None:
    for name in ("Siti Nur'aini", "Muh. Ridwan", "Jean-Pierre", "Ni Luh Putu Ayu", "Nguyễn Thị", "Ma’ruf"):
        assert clean_text(name, PERSON_NAME) == name
    for name in ("Agent 007", "<script>", "a@b", "Siti;DROP", "Tuan $"):
        assert refused(name, PERSON_NAME) == "name_characters"


def test_names_are_written_in_latin_letters() -> None:
    for name in ("Çağlar Öztürk", "Nguyễn Văn Anh", "Zoë Ångström", "Łukasz Żółć"):
        assert clean_text(name, PERSON_NAME) == name
    for name in (
        "Ꝏ",
        "ᙶ",
        "中文",
        "Иван",
        "Ǆemal",
        "ﬁona",
        "Ｓｉｔｉ",
    ):  # medievalist, syllabics, CJK, Cyrillic, digraph,
        assert refused(name, PERSON_NAME) == "name_characters"  # ligature, fullwidth


def test_lengths_are_counted_after_normalising() -> None:
    assert clean_text("a" * NAME_MAX, PERSON_NAME) == "a" * NAME_MAX
    assert refused("a" * (NAME_MAX + 1), PERSON_NAME) == "text_too_long"
    assert clean_text("e\u0301" * NAME_MAX, PERSON_NAME) == "é" * NAME_MAX, "NFC first, then counted"
    assert refused("   ", PERSON_NAME) == "text_blank"


def test_reasons_have_a_minimum() -> None:
    assert refused("ok", REASON) == "text_too_short"
    assert refused("  abcd  ", REASON) == "text_too_short"
    assert clean_text("a" * REASON_MIN, REASON) == "a" * REASON_MIN


def test_nested_values_are_cleaned_and_bounded() -> None:
    assert clean_values({"place_of_death": " Rume\u0301 ", "witnesses": [{"name": "Dedi"}]}, SHORT_TEXT) == {
        "place_of_death": "Rumé",
        "witnesses": [{"name": "Dedi"}],
    }
    with pytest.raises(TextRefused) as refusal:
        clean_values({"members": [{"name": "x\u202ey"}]}, SHORT_TEXT)
    assert refusal.value.problem.code == "text_bidi_control" and refusal.value.path == ".members.0.name"
    with pytest.raises(TextRefused) as refusal:
        clean_values({f"k{i}": 1 for i in range(21)}, SHORT_TEXT)
    assert refusal.value.problem.code == "too_many_items"
    with pytest.raises(TextRefused) as refusal:
        clean_values({"a": {"b": {"c": {"d": 1}}}}, SHORT_TEXT)
    assert refusal.value.problem.code == "too_many_items" and refusal.value.path == ".a.b.c"
    assert clean_values({"a": {"b": {"c": 1}}}, SHORT_TEXT) == {"a": {"b": {"c": 1}}}
    with pytest.raises(TextRefused) as refusal:
        clean_values({"x" * 41: 1}, SHORT_TEXT)
    assert refusal.value.problem.code == "text_too_long"
    with pytest.raises(TextRefused) as refusal:
        clean_values({f"k{i}": "x" * 100 for i in range(20)}, SHORT_TEXT, max_chars=1999)
    assert refusal.value.problem.code == "text_too_long" and refusal.value.path == ".k19"


class Body(BaseModel):
    name: PersonName
    reason: Reason | None = None
    note: Note | None = None
    details: DetailValues = {}


def test_the_pydantic_types_apply_the_same_rules_with_the_same_codes() -> None:
    assert Body(name=" Sitı Aminah ").name == "Sitı Aminah"
    with pytest.raises(ValidationError) as invalid:
        Body(name="Siti\u202eAminah", reason="no", details={"x": "\x00"})
    assert {(error["loc"][0], error["type"]) for error in invalid.value.errors()} == {
        ("name", "text_bidi_control"),
        ("reason", "text_too_short"),
        ("details", "text_control_character"),
    }
    schema = Body.model_json_schema()["properties"]
    assert schema["name"]["maxLength"] == NAME_MAX and schema["name"]["minLength"] == 1
    assert schema["reason"]["anyOf"][0]["minLength"] == REASON_MIN


def test_every_code_has_an_indonesian_message() -> None:
    assert (
        message_id("text_too_long", {"max_length": 60, "length": 61})
        == "Terlalu panjang: 61 karakter, paling banyak 60."
    )
    assert message_id("missing") == "Isian ini wajib diisi."
    assert message_id("some_code_without_one") is None


async def test_a_422_carries_each_fields_indonesian_message() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/things")
    async def create(body: Body) -> dict[str, str]:
        return {"name": body.name}

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        response = await client.post("/things", json={"name": "Siti\u2066Aminah", "reason": "abc"})
        accepted = await client.post("/things", json={"name": "Siti\u0301"})
    error = response.json()["error"]
    assert response.status_code == 422 and error["code"] == "invalid_request"
    assert {(d["field"], d["code"]) for d in error["details"]} == {
        ("body.name", "text_bidi_control"),
        ("body.reason", "text_too_short"),
    }
    bidi = next(d for d in error["details"] if d["code"] == "text_bidi_control")
    assert "U+2066" in bidi["message"] and "U+2066" in bidi["message_id"] and "posisi 5" in bidi["message_id"]
    assert accepted.json() == {"name": "Sití"}
