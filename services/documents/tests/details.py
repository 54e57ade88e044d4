"""Details such as intake sends them, for the documents' tests: one complete example per type."""

from typing import Any

from dukcapil_shared.contracts import RequestDetails
from dukcapil_shared.contracts.details import typed_details

SAMPLE_DETAILS: dict[str, dict[str, Any]] = {
    "kartu_keluarga": {"reason": "split", "kk_number": "3602141202100005"},
    "akta_kematian": {
        "deceased": {"nik": "3602140101500002", "name": "Sarmadi"},
        "date_of_death": "2026-11-20",
        "place_of_death": "Kp. Sawarna",
        "reporter_relation": "anak",
        "witnesses": [{"nik": "3602141111800004", "name": "Dedi"}, {"nik": "3602141205850003", "name": "Ahmad"}],
    },
    "surat_pindah": {
        "origin": {"street": "Kp. Sawarna", "kecamatan_code": "36.02.03"},
        "destination": {"street": "Jl. Raya", "kecamatan_code": "36.04.05"},
        "reason": "pekerjaan",
        "moving_members": ["3602144107900001"],
    },
    "biodata_wni": {},
}


def details_of(request_type: str, **changes: Any) -> RequestDetails:
    """The type's example, with the given fields replaced (a field given None is left out)."""
    fields = {**SAMPLE_DETAILS[request_type], **changes}
    return typed_details({key: value for key, value in fields.items() if value is not None}, request_type)
