import abc
import uuid
from dataclasses import dataclass
from datetime import date

from dukcapil_intake.requests.domain.model import RecordingBooking, RequestStatus, ServiceRequest
from dukcapil_shared.messaging import ConcurrentChange


class ConcurrentUpdate(ConcurrentChange):
    """Someone else changed the request since it was loaded."""

    message = "The request changed just now; reload it and try again."


@dataclass(frozen=True)
class RequestFilter:
    status: RequestStatus | None = None
    request_type: str | None = None
    kecamatan_code: str | None = None
    submitted_from: date | None = None
    submitted_to: date | None = None
    """Inclusive: requests submitted on this day are found."""


@dataclass(frozen=True)
class IdempotentSubmission:
    fingerprint: str
    request_id: uuid.UUID


class RequestRepository(abc.ABC):
    @abc.abstractmethod
    async def add(self, request: ServiceRequest) -> None: ...

    @abc.abstractmethod
    async def get(self, request_id: uuid.UUID) -> ServiceRequest | None: ...

    @abc.abstractmethod
    async def get_by_number(self, number: str) -> ServiceRequest | None: ...

    @abc.abstractmethod
    async def save(self, request: ServiceRequest) -> None:
        """Store the changes and the new history entries and attachments if nobody changed the request since it
        was loaded, else raise ConcurrentUpdate."""

    @abc.abstractmethod
    async def list(self, where: RequestFilter, *, limit: int, offset: int) -> list[ServiceRequest]:
        """Oldest first."""

    @abc.abstractmethod
    async def next_sequence(self, kecamatan_code: str, day: date) -> int:
        """The next number in the kecamatan's sequence for the day, never handed out twice."""

    @abc.abstractmethod
    async def find_submission(self, idempotency_key: str) -> IdempotentSubmission | None: ...

    @abc.abstractmethod
    async def remember_submission(self, idempotency_key: str, submission: IdempotentSubmission) -> None:
        """Raises ConcurrentUpdate if another submission with the same key got in first."""


class BookingRepository(abc.ABC):
    @abc.abstractmethod
    async def add(self, booking: RecordingBooking) -> None: ...

    @abc.abstractmethod
    async def get(self, booking_id: uuid.UUID) -> RecordingBooking | None: ...

    @abc.abstractmethod
    async def upcoming_for(self, nik: str, today: date) -> RecordingBooking | None: ...

    @abc.abstractmethod
    async def next_queue_number(self, kecamatan_code: str, day: date) -> int: ...
