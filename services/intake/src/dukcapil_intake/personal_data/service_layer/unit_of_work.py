import abc
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from dukcapil_shared.contracts import Event
from dukcapil_shared.messaging import UnitOfWork


@dataclass(frozen=True)
class ScanToPurge:
    attachment_id: str
    storage_key: str


class PersonalDataRepository(abc.ABC):
    @abc.abstractmethod
    async def scans_of_requests_ended_before(
        self, moment: datetime, statuses: Sequence[str], limit: int
    ) -> list[ScanToPurge]: ...

    @abc.abstractmethod
    async def forget_scans(self, attachment_ids: Sequence[str]) -> int: ...

    @abc.abstractmethod
    async def purge_notices_before(self, moment: datetime) -> int:
        """Notices sent (or given up on) before `moment`; pending ones stay."""

    @abc.abstractmethod
    async def purge_public_events_before(self, moment: datetime) -> int:
        """Published events of both public logs committed before `moment`."""

    @abc.abstractmethod
    async def everything_about(self, nik: str) -> dict[str, Any]:
        """The requests naming `nik` (as applicant or anywhere in their details) with their history, scans (the
        list, not the files) and notices, and the person's e-KTP recording bookings."""


class PersonalDataUnitOfWork(UnitOfWork):
    personal_data: PersonalDataRepository
    publishes: ClassVar[tuple[type[Event], ...] | None] = ()
