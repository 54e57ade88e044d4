"""The office's working days, counted in Lebak's clock (WIB, Asia/Jakarta): Monday to Friday, except Indonesia's
public holidays, its collective leave days (cuti bersama) and the office's own days off.

Service standards are promised in working days ("1 hari kerja"), so due dates, overdue and lead times are counted
with this calendar. The national days come from the `holidays` package (category `public` for the holidays,
`government` for cuti bersama, which the government sets each year by joint decree: a year the package does not
know yet has none until it is updated). The office adds what is its own (a regional holiday, a day the office is
closed, a cuti bersama decreed after the package's release) in a CSV file of `date,description` lines.
"""

import csv
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path

import holidays

from dukcapil_shared.contracts.regions import WIB

NATIONAL_CATEGORIES = ("public", "government")
"""Public holidays and cuti bersama (collective leave), as the `holidays` package names them for Indonesia."""


class DaysOffFileError(ValueError):
    """The office's days-off file cannot be read: a bad date, or a line without a description."""


@lru_cache(maxsize=64)
def _national_year(year: int) -> dict[date, str]:
    found = holidays.country_holidays("ID", years=year, categories=NATIONAL_CATEGORIES, language="id")
    return dict(found.items())


@dataclass(frozen=True)
class WorkingCalendar:
    days_off: Mapping[date, str] = field(default_factory=dict)
    """The office's own days off, beyond the national ones: date -> why."""
    national: bool = True
    """False only for tests that want weekends alone."""

    def day_off(self, day: date) -> str | None:
        """Why `day` is not a working day (in Indonesian, as the calendar names it); None if it is one."""
        if day.weekday() >= 5:
            return "Sabtu" if day.weekday() == 5 else "Minggu"
        if day in self.days_off:
            return self.days_off[day]
        if self.national:
            return _national_year(day.year).get(day)
        return None

    def is_working_day(self, day: date) -> bool:
        return self.day_off(day) is None

    def next_working_day(self, day: date) -> date:
        """The first working day after `day`."""
        following = day + timedelta(days=1)
        while not self.is_working_day(following):
            following += timedelta(days=1)
        return following

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """The moment `days` working days after `start`: the same time of day (WIB) on the `days`-th working day
        after the start's day. A start on a day off counts from the beginning of the next working day, so that a
        request received on a Saturday with one working day is due at the end of Monday."""
        if days < 0:
            raise ValueError("a number of working days is never negative")
        local = start.astimezone(WIB)
        day = local.date()
        if not self.is_working_day(day):
            day = self.next_working_day(day)
            local = datetime.combine(day, time(), WIB)
        for _ in range(days):
            day = self.next_working_day(day)
        return datetime.combine(day, local.timetz()).astimezone(start.tzinfo)

    def working_days_between(self, start: datetime, end: datetime) -> int:
        """How many working days began after `start` up to `end` (WIB): 0 within the same day, 1 from a Friday to
        the next Monday, and negative when `end` comes first."""
        if end < start:
            return -self.working_days_between(end, start)
        day, last = start.astimezone(WIB).date(), end.astimezone(WIB).date()
        count = 0
        while day < last:
            day += timedelta(days=1)
            count += self.is_working_day(day)
        return count


def read_days_off(path: Path | None) -> dict[date, str]:
    """The office's days off from a CSV file of `date,description` lines (ISO dates; a `date` header and lines
    starting with # are skipped); none without a file."""
    if path is None:
        return {}
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise DaysOffFileError(f"{path}: {error.strerror or error}") from error
    return parse_days_off(text.splitlines(), source=str(path))


def parse_days_off(lines: Iterable[str], *, source: str = "days off") -> dict[date, str]:
    days: dict[date, str] = {}
    for number, row in enumerate(csv.reader(lines), start=1):
        if not row or not row[0].strip() or row[0].strip().startswith("#") or row[0].strip().lower() == "date":
            continue
        if len(row) < 2 or not row[1].strip():
            raise DaysOffFileError(f"{source}, line {number}: write `date,description`, e.g. `2026-12-02,Hari Jadi`")
        try:
            day = date.fromisoformat(row[0].strip())
        except ValueError:
            problem = f"{row[0].strip()!r} is not a date like 2026-12-02"
            raise DaysOffFileError(f"{source}, line {number}: {problem}") from None
        days[day] = row[1].strip()
    return days
