"""Intake listens to every stage's dead letters to follow each request's incidents. The flags shipping raises on
parcels that will not move by itself, and the steps that move them on, come with the request's other steps
(requests' LIFECYCLE; dispatch.py hands them to incidents.follow_shipment)."""

from dukcapil_intake.incidents.service_layer.incidents import open_incident, resolve_incident
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
    description="Dead letters parked and resolved at every stage, kept as the incidents of each request",
    handlers={
        MessageParked: open_incident,
        MessageResolved: resolve_incident,
    },
    retired=(ShipmentFlagged, ShipmentCreated, ShipmentDelivered, DeliveryFailed, ReadyForPickup),
)
