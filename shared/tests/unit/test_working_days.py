"""Working days in WIB: weekends, Indonesia's public holidays and cuti bersama (from `holidays`), and the office's own
days off."""

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from dukcapil_shared.contracts.regions import WIB
from dukcapil_shared.working_days import DaysOffFileError, WorkingCalendar, parse_days_off, read_days_off

CALENDAR = WorkingCalendar()


def wib(year: int, month: int, day: int, hour: int = 10) -> datetime:
    return datetime(year, month, day, hour, tzinfo=WIB)


def test_indonesias_public_holidays_and_cuti_bersama_are_days_off() -> None:
    assert CALENDAR.day_off(date(2026, 8, 17)) == "Hari Kemerdekaan Republik Indonesia"
    assert CALENDAR.day_off(date(2026, 12, 25)) == "Hari Raya Natal"
    assert CALENDAR.day_off(date(2026, 12, 24)) == "Cuti Bersama Hari Raya Natal"  # collective leave, a Thursday
    assert CALENDAR.day_off(date(2026, 3, 23)) == "Cuti Bersama Hari Raya Idul Fitri"
    assert CALENDAR.day_off(date(2026, 8, 15)) == "Sabtu" and CALENDAR.day_off(date(2026, 8, 16)) == "Minggu"
    assert CALENDAR.is_working_day(date(2026, 8, 18))


def test_a_due_date_across_a_weekend_and_a_public_holiday_lands_on_the_next_working_day() -> None:
    # Thursday 13 August 2026, two working days: Friday 14, then Saturday, Sunday and Monday 17 (Independence Day)
    # are days off, so the second working day is Tuesday 18, at the same time of day.
    due = CALENDAR.add_working_days(wib(2026, 8, 13).astimezone(UTC), 2)
    assert due == wib(2026, 8, 18) and due.tzinfo == UTC
    assert WorkingCalendar(national=False).add_working_days(wib(2026, 8, 13), 2) == wib(2026, 8, 17)


def test_cuti_bersama_pushes_a_due_date_like_a_holiday() -> None:
    # Wednesday 23 December 2026, one working day: Thursday 24 is cuti bersama, Friday 25 Christmas.
    assert CALENDAR.add_working_days(wib(2026, 12, 23, 9), 1) == wib(2026, 12, 28, 9)


def test_a_request_received_on_a_day_off_counts_from_the_next_working_day() -> None:
    # Received on Saturday 15 August: the count starts on Tuesday 18 (Monday 17 is a holiday); due at its end.
    assert CALENDAR.add_working_days(wib(2026, 8, 15, 14), 1) == wib(2026, 8, 19, 0)
    assert CALENDAR.add_working_days(wib(2026, 8, 15, 14), 0) == wib(2026, 8, 18, 0)


def test_the_offices_own_days_off_count_too() -> None:
    days_off = parse_days_off(["date,description", "# Hari Jadi Kabupaten Lebak", "2026-12-02,Hari Jadi Lebak"])
    office = WorkingCalendar(days_off=days_off)
    assert office.day_off(date(2026, 12, 2)) == "Hari Jadi Lebak"
    assert office.add_working_days(wib(2026, 12, 1), 1) == wib(2026, 12, 3)
    assert CALENDAR.add_working_days(wib(2026, 12, 1), 1) == wib(2026, 12, 2)


def test_working_days_between_two_moments_skip_the_days_off() -> None:
    assert CALENDAR.working_days_between(wib(2026, 8, 13), wib(2026, 8, 13, 16)) == 0
    assert CALENDAR.working_days_between(wib(2026, 8, 13), wib(2026, 8, 18)) == 2  # Friday 14 and Tuesday 18
    assert CALENDAR.working_days_between(wib(2026, 8, 18), wib(2026, 8, 13)) == -2
    late_evening_utc = datetime(2026, 8, 13, 18, tzinfo=UTC)  # already Friday 14 in Lebak
    assert CALENDAR.working_days_between(wib(2026, 8, 13), late_evening_utc) == 1


def test_the_days_off_file_is_read_and_its_mistakes_are_named(tmp_path: Path) -> None:
    file = tmp_path / "days-off.csv"
    file.write_text("date,description\n2027-01-04,Kantor tutup\n", encoding="utf-8")
    assert read_days_off(file) == {date(2027, 1, 4): "Kantor tutup"}
    assert read_days_off(None) == {}
    with pytest.raises(DaysOffFileError, match="line 2"):
        parse_days_off(["date,description", "2027-13-01,Salah"])
    with pytest.raises(DaysOffFileError, match="line 1"):
        parse_days_off(["2027-01-04"])
    with pytest.raises(DaysOffFileError, match=r"missing\.csv"):
        read_days_off(tmp_path / "missing.csv")


def test_a_negative_number_of_working_days_is_refused() -> None:
    with pytest.raises(ValueError):
        CALENDAR.add_working_days(wib(2026, 8, 13), -1)
    assert CALENDAR.add_working_days(wib(2026, 8, 13), 0) == wib(2026, 8, 13)
    assert CALENDAR.next_working_day(date(2026, 8, 14)) - date(2026, 8, 14) == timedelta(days=4)
