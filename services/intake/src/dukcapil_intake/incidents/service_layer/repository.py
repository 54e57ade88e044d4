import abc
import uuid
from collections.abc import Sequence
from datetime import datetime

from dukcapil_intake.incidents.domain.incidents import Incident, RequestState, StallPolicy


class IncidentRepository(abc.ABC):
    @abc.abstractmethod
    async def add(self, incident: Incident) -> None: ...

    @abc.abstractmethod
    async def get(self, incident_id: uuid.UUID) -> Incident | None: ...

    @abc.abstractmethod
    async def save(self, incident: Incident) -> None: ...

    @abc.abstractmethod
    async def about(self, request_id: uuid.UUID) -> list[Incident]:
        """A request's incidents, open or resolved, oldest first."""

    @abc.abstractmethod
    async def request_states(self, request_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, RequestState]:
        """The status of each of these requests that intake knows."""

    @abc.abstractmethod
    async def stalled(self, policy: StallPolicy, *, now: datetime, limit: int) -> list[RequestState]:
        """Requests whose status is older than the policy allows, longest unchanged first."""

    @abc.abstractmethod
    async def list(self, *, open: bool, limit: int) -> list[Incident]:
        """Open (or resolved) incidents, oldest first."""
