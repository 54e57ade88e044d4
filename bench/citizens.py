"""Requests as citizens submit them, in a configurable mix of types, each for people of its own.

Every request is valid and passes review's pre-checks once its scans are uploaded (as in the chaos suite's
driver): applicants and the deceased have NIKs nobody else in the run has, and deaths are reported on time, so
with REVIEW_AUTO_APPROVE_TYPES covering every type, review approves each one without a person. Pickups are
spread over Lebak's 28 kecamatan offices, as real requests are (each office numbers its own requests).
"""

import itertools
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from dukcapil_shared.contracts.regions import lebak_kecamatan
from dukcapil_testing import minimal_pdf
from tests.e2e.requests import AKTA_KEMATIAN, BIODATA_WNI, COURIER, KARTU_KELUARGA, SURAT_PINDAH, variant

TYPES = ("biodata_wni", "kartu_keluarga", "surat_pindah", "akta_kematian")
WIB = ZoneInfo("Asia/Jakarta")
SCAN = ("scan.pdf", minimal_pdf(), "application/pdf")
# Serials 0..149,999 give distinct NIKs per region and type (the year of birth moves every 9,999).
SERIALS_PER_RUN = 150_000


def parse_mix(text: str) -> dict[str, float]:
    """`biodata_wni=2,kartu_keluarga=1` -> weights; an empty text means every type alike."""
    if not text.strip():
        return dict.fromkeys(TYPES, 1.0)
    mix: dict[str, float] = {}
    for part in text.split(","):
        name, _, weight = part.partition("=")
        name = name.strip()
        if name not in TYPES:
            raise ValueError(f"unknown request type {name!r} in the mix; the types are {', '.join(TYPES)}")
        mix[name] = float(weight) if weight.strip() else 1.0
    if not any(weight > 0 for weight in mix.values()):
        raise ValueError("the mix needs a type with a positive weight")
    return {name: weight for name, weight in mix.items() if weight > 0}


def nik(region: str, birth: date, female: bool, serial: int) -> str:
    day = birth.day + (40 if female else 0)
    return f"{region}{day:02d}{birth:%m%y}{serial % 9999 + 1:04d}"


def person(region: str, name: str, *, first_year: int, female: bool, serial: int) -> dict[str, str]:
    birth = date(first_year + (serial // 9999) % 15, 1 + serial % 12, 1 + serial % 28)
    return {
        "nik": nik(region, birth, female, serial),
        "name": name,
        "birth_date": birth.isoformat(),
        "sex": "female" if female else "male",
    }


class Citizens:
    """Bodies of `POST /requests`: types in the proportions of `mix` (smooth weighted round robin, so any run of
    requests has the mix), every `1/courier_share`-th one by courier, the rest collected at an office."""

    def __init__(self, *, mix: dict[str, float] | None = None, courier_share: float = 0.2, serial_start: int = 0):
        self.mix = mix or dict.fromkeys(TYPES, 1.0)
        self.courier_share = courier_share
        self._serials = itertools.count(serial_start)
        self._credit = dict.fromkeys(self.mix, 0.0)
        self._count = 0
        self._offices = sorted(lebak_kecamatan())

    def next_type(self) -> str:
        total = sum(self.mix.values())
        for name, weight in self.mix.items():
            self._credit[name] += weight
        chosen = max(self._credit, key=lambda name: self._credit[name])
        self._credit[chosen] -= total
        return chosen

    def next_body(self) -> dict[str, Any]:
        index = self._count
        self._count += 1
        kind = self.next_type()
        serial = next(self._serials) % SERIALS_PER_RUN
        female = index % 2 == 0
        if kind == "biodata_wni":
            applicant = person("360214", "Siti Aminah", first_year=1975, female=female, serial=serial)
            body = variant(BIODATA_WNI, applicant=applicant, details={"person_nik": applicant["nik"]})
        elif kind == "kartu_keluarga":
            applicant = person("360214", "Ahmad Fauzi", first_year=1970, female=False, serial=serial)
            body = variant(KARTU_KELUARGA, applicant=applicant)
        elif kind == "surat_pindah":
            applicant = person("360203", "Yusuf Maulana", first_year=1980, female=False, serial=serial)
            details = {**SURAT_PINDAH["details"], "moving_members": [applicant["nik"]]}
            body = variant(SURAT_PINDAH, applicant=applicant, details=details)
        else:
            applicant = person("360214", "Siti Aminah", first_year=1978, female=True, serial=serial)
            deceased = person("360214", "Sarmadi", first_year=1940, female=False, serial=serial)
            died = datetime.now(WIB).date() - timedelta(days=3)
            details = {
                **AKTA_KEMATIAN["details"],
                "deceased": {"nik": deceased["nik"], "name": deceased["name"]},
                "date_of_death": died.isoformat(),
            }
            body = variant(AKTA_KEMATIAN, applicant=applicant, details=details)
        if self.courier_share > 0 and int((index + 1) * self.courier_share) > int(index * self.courier_share):
            body["delivery"] = {**COURIER, "recipient_name": body["applicant"]["name"]}
        else:
            body["delivery"] = {"method": "pickup", "pickup_kecamatan_code": self._offices[index % len(self._offices)]}
        return body
