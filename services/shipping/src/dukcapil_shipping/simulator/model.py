"""The courier's side of a parcel: its airway bill (cnote), its timeline, and how the delivery ends.

Nothing is stored but memory, and nothing moves by itself: a parcel's state is read off the clock, one
milestone per step since its airway bill was created.
"""

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from typing import Any

WIB = timezone(timedelta(hours=7), "WIB")
DATE_FORMAT = "%d-%m-%Y %H:%M"

CNOTE_FIELDS = (
    "OLSHOP_BRANCH",
    "OLSHOP_CUST",
    "OLSHOP_ORDERID",
    "OLSHOP_SHIPPER_NAME",
    "OLSHOP_SHIPPER_ADDR1",
    "OLSHOP_SHIPPER_CITY",
    "OLSHOP_SHIPPER_ZIP",
    "OLSHOP_SHIPPER_PHONE",
    "OLSHOP_RECEIVER_NAME",
    "OLSHOP_RECEIVER_ADDR1",
    "OLSHOP_RECEIVER_ADDR2",
    "OLSHOP_RECEIVER_CITY",
    "OLSHOP_RECEIVER_ZIP",
    "OLSHOP_RECEIVER_PHONE",
    "OLSHOP_QTY",
    "OLSHOP_WEIGHT",
    "OLSHOP_GOODSDESC",
    "OLSHOP_GOODSVALUE",
    "OLSHOP_ORIG",
    "OLSHOP_DEST",
    "OLSHOP_SERVICE",
)
OPTIONAL_FIELDS = frozenset({"OLSHOP_RECEIVER_ADDR2"})
FAILURE_REASON = "ALAMAT TIDAK DITEMUKAN"


class Outcome(StrEnum):
    delivered = "delivered"
    failed = "failed"


@dataclass
class Script:
    """What a test wants to happen to one order."""

    outcome: Outcome | None = None
    receiver_name: str | None = None
    fail_next_requests: int = 0


