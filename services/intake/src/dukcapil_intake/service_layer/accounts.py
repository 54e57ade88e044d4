"""Signing in and managing staff accounts. Password hashing is slow on purpose (argon2), so it runs in a
worker thread, away from the event loop that serves everyone else."""

import abc
import asyncio
from datetime import UTC, datetime

import structlog

from dukcapil_intake.domain.accounts import AccountRefused, StaffAccount, check_new_account
from dukcapil_shared.auth import IssuedToken, Role, TokenIssuer
from dukcapil_shared.auth.passwords import hash_password, needs_rehash, password_matches, password_problem

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


class AccountExists(Exception):
    pass


class AccountNotFound(Exception):
    pass


class SignInRefused(Exception):
    """Wrong user name or password, or a deactivated account: the caller is not told which."""


class AccountStore(abc.ABC):
    @abc.abstractmethod
    async def get(self, username: str) -> StaffAccount | None: ...

    @abc.abstractmethod
    async def list(self) -> list[StaffAccount]: ...

    @abc.abstractmethod
    async def add(self, account: StaffAccount) -> None: ...

    @abc.abstractmethod
    async def save(self, account: StaffAccount) -> None: ...


async def sign_in(username: str, password: str, *, accounts: AccountStore, issuer: TokenIssuer) -> IssuedToken:
    account = await accounts.get(username)
    stored_hash = account.password_hash if account else None
    # Checked even for an unknown user (against a decoy hash), so timing does not tell which names exist.
    matches = await asyncio.to_thread(password_matches, stored_hash, password)
    if account is None or not matches or not account.active:
        log.info("sign_in_refused", username=username[:64])
        raise SignInRefused
    if needs_rehash(account.password_hash):
        account.password_hash = await asyncio.to_thread(hash_password, password)
        await accounts.save(account)
    log.info("signed_in", username=account.username, role=account.role.value)
    return issuer.issue(account.principal())


async def create_account(
    *,
    username: str,
    full_name: str,
    role: Role,
    kecamatan_code: str | None,
    password: str,
    accounts: AccountStore,
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
    await accounts.add(account)
    log.info("account_created", username=username, role=role.value)
    return account


async def set_password(username: str, password: str, *, accounts: AccountStore) -> StaffAccount:
    account = await _existing(username, accounts)
    problem = password_problem(password, username)
    if problem:
        raise AccountRefused("weak_password", f"Choose another password: {problem}.")
    account.password_hash = await asyncio.to_thread(hash_password, password)
    account.password_changed_at = datetime.now(UTC)
    await accounts.save(account)
    log.info("password_changed", username=username)
    return account


async def set_active(username: str, active: bool, *, accounts: AccountStore) -> StaffAccount:
    """Deactivated accounts cannot sign in; tokens already issued run out within their lifetime."""
    account = await _existing(username, accounts)
    account.active = active
    await accounts.save(account)
    log.info("account_activated" if active else "account_deactivated", username=username)
    return account


async def add_development_accounts(*, accounts: AccountStore) -> int:
    """For `make run` only (never with ENVIRONMENT=production): one account per role, password
    `development-only-password`. Accounts already there are left as they are."""
    added = 0
    for username, full_name, role, kecamatan in DEVELOPMENT_ACCOUNTS:
        if await accounts.get(username) is None:
            account = StaffAccount(
                username=username,
                full_name=full_name,
                role=role,
                kecamatan_code=kecamatan,
                password_hash=await asyncio.to_thread(hash_password, DEVELOPMENT_PASSWORD),
            )
            try:
                await accounts.add(account)
                added += 1
            except AccountExists:  # another replica added it meanwhile
                pass
    return added


async def _existing(username: str, accounts: AccountStore) -> StaffAccount:
    account = await accounts.get(username)
    if account is None:
        raise AccountNotFound(username)
    return account
