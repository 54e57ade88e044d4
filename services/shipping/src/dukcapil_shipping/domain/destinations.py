"""Where the courier can go: the office's table of postal codes and courier destination codes, and the address check.

The table lists kecamatan (and villages that differ from their kecamatan) with their postal codes, the courier's
destination tariff code (OLSHOP_DEST) and whether the courier serves them. An address is checked as soon as the
request reaches shipping, so that one the courier cannot serve is reported before the document is even made.
"""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from dukcapil_shared.contracts.regions import Village, is_in_lebak

FindVillage = Callable[[str | None], Village | None]


@dataclass(frozen=True)
class Destination:
    """One row of the table: a kecamatan (36.02.14) or a village (36.02.14.1002) that overrides its kecamatan."""

    region_code: str
    name: str
    postal_codes: tuple[str, ...]
    destination_code: str
    serviceable: bool = True
    note: str = ""


@dataclass(frozen=True)
class AddressCheck:
    """The courier's destination code for an address, or in plain words why the courier cannot serve it."""

    destination_code: str | None = None
    postal_code: str | None = None
    """The address's postal code, or the table's when the address has none and the table knows only one."""
    problem: str | None = None
    """What is wrong, for machines: unknown_kecamatan, unknown_village, village_elsewhere, not_serviceable,
    postal_code_mismatch (no_address when there is none)."""
    detail: str | None = None
    """For the operator and the citizen, in Indonesian."""

    @property
    def serviceable(self) -> bool:
        return self.problem is None


class DestinationTable:
    def __init__(self, rows: Iterable[Destination], *, find_village: FindVillage) -> None:
        self._rows = {row.region_code: row for row in rows}
        self._find_village = find_village

    def __iter__(self) -> Iterator[Destination]:
        return iter(self._rows.values())

    def get(self, region_code: str) -> Destination | None:
        return self._rows.get(region_code)

    def check(self, *, kecamatan_code: str, village_code: str | None, postal_code: str | None) -> AddressCheck:
        kecamatan = self._rows.get(kecamatan_code)
        if kecamatan is None:
            return _unserviceable(
                "unknown_kecamatan", f"Kecamatan {kecamatan_code} tidak ada dalam tabel tujuan kurir dinas."
            )
        if village_code:
            if is_in_lebak(kecamatan_code):
                village = self._find_village(village_code)
                if village is None:
                    return _unserviceable(
                        "unknown_village", f"Kode desa/kelurahan {village_code} tidak dikenal di Kabupaten Lebak."
                    )
                if village.kecamatan_code != kecamatan_code:
                    return _unserviceable(
                        "village_elsewhere",
                        f"Desa/kelurahan {village.name} ({village_code}) tidak berada di Kecamatan {kecamatan.name}.",
                    )
            elif not village_code.startswith(kecamatan_code + "."):
                return _unserviceable(
                    "village_elsewhere",
                    f"Kode desa/kelurahan {village_code} tidak berada di kecamatan {kecamatan_code}.",
                )
        destination = self._rows.get(village_code or "", kecamatan)
        if not destination.serviceable:
            reason = f": {destination.note}" if destination.note else "."
            return _unserviceable("not_serviceable", f"Kurir tidak melayani {destination.name}{reason}")
        if postal_code and postal_code not in destination.postal_codes:
            return _unserviceable(
                "postal_code_mismatch",
                f"Kode pos {postal_code} bukan kode pos {destination.name} ({', '.join(destination.postal_codes)}).",
            )
        if not postal_code and len(destination.postal_codes) == 1:
            postal_code = destination.postal_codes[0]
        return AddressCheck(destination_code=destination.destination_code, postal_code=postal_code)


def _unserviceable(problem: str, detail: str) -> AddressCheck:
    return AddressCheck(problem=problem, detail=detail)
