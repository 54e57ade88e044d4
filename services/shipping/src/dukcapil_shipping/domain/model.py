"""A shipment of an issued document: by courier to the citizen's address, or held at the kecamatan office."""

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from typing import Any

WIB = timezone(timedelta(hours=7), "WIB")
"""Western Indonesia Time, Lebak's clock; Indonesia keeps no daylight saving time."""


class ShippingMethod(StrEnum):
    courier = "courier"
    pickup = "pickup"


class ShipmentStatus(StrEnum):
    booking = "booking"
    """Waiting for the courier's airway bill; the booking loop asks the courier, outside any transaction."""
    booking_failed = "booking_failed"
    """The courier refused the booking: an operator must act."""
    created = "created"
    picked_up = "picked_up"
    in_transit = "in_transit"
    delivered = "delivered"
    delivery_failed = "delivery_failed"
    ready_for_pickup = "ready_for_pickup"
    collected = "collected"


BOOKING_DELAYS = (timedelta(seconds=2), timedelta(seconds=5), timedelta(seconds=15), timedelta(minutes=1))
"""Waits after the first transient booking failures in a row; then every BOOKING_DELAY_AFTERWARDS."""
BOOKING_DELAY_AFTERWARDS = timedelta(minutes=5)


def booking_delay(failed_attempts: int) -> timedelta:
    """How long to wait before asking the courier again after `failed_attempts` transient failures in a row."""
    if failed_attempts > len(BOOKING_DELAYS):
        return BOOKING_DELAY_AFTERWARDS
    return BOOKING_DELAYS[max(failed_attempts, 1) - 1]


TRACKED_STATUSES = (ShipmentStatus.created, ShipmentStatus.picked_up, ShipmentStatus.in_transit)
"""A courier shipment in one of these is still on its way: the courier is asked about it."""


class CourierStatus(StrEnum):
    """A step of the courier's tracking, normalised across couriers."""

    manifested = "manifested"
    picked_up = "picked_up"
    in_transit = "in_transit"
    delivered = "delivered"
    failed = "failed"


_MOVES = {
    CourierStatus.picked_up: ShipmentStatus.picked_up,
    CourierStatus.in_transit: ShipmentStatus.in_transit,
    CourierStatus.delivered: ShipmentStatus.delivered,
    CourierStatus.failed: ShipmentStatus.delivery_failed,
}
# A late tracking step never moves a shipment back.
_RANK = {
    ShipmentStatus.created: 0,
    ShipmentStatus.picked_up: 1,
    ShipmentStatus.in_transit: 2,
    ShipmentStatus.delivered: 3,
    ShipmentStatus.delivery_failed: 3,
}


