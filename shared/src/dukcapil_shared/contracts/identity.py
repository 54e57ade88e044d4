"""Identity numbers: NIK (Nomor Induk Kependudukan) and KK number (Nomor Kartu Keluarga).

NIK, 16 digits `PP KK CC DDMMYY SSSS`: province, regency or city, the kecamatan where it was first issued, the
day of birth (plus 40 for women), month, two-digit year, and a serial from 0001. A NIK never changes, so its
prefix does not prove where someone lives now. The century is not in the NIK; it comes from the declared birth
date, or else is the most recent one that does not lie in the future.

KK number, 16 digits: the 6-digit region code, the day the card was recorded (DDMMYY), and a 4-digit serial.
"""

import datetime as dt
from dataclasses import dataclass

from dukcapil_shared.contracts.regions import region_name


class InvalidNumber(ValueError):
    """`code` says what is wrong (machine-readable); the message says it in words."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Nik:
    number: str
    province: str
    regency: str
    kecamatan: str
    birth_day: int
    birth_month: int
    birth_year_2: int
    female: bool
    serial: str

    def birth_date(self, century_hint: dt.date | None = None, today: dt.date | None = None) -> dt.date:
        """The birth date, in the declared date's century, else the latest century not in the future."""
        if century_hint is not None:
            year = century_hint.year - century_hint.year % 100 + self.birth_year_2
        else:
            today = today or dt.date.today()
            year = today.year - today.year % 100 + self.birth_year_2
            if (year, self.birth_month, self.birth_day) > (today.year, today.month, today.day):
                year -= 100
        try:
            return dt.date(year, self.birth_month, self.birth_day)
        except ValueError as error:
            raise InvalidNumber(
                "nik_birth_date", f"The NIK's date of birth is 29 February {year}, not a leap year."
            ) from error

    @property
    def masked(self) -> str:
        return mask_number(self.number)


def mask_number(number: str) -> str:
    """A NIK or KK number as outsiders and logs see it: 3602144107900001 -> 360214******0001.

    The region and the serial stay; the six digits of the date (a person's birth date and sex) are hidden.
    Masking a masked number changes nothing.
    """
    return f"{number[:6]}******{number[12:]}"


def _sixteen_digits(number: str, what: str) -> None:
    if len(number) != 16 or not number.isdigit():
        raise InvalidNumber(f"{what}_format", f"A {what.upper()} has exactly 16 digits; got {len(number)} characters.")


def _real_day(day: int, month: int) -> bool:
    # 2000 was a leap year, so 29 February passes here; birth_date checks it again once the century is known.
    try:
        dt.date(2000, month, day)
    except ValueError:
        return False
    return True


def parse_nik(number: str) -> Nik:
    """Check a NIK's structure; raises InvalidNumber with what is wrong."""
    _sixteen_digits(number, "nik")
    province, regency, kecamatan = number[0:2], number[0:2] + "." + number[2:4], number[4:6]
    if region_name(province) is None:
        raise InvalidNumber("nik_unknown_province", f"The NIK starts with {province}, which is no province code.")
    if region_name(regency) is None:
        raise InvalidNumber("nik_unknown_regency", f"The NIK's regency code {regency} does not exist.")
    encoded_day, month, year_2 = int(number[6:8]), int(number[8:10]), int(number[10:12])
    female = encoded_day > 40
    day = encoded_day - 40 if female else encoded_day
    if not _real_day(day, month):
        raise InvalidNumber(
            "nik_birth_date",
            f"Digits 7-12 of the NIK ({number[6:12]}) are no real date of birth (DDMMYY, +40 for women).",
        )
    if number[12:] == "0000":
        raise InvalidNumber("nik_serial", "The NIK's last four digits (the serial) cannot be 0000.")
    return Nik(number, province, regency, kecamatan, day, month, year_2, female, number[12:])


def parse_kk_number(number: str) -> str:
    """Check a KK number's structure; returns its region code (e.g. 36.02.14); raises InvalidNumber."""
    _sixteen_digits(number, "kk")
    region = f"{number[0:2]}.{number[2:4]}.{number[4:6]}"
    if region_name(region[:5]) is None:
        raise InvalidNumber("kk_unknown_region", f"The KK number's region code {region} does not exist.")
    if not _real_day(int(number[6:8]), int(number[8:10])):
        raise InvalidNumber("kk_date", f"Digits 7-12 of the KK number ({number[6:12]}) are no real date (DDMMYY).")
    if number[12:] == "0000":
        raise InvalidNumber("kk_serial", "The KK number's last four digits cannot be 0000.")
    return region
