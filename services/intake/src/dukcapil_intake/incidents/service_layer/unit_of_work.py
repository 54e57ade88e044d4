from typing import ClassVar

from dukcapil_intake.incidents.service_layer.repository import IncidentRepository
from dukcapil_shared.contracts import Event
from dukcapil_shared.messaging import UnitOfWork


class IncidentsUnitOfWork(UnitOfWork):
    incidents: IncidentRepository
    publishes: ClassVar[tuple[type[Event], ...] | None] = ()
