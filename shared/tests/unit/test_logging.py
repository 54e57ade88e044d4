import json
import logging

import pytest
import structlog

from dukcapil_shared.logging import configure_logging, mask_personal_data


def test_nik_and_phone_numbers_are_masked() -> None:
    assert mask_personal_data("NIK 3602144107900001") == "NIK 360214******0001"
    assert mask_personal_data("hubungi 081234567890 atau +6281234567890") == "hubungi [phone] atau [phone]"
    assert mask_personal_data("nomor 360214-20261128-0007") == "nomor 360214-20261128-0007"
    assert mask_personal_data("kirim ke siti.aminah+kk@mail.example.id") == "kirim ke [email]"


@pytest.fixture
def restore_logging():  # type: ignore[no-untyped-def]
    root, faststream = logging.getLogger(), logging.getLogger("faststream")
    handlers, level = root.handlers[:], root.level
    faststream_handlers, faststream_propagates = faststream.handlers[:], faststream.propagate
    yield
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    root.handlers[:], root.level = handlers, level
    faststream.handlers[:], faststream.propagate = faststream_handlers, faststream_propagates


def test_log_lines_are_json_and_masked_for_our_loggers_and_libraries(capsys, restore_logging) -> None:  # type: ignore[no-untyped-def]
    configure_logging("probe", "INFO", json=True)
    structlog.get_logger("t").info("submitted", applicant_nik="3602144107900001")
    logging.getLogger("some.library").warning("retrying for 3602144107900001")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["applicant_nik"] == "360214******0001" and lines[0]["service"] == "probe"
    assert "3602144107900001" not in lines[1]["event"]


def test_faststream_and_font_subsetting_log_like_everyone_else(capsys, restore_logging) -> None:  # type: ignore[no-untyped-def]
    """FastStream's own logger comes with a coloured handler on stderr; a handler failing at shutdown wrote
    half-coloured plain text into the services' JSON logs. fontTools says every step of a font subset at INFO."""
    import faststream  # noqa: F401  (creates FastStream's logger with its own handler)

    configure_logging("probe", "INFO", json=True)
    logging.getLogger("faststream").error("CancelledError: (None, None)")
    logging.getLogger("fontTools.subset").info("glyf subsetted")
    out, err = capsys.readouterr()
    [line] = [json.loads(line) for line in out.splitlines()]
    assert (line["event"], line["level"], line["service"]) == ("CancelledError: (None, None)", "error", "probe")
    assert err == ""
