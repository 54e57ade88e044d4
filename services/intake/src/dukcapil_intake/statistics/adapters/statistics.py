"""The office's figures in SQL: counts are grouped by the database; lead times need only the first event of each
milestone per request, which the database also finds (the percentiles are then computed in Python)."""

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from dukcapil_intake.requests.adapters import tables
from dukcapil_intake.statistics.domain.statistics import (
    MILESTONE_OF_EVENT,
    Dimension,
    GroupCount,
    RequestMilestones,
    StatisticsFilter,
)
from dukcapil_intake.statistics.service_layer.repository import StatisticsRepository
from dukcapil_shared.db import as_utc


class SqlStatisticsRepository(StatisticsRepository):
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def count_requests(self, where: StatisticsFilter, group_by: Sequence[Dimension]) -> list[GroupCount]:
        columns = tables.requests.c
        # The month is computed once in a subquery, so that grouping by it is grouping by a plain column.
        admitted = _admitted(
            select(
                columns.type.label(Dimension.type.value),
                columns.status.label(Dimension.status.value),
                columns.kecamatan_code.label(Dimension.kecamatan.value),
                _wib_month(columns.submitted_at, self._connection.dialect.name).label(Dimension.month.value),
            ),
            where,
        ).subquery()
        keys = [admitted.c[dimension.value] for dimension in group_by]
        statement = select(*keys, func.count().label("count")).select_from(admitted)
        if keys:
            statement = statement.group_by(*keys)
        rows = await self._connection.execute(statement)
        return [
            GroupCount(count=row.count, **{dimension.value: getattr(row, dimension.value) for dimension in group_by})
            for row in rows
        ]

    async def milestones(self, where: StatisticsFilter) -> list[RequestMilestones]:
        requests, history = tables.requests.c, tables.request_history.c
        statement = _admitted(
            select(requests.id, requests.submitted_at, history.event_type, func.min(history.occurred_at).label("at"))
            .select_from(
                tables.requests.outerjoin(
                    tables.request_history,
                    and_(history.request_id == requests.id, history.event_type.in_(sorted(MILESTONE_OF_EVENT))),
                )
            )
            .group_by(requests.id, requests.submitted_at, history.event_type),
            where,
        )
        submitted: dict[str, Any] = {}
        events: dict[str, list[tuple[str, Any]]] = {}
        for row in await self._connection.execute(statement):
            submitted[row.id] = as_utc(row.submitted_at)
            found = events.setdefault(row.id, [])
            if row.event_type is not None:
                found.append((row.event_type, as_utc(row.at)))
        return [
            RequestMilestones.of(uuid.UUID(request_id), submitted_at, events[request_id])
            for request_id, submitted_at in submitted.items()
        ]


def _admitted(statement: Select[Any], where: StatisticsFilter) -> Select[Any]:
    columns = tables.requests.c
    if where.request_type is not None:
        statement = statement.where(columns.type == where.request_type)
    if where.kecamatan_code is not None:
        statement = statement.where(columns.kecamatan_code == where.kecamatan_code)
    if where.submitted_from is not None:
        statement = statement.where(columns.submitted_at >= where.submitted_from)
    if where.submitted_before is not None:
        statement = statement.where(columns.submitted_at < where.submitted_before)
    return statement


def _wib_month(moment: ColumnElement[Any], dialect: str) -> ColumnElement[str]:
    """YYYY-MM of a stored UTC moment, on the office's clock (WIB, UTC+7 all year)."""
    if dialect == "postgresql":
        return func.to_char(func.timezone("Asia/Jakarta", moment), "YYYY-MM")
    # SQLite keeps the UTC moment as text without an offset.
    return func.strftime("%Y-%m", moment, "+7 hours")
