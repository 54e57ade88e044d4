"""Signing in and out, and managing staff accounts.

A sign-in starts a session, and the token names it. Signing out, deactivating the account or changing its
password ends its sessions and announces that (`staff.sessions_ended.v1`), so every service refuses their tokens
within seconds. Failed sign-ins under one user name lock it for a while, longer each time, whatever the address
they come from. Password hashing is slow on purpose (argon2), so it runs in a worker thread, outside any
transaction, away from the event loop that serves everyone else.
"""

import abc
import asyncio
import math
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import ClassVar

import structlog

from dukcapil_intake.accounts.domain.accounts import (
    AccountRefused,
    LockoutPolicy,
    SignInFailures,
    StaffAccount,
    StaffSession,
    check_new_account,
)
from dukcapil_shared.auth.passwords import hash_password, needs_rehash, password_matches, password_problem
from dukcapil_shared.auth.roles import Principal, Role
from dukcapil_shared.auth.tokens import IssuedToken, TokenIssuer
from dukcapil_shared.clock import Clock, system_clock
from dukcapil_shared.contracts import Event, StaffSessionsEnded
from dukcapil_shared.messaging import UnitOfWork
from dukcapil_shared.refusals import Refusal, RefusalKind

log = structlog.get_logger(__name__)

DEVELOPMENT_PASSWORD = "development-only-password"

# What `make run` signs in with: one account per role, operators for Rangkasbitung (36.02.14).
DEVELOPMENT_ACCOUNTS: tuple[tuple[str, str, Role, str | None], ...] = (
    ("operator.rangkasbitung", "Operator Kecamatan Rangkasbitung", Role.KECAMATAN_OPERATOR, "36.02.14"),
    ("reviewer", "Reviewer (development)", Role.REVIEWER, None),
    ("supervisor", "Supervisor (development)", Role.SUPERVISOR, None),
    ("document.officer", "Document officer (development)", Role.DOCUMENT_OFFICER, None),
    ("shipping.officer", "Shipping officer (development)", Role.SHIPPING_OFFICER, None),
    ("admin", "Administrator (development)", Role.ADMIN, None),
)


class AccountExists(Refusal):
    code = "account_exists"
    kind = RefusalKind.conflict

    def __init__(self, username: str) -> None:
        super().__init__(f"There is already an account {username}.")
        self.args = (username,)


class AccountNotFound(Refusal):
    code = "account_not_found"
    kind = RefusalKind.not_found

    def __init__(self, username: str) -> None:
        super().__init__(f"No account {username}.")
        self.args = (username,)


class SignInRefused(Refusal):
    """Wrong user name or password, or a deactivated account: the caller is not told which. (OAuth2 answers it
    with 400 invalid_grant, which the sign-in route gives: no kind of refusal is a 400.)"""

    code = "invalid_grant"
    message = "Wrong user name or password, or the account is deactivated."


class SignInLocked(Refusal):
    """Too many failed sign-ins under this user name: none is tried until the lockout ends."""

    code = "sign_in_locked"
    kind = RefusalKind.rate_limited

    def __init__(self, retry_after: timedelta) -> None:
        seconds = max(1, math.ceil(retry_after.total_seconds()))
        super().__init__(
            f"Too many failed sign-ins under this user name: try again in {seconds} s, or ask an admin.",
            headers={"Retry-After": str(seconds)},
        )
        self.args = (f"locked for {retry_after}",)
        self.retry_after = retry_after


class AccountRepository(abc.ABC):
    @abc.abstractmethod
    async def get(self, username: str) -> StaffAccount | None: ...

    @abc.abstractmethod
    async def list(self) -> list[StaffAccount]: ...

    @abc.abstractmethod
    async def add(self, account: StaffAccount) -> None:
        """Raises AccountExists."""

    @abc.abstractmethod
    async def save(self, account: StaffAccount) -> None: ...


