"""Events about staff, not about a request: sessions ended at intake, which every service must refuse from then on.

A staff token belongs to a session (its `sid`). When the holder signs out, is deactivated or changes password,
intake ends the session and announces it; each service records the session as ended and refuses its tokens
within seconds, without asking intake on every request.
"""

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from dukcapil_shared.contracts.events import Event

_STAFF = uuid.UUID("3c8f4e0a-7a39-4c62-9f6e-0f5e8f1d2b77")


class StaffSessionsEnded(Event):
    """Staff sessions ended at intake: their tokens are refused everywhere from now on."""

    event_type = "staff.sessions_ended"
    stage = "intake"

    request_id: uuid.UUID | None = Field(default=None, description="Not about a request: always null")
    username: str = Field(description="Whose sessions ended")
    session_ids: list[uuid.UUID] = Field(description="The sessions (each token's sid) that ended")
    reason: Literal["signed_out", "deactivated", "password_changed"] = Field(description="Why they ended")
    ended_at: datetime = Field(description="When")
    tokens_expire_by: datetime = Field(
        description="When the last token of these sessions would have expired anyway: the record may go after it"
    )

    @property
    def subject(self) -> str:
        """A stable id of the member of staff (a session's events about them leave in order)."""
        return str(uuid.uuid5(_STAFF, self.username))


STAFF_EVENTS: tuple[type[Event], ...] = (StaffSessionsEnded,)
