"""Intake listens to every other stage, to keep the citizen's view of the request."""

from dukcapil_intake.requests.service_layer.handlers import record_lifecycle_event
from dukcapil_intake.requests.service_layer.unit_of_work import RequestsUnitOfWork
from dukcapil_shared.contracts import (
    DeliveryFailed,
    DocumentCollected,
    DocumentIssued,
    DocumentRevoked,
    InformationRequested,
    ReadyForPickup,
    RequestApproved,
    RequestRejected,
    ReviewClaimed,
    ReviewStarted,
    ShipmentCreated,
    ShipmentDelivered,
    ShipmentFlagged,
    ShipmentStatusChanged,
)
from dukcapil_shared.messaging import Subscription

LIFECYCLE_EVENTS = (
    ReviewStarted,
    ReviewClaimed,
    InformationRequested,
    RequestApproved,
    RequestRejected,
    DocumentIssued,
    DocumentRevoked,
    ShipmentCreated,
    ShipmentStatusChanged,
    ShipmentDelivered,
    ShipmentFlagged,
    DeliveryFailed,
    ReadyForPickup,
    DocumentCollected,
)


LIFECYCLE = Subscription[RequestsUnitOfWork](
    name="lifecycle",
    description="Every step of review, documents and shipping, shown in the request's history",
    handlers=dict.fromkeys(LIFECYCLE_EVENTS, record_lifecycle_event),
    # Each event's id is in the request's history once (a unique index): the history tells a duplicate, and an
    # inbox row would be a round trip a delivery for nothing.
    inbox=False,
)
