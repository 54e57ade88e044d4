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
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()
    root.handlers[:], root.level = handlers, level


def test_log_lines_are_json_and_masked_for_our_loggers_and_libraries(capsys, restore_logging) -> None:  # type: ignore[no-untyped-def]
    configure_logging("probe", "INFO", json=True)
    structlog.get_logger("t").info("submitted", applicant_nik="3602144107900001")
    logging.getLogger("some.library").warning("retrying for 3602144107900001")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["applicant_nik"] == "360214******0001" and lines[0]["service"] == "probe"
    assert "3602144107900001" not in lines[1]["event"]
