"""Staff accounts, their sessions and failed sign-ins in intake's database."""

import uuid
from datetime import datetime

from sqlalchemy import delete, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from dukcapil_intake.accounts.adapters import tables
from dukcapil_intake.accounts.domain.accounts import SignInFailures, StaffAccount, StaffSession
from dukcapil_intake.accounts.service_layer.accounts import (
    AccountExists,
    AccountRepository,
    AccountsUnitOfWork,
    FailureRepository,
    SessionRepository,
)
from dukcapil_shared.auth.roles import Role
from dukcapil_shared.auth.sessions import record_ended
from dukcapil_shared.contracts import StaffSessionsEnded
from dukcapil_shared.db import as_utc
from dukcapil_shared.messaging import SqlUnitOfWork

_accounts = tables.staff_accounts
_sessions = tables.staff_sessions
_failures = tables.sign_in_failures


class SqlAccountRepository(AccountRepository):
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def get(self, username: str) -> StaffAccount | None:
        row = (await self._connection.execute(select(_accounts).where(_accounts.c.username == username))).mappings()
        found = row.first()
        return _account(found) if found else None

    async def list(self) -> list[StaffAccount]:
        rows = (await self._connection.execute(select(_accounts).order_by(_accounts.c.username))).mappings()
        return [_account(row) for row in rows]

    async def add(self, account: StaffAccount) -> None:
        try:
            async with self._connection.begin_nested():
                await self._connection.execute(insert(_accounts).values(**_values(account)))
        except IntegrityError:
            raise AccountExists(account.username) from None

    async def save(self, account: StaffAccount) -> None:
        values = _values(account)
        del values["username"]
        query = update(_accounts).where(_accounts.c.username == account.username)
        await self._connection.execute(query.values(**values))


class SqlSessionRepository(SessionRepository):
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, session: StaffSession) -> None:
        await self._connection.execute(insert(_sessions).values(**_session_values(session)))

    async def open_for(self, username: str, now: datetime) -> list[StaffSession]:
        query = select(_sessions).where(
            _sessions.c.username == username, _sessions.c.ended_at.is_(None), _sessions.c.expires_at > now
        )
        return [_session(row) for row in (await self._connection.execute(query)).mappings()]

    async def save(self, session: StaffSession) -> None:
        await self._connection.execute(
            update(_sessions).where(_sessions.c.id == str(session.id)).values(**_session_values(session))
        )


class SqlFailureRepository(FailureRepository):
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def get(self, username: str) -> SignInFailures | None:
        row = (await self._connection.execute(select(_failures).where(_failures.c.username == username))).mappings()
        found = row.first()
        return _failure(found) if found else None

    async def for_update(self, username: str) -> SignInFailures:
        dialect = postgresql if self._connection.dialect.name == "postgresql" else sqlite
        await self._connection.execute(
            dialect.insert(_failures)
            .values(username=username, failures=0, lockouts=0, last_failure_at=datetime.now().astimezone())
            .on_conflict_do_nothing(index_elements=[_failures.c.username])
        )
        query = select(_failures).where(_failures.c.username == username).with_for_update()
        return _failure((await self._connection.execute(query)).mappings().one())

    async def save(self, failures: SignInFailures) -> None:
        await self._connection.execute(
            update(_failures)
            .where(_failures.c.username == failures.username)
            .values(
                failures=failures.failures,
                lockouts=failures.lockouts,
                locked_until=failures.locked_until,
                last_failure_at=failures.last_failure_at,
            )
        )

    async def clear(self, username: str) -> None:
        await self._connection.execute(delete(_failures).where(_failures.c.username == username))


class SqlAccountsUnitOfWork(SqlUnitOfWork, AccountsUnitOfWork):
    def bind(self, connection: AsyncConnection) -> None:
        self._bound = connection
        self.accounts = SqlAccountRepository(connection)
        self.sessions = SqlSessionRepository(connection)
        self.failures = SqlFailureRepository(connection)

    async def record_ended(self, event: StaffSessionsEnded) -> None:
        await record_ended(
            self._bound,
            username=event.username,
            session_ids=event.session_ids,
            ended_at=event.ended_at,
            expires_at=event.tokens_expire_by,
        )


def _values(account: StaffAccount) -> dict[str, object]:
    return {
        "username": account.username,
        "full_name": account.full_name,
        "role": account.role.value,
        "kecamatan_code": account.kecamatan_code,
        "password_hash": account.password_hash,
        "active": account.active,
        "created_at": account.created_at,
        "password_changed_at": account.password_changed_at,
    }


def _account(row: RowMapping) -> StaffAccount:
    return StaffAccount(
        username=row["username"],
        full_name=row["full_name"],
        role=Role(row["role"]),
        kecamatan_code=row["kecamatan_code"],
        password_hash=row["password_hash"],
        active=bool(row["active"]),
        created_at=as_utc(row["created_at"]),
        password_changed_at=as_utc(row["password_changed_at"]),
    )


def _session_values(session: StaffSession) -> dict[str, object]:
    return {
        "id": str(session.id),
        "username": session.username,
        "started_at": session.started_at,
        "expires_at": session.expires_at,
        "ended_at": session.ended_at,
        "end_reason": session.end_reason,
    }


def _session(row: RowMapping) -> StaffSession:
    return StaffSession(
        id=uuid.UUID(row["id"]),
        username=row["username"],
        started_at=as_utc(row["started_at"]),
        expires_at=as_utc(row["expires_at"]),
        ended_at=as_utc(row["ended_at"]) if row["ended_at"] else None,
        end_reason=row["end_reason"],
    )


def _failure(row: RowMapping) -> SignInFailures:
    return SignInFailures(
        username=row["username"],
        failures=row["failures"],
        lockouts=row["lockouts"],
        locked_until=as_utc(row["locked_until"]) if row["locked_until"] else None,
        last_failure_at=as_utc(row["last_failure_at"]) if row["last_failure_at"] else None,
    )
