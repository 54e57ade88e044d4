import abc
import uuid
from dataclasses import dataclass
from datetime import datetime

from dukcapil_intake.follow_ons.domain.follow_ons import DraftStatus, FollowOnDraft, FollowOnKind
from dukcapil_shared.messaging import ConcurrentChange


class DraftChanged(ConcurrentChange):
    """Someone else changed the draft since it was loaded."""

    message = "The follow-on request changed just now; reload it and try again."


@dataclass(frozen=True)
class DraftFilter:
    kecamatan_code: str | None = None
    status: DraftStatus | None = None


class DraftRepository(abc.ABC):
    @abc.abstractmethod
    async def add(self, draft: FollowOnDraft) -> None: ...

    @abc.abstractmethod
    async def get(self, draft_id: uuid.UUID) -> FollowOnDraft | None: ...

    @abc.abstractmethod
    async def exists(self, origin_request_id: uuid.UUID, kind: FollowOnKind) -> bool:
        """Whether the request led to a draft of this kind already (an event delivered twice makes none)."""

    @abc.abstractmethod
    async def save(self, draft: FollowOnDraft) -> None:
        """Store the changes if nobody changed the draft since it was loaded, else raise DraftChanged."""

    @abc.abstractmethod
    async def due_for_prefill(self, now: datetime, *, limit: int) -> list[FollowOnDraft]:
        """Drafts awaiting the register whose next attempt is due, oldest first."""

    @abc.abstractmethod
    async def due_to_expire(self, now: datetime, *, limit: int) -> list[FollowOnDraft]:
        """Open drafts whose time is up."""

    @abc.abstractmethod
    async def from_origin(self, origin_request_id: uuid.UUID) -> list[FollowOnDraft]:
        """The drafts a request led to, oldest first."""

    @abc.abstractmethod
    async def list(self, where: DraftFilter, *, limit: int, offset: int) -> list[FollowOnDraft]:
        """Newest first."""
