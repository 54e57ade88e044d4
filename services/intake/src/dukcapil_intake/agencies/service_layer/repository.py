import abc
from collections.abc import Sequence
from datetime import datetime

from dukcapil_intake.agencies.domain.agencies import Agency
from dukcapil_intake.agencies.domain.public_events import LoggedPublicEvent, PublicEventRecord
from dukcapil_shared.refusals import Refusal, RefusalKind


class PublicEventLog(abc.ABC):
    """The retained log of events for agencies, in both variants; the relay publishes what it adds."""

    @abc.abstractmethod
    async def add(self, record: PublicEventRecord) -> None:
        """Log the event masked and identified, each to be published to its exchange; an id already logged is
        left as it is."""

    @abc.abstractmethod
    async def between(
        self, *, since: datetime, until: datetime, event_types: Sequence[str], identified: bool
    ) -> list[LoggedPublicEvent]:
        """The logged events of these types that occurred in [since, until), oldest first, in one variant."""


class AgencyRepository(abc.ABC):
    @abc.abstractmethod
    async def add(self, agency: Agency) -> None:
        """Raises AgencyExists if an agency of that name is already there."""

    @abc.abstractmethod
    async def get(self, name: str) -> Agency | None: ...

    @abc.abstractmethod
    async def remove(self, name: str) -> None: ...

    @abc.abstractmethod
    async def list(self) -> list[Agency]:
        """By name."""


class AgencyExists(Refusal):
    code = "agency_exists"
    kind = RefusalKind.conflict
