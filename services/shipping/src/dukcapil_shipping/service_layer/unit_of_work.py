import abc
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import ClassVar

from dukcapil_shared.contracts import (
    DeliveryFailed,
    DocumentCollected,
    Event,
    ReadyForPickup,
    ShipmentCreated,
    ShipmentDelivered,
    ShipmentFlagged,
    ShipmentStatusChanged,
)
from dukcapil_shared.messaging import ConcurrentChange, UnitOfWork
from dukcapil_shipping.domain.model import RequestedDelivery, Shipment, ShipmentStatus


class ConcurrentUpdate(ConcurrentChange):
    """Someone else changed the shipment or the requested delivery since it was loaded."""

    message = "The shipment changed meanwhile; reload it and try again."


class ShipmentRepository(abc.ABC):
    @abc.abstractmethod
    async def add(self, shipment: Shipment) -> None: ...

    @abc.abstractmethod
    async def get(self, shipment_id: uuid.UUID) -> Shipment | None: ...

    @abc.abstractmethod
    async def get_by_request(self, request_id: uuid.UUID) -> Shipment | None:
        """The request's latest shipment: the one carrying the document in force."""

    @abc.abstractmethod
    async def for_request(self, request_id: uuid.UUID) -> list[Shipment]:
        """The request's shipments, oldest first: one per document (a corrected document has its own)."""

    @abc.abstractmethod
    async def save(self, shipment: Shipment) -> None:
        """Store the changes and the new tracking entries, unless the shipment changed since it was loaded: then
        raise ConcurrentUpdate, storing nothing (another unit of work, another replica, changed it first)."""

    @abc.abstractmethod
    async def find(
        self,
        *,
        request_id: uuid.UUID | None,
        status: ShipmentStatus | None,
        limit: int,
        offset: int,
        flag: str | None = None,
        kecamatan_code: str | None = None,
    ) -> list[Shipment]:
        """Oldest first; `flag` keeps the shipments carrying a flag with that reason."""

    @abc.abstractmethod
    async def tracked(self, *, limit: int) -> list[Shipment]:
        """Courier shipments still on their way, the longest unpolled first."""

    @abc.abstractmethod
    async def claim_for_booking(self, *, now: datetime, until: datetime, limit: int) -> list[Shipment]:
        """Shipments whose booking is due, the longest waiting first, held for the caller until `until`.

        Holding means moving their next_booking_at to `until`, so that other replicas leave them alone
        meanwhile, and take them up after it if this one died.
        """

    @abc.abstractmethod
    async def mark_polled(self, shipment_ids: Sequence[uuid.UUID], at: datetime) -> None: ...

    @abc.abstractmethod
    async def quiet(self, *, since: datetime, unflagged: str, limit: int) -> list[Shipment]:
        """Courier shipments on their way with no tracking change since `since`, not yet flagged `unflagged`."""


class RequestedDeliveryRepository(abc.ABC):
    @abc.abstractmethod
    async def add(self, requested: RequestedDelivery) -> None: ...

    async def add_unless_known(self, requested: RequestedDelivery) -> bool:
        """Store it unless the request has one already: False then, and nothing changed. The SQL repository does it
        in one statement."""
        if await self.get(requested.request_id) is not None:
            return False
        await self.add(requested)
        return True

    @abc.abstractmethod
    async def get(self, request_id: uuid.UUID) -> RequestedDelivery | None: ...

    @abc.abstractmethod
    async def save(self, requested: RequestedDelivery) -> None:
        """Store the changes unless another unit of work changed it since it was loaded (then ConcurrentUpdate)."""


class ShippingUnitOfWork(UnitOfWork):
    shipments: ShipmentRepository
    deliveries: RequestedDeliveryRepository
    publishes: ClassVar[tuple[type[Event], ...] | None] = (
        ShipmentFlagged,
        ShipmentCreated,
        ShipmentStatusChanged,
        ShipmentDelivered,
        DeliveryFailed,
        ReadyForPickup,
        DocumentCollected,
    )
