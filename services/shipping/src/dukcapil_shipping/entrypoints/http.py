"""Shipping's HTTP API: follow shipments, and record a collection at the kecamatan office."""

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from pydantic import BaseModel, Field

from dukcapil_shared.auth.http import personal_data, staff
from dukcapil_shared.auth.roles import Principal, Scope
from dukcapil_shared.contracts.text import PersonName
from dukcapil_shared.web import ClockDep, ErrorResponse
from dukcapil_shipping.domain.model import FlagReason, Shipment, ShipmentStatus, ShippingMethod
from dukcapil_shipping.service_layer import handlers
from dukcapil_shipping.service_layer.unit_of_work import ShippingUnitOfWork


def _unit_of_work(request: Request) -> ShippingUnitOfWork:
    factory: Callable[[], ShippingUnitOfWork] = request.app.state.unit_of_work
    return factory()


UnitOfWorkDep = Annotated[ShippingUnitOfWork, Depends(_unit_of_work)]


class CollectBody(BaseModel):
    collector_name: PersonName = Field(description="Who collects the document")
    collector_nik: str = Field(
        pattern=r"^\d{16}$", description="The collector's NIK, checked by the operator; must be a valid NIK"
    )


class TrackingItem(BaseModel):
    status: str = Field(
        description="The courier's steps: manifested, picked_up, in_transit, failed (an attempt), delivered, "
        "returned; the office's: created, lost_by_courier, booking (booked again), ready_for_pickup, collected"
    )
    description: str
    courier_code: str | None = Field(description="The courier's own code for the step")
    occurred_at: datetime


class FlagItem(BaseModel):
    reason: str = Field(
        description="address_unserviceable, stuck_in_transit, receiver_not_entitled or courier_lost_parcel (the "
        "courier no longer knows the airway bill it issued)"
    )
    detail: str = Field(description="What the operator should know")
    raised_at: datetime


class ShipmentView(BaseModel):
    id: uuid.UUID
    request_id: uuid.UUID
    document_number: str | None = Field(
        description="The document it carries (one shipment per document); empty for shipments older than the field"
    )
    replaces_document_number: str | None = Field(
        description="A corrected document's shipment: the old paper, no longer in force, its holder hands over"
    )
    method: ShippingMethod
    status: ShipmentStatus
    courier: str | None
    service: str | None
    airway_bill: str | None
    kecamatan_code: str = Field(description="The kecamatan office that holds the document for pickup")
    booking_attempts: int = Field(description="Courier bookings that failed so far")
    next_booking_at: datetime | None = Field(description="When the courier is asked next, while status is booking")
    last_booking_error: str | None = Field(description="Why the last booking failed; booking_failed needs an operator")
    destination_code: str | None = Field(description="The courier's destination tariff code of the address")
    last_moved_at: datetime | None = Field(description="When the courier's tracking last showed something new")
    created_at: datetime
    updated_at: datetime
    flags: list[FlagItem] = Field(description="What an operator should look at")
    tracking: list[TrackingItem]

    @classmethod
    def of(cls, shipment: Shipment) -> "ShipmentView":
        return cls(
            id=shipment.id,
            request_id=shipment.request_id,
            document_number=shipment.document_number,
            replaces_document_number=shipment.replaces_document_number,
            method=shipment.method,
            status=shipment.status,
            courier=shipment.courier,
            service=shipment.service,
            airway_bill=shipment.airway_bill,
            kecamatan_code=shipment.kecamatan_code,
            booking_attempts=shipment.booking_attempts,
            next_booking_at=shipment.next_booking_at,
            last_booking_error=shipment.last_booking_error,
            destination_code=shipment.parcel.destination_code if shipment.parcel else None,
            last_moved_at=shipment.last_moved_at,
            created_at=shipment.created_at,
            updated_at=shipment.updated_at,
            flags=[FlagItem(reason=f.reason, detail=f.detail, raised_at=f.raised_at) for f in shipment.flags],
            tracking=[
                TrackingItem(
                    status=entry.status,
                    description=entry.description,
                    courier_code=entry.courier_code,
                    occurred_at=entry.occurred_at,
                )
                for entry in shipment.tracking
            ],
        )


