"""Intake listens to every other stage, to keep the citizen's view of the request."""

from functools import partial

from dukcapil_intake.incidents.service_layer.incidents import open_incident, resolve_incident
from dukcapil_intake.requests.service_layer.handlers import record_lifecycle_event
from dukcapil_intake.unit_of_work import IntakeUnitOfWork
from dukcapil_shared.contracts import (
    DeliveryFailed,
    DocumentCollected,
    DocumentIssued,
    DocumentRevoked,
    InformationRequested,
    MessageParked,
    MessageResolved,
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


def subscriptions(*, notify: bool = True) -> list[Subscription[IntakeUnitOfWork]]:
    """With `notify`, the steps that matter to the citizen also queue a notice to them."""
    handler = partial(record_lifecycle_event, notify=notify)
    lifecycle = Subscription(
        name="lifecycle",
        description="Every step of review, documents and shipping, shown in the request's history",
        handlers=dict.fromkeys(LIFECYCLE_EVENTS, handler),
    )
    operations = Subscription(
        name="operations",
        description="Dead letters parked and resolved at every stage, kept as the incidents of each request",
        handlers={MessageParked: open_incident, MessageResolved: resolve_incident},
    )
    return [lifecycle, operations]


SUBSCRIPTIONS = subscriptions()
