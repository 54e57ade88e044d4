import copy
import dataclasses
import uuid
from collections.abc import Sequence
from datetime import datetime

from dukcapil_review.domain.model import OPEN_STATUSES, AuditEntry, Review, ReviewStatus
from dukcapil_review.domain.register import RegisteredFamily, RegisteredPerson
from dukcapil_review.service_layer.register import PopulationRegister, RegisterUnavailable
from dukcapil_review.service_layer.unit_of_work import (
    AuditLog,
    ConcurrentUpdate,
    PendingCount,
    QueueOrder,
    ReviewQuery,
    ReviewRepository,
    ReviewUnitOfWork,
)
from dukcapil_shared.contracts import RequestDetails
from dukcapil_shared.contracts.details import typed_details
from dukcapil_testing import FakeUnitOfWork


class FakeAuditLog(AuditLog):
    def __init__(self) -> None:
        self.committed: list[AuditEntry] = []
        self.pending: list[AuditEntry] = []

    async def append(self, entries: Sequence[AuditEntry]) -> None:
        self.pending += entries

    def commit(self) -> None:
        first = len(self.committed) + 1
        self.committed += [dataclasses.replace(e, id=first + i) for i, e in enumerate(self.pending)]
        self.pending = []

    def actions(self, request_id: uuid.UUID) -> list[tuple[str, str]]:
        return [(entry.actor, entry.action) for entry in self.committed if entry.request_id == request_id]

    async def list(self, request_id: uuid.UUID) -> list[AuditEntry]:
        return [entry for entry in self.committed if entry.request_id == request_id]


class FakeReviewRepository(ReviewRepository):
    def __init__(self, audit: FakeAuditLog) -> None:
        self.committed: dict[uuid.UUID, Review] = {}
        self.pending: dict[uuid.UUID, Review] = {}
        self._audit = audit

    async def add(self, review: Review) -> None:
        await self._audit.append(review.new_audit)
        review.new_audit = []
        self.pending[review.request_id] = copy.deepcopy(review)

    async def get(self, request_id: uuid.UUID) -> Review | None:
        return copy.deepcopy(self.pending.get(request_id) or self.committed.get(request_id))

    async def save(self, review: Review) -> None:
        current = self.pending.get(review.request_id) or self.committed[review.request_id]
        if current.version != review.version:
            raise ConcurrentUpdate(str(review.request_id))
        review.version += 1
        await self._audit.append(review.new_audit)
        review.new_audit = []
        self.pending[review.request_id] = copy.deepcopy(review)

    async def find_duplicates(
        self, *, request_type: str, subject_nik: str, exclude: uuid.UUID, approved_since: datetime
    ) -> list[Review]:
        reviews = {**self.committed, **self.pending}.values()
        return [
            review
            for review in sorted(reviews, key=lambda r: r.received_at)
            if review.request_type == request_type
            and review.subject_nik == subject_nik
            and review.request_id != exclude
            and (
                review.status in OPEN_STATUSES
                or (
                    review.status == ReviewStatus.approved
                    and review.decided_at is not None
                    and review.decided_at >= approved_since
                )
            )
        ]

    async def count_pending(
        self, *, now: datetime, request_type: str | None = None, kecamatan_code: str | None = None
    ) -> list[PendingCount]:
        groups: dict[tuple[str, str], list[Review]] = {}
        for review in self.committed.values():
            if (
                review.status == ReviewStatus.pending
                and (request_type is None or review.request_type == request_type)
                and (kecamatan_code is None or review.kecamatan_code == kecamatan_code)
            ):
                groups.setdefault((review.request_type, review.kecamatan_code), []).append(review)
        return [
            PendingCount(
                request_type=key[0],
                kecamatan_code=key[1],
                pending=len(reviews),
                overdue=sum(review.overdue(now) for review in reviews),
                earliest_due_at=min(review.due_at for review in reviews),
            )
            for key, reviews in groups.items()
        ]

    async def list(self, query: ReviewQuery) -> list[Review]:
        def key(review: Review) -> tuple:
            if query.order == QueueOrder.due:
                return (review.due_at, review.received_at, str(review.request_id))
            return (review.received_at, str(review.request_id))

        found = [
            review
            for review in sorted(self.committed.values(), key=key)
            if (query.status is None or review.status == query.status)
            and (query.request_type is None or review.request_type == query.request_type)
            and (query.kecamatan_code is None or review.kecamatan_code == query.kecamatan_code)
            and (
                query.overdue_at is None or (review.status == ReviewStatus.pending and review.due_at < query.overdue_at)
            )
            and (
                query.register_retry_due_at is None
                or (
                    review.status in OPEN_STATUSES
                    and review.register_retry_at is not None
                    and review.register_retry_at <= query.register_retry_due_at
                )
            )
        ]
        return copy.deepcopy(found[query.offset : query.offset + query.limit])


class FakeReviewUnitOfWork(FakeUnitOfWork, ReviewUnitOfWork):
    def __init__(self) -> None:
        super().__init__()
        self.audit = FakeAuditLog()
        self.reviews = FakeReviewRepository(self.audit)

    async def commit(self) -> None:
        await super().commit()
        self.reviews.committed.update(self.reviews.pending)
        self.reviews.pending = {}
        self.audit.commit()

    async def rollback(self) -> None:
        await super().rollback()
        self.reviews.pending = {}
        self.audit.pending = []


SAMPLE_DETAILS: dict[str, dict[str, object]] = {
    "kartu_keluarga": {"reason": "add_member"},
    "akta_kematian": {
        "deceased": {"nik": "3602140101500002", "name": "Sarmadi"},
        "date_of_death": "2026-11-20",
        "place_of_death": "Rangkasbitung",
        "reporter_relation": "anak",
        "witnesses": [{"nik": "3602141111800004", "name": "Dedi"}, {"nik": "3602141205850003", "name": "Ahmad"}],
    },
    "surat_pindah": {
        "origin": {"street": "Jl. Multatuli 5", "kecamatan_code": "36.02.14"},
        "destination": {"street": "Jl. Merdeka 1", "kecamatan_code": "32.01.01"},
        "reason": "pekerjaan",
        "moving_members": ["3602141205850003"],
    },
    "biodata_wni": {},
}


def details_of(request_type: str) -> RequestDetails:
    """Details such as intake sends with a request of this type."""
    return typed_details(SAMPLE_DETAILS[request_type], request_type)


class FakeRegister(PopulationRegister):
    """The population register in memory: the people and cards it knows; `down` makes every lookup fail as a
    register that does not answer; `asked` counts the lookups."""

    def __init__(
        self, people: Sequence[RegisteredPerson] = (), families: Sequence[RegisteredFamily] = (), down: bool = False
    ) -> None:
        self.people = {person.nik: person for person in people}
        self.families = {family.kk_number: family for family in families}
        self.down = down
        self.asked = 0

    async def person(self, nik: str) -> RegisteredPerson | None:
        self._answer()
        return self.people.get(nik)

    async def family(self, kk_number: str) -> RegisteredFamily | None:
        self._answer()
        return self.families.get(kk_number)

    def _answer(self) -> None:
        self.asked += 1
        if self.down:
            raise RegisterUnavailable("no connection")