class SessionRepository(abc.ABC):
    @abc.abstractmethod
    async def add(self, session: StaffSession) -> None: ...

    @abc.abstractmethod
    async def open_for(self, username: str, now: datetime) -> list[StaffSession]:
        """The user's sessions not ended and whose tokens have not expired."""

    @abc.abstractmethod
    async def save(self, session: StaffSession) -> None: ...


class FailureRepository(abc.ABC):
    @abc.abstractmethod
    async def get(self, username: str) -> SignInFailures | None: ...

    @abc.abstractmethod
    async def for_update(self, username: str) -> SignInFailures:
        """The user name's record, made if missing and locked for this transaction (failures counted at once from
        many places are all counted)."""

    @abc.abstractmethod
    async def save(self, failures: SignInFailures) -> None: ...

    @abc.abstractmethod
    async def clear(self, username: str) -> None: ...


class AccountsUnitOfWork(UnitOfWork):
    accounts: AccountRepository
    sessions: SessionRepository
    failures: FailureRepository
    publishes: ClassVar[tuple[type[Event], ...] | None] = (StaffSessionsEnded,)

    @abc.abstractmethod
    async def record_ended(self, event: StaffSessionsEnded) -> None:
        """Record the ended sessions where intake's own token checks look (its ended_sessions table)."""


AccountsUnitOfWorkFactory = Callable[[], AccountsUnitOfWork]
SessionsEnded = Callable[[list[uuid.UUID]], None]
"""Told of sessions ended here, after the commit: this process refuses their tokens at once."""


async def sign_in(
    username: str,
    password: str,
    *,
    unit_of_work: AccountsUnitOfWorkFactory,
    issuer: TokenIssuer,
    lockout: LockoutPolicy,
    now: datetime | None = None,
    clock: Clock = system_clock,
) -> IssuedToken:
    now = now or clock()
    async with unit_of_work() as uow:
        failures = await uow.failures.get(username)
        if failures is not None and (wait := failures.locked_for(now)) is not None:
            log.warning("sign_in_locked", username=username[:64], retry_after_s=int(wait.total_seconds()))
            raise SignInLocked(wait)
        account = await uow.accounts.get(username)
    stored_hash = account.password_hash if account else None
    # Checked even for an unknown user (against a decoy hash), so timing does not tell which names exist.
    matches = await asyncio.to_thread(password_matches, stored_hash, password)
    if account is None or not matches or not account.active:
        async with unit_of_work() as uow:
            failures = await uow.failures.for_update(username)
            failures.failed(now, lockout)
            await uow.failures.save(failures)
            await uow.commit()
        log.info("sign_in_refused", username=username[:64], locked=failures.locked_for(now) is not None)
        raise SignInRefused
    rehashed = await asyncio.to_thread(hash_password, password) if needs_rehash(account.password_hash) else None
    session = StaffSession.start(account.username, now=now, lifetime=issuer.lifetime)
    async with unit_of_work() as uow:
        await uow.failures.clear(account.username)
        await uow.sessions.add(session)
        if rehashed is not None:
            account.password_hash = rehashed
            await uow.accounts.save(account)
        await uow.commit()
    log.info("signed_in", username=account.username, role=account.role.value, session_id=str(session.id))
    return issuer.issue(account.principal(), session_id=session.id, now=now)


async def sign_out(principal: Principal, *, uow: AccountsUnitOfWork, ended: SessionsEnded | None = None) -> None:
    """End the session of the token presented: it and every copy of it are refused from now on."""
    if principal.session_id is None:
        return
    async with uow:
        ids = await _end_sessions(uow, principal.username, reason="signed_out", only=uuid.UUID(principal.session_id))
        await uow.commit()
    _tell(ended, ids)


