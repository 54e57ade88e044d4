"""The office's destination table, read from CSV: the packaged one (data/destinations.csv), or a file of its own."""

import csv
from importlib.resources import files
from pathlib import Path

from dukcapil_shared.contracts.regions import find_village
from dukcapil_shipping.domain.destinations import Destination, DestinationTable

COLUMNS = ("region_code", "name", "postal_codes", "destination_code", "serviceable", "note")


class InvalidDestinationTable(ValueError):
    pass


def load_destinations(path: Path | None = None) -> DestinationTable:
    """The table at `path`, else the packaged one; lines starting with # are comments."""
    table = path or files("dukcapil_shipping").joinpath("data/destinations.csv")
    rows = parse_destinations(table.read_text(encoding="utf-8"), source=str(table))
    return DestinationTable(rows, find_village=find_village)


def parse_destinations(text: str, *, source: str = "destinations.csv") -> list[Destination]:
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    reader = csv.DictReader(lines)
    missing = set(COLUMNS[:5]) - set(reader.fieldnames or ())
    if missing:
        raise InvalidDestinationTable(f"{source}: missing column(s) {', '.join(sorted(missing))}")
    rows = []
    for number, row in enumerate(reader, start=1):
        serviceable = (row["serviceable"] or "").strip().lower()
        postal_codes = tuple((row["postal_codes"] or "").split())
        if serviceable not in ("yes", "no") or not all(code.isdigit() and len(code) == 5 for code in postal_codes):
            raise InvalidDestinationTable(f"{source}, entry {number}: serviceable is yes or no; postal codes 5 digits")
        if not row["region_code"] or not row["destination_code"]:
            raise InvalidDestinationTable(f"{source}, entry {number}: region_code and destination_code are required")
        rows.append(
            Destination(
                region_code=row["region_code"].strip(),
                name=row["name"].strip(),
                postal_codes=postal_codes,
                destination_code=row["destination_code"].strip(),
                serviceable=serviceable == "yes",
                note=(row.get("note") or "").strip(),
            )
        )
    return rows
