import copy
import itertools
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from dukcapil_shared.contracts import DocumentIssued, Envelope, RequestSubmitted
from dukcapil_shared.contracts.regions import find_kecamatan
from dukcapil_shipping.adapters.destinations import load_destinations
from dukcapil_shipping.domain.model import CourierReport, Parcel, RequestedDelivery, Shipment, ShipmentStatus
from dukcapil_shipping.service_layer import handlers
from dukcapil_shipping.service_layer.courier import CourierClient
from dukcapil_shipping.service_layer.unit_of_work import (
    ConcurrentUpdate,
    RequestedDeliveryRepository,
    ShipmentRepository,
    ShippingUnitOfWork,
)
from dukcapil_testing import FakeUnitOfWork

T0 = datetime(2026, 11, 28, 3, 0, tzinfo=UTC)
DESTINATIONS = load_destinations()


class FakeShipmentRepository(ShipmentRepository):
    def __init__(self) -> None:
        self.committed: dict[uuid.UUID, Shipment] = {}
        self.pending: dict[uuid.UUID, Shipment] = {}

    async def add(self, shipment: Shipment) -> None:
        numbers = {s.document_number for s in self._current().values() if s.document_number is not None}
        if shipment.document_number in numbers:
            raise ValueError(f"UNIQUE constraint failed: shipments.document_number {shipment.document_number}")
        self._stage(shipment)

    async def get(self, shipment_id: uuid.UUID) -> Shipment | None:
        return copy.deepcopy(self._current().get(shipment_id))

    async def get_by_request(self, request_id: uuid.UUID) -> Shipment | None:
        found = await self.for_request(request_id)
        return found[-1] if found else None

    async def for_request(self, request_id: uuid.UUID) -> list[Shipment]:
        found = [s for s in self._current().values() if s.request_id == request_id]
        return [copy.deepcopy(s) for s in sorted(found, key=lambda s: s.created_at)]

    async def save(self, shipment: Shipment) -> None:
        if self._current()[shipment.id].version != shipment.version:
            raise ConcurrentUpdate(f"shipment {shipment.id}")
        shipment.version += 1
        self._stage(shipment)

    async def find(self, *, request_id, status, limit, offset, flag=None, kecamatan_code=None):  # type: ignore[no-untyped-def]
        found = [
            copy.deepcopy(s)
            for s in sorted(self._current().values(), key=lambda s: s.created_at)
            if (request_id is None or s.request_id == request_id)
            and (status is None or s.status == status)
            and (flag is None or s.is_flagged(flag))
            and (kecamatan_code is None or s.kecamatan_code == kecamatan_code)
        ]
        return found[offset : offset + limit]

    async def quiet(self, *, since: datetime, unflagged: str, limit: int) -> list[Shipment]:
        quiet = [
            s
            for s in self._current().values()
            if s.is_tracked and s.last_moved_at and s.last_moved_at < since and not s.is_flagged(unflagged)
        ]
        return [copy.deepcopy(s) for s in sorted(quiet, key=lambda s: s.last_moved_at or since)][:limit]

    async def tracked(self, *, limit: int) -> list[Shipment]:
        return [copy.deepcopy(s) for s in self._current().values() if s.is_tracked][:limit]

    async def claim_for_booking(self, *, now: datetime, until: datetime, limit: int) -> list[Shipment]:
        due = sorted(
            (
                s
                for s in self._current().values()
                if s.status == ShipmentStatus.booking and s.next_booking_at and s.next_booking_at <= now
            ),
            key=lambda s: s.next_booking_at or now,
        )[:limit]
        claimed = []
        for shipment in due:
            shipment = copy.deepcopy(shipment)
            shipment.next_booking_at = until
            self.pending[shipment.id] = shipment
            claimed.append(copy.deepcopy(shipment))
        return claimed

    async def mark_polled(self, shipment_ids: Sequence[uuid.UUID], at: datetime) -> None:
        for shipment_id in shipment_ids:
            shipment = copy.deepcopy(self._current()[shipment_id])
            shipment.last_polled_at = at
            self.pending[shipment_id] = shipment

    def _stage(self, shipment: Shipment) -> None:
        shipment.new_tracking = []
        shipment.new_flags = []
        shipment.cleared_flags = []
        self.pending[shipment.id] = copy.deepcopy(shipment)

    def _current(self) -> dict[uuid.UUID, Shipment]:
        return {**self.committed, **self.pending}


class FakeRequestedDeliveryRepository(RequestedDeliveryRepository):
    def __init__(self) -> None:
        self.committed: dict[uuid.UUID, RequestedDelivery] = {}
        self.pending: dict[uuid.UUID, RequestedDelivery] = {}

    async def add(self, requested: RequestedDelivery) -> None:
        if requested.request_id in self._current():
            raise ValueError(f"UNIQUE constraint failed: requested_deliveries.request_id {requested.request_id}")
        self.pending[requested.request_id] = copy.deepcopy(requested)

    async def get(self, request_id: uuid.UUID) -> RequestedDelivery | None:
        return copy.deepcopy(self._current().get(request_id))

    async def save(self, requested: RequestedDelivery) -> None:
        if self._current()[requested.request_id].version != requested.version:
            raise ConcurrentUpdate(f"requested delivery {requested.request_id}")
        requested.version += 1
        self.pending[requested.request_id] = copy.deepcopy(requested)

    def _current(self) -> dict[uuid.UUID, RequestedDelivery]:
        return {**self.committed, **self.pending}