@dataclass
class Parcel:
    cnote: str
    order_id: str
    form: dict[str, str]
    created_at: datetime
    outcome: Outcome = Outcome.delivered
    pod_receiver: str | None = None

    @property
    def receiver_name(self) -> str:
        return self.form["OLSHOP_RECEIVER_NAME"]

    def history(self, now: datetime, step_seconds: float) -> list[dict[str, str]]:
        origin = self.form["OLSHOP_SHIPPER_CITY"].upper()
        destination = self.form["OLSHOP_RECEIVER_CITY"].upper()
        milestones = [
            ("MNF", f"SHIPMENT MANIFESTED AT [{origin}]"),
            ("PU1", f"PICKED UP BY JNE COURIER AT [{origin}]"),
            ("IT1", f"WITH DELIVERY COURIER [{destination}]"),
        ]
        if self.outcome == Outcome.delivered:
            delivered_at = _format(self._moment(3, step_seconds))
            receiver = (self.pod_receiver or self.receiver_name).upper()
            milestones.append(("D01", f"DELIVERED TO [{receiver} | {delivered_at} | {destination}]"))
        else:
            milestones.append(("U05", f"UNDELIVERED [{FAILURE_REASON}]"))
        reached = self.steps_done(now, step_seconds)
        return [
            {"date": _format(self._moment(step, step_seconds)), "desc": desc, "code": code}
            for step, (code, desc) in enumerate(milestones[: reached + 1])
        ]

    def steps_done(self, now: datetime, step_seconds: float) -> int:
        if step_seconds <= 0:
            return 3
        return min(3, int((now - self.created_at).total_seconds() // step_seconds))

    def tracking(self, now: datetime, step_seconds: float) -> dict[str, Any]:
        """The tracking document in the partner API's shape."""
        history = self.history(now, step_seconds)
        finished = self.steps_done(now, step_seconds) == 3
        delivered = finished and self.outcome == Outcome.delivered
        failed = finished and self.outcome == Outcome.failed
        pod_status = "DELIVERED" if delivered else "UNDELIVERED" if failed else "ON PROCESS"
        return {
            "cnote": {
                "cnote_no": self.cnote,
                "reference_number": self.order_id,
                "cnote_origin": self.form["OLSHOP_ORIG"],
                "cnote_destination": self.form["OLSHOP_DEST"],
                "cnote_services_code": self.form["OLSHOP_SERVICE"],
                "cnote_date": _format(self.created_at),
                "cnote_weight": self.form["OLSHOP_WEIGHT"],
                "cnote_goods_descr": self.form["OLSHOP_GOODSDESC"],
                "cnote_receiver_name": self.receiver_name,
                "city_name": self.form["OLSHOP_RECEIVER_CITY"],
                "pod_status": pod_status,
                "last_status": history[-1]["desc"],
                "cnote_pod_receiver": (self.pod_receiver or self.receiver_name) if delivered else None,
                "cnote_pod_date": history[-1]["date"] if delivered or failed else None,
                "pod_code": history[-1]["code"] if delivered or failed else None,
                "keterangan": FAILURE_REASON if failed else None,
            },
            "detail": [
                {
                    "cnote_no": self.cnote,
                    "cnote_date": _format(self.created_at),
                    "cnote_shipper_name": self.form["OLSHOP_SHIPPER_NAME"],
                    "cnote_shipper_city": self.form["OLSHOP_SHIPPER_CITY"],
                    "cnote_receiver_name": self.receiver_name,
                    "cnote_receiver_addr1": self.form["OLSHOP_RECEIVER_ADDR1"],
                    "cnote_receiver_addr2": self.form.get("OLSHOP_RECEIVER_ADDR2", ""),
                    "cnote_receiver_city": self.form["OLSHOP_RECEIVER_CITY"],
                }
            ],
            "history": history,
        }

    def _moment(self, step: int, step_seconds: float) -> datetime:
        return self.created_at + timedelta(seconds=step * max(step_seconds, 0))


@dataclass
class Courier:
    """Every parcel and script the simulator knows, by order id and by airway bill."""

    clock: Callable[[], datetime]
    step_seconds: float
    failure_rate: float = 0.0
    """Share of unscripted parcels whose delivery fails."""
    error_rate: float = 0.0
    """Share of partner API calls answered 503, as a flaky courier would."""
    rng: random.Random = field(default_factory=random.Random)
    parcels: dict[str, Parcel] = field(default_factory=dict)
    by_cnote: dict[str, Parcel] = field(default_factory=dict)
    scripts: dict[str, Script] = field(default_factory=dict)

    def generate_cnote(self, form: dict[str, str]) -> Parcel:
        """The order's airway bill: the same order id always gets the same one."""
        order_id = form["OLSHOP_ORDERID"]
        if order_id in self.parcels:
            return self.parcels[order_id]
        script = self.scripts.get(order_id, Script())
        unlucky = self.rng.random() < self.failure_rate
        parcel = Parcel(
            cnote=self._new_cnote(),
            order_id=order_id,
            form=dict(form),
            created_at=self.clock(),
            outcome=script.outcome or (Outcome.failed if unlucky else Outcome.delivered),
            pod_receiver=script.receiver_name,
        )
        self.parcels[order_id] = parcel
        self.by_cnote[parcel.cnote] = parcel
        return parcel

    def find(self, cnote: str) -> Parcel | None:
        return self.by_cnote.get(cnote)

    def script(self, order_id: str, script: Script) -> None:
        self.scripts[order_id] = script
        parcel = self.parcels.get(order_id)
        if parcel is not None:
            parcel.outcome = script.outcome or parcel.outcome
            parcel.pod_receiver = script.receiver_name or parcel.pod_receiver

    def should_fail(self, order_id: str | None) -> bool:
        """Whether to answer this call with 503: a scripted failure is used up, else chance decides."""
        script = self.scripts.get(order_id or "")
        if script is not None and script.fail_next_requests > 0:
            script.fail_next_requests -= 1
            return True
        return self.rng.random() < self.error_rate

    def _new_cnote(self) -> str:
        while True:
            cnote = str(self.rng.randrange(10**15, 10**16))
            if cnote not in self.by_cnote:
                return cnote


def missing_fields(form: dict[str, str]) -> list[str]:
    return [name for name in CNOTE_FIELDS if name not in OPTIONAL_FIELDS and not form.get(name, "").strip()]


def _format(moment: datetime) -> str:
    return moment.astimezone(WIB).strftime(DATE_FORMAT)
