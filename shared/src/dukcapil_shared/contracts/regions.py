"""Region codes (Kode Wilayah) that travel in events: Lebak's 28 kecamatan and their offices.

The codes are the ministry's (province 36 Banten, regency 36.02 Lebak, kecamatan 36.02.01 to 36.02.28); the
list ships with the package as data/lebak_kecamatan.csv.
"""

import csv
from dataclasses import dataclass
from functools import cache
from importlib.resources import files


@dataclass(frozen=True)
class Kecamatan:
    code: str
    name: str

    @property
    def office(self) -> str:
        return f"Kantor Kecamatan {self.name}"


@cache
def lebak_kecamatan() -> dict[str, Kecamatan]:
    text = files("dukcapil_shared.contracts").joinpath("data/lebak_kecamatan.csv").read_text(encoding="utf-8")
    return {row["code"]: Kecamatan(row["code"], row["name"]) for row in csv.DictReader(text.splitlines())}


def find_kecamatan(code: str | None) -> Kecamatan | None:
    return lebak_kecamatan().get(code or "")
