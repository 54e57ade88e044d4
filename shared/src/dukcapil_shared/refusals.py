"""A refusal: what a service will not do, said the same way everywhere.

A domain, service layer or shared component raises a Refusal (or a subclass) with a machine-readable code, an
English message, the Indonesian one where the citizen reads it, the field at fault and any extra keys the answer
carries. Its kind says what sort of refusal it is; the web layer (dukcapil_shared.web) alone turns a kind into an
HTTP status. The standard library only: every domain may import this module.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class RefusalKind(StrEnum):
    invalid = "invalid"
    """The input breaks a rule; fixing it helps."""
    unauthorized = "unauthorized"
    """Who is asking is not known."""
    forbidden = "forbidden"
    """Who is asking may not do this."""
    not_found = "not_found"
    conflict = "conflict"
    """The state of things does not allow it now (already decided, claimed by another, changed meanwhile)."""
    too_large = "too_large"
    rate_limited = "rate_limited"
    unavailable = "unavailable"
    """Something the service depends on is down; the same call later may succeed."""
    internal = "internal"
    """The office's own fault (a stored file that went missing, say): nothing the caller can fix."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the input, where it is: a refusal that finds several at once lists them all."""

    field: str
    code: str
    message: str
    message_id: str | None = None
    """The same in Indonesian, where the citizen reads it."""


class Refusal(Exception):
    """Subclasses set `code`, `message`, `kind` (and `message_id`, `headers`) as class defaults; an instance may
    override each of them."""

    code: str = "refused"
    message: str = "The request was refused."
    message_id: str | None = None
    """The same in Indonesian, where the citizen reads it."""
    field: str | None = None
    """Where the problem is, e.g. body.applicant.nik."""
    kind: RefusalKind = RefusalKind.invalid
    headers: Mapping[str, str] = {}
    """Response headers that go with it, e.g. Retry-After."""
    problems: tuple[Problem, ...] = ()
    """Every problem found, each with its field; when there are none, `field` (if any) is the one."""

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        message_id: str | None = None,
        field: str | None = None,
        kind: RefusalKind | None = None,
        headers: Mapping[str, str] | None = None,
        problems: Iterable[Problem] | None = None,
        **extra: Any,
    ) -> None:
        if message is not None:
            self.message = message
        if code is not None:
            self.code = code
        if message_id is not None:
            self.message_id = message_id
        if field is not None:
            self.field = field
        if kind is not None:
            self.kind = kind
        if headers is not None:
            self.headers = dict(headers)
        if problems is not None:
            self.problems = tuple(problems)
        self.extra: dict[str, Any] = extra
        """More keys for the answer's body, e.g. the document's status."""
        super().__init__(self.message)
