"""A shipment of an issued document: by courier to the citizen's address, or held at the kecamatan office."""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from dukcapil_shared.contracts import Address, KartuKeluargaDetails, NamedPerson, RequestDetails, SuratPindahDetails
from dukcapil_shared.contracts.identity import InvalidNumber, parse_nik
from dukcapil_shared.refusals import Refusal, RefusalKind

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
    attempt_failed = "attempt_failed"
    """The courier could not deliver on one attempt and tries again."""
    delivered = "delivered"
    delivery_failed = "delivery_failed"
    """The courier gave up and returns the parcel to the sender; it is held for pickup at once."""
    lost_by_courier = "lost_by_courier"
    """The courier no longer knows the airway bill it issued: no longer tracked; an operator must act."""
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


TRACKED_STATUSES = (
    ShipmentStatus.created,
    ShipmentStatus.picked_up,
    ShipmentStatus.in_transit,
    ShipmentStatus.attempt_failed,
)
"""A courier shipment in one of these is still on its way: the courier is asked about it."""


class FlagReason(StrEnum):
    """Why a shipment needs an operator; the reason of ShipmentFlagged."""

    address_unserviceable = "address_unserviceable"
    stuck_in_transit = "stuck_in_transit"
    receiver_not_entitled = "receiver_not_entitled"
    courier_lost_parcel = "courier_lost_parcel"
    """The courier answers that the airway bill it issued does not exist: its records lost the parcel."""


class CourierStatus(StrEnum):
    """A step of the courier's tracking, normalised across couriers."""

    manifested = "manifested"
    picked_up = "picked_up"
    in_transit = "in_transit"
    delivered = "delivered"
    failed = "failed"
    """One delivery attempt failed; the courier tries again."""
    returned = "returned"
    """The courier gave up and returns the parcel to the sender (RTS)."""


_MOVES = {
    CourierStatus.picked_up: ShipmentStatus.picked_up,
    CourierStatus.in_transit: ShipmentStatus.in_transit,
    CourierStatus.failed: ShipmentStatus.attempt_failed,
    CourierStatus.delivered: ShipmentStatus.delivered,
    CourierStatus.returned: ShipmentStatus.delivery_failed,
}
_COURIER_STEPS = frozenset(status.value for status in CourierStatus)


class ShipmentRefused(Refusal):
    """An action the shipment's state does not allow."""

    def __init__(self, code: str, message: str, *, kind: RefusalKind = RefusalKind.conflict, **extra: Any) -> None:
        super().__init__(message, code=code, kind=kind, **extra)


@dataclass(frozen=True)
class TrackingEntry:
    status: str
    """A CourierStatus for the courier's steps; created, ready_for_pickup or collected for the office's."""
    description: str
    occurred_at: datetime
    courier_code: str | None = None


@dataclass(frozen=True)
class ShipmentFlag:
    """Something an operator should look at; a shipment carries each reason at most once."""

    reason: str
    detail: str
    raised_at: datetime


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
    destination_code: str | None = None
    """The courier's tariff code of the address (OLSHOP_DEST), from the office's destination table."""


