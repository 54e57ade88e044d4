"""Requests of every type as a citizen or an operator would submit them."""

import copy
from functools import cache
from typing import Any

from dukcapil_devtools.register_simulator.population import HIDUP, Population, generate

COURIER = {
    "method": "courier",
    "recipient_name": "Ahmad Fauzi",
    "phone": "081234567890",
    "address": {
        "street": "Jl. Multatuli No. 12, Kp. Pasir Ona",
        "rt": "002",
        "rw": "005",
        "village_code": "36.02.14.1002",
        "kecamatan_code": "36.02.14",
        "postal_code": "42312",
    },
}
PICKUP = {"method": "pickup", "pickup_kecamatan_code": "36.02.03"}

KARTU_KELUARGA = {
    "type": "kartu_keluarga",
    "applicant": {"nik": "3602141205850003", "name": "Ahmad Fauzi", "birth_date": "1985-05-12", "sex": "male"},
    "details": {
        "reason": "add_member",
        "kk_number": "3602141202100005",
        "members": [{"nik": "3602145003240001", "name": "Nur Aisyah", "relation": "anak"}],
    },
    "delivery": COURIER,
}
AKTA_KEMATIAN = {
    "type": "akta_kematian",
    "applicant": {"nik": "3602144107900001", "name": "Siti Aminah", "birth_date": "1990-07-01", "sex": "female"},
    "details": {
        "deceased": {"nik": "3602140101500002", "name": "Sarmadi"},
        "date_of_death": "2026-11-20",
        "place_of_death": "RSUD dr. Adjidarmo, Rangkasbitung",
        "reporter_relation": "anak",
        "witnesses": [{"nik": "3602141111800004", "name": "Dedi"}, {"nik": "3602142010820006", "name": "Euis"}],
    },
    "delivery": COURIER,
}
SURAT_PINDAH = {
    "type": "surat_pindah",
    "applicant": {"nik": "3602031503920007", "name": "Yusuf Maulana", "birth_date": "1992-03-15", "sex": "male"},
    "details": {
        "origin": {"street": "Kp. Sawarna", "village_code": "36.02.03.2002", "kecamatan_code": "36.02.03"},
        "destination": {"street": "Jl. Raya Serang No. 5", "kecamatan_code": "36.04.05"},
        "reason": "pekerjaan",
        "moving_members": ["3602031503920007"],
    },
    "delivery": PICKUP,
}
BIODATA_WNI = {
    "type": "biodata_wni",
    "applicant": {"nik": "3602144107900001", "name": "Siti Aminah", "birth_date": "1990-07-01", "sex": "female"},
    "details": {"person_nik": "3602144107900001"},
    "delivery": COURIER,
}

EVERY_TYPE = {
    "kartu_keluarga": KARTU_KELUARGA,
    "akta_kematian": AKTA_KEMATIAN,
    "surat_pindah": SURAT_PINDAH,
    "biodata_wni": BIODATA_WNI,
}


def variant(body: dict[str, Any], **changes: Any) -> dict[str, Any]:
    copied = copy.deepcopy(body)
    copied.update(changes)
    return copied


@cache
def register() -> Population:
    """The register simulator's residents as System starts it (its default seed and size)."""
    return generate()


def registered_person(index: int = 0, *, female: bool = True) -> dict[str, str]:
    """A living adult resident of the register simulator, as they give themself in a request: requests that review
    may approve by policy name people the register knows."""
    adults = [
        resident
        for resident in register().residents.values()
        if resident.status_hidup == HIDUP
        and (resident.jenis_kelamin == "P") == female
        and resident.tanggal_lahir.year <= 2000
    ]
    resident = adults[index]
    return {
        "nik": resident.nik,
        "name": resident.nama.title(),
        "birth_date": resident.tanggal_lahir.isoformat(),
        "sex": "female" if female else "male",
    }
