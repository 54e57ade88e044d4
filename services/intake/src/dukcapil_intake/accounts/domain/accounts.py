"""Staff accounts: who may sign in, in which role, and for which kecamatan (operators only); their sessions, and
the lockout that stops password guessing."""

import re
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from dukcapil_shared.auth.roles import KECAMATAN_BOUND, Principal, Role
from dukcapil_shared.contracts.regions import find_kecamatan
from dukcapil_shared.refusals import Refusal

USERNAME = re.compile(r"^[a-z][a-z0-9._-]{2,63}$")


class AccountRefused(Refusal):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message, code=code)


@dataclass
class StaffAccount:
    username: str
    full_name: str
    role: Role
    password_hash: str
    kecamatan_code: str | None = None
    active: bool = True
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    password_changed_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def principal(self) -> Principal:
        return Principal(username=self.username, role=self.role, kecamatan_code=self.kecamatan_code)


def check_new_account(username: str, role: Role, kecamatan_code: str | None) -> None:
    if not USERNAME.match(username):
        raise AccountRefused(
            "invalid_username",
            "A user name is 3–64 characters: lower-case letters, digits, '.', '_' or '-', starting with a letter.",
        )
    if role in KECAMATAN_BOUND:
        if kecamatan_code is None:
            raise AccountRefused("kecamatan_required", f"A {role.value} serves one kecamatan: give its kecamatan_code.")
        if find_kecamatan(kecamatan_code) is None:
            raise AccountRefused(
                "unknown_kecamatan",
                f"{kecamatan_code} is not one of Kabupaten Lebak's kecamatan (36.02.01 to 36.02.28).",
            )
    elif kecamatan_code is not None:
        raise AccountRefused("kecamatan_not_applicable", f"A {role.value} works for the whole regency: no kecamatan.")


@dataclass
class StaffSession:
    """A signed-in member of staff: every token names its session (`sid`), which ends at sign-out, deactivation or
    a password change, and its tokens are refused everywhere from then on."""

    id: uuid.UUID
    username: str
    started_at: datetime
    expires_at: datetime
    ended_at: datetime | None = None
    end_reason: str | None = None

    @classmethod
    def start(cls, username: str, *, now: datetime, lifetime: timedelta) -> "StaffSession":
        return cls(id=uuid.uuid4(), username=username, started_at=now, expires_at=now + lifetime)

    def end(self, reason: str, now: datetime) -> None:
        self.ended_at, self.end_reason = now, reason


@dataclass(frozen=True)
class LockoutPolicy:
    """Repeated failed sign-ins lock a user name for a while, longer each time, whatever address they come from."""

    after: int = 5
    """Failures in a row that lock it."""
    durations: tuple[float, ...] = (60, 300, 900, 3600)
    """Seconds each successive lockout lasts; the last repeats."""


@dataclass
class SignInFailures:
    """Failed sign-ins under one user name (existing or not: the answer must not tell which)."""

    username: str
    failures: int = 0
    lockouts: int = 0
    locked_until: datetime | None = None
    last_failure_at: datetime | None = None

    def locked_for(self, now: datetime) -> timedelta | None:
        """How long the name stays locked, or None."""
        if self.locked_until is None or self.locked_until <= now:
            return None
        return self.locked_until - now

    def failed(self, now: datetime, policy: LockoutPolicy) -> None:
        self.failures += 1
        self.last_failure_at = now
        if self.failures >= policy.after:
            seconds = policy.durations[min(self.lockouts, len(policy.durations) - 1)]
            self.locked_until = now + timedelta(seconds=seconds)
            self.lockouts += 1
            self.failures = 0
