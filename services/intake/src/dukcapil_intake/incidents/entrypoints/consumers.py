"""Intake listens to every stage's dead letters, to follow each request's incidents."""

from dukcapil_intake.incidents.service_layer.incidents import open_incident, resolve_incident
from dukcapil_intake.incidents.service_layer.unit_of_work import IncidentsUnitOfWork
from dukcapil_shared.contracts import MessageParked, MessageResolved
from dukcapil_shared.messaging import Subscription

OPERATIONS = Subscription[IncidentsUnitOfWork](
    name="operations",
    description="Dead letters parked and resolved at every stage, kept as the incidents of each request",
    handlers={MessageParked: open_incident, MessageResolved: resolve_incident},
)
