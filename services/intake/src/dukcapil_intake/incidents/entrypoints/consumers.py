"""Intake listens to every stage's dead letters, and to shipping's flags on parcels that are stuck, to follow each
request's incidents."""

from dukcapil_intake.incidents.service_layer.incidents import (
    close_shipment_incidents,
    open_incident,
    open_shipment_incident,
    resolve_incident,
)
from dukcapil_intake.incidents.service_layer.unit_of_work import IncidentsUnitOfWork
from dukcapil_shared.contracts import (
    DeliveryFailed,
    MessageParked,
    MessageResolved,
    ReadyForPickup,
    ShipmentCreated,
    ShipmentDelivered,
    ShipmentFlagged,
)
from dukcapil_shared.messaging import Subscription

OPERATIONS = Subscription[IncidentsUnitOfWork](
    name="operations",
    description="Dead letters parked and resolved at every stage, and parcels shipping flagged as lost by the courier "
    "or stuck in transit until their shipment moves on, kept as the incidents of each request",
    handlers={
        MessageParked: open_incident,
        MessageResolved: resolve_incident,
        ShipmentFlagged: open_shipment_incident,
        ShipmentCreated: close_shipment_incidents,
        ShipmentDelivered: close_shipment_incidents,
        DeliveryFailed: close_shipment_incidents,
        ReadyForPickup: close_shipment_incidents,
    },
)