async def create_account(
    *,
    username: str,
    full_name: str,
    role: Role,
    kecamatan_code: str | None,
    password: str,
    uow: AccountsUnitOfWork,
) -> StaffAccount:
    check_new_account(username, role, kecamatan_code)
    problem = password_problem(password, username)
    if problem:
        raise AccountRefused("weak_password", f"Choose another password: {problem}.")
    account = StaffAccount(
        username=username,
        full_name=full_name,
        role=role,
        kecamatan_code=kecamatan_code,
        password_hash=await asyncio.to_thread(hash_password, password),
    )
    async with uow:
        await uow.accounts.add(account)
        await uow.commit()
    log.info("account_created", username=username, role=role.value)
    return account


async def list_accounts(*, uow: AccountsUnitOfWork) -> list[StaffAccount]:
    async with uow:
        return await uow.accounts.list()


async def set_password(
    username: str, password: str, *, uow: AccountsUnitOfWork, ended: SessionsEnded | None = None
) -> StaffAccount:
    """A new password ends every session of the account: whoever held its tokens must sign in again."""
    problem = password_problem(password, username)
    if problem:
        raise AccountRefused("weak_password", f"Choose another password: {problem}.")
    password_hash = await asyncio.to_thread(hash_password, password)
    async with uow:
        account = await _existing(uow, username)
        account.password_hash = password_hash
        account.password_changed_at = system_clock()
        await uow.accounts.save(account)
        ids = await _end_sessions(uow, username, reason="password_changed")
        await uow.commit()
    _tell(ended, ids)
    log.info("password_changed", username=username, sessions_ended=len(ids))
    return account


async def set_active(
    username: str, active: bool, *, uow: AccountsUnitOfWork, ended: SessionsEnded | None = None
) -> StaffAccount:
    """A deactivated account cannot sign in, and the tokens it holds are refused everywhere within seconds."""
    async with uow:
        account = await _existing(uow, username)
        account.active = active
        await uow.accounts.save(account)
        ids = [] if active else await _end_sessions(uow, username, reason="deactivated")
        await uow.commit()
    _tell(ended, ids)
    log.info("account_activated" if active else "account_deactivated", username=username, sessions_ended=len(ids))
    return account


async def add_development_accounts(*, unit_of_work: AccountsUnitOfWorkFactory) -> int:
    """For `make run` only (never with ENVIRONMENT=production): one account per role, password
    `development-only-password`. Accounts already there are left as they are."""
    added = 0
    for username, full_name, role, kecamatan in DEVELOPMENT_ACCOUNTS:
        async with unit_of_work() as uow:
            if await uow.accounts.get(username) is not None:
                continue
        account = StaffAccount(
            username=username,
            full_name=full_name,
            role=role,
            kecamatan_code=kecamatan,
            password_hash=await asyncio.to_thread(hash_password, DEVELOPMENT_PASSWORD),
        )
        try:
            async with unit_of_work() as uow:
                await uow.accounts.add(account)
                await uow.commit()
            added += 1
        except AccountExists:  # another replica added it meanwhile
            pass
    return added


async def _end_sessions(
    uow: AccountsUnitOfWork, username: str, *, reason: str, only: uuid.UUID | None = None, clock: Clock = system_clock
) -> list[uuid.UUID]:
    now = clock()
    sessions = [s for s in await uow.sessions.open_for(username, now) if only is None or s.id == only]
    if not sessions:
        return []
    for session in sessions:
        session.end(reason, now)
        await uow.sessions.save(session)
    event = StaffSessionsEnded(
        username=username,
        session_ids=[session.id for session in sessions],
        reason=reason,  # type: ignore[arg-type]
        ended_at=now,
        tokens_expire_by=max(session.expires_at for session in sessions),
    )
    await uow.record_ended(event)
    await uow.outbox.add(event)
    return event.session_ids


def _tell(ended: SessionsEnded | None, ids: list[uuid.UUID]) -> None:
    if ended is not None and ids:
        ended(ids)


async def _existing(uow: AccountsUnitOfWork, username: str) -> StaffAccount:
    account = await uow.accounts.get(username)
    if account is None:
        raise AccountNotFound(username)
    return account
