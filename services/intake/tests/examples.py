"""Typed examples of what a request holds (applicant, details of each type, delivery), for the tests that need a
request without caring what it says."""

from dukcapil_shared.contracts import (
    AktaKematianDetails,
    BiodataWniDetails,
    Delivery,
    KartuKeluargaDetails,
    Person,
    RequestDetails,
    SuratPindahDetails,
)

AHMAD = Person(nik="3602141205850003", name="Ahmad Fauzi")

MINIMAL_DETAILS: dict[str, RequestDetails] = {
    "kartu_keluarga": KartuKeluargaDetails(reason="data_change", kk_number="3602141205850001", changes="Pekerjaan"),
    "akta_kematian": AktaKematianDetails.model_validate(
        {
            "deceased": {"nik": "3602140101500001", "name": "Almarhum Sanusi"},
            "date_of_death": "2026-11-20",
            "place_of_death": "RSUD Adjidarmo",
            "reporter_relation": "anak",
            "witnesses": [
                {"nik": "3602141205850003", "name": "Ahmad Fauzi"},
                {"nik": "3602144107900001", "name": "Siti Aminah"},
            ],
        }
    ),
    "surat_pindah": SuratPindahDetails.model_validate(
        {
            "origin": {"street": "Jl. Multatuli 5", "kecamatan_code": "36.02.14"},
            "destination": {"street": "Jl. Veteran 2", "kecamatan_code": "36.01.01"},
            "reason": "pekerjaan",
            "moving_members": ["3602141205850003"],
        }
    ),
    "biodata_wni": BiodataWniDetails(),
}
"""Details of each type, as little as each takes."""


def pickup(kecamatan_code: str = "36.02.14", **contact: str) -> Delivery:
    return Delivery.model_validate({"method": "pickup", "pickup_kecamatan_code": kecamatan_code, **contact})
