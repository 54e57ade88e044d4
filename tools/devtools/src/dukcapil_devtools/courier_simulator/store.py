"""Where the simulated courier keeps its parcels and scripts: a SQLite file, so that a restart forgets nothing.

A real courier does not lose its airway bills when one of its servers restarts; a simulator that did would make
the shipping service believe in lost parcels that no courier lost. Every change is committed before the answer
leaves (SQLite in WAL mode survives the process being killed), and the parcels are read back at start: their
timelines go on from the milestones they had reached, and those due while the simulator was down are reached on
the next look.
"""

import json
import sqlite3
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

from dukcapil_devtools.courier_simulator.model import Outcome, Parcel, Script

DATABASE_FILE = "courier.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS parcels (
    order_id TEXT PRIMARY KEY,
    cnote TEXT NOT NULL UNIQUE,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS scripts (
    order_id TEXT PRIMARY KEY,
    record TEXT NOT NULL
);
"""


class CourierStore:
    """The courier's records in `data_dir/courier.sqlite3`, written through on every change."""

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / DATABASE_FILE
        # One connection, used from the event loop's thread only; autocommit: each statement is its own commit.
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def load(self) -> tuple[dict[str, Parcel], dict[str, Script]]:
        parcels = {
            order_id: _parcel(json.loads(record))
            for order_id, record in self._db.execute("SELECT order_id, record FROM parcels")
        }
        scripts = {
            order_id: _script(json.loads(record))
            for order_id, record in self._db.execute("SELECT order_id, record FROM scripts")
        }
        return parcels, scripts

    def save_parcel(self, parcel: Parcel) -> None:
        self._db.execute(
            "INSERT INTO parcels (order_id, cnote, record) VALUES (?, ?, ?) "
            "ON CONFLICT (order_id) DO UPDATE SET record = excluded.record",
            (parcel.order_id, parcel.cnote, json.dumps(_parcel_record(parcel))),
        )

    def save_script(self, order_id: str, script: Script) -> None:
        self._db.execute(
            "INSERT INTO scripts (order_id, record) VALUES (?, ?) "
            "ON CONFLICT (order_id) DO UPDATE SET record = excluded.record",
            (order_id, json.dumps(asdict(script))),
        )

    def close(self) -> None:
        self._db.close()


def _parcel_record(parcel: Parcel) -> dict[str, Any]:
    record = asdict(parcel)
    record["created_at"] = parcel.created_at.isoformat()
    record["reached"] = [moment.isoformat() for moment in parcel.reached]
    record["next_due"] = parcel.next_due.isoformat() if parcel.next_due else None
    return record


def _parcel(record: dict[str, Any]) -> Parcel:
    return Parcel(
        cnote=record["cnote"],
        order_id=record["order_id"],
        form=record["form"],
        created_at=datetime.fromisoformat(record["created_at"]),
        outcome=Outcome(record["outcome"]),
        pod_receiver=record["pod_receiver"],
        failure_reason=record["failure_reason"],
        stalled=record["stalled"],
        reached=[datetime.fromisoformat(moment) for moment in record["reached"]],
        next_due=datetime.fromisoformat(record["next_due"]) if record["next_due"] else None,
    )


def _script(record: dict[str, Any]) -> Script:
    return Script(**{**record, "outcome": Outcome(record["outcome"]) if record["outcome"] else None})
