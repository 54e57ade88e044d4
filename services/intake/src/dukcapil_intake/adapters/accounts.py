"""Staff accounts in intake's database."""

from sqlalchemy import insert, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from dukcapil_intake.adapters import tables
from dukcapil_intake.domain.accounts import StaffAccount
from dukcapil_intake.service_layer.accounts import AccountExists, AccountStore
from dukcapil_shared.auth import Role
from dukcapil_shared.db import as_utc

_table = tables.staff_accounts


class SqlAccountStore(AccountStore):
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def get(self, username: str) -> StaffAccount | None:
        query = select(_table).where(_table.c.username == username)
        async with self._engine.connect() as connection:
            row = (await connection.execute(query)).mappings().first()
        return _account(row) if row else None

    async def list(self) -> list[StaffAccount]:
        async with self._engine.connect() as connection:
            rows = (await connection.execute(select(_table).order_by(_table.c.username))).mappings()
            return [_account(row) for row in rows]

    async def add(self, account: StaffAccount) -> None:
        try:
            async with self._engine.begin() as connection:
                await connection.execute(insert(_table).values(**_values(account)))
        except IntegrityError:
            raise AccountExists(account.username) from None

    async def save(self, account: StaffAccount) -> None:
        values = _values(account)
        del values["username"]
        async with self._engine.begin() as connection:
            await connection.execute(update(_table).where(_table.c.username == account.username).values(**values))


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
