import datetime as dt

import pytest

from dukcapil_shared.contracts.identity import InvalidNumber, parse_kk_number, parse_nik
from dukcapil_shared.contracts.regions import find_kecamatan, find_village, is_in_lebak, lebak_villages, region_name


def test_a_womans_nik_tells_her_birth_date_and_sex() -> None:
    nik = parse_nik("3602144107900001")
    assert (nik.province, nik.regency, nik.kecamatan, nik.female) == ("36", "36.02", "14", True)
    assert nik.birth_date() == dt.date(1990, 7, 1)
    assert nik.masked == "360214******0001"


def test_the_century_comes_from_the_declared_date_or_is_the_latest_not_in_the_future() -> None:
    nik = parse_nik("3602141205050003")
    assert nik.birth_date(today=dt.date(2026, 11, 28)) == dt.date(2005, 5, 12)
    assert nik.birth_date(century_hint=dt.date(1905, 5, 12)) == dt.date(1905, 5, 12)
    assert parse_nik("3602141205300003").birth_date(today=dt.date(2026, 11, 28)) == dt.date(1930, 5, 12)


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("360214410790000", "nik_format"),
        ("36021441079000a1", "nik_format"),
        ("9902144107900001", "nik_unknown_province"),
        ("3699144107900001", "nik_unknown_regency"),
        ("3602143207900001", "nik_birth_date"),
        ("3602147207900001", "nik_birth_date"),
        ("3602144113900001", "nik_birth_date"),
        ("3602143102900001", "nik_birth_date"),
        ("3602144107900000", "nik_serial"),
    ],
)
def test_an_invalid_nik_says_what_is_wrong(number: str, code: str) -> None:
    with pytest.raises(InvalidNumber) as invalid:
        parse_nik(number)
    assert invalid.value.code == code and str(invalid.value)


def test_29_february_needs_a_leap_year_once_the_century_is_known() -> None:
    nik = parse_nik("3602142902010001")
    with pytest.raises(InvalidNumber):
        nik.birth_date(century_hint=dt.date(2001, 1, 1))
    assert parse_nik("3602142902040001").birth_date(century_hint=dt.date(2004, 1, 1)) == dt.date(2004, 2, 29)


def test_a_nik_from_outside_lebak_is_a_valid_nik() -> None:
    assert parse_nik("3173014107900001").regency == "31.73"


def test_kk_numbers() -> None:
    assert parse_kk_number("3602141202100005") == "36.02.14"
    for number, code in [("3602141202100000", "kk_serial"), ("3602143202100005", "kk_date"), ("12", "kk_format")]:
        with pytest.raises(InvalidNumber) as invalid:
            parse_kk_number(number)
        assert invalid.value.code == code


def test_lebak_has_its_345_villages_and_28_kecamatan() -> None:
    assert len(lebak_villages()) == 345
    village = find_village("36.02.14.1002")
    assert village is not None and village.name == "Rangkasbitung Barat" and village.is_kelurahan
    assert village.kecamatan_code == "36.02.14"
    assert find_kecamatan("36.02.23").name == "Curugbitung"
    assert region_name("36.02") == "KABUPATEN LEBAK" and region_name("36.04.05") is not None
    assert is_in_lebak("36.02.14") and not is_in_lebak("36.04.05")
