"""The courier's side of a parcel: its airway bill (cnote), its timeline, and how the delivery ends.

Nothing moves by itself: whenever a parcel is looked at, it reaches the milestones due by then, one per step since
its airway bill was created, unless a script stalled it. Every change goes to the courier's records (store.py) as
it happens, so a restarted simulator knows every airway bill it issued. How it ends
is scripted per order: delivered; failed once (nobody at home) then delivered on the second attempt; or failed
twice and returned to the sender.
"""

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from dukcapil_shared.contracts.regions import WIB

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
FIRST_ATTEMPT_REASON = "PENERIMA TIDAK DI TEMPAT"


class Outcome(StrEnum):
    delivered = "delivered"
    failed_once_then_delivered = "failed_once_then_delivered"
    """The first attempt fails (nobody at home), the second one delivers."""
    returned = "returned"
    """Both attempts fail; the parcel goes back to the sender (RTS)."""
    failed = "failed"
    """The same as returned; the name the simulator used first."""


@dataclass
class Script:
    """What a test wants to happen to one order."""

    outcome: Outcome | None = None
    receiver_name: str | None = None
    failure_reason: str | None = None
    stall: bool = False
    fail_next_requests: int = 0


@dataclass
class Parcel:
    """A parcel moves one milestone per step; its milestones are dated when they are reached, on reading."""

    cnote: str
    order_id: str
    form: dict[str, str]
    created_at: datetime
    outcome: Outcome = Outcome.delivered
    pod_receiver: str | None = None
    failure_reason: str | None = None
    stalled: bool = False
    reached: list[datetime] = field(default_factory=list)
    """When each milestone reached so far was reached."""
    next_due: datetime | None = None
    """When the next milestone is reached, unless the parcel is stalled."""

    @property
    def receiver_name(self) -> str:
        return self.form["OLSHOP_RECEIVER_NAME"]

    @property
    def returns(self) -> bool:
        return self.outcome in (Outcome.returned, Outcome.failed)

    @property
    def reason(self) -> str:
        return (self.failure_reason or FAILURE_REASON).upper()

    def milestones(self) -> list[tuple[str, str]]:
        """(code, description) of every step from manifest to the end, as the outcome has it."""
        origin = self.form["OLSHOP_SHIPPER_CITY"].upper()
        destination = self.form["OLSHOP_RECEIVER_CITY"].upper()
        steps = [
            ("MNF", f"SHIPMENT MANIFESTED AT [{origin}]"),
            ("PU1", f"PICKED UP BY JNE COURIER AT [{origin}]"),
            ("IT1", f"WITH DELIVERY COURIER [{destination}]"),
        ]
        if self.outcome == Outcome.failed_once_then_delivered:
            first_reason = (self.failure_reason or FIRST_ATTEMPT_REASON).upper()
            steps += [
                ("U05", f"UNDELIVERED [{first_reason}] ATTEMPT 1"),
                ("IT1", f"WITH DELIVERY COURIER [{destination}] ATTEMPT 2"),
            ]
        elif self.returns:
            steps += [
                ("U05", f"UNDELIVERED [{self.reason}] ATTEMPT 1"),
                ("IT1", f"WITH DELIVERY COURIER [{destination}] ATTEMPT 2"),
                ("U05", f"UNDELIVERED [{self.reason}] ATTEMPT 2"),
            ]
        if self.returns:
            steps.append(("RTS", f"RETURN TO SHIPPER [{self.reason}]"))
        else:
            # The delivery date is known only when the last step is reached: filled in by history().
            receiver = (self.pod_receiver or self.receiver_name).upper()
            steps.append(("D01", f"DELIVERED TO [{receiver} | {{date}} | {destination}]"))
        return steps

    def advance(self, now: datetime, step_seconds: float) -> None:
        """Reach every milestone due by `now`, one per step, unless the parcel is stalled."""
        total = len(self.milestones())
        if not self.reached:
            self.reached.append(self.created_at)
            self.next_due = self.created_at + timedelta(seconds=max(step_seconds, 0))
        while not self.stalled and len(self.reached) < total and self.next_due is not None and self.next_due <= now:
            self.reached.append(self.next_due)
            self.next_due += timedelta(seconds=max(step_seconds, 0))

    def stall(self, stalled: bool, now: datetime, step_seconds: float) -> None:
        """Stop where the parcel is; on resuming, the next milestone comes one step later."""
        self.advance(now, step_seconds)
        if self.stalled and not stalled:
            self.next_due = now + timedelta(seconds=max(step_seconds, 0))
        self.stalled = stalled

    @property
    def finished(self) -> bool:
        return len(self.reached) >= len(self.milestones())

    def history(self) -> list[dict[str, str]]:
        return [
            {"date": _format(moment), "desc": desc.replace("{date}", _format(moment)), "code": code}
            for moment, (code, desc) in zip(self.reached, self.milestones(), strict=False)
        ]

    def tracking(self) -> dict[str, Any]:
        """The tracking document in the partner API's shape."""
        history = self.history()
        last = history[-1]
        delivered = self.finished and not self.returns
        returned = self.finished and self.returns
        undelivered = not self.finished and last["code"] == "U05"
        pod_status = (
            "DELIVERED"
            if delivered
            else "RETURN TO SHIPPER"
            if returned
            else "UNDELIVERED"
            if undelivered
            else "ON PROCESS"
        )
        ended = delivered or returned
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
                "last_status": last["desc"],
                "cnote_pod_receiver": (self.pod_receiver or self.receiver_name) if delivered else None,
                "cnote_pod_date": last["date"] if ended else None,
                "pod_code": last["code"] if ended or undelivered else None,
                "keterangan": _between_brackets(last["desc"]) if returned or undelivered else None,
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


