import abc
import uuid
from datetime import date

from dukcapil_intake.domain.model import RequestStatus, ServiceRequest
from dukcapil_shared.messaging import UnitOfWork


class ConcurrentUpdate(Exception):
    """Someone else changed the request since it was loaded."""


class RequestRepository(abc.ABC):
    @abc.abstractmethod
    async def add(self, request: ServiceRequest) -> None: ...

    @abc.abstractmethod
    async def get(self, request_id: uuid.UUID) -> ServiceRequest | None: ...

    @abc.abstractmethod
    async def save(self, request: ServiceRequest) -> None:
        """Store the status and the new history entries if nobody changed the request since it was loaded,
        else raise ConcurrentUpdate."""

    @abc.abstractmethod
    async def list(
        self, *, status: RequestStatus | None, request_type: str | None, limit: int, offset: int
    ) -> list[ServiceRequest]: ...

    @abc.abstractmethod
    async def next_sequence(self, kecamatan_code: str, day: date) -> int:
        """The next number in the kecamatan's sequence for the day, never handed out twice."""


class IntakeUnitOfWork(UnitOfWork):
    requests: RequestRepository