class ShipmentRefused(Exception):
    """An action the shipment's state does not allow."""

    def __init__(self, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra


@dataclass(frozen=True)
class TrackingEntry:
    status: str
    """A CourierStatus for the courier's steps; created, ready_for_pickup or collected for the office's."""
    description: str
    occurred_at: datetime
    courier_code: str | None = None


@dataclass(frozen=True)
class CourierReport:
    """What the courier's tracking says about one airway bill."""

    entries: tuple[TrackingEntry, ...]
    receiver_name: str | None = None
    delivered_at: datetime | None = None
    failure_reason: str | None = None


@dataclass(frozen=True)
class Parcel:
    """What the courier needs to carry a document to the citizen."""

    order_id: str
    receiver_name: str
    address_line1: str
    address_line2: str
    city: str
    postal_code: str | None
    phone: str | None
    contents: str


@dataclass
class Shipment:
    id: uuid.UUID
    request_id: uuid.UUID
    method: ShippingMethod
    status: ShipmentStatus
    recipient: str
    kecamatan_code: str
    """The kecamatan whose office holds the document for pickup, chosen or after a failed delivery."""
    created_at: datetime
    updated_at: datetime
    address: dict[str, Any] | None = None
    courier: str | None = None
    service: str | None = None
    airway_bill: str | None = None
    last_polled_at: datetime | None = None
    parcel: Parcel | None = None
    """What the courier is asked to carry; kept from the booking on."""
    booking_attempts: int = 0
    """Courier bookings that failed; the next is due at next_booking_at."""
    next_booking_at: datetime | None = None
    last_booking_error: str | None = None
    traceparent: str | None = None
    """The trace of the issued document, continued by the booking."""
    version: int = 0
    tracking: list[TrackingEntry] = field(default_factory=list)
    new_tracking: list[TrackingEntry] = field(default_factory=list)

    @classmethod
    def for_booking(
        cls,
        *,
        request_id: uuid.UUID,
        recipient: str,
        address: dict[str, Any],
        kecamatan_code: str,
        parcel: Parcel,
        now: datetime,
        traceparent: str | None = None,
    ) -> "Shipment":
        """A courier shipment waiting for its airway bill: the booking loop asks the courier at once."""
        return cls(
            id=uuid.uuid4(),
            request_id=request_id,
            method=ShippingMethod.courier,
            status=ShipmentStatus.booking,
            recipient=recipient,
            kecamatan_code=kecamatan_code,
            created_at=now,
            updated_at=now,
            address=address,
            parcel=parcel,
            next_booking_at=now,
            traceparent=traceparent,
        )

    @classmethod
    def for_pickup(
        cls, *, request_id: uuid.UUID, recipient: str, kecamatan_code: str, office: str, now: datetime
    ) -> "Shipment":
        shipment = cls(
            id=uuid.uuid4(),
            request_id=request_id,
            method=ShippingMethod.pickup,
            status=ShipmentStatus.ready_for_pickup,
            recipient=recipient,
            kecamatan_code=kecamatan_code,
            created_at=now,
            updated_at=now,
        )
        shipment._record(TrackingEntry("ready_for_pickup", f"Dokumen dapat diambil di {office}.", now))
        return shipment

    @property
    def is_tracked(self) -> bool:
        return self.method == ShippingMethod.courier and self.status in TRACKED_STATUSES

    def booked(self, *, courier: str, service: str, airway_bill: str, now: datetime) -> None:
        self._expect_booking()
        self.status = ShipmentStatus.created
        self.courier = courier
        self.service = service
        self.airway_bill = airway_bill
        self.next_booking_at = None
        self.last_booking_error = None
        self.updated_at = now
        self._record(TrackingEntry("created", f"Dikirim melalui {courier} {service}, nomor resi {airway_bill}.", now))

    def postpone_booking(self, error: str, *, now: datetime) -> None:
        """The courier could not be reached: ask again later, each time a little later."""
        self._expect_booking()
        self.booking_attempts += 1
        self.next_booking_at = now + booking_delay(self.booking_attempts)
        self.last_booking_error = error
        self.updated_at = now

    def fail_booking(self, reason: str, *, now: datetime) -> None:
        """The courier refused the booking: asking again would get the same answer."""
        self._expect_booking()
        self.booking_attempts += 1
        self.status = ShipmentStatus.booking_failed
        self.next_booking_at = None
        self.last_booking_error = reason
        self.updated_at = now

    def unseen(self, report: CourierReport) -> list[TrackingEntry]:
        """The courier's steps not recorded yet, oldest first."""
        known = {_key(entry) for entry in self.tracking}
        return sorted((e for e in report.entries if _key(e) not in known), key=lambda entry: entry.occurred_at)

    def follow(self, report: CourierReport, *, now: datetime) -> list[TrackingEntry]:
        """Record the courier's new steps and move the status forward; returns the new steps."""
        fresh = self.unseen(report)
        for entry in fresh:
            self._record(entry)
            target = _MOVES.get(CourierStatus(entry.status))
            if target is not None and _RANK.get(self.status, len(_RANK)) < _RANK[target]:
                self.status = target
        if fresh:
            self.updated_at = now
        self.last_polled_at = now
        return fresh

    def hold_for_pickup(self, office: str, *, now: datetime) -> None:
        """After a failed delivery the parcel goes back to the kecamatan office, where the citizen collects it."""
        if self.status != ShipmentStatus.delivery_failed:
            raise ShipmentRefused(
                "not_failed",
                f"Only a failed delivery is held for pickup; this shipment is {self.status.value}.",
                shipment_status=self.status.value,
            )
        self.status = ShipmentStatus.ready_for_pickup
        self.updated_at = now
        self._record(TrackingEntry("ready_for_pickup", f"Pengiriman gagal; dokumen dapat diambil di {office}.", now))

    def collect(self, *, collector_name: str, collector_nik: str, operator: str, now: datetime) -> None:
        if self.status != ShipmentStatus.ready_for_pickup:
            raise ShipmentRefused(
                "not_ready_for_pickup",
                f"Only a document waiting at the kecamatan office can be collected; this one is {self.status.value}.",
                shipment_status=self.status.value,
            )
        if not re.fullmatch(r"\d{16}", collector_nik):
            raise ShipmentRefused("invalid_nik", "collector_nik must be the collector's 16-digit NIK.")
        self.status = ShipmentStatus.collected
        self.updated_at = now
        masked = f"{collector_nik[:6]}******{collector_nik[-4:]}"
        self._record(
            TrackingEntry(
                "collected", f"Dokumen diambil oleh {collector_name} (NIK {masked}), diserahkan oleh {operator}.", now
            )
        )

    def _expect_booking(self) -> None:
        if self.status != ShipmentStatus.booking:
            raise ShipmentRefused(
                "not_booking",
                f"Only a shipment waiting for the courier can be booked; this one is {self.status.value}.",
                shipment_status=self.status.value,
            )

    def _record(self, entry: TrackingEntry) -> None:
        self.tracking.append(entry)
        self.new_tracking.append(entry)


def _key(entry: TrackingEntry) -> tuple[str | None, str, datetime]:
    return entry.courier_code, entry.description, entry.occurred_at
