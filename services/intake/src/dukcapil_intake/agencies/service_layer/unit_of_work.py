from typing import ClassVar

from dukcapil_intake.agencies.service_layer.repository import AgencyRepository, PublicEventLog
from dukcapil_shared.contracts import Event
from dukcapil_shared.messaging import UnitOfWork


class AgenciesUnitOfWork(UnitOfWork):
    agencies: AgencyRepository
    public_events: PublicEventLog
    publishes: ClassVar[tuple[type[Event], ...] | None] = ()