@dataclass(frozen=True)
class CarriedDocument:
    """The document a shipment carries, and for a corrected one the old paper it replaces."""

    number: str
    replaces: str | None = None

    @property
    def hand_over(self) -> str:
        """What the holder is asked to do with the old paper, for the office's tracking line; empty if none."""
        return f" Serahkan dokumen lama {self.replaces} yang tidak berlaku lagi." if self.replaces else ""


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
    document_number: str | None = None
    """The document it carries: one shipment per document. None for shipments made before it was recorded."""
    replaces_document_number: str | None = None
    """A corrected document's shipment: the old paper, no longer in force, that its holder hands over."""
    address: Address | None = None
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
    last_moved_at: datetime | None = None
    """When the courier's tracking last showed something new (or the booking); a parcel quiet too long is stuck."""
    version: int = 0
    tracking: list[TrackingEntry] = field(default_factory=list)
    new_tracking: list[TrackingEntry] = field(default_factory=list)
    flags: list[ShipmentFlag] = field(default_factory=list)
    new_flags: list[ShipmentFlag] = field(default_factory=list)
    cleared_flags: list[str] = field(default_factory=list)
    """Reasons whose flag an operator dealt with since the shipment was loaded: removed when it is saved."""

    @classmethod
    def for_booking(
        cls,
        *,
        request_id: uuid.UUID,
        document: CarriedDocument,
        recipient: str,
        address: Address,
        kecamatan_code: str,
        parcel: Parcel,
        now: datetime,
        traceparent: str | None = None,
    ) -> "Shipment":
        """A courier shipment waiting for its airway bill: the booking loop asks the courier at once."""
        return cls(
            id=uuid.uuid4(),
            request_id=request_id,
            document_number=document.number,
            replaces_document_number=document.replaces,
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
        cls,
        *,
        request_id: uuid.UUID,
        document: CarriedDocument,
        recipient: str,
        kecamatan_code: str,
        office: str,
        now: datetime,
    ) -> "Shipment":
        shipment = cls(
            id=uuid.uuid4(),
            request_id=request_id,
            document_number=document.number,
            replaces_document_number=document.replaces,
            method=ShippingMethod.pickup,
            status=ShipmentStatus.ready_for_pickup,
            recipient=recipient,
            kecamatan_code=kecamatan_code,
            created_at=now,
            updated_at=now,
        )
        shipment._record(
            TrackingEntry("ready_for_pickup", f"Dokumen dapat diambil di {office}.{document.hand_over}", now)
        )
        return shipment

    @classmethod
    def held_at_office(
        cls,
        *,
        request_id: uuid.UUID,
        document: CarriedDocument,
        recipient: str,
        address: Address,
        kecamatan_code: str,
        office: str,
        problem: str,
        now: datetime,
    ) -> "Shipment":
        """A courier delivery the courier cannot serve: the document waits at the kecamatan office instead."""
        shipment = cls(
            id=uuid.uuid4(),
            request_id=request_id,
            document_number=document.number,
            replaces_document_number=document.replaces,
            method=ShippingMethod.courier,
            status=ShipmentStatus.ready_for_pickup,
            recipient=recipient,
            kecamatan_code=kecamatan_code,
            created_at=now,
            updated_at=now,
            address=address,
        )
        shipment.flag(FlagReason.address_unserviceable, problem, now=now)
        shipment._record(
            TrackingEntry(
                "ready_for_pickup",
                f"Alamat tidak dapat dilayani kurir; dokumen dapat diambil di {office}.{document.hand_over}",
                now,
            )
        )
        return shipment

    @property
    def carried(self) -> dict[str, str | None]:
        """What every event about the shipment says of the document it carries."""
        return {"document_number": self.document_number, "replaces_document_number": self.replaces_document_number}

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
        self.last_moved_at = now
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
        """Record the courier's new steps and move the status with them; returns the new steps.

        The status follows the courier's latest step: after a failed attempt the next one is on its way again.
        A step dated before one already recorded came late and moves nothing, and an ended delivery stays ended.
        """
        fresh = self.unseen(report)
        latest = max((e.occurred_at for e in self.tracking if e.status in _COURIER_STEPS), default=None)
        for entry in fresh:
            self._record(entry)
            if not self.is_tracked or (latest is not None and entry.occurred_at < latest):
                continue
            latest = entry.occurred_at
            target = _MOVES.get(CourierStatus(entry.status))
            if target is not None:
                self.status = target
        if fresh:
            self.updated_at = now
            self.last_moved_at = now
        self.last_polled_at = now
        return fresh

    def lost_by_courier(self, *, now: datetime) -> bool:
        """The courier says the airway bill it issued to this shipment is unknown: stop asking, flag it for an
        operator. False if the shipment is no longer tracked (another replica, or the courier, was first)."""
        if not self.is_tracked or self.airway_bill is None:
            return False
        self.status = ShipmentStatus.lost_by_courier
        self.last_polled_at = now
        detail = (
            f"Kurir {self.courier} tidak mengenal lagi nomor resi {self.airway_bill} yang diterbitkannya "
            "(Cnote No. Not Found); hubungi kurir, lalu kirim ulang atau serahkan dokumen di kantor kecamatan."
        )
        self.flag(FlagReason.courier_lost_parcel, detail, now=now)
        self._record(TrackingEntry("lost_by_courier", f"Nomor resi {self.airway_bill} tidak dikenal kurir.", now))
        return True

    def rebook(self, *, operator: str, now: datetime) -> None:
        """An operator asks the courier for a new airway bill for a parcel the courier lost (after agreeing with the
        courier what happens to it): the booking loop books it again, and it can be flagged again if lost again."""
        if self.status != ShipmentStatus.lost_by_courier:
            raise ShipmentRefused(
                "not_lost_by_courier",
                f"Only a parcel the courier lost is booked again; this shipment is {self.status.value}.",
                shipment_status=self.status.value,
            )
        self._record(
            TrackingEntry(
                "booking",
                f"Dipesan ulang ke kurir oleh {operator}: nomor resi {self.airway_bill} tidak dikenal kurir.",
                now,
            )
        )
        self.status = ShipmentStatus.booking
        self.booking_attempts = 0
        self.next_booking_at = now
        self.last_booking_error = None
        self.updated_at = now
        self.flags = [flag for flag in self.flags if flag.reason != FlagReason.courier_lost_parcel]
        self.cleared_flags.append(FlagReason.courier_lost_parcel.value)

    def stuck(self, *, now: datetime, after: timedelta) -> bool:
        """On its way, but the courier's tracking has shown nothing new for longer than `after`."""
        quiet_since = self.last_moved_at or self.updated_at
        return self.is_tracked and now - quiet_since > after

    def flag(self, reason: str, detail: str, *, now: datetime) -> bool:
        """Raise a flag for an operator; False if the shipment already carries one for that reason."""
        if any(flag.reason == reason for flag in self.flags):
            return False
        raised = ShipmentFlag(reason, detail, now)
        self.flags.append(raised)
        self.new_flags.append(raised)
        self.updated_at = now
        return True

    def is_flagged(self, reason: str) -> bool:
        return any(flag.reason == reason for flag in self.flags)

    def hold_for_pickup(self, office: str, *, now: datetime) -> None:
        """After a failed delivery (returned to the sender) the document waits at the kecamatan office."""
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
        try:
            nik = parse_nik(collector_nik)
        except InvalidNumber as invalid:
            raise ShipmentRefused(
                "invalid_nik",
                f"collector_nik is not a valid NIK: {invalid}",
                kind=RefusalKind.invalid,
                nik_problem=invalid.code,
            ) from invalid
        self.status = ShipmentStatus.collected
        self.updated_at = now
        self._record(
            TrackingEntry(
                "collected",
                f"Dokumen diambil oleh {collector_name} (NIK {nik.masked}), diserahkan oleh {operator}.",
                now,
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


def normalised_name(name: str) -> str:
    """A name compared without regard to case or spacing: "  siti  AMINAH" is "siti aminah"."""
    return " ".join(name.casefold().split())


@dataclass
class RequestedDelivery:
    """What shipping keeps of a request before its document exists: who may receive it, and where it can go.

    Filled from RequestSubmitted; or, when the document was issued first, from DocumentIssued (the applicant
    only) and completed when RequestSubmitted comes.
    """

    request_id: uuid.UUID
    applicant_name: str
    applicant_nik: str
    method: ShippingMethod
    created_at: datetime
    updated_at: datetime
    household: list[str] = field(default_factory=list)
    """Names on the applicant's family card given with the request (e.g. a KK request's members)."""
    submitted: bool = False
    """True once RequestSubmitted was seen; False while only the issued document is known."""
    destination_code: str | None = None
    postal_code: str | None = None
    address_problem: str | None = None
    """Why the courier cannot serve the address, in plain words; None if it can (or for pickup)."""
    address_flagged: bool = False
    """Whether ShipmentFlagged(address_unserviceable) was announced already."""
    version: int = 0

    @property
    def entitled_names(self) -> list[str]:
        """Who may sign for the parcel: the applicant and the members of the applicant's family card."""
        return [self.applicant_name, *self.household]

    def is_entitled(self, receiver_name: str | None) -> bool:
        if not receiver_name or not receiver_name.strip():
            return False
        return normalised_name(receiver_name) in {normalised_name(name) for name in self.entitled_names}

    def submitted_with(self, *, household: Iterable[str], now: datetime) -> None:
        self.household = _distinct(household, without=self.applicant_name)
        self.submitted = True
        self.updated_at = now


def _distinct(names: Iterable[str], *, without: str) -> list[str]:
    seen = {normalised_name(without)}
    kept = []
    for name in names:
        key = normalised_name(name)
        if key and key not in seen:
            seen.add(key)
            kept.append(" ".join(name.split()))
    return kept


def household_names(details: RequestDetails) -> list[str]:
    """The names of the applicant's family members that a request's details give: a KK request's members; the
    members who stay, and the new head of the household, of a relocation."""
    people: list[NamedPerson] = []
    match details:
        case KartuKeluargaDetails():
            people += details.members or []
        case SuratPindahDetails():
            people += details.remaining_members or []
            if details.new_head_of_household is not None:
                people.append(details.new_head_of_household)
    return [person.name for person in people]
