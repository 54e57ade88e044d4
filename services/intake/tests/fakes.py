import copy
import uuid
from datetime import date

from dukcapil_intake.domain.model import RequestStatus, ServiceRequest
from dukcapil_intake.service_layer.unit_of_work import IntakeUnitOfWork, RequestRepository
from dukcapil_shared.testing import FakeUnitOfWork


class FakeRequestRepository(RequestRepository):
    def __init__(self) -> None:
        self.committed: dict[uuid.UUID, ServiceRequest] = {}
        self.pending: dict[uuid.UUID, ServiceRequest] = {}
        self.counters: dict[tuple[str, date], int] = {}

    async def add(self, request: ServiceRequest) -> None:
        request.new_history = []
        self.pending[request.id] = copy.deepcopy(request)

    async def get(self, request_id: uuid.UUID) -> ServiceRequest | None:
        found = self.pending.get(request_id) or self.committed.get(request_id)
        return copy.deepcopy(found)

    async def save(self, request: ServiceRequest) -> None:
        await self.add(request)

    async def list(self, *, status, request_type, limit, offset):  # type: ignore[no-untyped-def]
        found = [
            r
            for r in sorted(self.committed.values(), key=lambda r: r.submitted_at)
            if (status is None or r.status == status) and (request_type is None or r.type == request_type)
        ]
        return found[offset : offset + limit]

    async def next_sequence(self, kecamatan_code: str, day: date) -> int:
        self.counters[(kecamatan_code, day)] = self.counters.get((kecamatan_code, day), 0) + 1
        return self.counters[(kecamatan_code, day)]


class FakeIntakeUnitOfWork(FakeUnitOfWork, IntakeUnitOfWork):
    def __init__(self) -> None:
        super().__init__()
        self.requests = FakeRequestRepository()

    async def commit(self) -> None:
        await super().commit()
        self.requests.committed.update(self.requests.pending)
        self.requests.pending = {}

    async def rollback(self) -> None:
        await super().rollback()
        self.requests.pending = {}

    def status_of(self, request_id: uuid.UUID) -> RequestStatus:
        return self.requests.committed[request_id].status