class FakeShippingUnitOfWork(FakeUnitOfWork, ShippingUnitOfWork):
    def __init__(
        self,
        shipments: FakeShipmentRepository | None = None,
        deliveries: FakeRequestedDeliveryRepository | None = None,
    ) -> None:
        super().__init__()
        self.shipments = shipments or FakeShipmentRepository()
        self.deliveries = deliveries or FakeRequestedDeliveryRepository()

    async def commit(self) -> None:
        await super().commit()
        self.shipments.committed.update(self.shipments.pending)
        self.shipments.pending = {}
        self.deliveries.committed.update(self.deliveries.pending)
        self.deliveries.pending = {}

    async def rollback(self) -> None:
        await super().rollback()
        self.shipments.pending = {}
        self.deliveries.pending = {}

    def replica(self) -> "FakeShippingUnitOfWork":
        """Another replica's unit of work on the same database."""
        return FakeShippingUnitOfWork(self.shipments, self.deliveries)

    def only_shipment(self) -> Shipment:
        [shipment] = self.shipments.committed.values()
        return shipment

    def status_of(self, shipment_id: uuid.UUID) -> ShipmentStatus:
        return self.shipments.committed[shipment_id].status


class FakeCourier(CourierClient):
    """Keys airway bills on the order id, as the real courier does; `failures` are raised first, in turn."""

    name = "JNE"
    service = "REG"

    def __init__(self) -> None:
        self.airway_bills: dict[str, str] = {}
        self.bookings: list[Parcel] = []
        self.reports: dict[str, CourierReport] = {}
        self.tracked: list[str] = []
        self.failures: list[Exception] = []

    async def book(self, parcel: Parcel) -> str:
        if self.failures:
            raise self.failures.pop(0)
        self.bookings.append(parcel)
        return self.airway_bills.setdefault(parcel.order_id, f"{len(self.airway_bills) + 1:016d}")

    async def track(self, airway_bill: str) -> CourierReport:
        self.tracked.append(airway_bill)
        if self.failures:
            raise self.failures.pop(0)
        return self.reports.get(airway_bill, CourierReport(entries=()))


class FakeClock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


APPLICANT = {"nik": "3602144107900001", "name": "Siti Aminah", "birth_date": "1990-07-01", "sex": "female"}
ADDRESS = {
    "street": "Kp. Cibeureum No. 5",
    "rt": "001",
    "rw": "002",
    "kecamatan_code": "36.02.14",
    "postal_code": "42314",
}
COURIER = {"method": "courier", "recipient_name": "Siti Aminah", "phone": "081234567890", "address": ADDRESS}
PICKUP = {"method": "pickup", "pickup_kecamatan_code": "36.02.01"}


MEMBERS = [{"nik": "3602145003240001", "name": "Nur Aisyah", "relation": "anak"}]


_SEQUENCE = itertools.count(1)


def issued(
    delivery: dict | None = None,
    request_id: uuid.UUID | None = None,
    *,
    document_number: str | None = None,
    supersedes: DocumentIssued | None = None,
) -> DocumentIssued:
    """An issued document, each with a number of its own; `supersedes`: the document a correction replaces."""
    return DocumentIssued(
        request_id=request_id or uuid.uuid4(),
        document_id=uuid.uuid4(),
        document_number=document_number or f"BIO/3602/2026/{next(_SEQUENCE):06d}",
        supersedes=supersedes.document_id if supersedes else None,
        supersedes_number=supersedes.document_number if supersedes else None,
        request_type="biodata_wni",
        checksum_sha256="0" * 64,
        applicant=APPLICANT,
        delivery=delivery or COURIER,
        kecamatan_code="36.02.14",
    )


def submitted(
    delivery: dict | None = None, request_id: uuid.UUID | None = None, members: list[dict] | None = None
) -> RequestSubmitted:
    """A family-card request whose details name the family's members."""
    return RequestSubmitted(
        request_id=request_id or uuid.uuid4(),
        request_number="LBK-3602.14-20261128-0001",
        request_type="kartu_keluarga",
        applicant=APPLICANT,
        details={
            "reason": "add_member",
            "kk_number": "3602141202100005",
            "members": MEMBERS if members is None else members,
        },
        delivery=delivery or COURIER,
        kecamatan_code="36.02.14",
        channel="online",
    )


async def deliver(uow: ShippingUnitOfWork, event: DocumentIssued, envelope: Envelope | None = None) -> None:
    """What the shared consumer does: inbox claim, handler and commit in one unit of work."""
    envelope = envelope or Envelope.wrap(event, source="/test")
    async with uow:
        if not await uow.inbox.claim("dukcapil.shipping.documents", str(envelope.id)):
            return
        await handlers.ship_document(uow, event, envelope, find_office=find_kecamatan, destinations=DESTINATIONS)
        await uow.commit()


async def receive(uow: ShippingUnitOfWork, event: RequestSubmitted, envelope: Envelope | None = None) -> None:
    """The shared consumer with RequestSubmitted: the early address check."""
    envelope = envelope or Envelope.wrap(event, source="/test")
    async with uow:
        if not await uow.inbox.claim("dukcapil.shipping.requests", str(envelope.id)):
            return
        await handlers.check_address(uow, event, envelope, destinations=DESTINATIONS)
        await uow.commit()


async def book(uow: ShippingUnitOfWork, courier: CourierClient, clock: Callable[[], datetime] | None = None) -> int:
    """One round of the booking loop."""
    return await handlers.book_shipments(
        unit_of_work=lambda: uow, courier=courier, clock=clock or (lambda: datetime.now(UTC))
    )


async def ship(uow: ShippingUnitOfWork, courier: CourierClient, event: DocumentIssued | None = None) -> None:
    """A courier delivery as far as the courier's airway bill: the consumer, then a round of the booking loop."""
    await deliver(uow, event or issued())
    await book(uow, courier)