class Records(Protocol):
    """Where the courier keeps its parcels and scripts beyond the process (store.CourierStore)."""

    def load(self) -> tuple[dict[str, "Parcel"], dict[str, "Script"]]: ...

    def save_parcel(self, parcel: "Parcel") -> None: ...

    def save_script(self, order_id: str, script: "Script") -> None: ...


@dataclass
class Courier:
    """Every parcel and script the simulator knows, by order id and by airway bill."""

    clock: Callable[[], datetime]
    step_seconds: float
    failure_rate: float = 0.0
    """Share of unscripted parcels whose delivery fails (returned to the sender)."""
    error_rate: float = 0.0
    """Share of partner API calls answered 503, as a flaky courier would."""
    rng: random.Random = field(default_factory=random.Random)
    parcels: dict[str, Parcel] = field(default_factory=dict)
    by_cnote: dict[str, Parcel] = field(default_factory=dict)
    scripts: dict[str, Script] = field(default_factory=dict)
    records: Records | None = None
    """None: memory only, forgotten at a restart (the courier that loses its records, for tests)."""

    def __post_init__(self) -> None:
        if self.records is not None:
            self.parcels, self.scripts = self.records.load()
            self.by_cnote = {parcel.cnote: parcel for parcel in self.parcels.values()}

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
            outcome=script.outcome or (Outcome.returned if unlucky else Outcome.delivered),
            pod_receiver=script.receiver_name,
            failure_reason=script.failure_reason,
            stalled=script.stall,
        )
        parcel.advance(parcel.created_at, self.step_seconds)
        self.parcels[order_id] = parcel
        self.by_cnote[parcel.cnote] = parcel
        self._keep_parcel(parcel)
        return parcel

    def find(self, cnote: str) -> Parcel | None:
        parcel = self.by_cnote.get(cnote)
        if parcel is not None:
            reached = len(parcel.reached)
            parcel.advance(self.clock(), self.step_seconds)
            if len(parcel.reached) != reached:
                self._keep_parcel(parcel)
        return parcel

    def script(self, order_id: str, **changes: Any) -> Script:
        """Change what happens to an order: only the fields given; a parcel on its way keeps the steps it made."""
        script = self.scripts.setdefault(order_id, Script())
        for name, value in changes.items():
            setattr(script, name, value)
        parcel = self.parcels.get(order_id)
        if parcel is not None:
            parcel.advance(self.clock(), self.step_seconds)
            parcel.outcome = script.outcome or parcel.outcome
            parcel.pod_receiver = script.receiver_name or parcel.pod_receiver
            parcel.failure_reason = script.failure_reason or parcel.failure_reason
            if "stall" in changes:
                parcel.stall(script.stall, self.clock(), self.step_seconds)
            self._keep_parcel(parcel)
        self._keep_script(order_id, script)
        return script

    def should_fail(self, order_id: str | None) -> bool:
        """Whether to answer this call with 503: a scripted failure is used up, else chance decides."""
        script = self.scripts.get(order_id or "")
        if script is not None and script.fail_next_requests > 0:
            script.fail_next_requests -= 1
            self._keep_script(order_id or "", script)
            return True
        return self.rng.random() < self.error_rate

    def _keep_parcel(self, parcel: Parcel) -> None:
        if self.records is not None:
            self.records.save_parcel(parcel)

    def _keep_script(self, order_id: str, script: Script) -> None:
        if self.records is not None:
            self.records.save_script(order_id, script)

    def _new_cnote(self) -> str:
        while True:
            cnote = str(self.rng.randrange(10**15, 10**16))
            if cnote not in self.by_cnote:
                return cnote


def missing_fields(form: dict[str, str]) -> list[str]:
    return [name for name in CNOTE_FIELDS if name not in OPTIONAL_FIELDS and not form.get(name, "").strip()]


def _format(moment: datetime) -> str:
    return moment.astimezone(WIB).strftime(DATE_FORMAT)


def _between_brackets(text: str) -> str:
    return text[text.index("[") + 1 : text.index("]")] if "[" in text and "]" in text else text
