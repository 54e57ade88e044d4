"""Where an issued document goes: held at the kecamatan office (chosen by the citizen, or because the courier
cannot serve the address, which an operator is told about once), or lined up for the courier as a parcel."""

from dataclasses import dataclass
from datetime import datetime

from dukcapil_shared.contracts import DeliveryMethod, DocumentIssued, Event, ReadyForPickup, ShipmentFlagged
from dukcapil_shared.contracts.regions import Kecamatan
from dukcapil_shipping.domain.model import CarriedDocument, FlagReason, Parcel, RequestedDelivery, Shipment


class NotRoutable(ValueError):
    """The document cannot be sent anywhere: the request names no way to reach its holder."""


@dataclass(frozen=True)
class Routing:
    shipment: Shipment
    events: tuple[Event, ...]
    """What to announce, in order."""
    requested_changed: bool
    """The requested delivery was changed (flagged) and must be saved."""


def route_issued_document(
    event: DocumentIssued,
    requested: RequestedDelivery,
    *,
    office: Kecamatan,
    address_office: Kecamatan | None,
    now: datetime,
    traceparent: str | None = None,
) -> Routing:
    """`office` holds the document when it is not sent; `requested` carries the early address check; a parcel
    keeps `traceparent` for the courier booking that follows."""
    delivery = event.delivery
    recipient = delivery.recipient_name or event.applicant.name
    document = CarriedDocument(event.document_number, replaces=event.supersedes_number)
    if delivery.method == DeliveryMethod.pickup:
        shipment = Shipment.for_pickup(
            request_id=event.request_id,
            document=document,
            recipient=recipient,
            kecamatan_code=office.code,
            office=office.office,
            now=now,
        )
        return Routing(shipment, (_ready_for_pickup(shipment, office, "chosen"),), requested_changed=False)

    address = delivery.address
    if address is None:
        raise NotRoutable(f"request {event.request_id}: courier delivery without an address")
    if requested.address_problem is not None:
        shipment = Shipment.held_at_office(
            request_id=event.request_id,
            document=document,
            recipient=recipient,
            address=address,
            kecamatan_code=office.code,
            office=office.office,
            problem=requested.address_problem,
            now=now,
        )
        events: list[Event] = []
        flag_now = not requested.address_flagged
        if flag_now:  # an operator hears of an unserviceable address once, whether at submission or now
            requested.address_flagged = True
            events.append(
                ShipmentFlagged(
                    request_id=event.request_id,
                    shipment_id=shipment.id,
                    reason=FlagReason.address_unserviceable.value,
                    detail=requested.address_problem,
                )
            )
        events.append(_ready_for_pickup(shipment, office, FlagReason.address_unserviceable.value))
        return Routing(shipment, tuple(events), requested_changed=flag_now)

    village = f"Desa/Kel. {address.village_code}, " if address.village_code else ""
    parcel = Parcel(
        order_id=order_id(event),
        receiver_name=recipient,
        address_line1=" ".join(
            part
            for part in (address.street, address.rt and f"RT {address.rt}", address.rw and f"RW {address.rw}")
            if part
        ),
        address_line2=f"{village}Kec. {address_office.name if address_office else address.kecamatan_code}",
        city=address.city,
        postal_code=address.postal_code or requested.postal_code,
        phone=delivery.phone,
        contents=f"DOKUMEN KEPENDUDUKAN {event.request_type.value.upper()} {event.document_number}",
        destination_code=requested.destination_code,
    )
    shipment = Shipment.for_booking(
        request_id=event.request_id,
        document=document,
        recipient=recipient,
        address=address,
        kecamatan_code=office.code,
        parcel=parcel,
        now=now,
        traceparent=traceparent,
    )
    return Routing(shipment, (), requested_changed=False)


def order_id(event: DocumentIssued) -> str:
    """The courier's order id, the same on every retry so that the courier books once: the request's id for the
    request's first document, the document's number (e.g. KK-3602-2026-000002) for a corrected one."""
    if event.supersedes_number is None:
        return str(event.request_id)
    return event.document_number.replace("/", "-")


def _ready_for_pickup(shipment: Shipment, office: Kecamatan, reason: str) -> ReadyForPickup:
    return ReadyForPickup(
        request_id=shipment.request_id,
        shipment_id=shipment.id,
        kecamatan_code=office.code,
        office_name=office.office,
        reason=reason,
        **shipment.carried,
    )
