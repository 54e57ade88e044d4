"""Region codes (Kode Wilayah) that travel in events, checked against the ministry's lists.

Lebak's 28 kecamatan come from the office's own list (data/lebak_kecamatan.csv); every province, regency and
kecamatan of Indonesia, and Lebak's 345 villages, from idn-area-data (ODbL, see data/NOTICE.md).
Codes: province `36`, regency `36.02`, kecamatan `36.02.14`, village `36.02.14.1001` (1… kelurahan, 2… desa).
"""

import csv
import datetime as dt
from dataclasses import dataclass
from functools import cache
from importlib.resources import files

LEBAK = "36.02"
WIB = dt.timezone(dt.timedelta(hours=7), "WIB")
"""Western Indonesia Time, Lebak's clock (no daylight saving time): what "today" means for the office."""


@dataclass(frozen=True)
class Kecamatan:
    code: str
    name: str

    @property
    def office(self) -> str:
        return f"Kantor Kecamatan {self.name}"


@dataclass(frozen=True)
class Village:
    code: str
    kecamatan_code: str
    name: str

    @property
    def is_kelurahan(self) -> bool:
        return self.code.rsplit(".", 1)[1].startswith("1")


def _rows(name: str) -> list[dict[str, str]]:
    text = files("dukcapil_shared.contracts").joinpath(f"data/{name}").read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))


@cache
def lebak_kecamatan() -> dict[str, Kecamatan]:
    return {row["code"]: Kecamatan(row["code"], row["name"]) for row in _rows("lebak_kecamatan.csv")}


@cache
def lebak_villages() -> dict[str, Village]:
    return {row["code"]: Village(row["code"], row["district_code"], row["name"]) for row in _rows("lebak_villages.csv")}


@cache
def _names() -> dict[str, str]:
    names: dict[str, str] = {}
    for table in ("provinces.csv", "regencies.csv", "districts.csv"):
        names |= {row["code"]: row["name"] for row in _rows(table)}
    return names


def find_kecamatan(code: str | None) -> Kecamatan | None:
    """A kecamatan of Lebak."""
    return lebak_kecamatan().get(code or "")


def find_village(code: str | None) -> Village | None:
    """A desa or kelurahan of Lebak."""
    return lebak_villages().get(code or "")


def region_name(code: str) -> str | None:
    """The name of any province (36), regency (36.02) or kecamatan (36.02.14) of Indonesia."""
    return _names().get(code)


def is_in_lebak(code: str) -> bool:
    return code == LEBAK or code.startswith(LEBAK + ".")