router = APIRouter(tags=["shipments"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse},
    401: {"model": ErrorResponse},
    403: {"model": ErrorResponse},
    404: {"model": ErrorResponse},
    422: {"model": ErrorResponse},
}
# Shipments name the recipient and their address: reading them is recorded with a reason. A kecamatan operator
# sees the parcels of their own kecamatan only (those it hands over at its office, or delivers around it).
Reading = Annotated[Principal, Depends(personal_data(Scope.SHIPMENTS_READ))]
HandingOver = Annotated[Principal, Depends(staff(Scope.SHIPMENTS_HANDOVER))]


@router.get("/shipments", response_model=list[ShipmentView], responses=_ERRORS)
async def search(
    uow: UnitOfWorkDep,
    reader: Reading,
    request_id: uuid.UUID | None = None,
    status: ShipmentStatus | None = None,
    flag: Annotated[FlagReason | None, Query(description="Only shipments flagged for this reason")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[ShipmentView]:
    """Shipments, oldest first; `request_id` finds the one shipment of a request, `flag` those an operator must see."""
    found = await handlers.list_shipments(
        request_id=request_id,
        status=status,
        flag=flag.value if flag else None,
        limit=limit,
        offset=offset,
        uow=uow,
        kecamatan_code=reader.kecamatan_code if reader.kecamatan_bound else None,
    )
    return [ShipmentView.of(shipment) for shipment in found]


@router.get("/shipments/{shipment_id}", response_model=ShipmentView, responses=_ERRORS)
async def follow(shipment_id: uuid.UUID, uow: UnitOfWorkDep, reader: Reading) -> ShipmentView:
    """A shipment's status and its tracking history."""
    shipment = await handlers.get_shipment(shipment_id, uow=uow)
    if not reader.serves(shipment.kecamatan_code):
        raise handlers.ShipmentNotFound(shipment_id)
    return ShipmentView.of(shipment)


@router.post(
    "/shipments/{shipment_id}/collected",
    response_model=ShipmentView,
    responses={**_ERRORS, 409: {"model": ErrorResponse}},
)
async def collected(
    shipment_id: uuid.UUID, body: CollectBody, request: Request, officer: HandingOver, clock: ClockDep
) -> ShipmentView:
    """Record that the document waiting at the kecamatan office was handed over (by the signed-in officer)."""
    if officer.kecamatan_bound:
        shipment = await handlers.get_shipment(shipment_id, uow=_unit_of_work(request))
        if not officer.serves(shipment.kecamatan_code):
            raise handlers.ShipmentNotFound(shipment_id)
    uow = _unit_of_work(request)
    command = handlers.CollectDocument(
        collector_name=body.collector_name, collector_nik=body.collector_nik, operator=officer.username
    )
    return ShipmentView.of(await handlers.collect_document(shipment_id, command, uow=uow, clock=clock))


@router.post(
    "/shipments/{shipment_id}/rebook",
    response_model=ShipmentView,
    responses={**_ERRORS, 409: {"model": ErrorResponse}},
)
async def rebook(shipment_id: uuid.UUID, request: Request, officer: HandingOver, clock: ClockDep) -> ShipmentView:
    """Book a parcel the courier lost (status lost_by_courier, flag courier_lost_parcel) again, once the office has
    agreed with the courier what became of it: the courier is asked for a new airway bill (409 for any other)."""
    if officer.kecamatan_bound:
        shipment = await handlers.get_shipment(shipment_id, uow=_unit_of_work(request))
        if not officer.serves(shipment.kecamatan_code):
            raise handlers.ShipmentNotFound(shipment_id)
    found = await handlers.rebook_shipment(
        shipment_id, operator=officer.username, uow=_unit_of_work(request), clock=clock
    )
    return ShipmentView.of(found)


def install(app: FastAPI) -> None:
    app.include_router(router)
