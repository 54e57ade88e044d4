"""What every feature's SQL unit of work shares: it opens and commits its own transaction (SqlUnitOfWork), or joins
one another feature's unit of work opened, for the handlers the dispatcher runs in that transaction
(dispatch.py)."""

from typing import Self

from sqlalchemy.ext.asyncio import AsyncConnection

from dukcapil_shared.messaging import SqlUnitOfWork


class SqlFeatureUnitOfWork(SqlUnitOfWork):
    @classmethod
    def joining(cls, connection: AsyncConnection) -> Self:
        """The feature's repositories on `connection`, inside the transaction its owner opened: the owner commits
        or rolls back, never this one (it has no transaction of its own to end)."""
        joined = cls.__new__(cls)
        joined._connection = None
        joined.bind(connection)
        return joined
