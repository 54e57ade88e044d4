"""The port through which a confirmed draft becomes a request or a booking: the requests' own use cases (every check
of a submission applies), composed by the chassis (dispatch.RequestsDesk) so that the service layers stay apart."""

import abc
import uuid
from dataclasses import dataclass

from dukcapil_intake.follow_ons.domain.follow_ons import FollowOnDraft


@dataclass(frozen=True)
class Confirmer:
    """Who confirms: the family through the link, or an operator at the counter (then the request is assisted)."""

    by: str = "citizen"
    operator: str | None = None
    office: str | None = None
    operator_kecamatan: str | None = None


@dataclass(frozen=True)
class Made:
    """What a confirmed draft became."""

    id: uuid.UUID
    number: str


class Submissions(abc.ABC):
    @abc.abstractmethod
    async def submit(self, draft: FollowOnDraft, confirmer: Confirmer) -> Made:
        """Submit the draft's request, following its origin, with the draft's id as idempotency key: submitting the
        same draft again answers with the first request."""

    @abc.abstractmethod
    async def book_recording(self, draft: FollowOnDraft) -> Made | None:
        """Book the draft's e-KTP recording; None when the person has an upcoming booking already."""
