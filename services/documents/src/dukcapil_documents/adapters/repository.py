import functools
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    DateTime,
    Integer,
    Select,
    String,
    bindparam,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from dukcapil_documents.adapters import tables
from dukcapil_documents.domain.model import (
    Document,
    DocumentKind,
    DocumentStatus,
    NumberReservation,
    document_kind,
    issue_year,
)
from dukcapil_documents.service_layer.unit_of_work import (
    DocumentRepository,
    DocumentsUnitOfWork,
    NumberAlreadyReserved,
    NumberState,
)
from dukcapil_shared.contracts import Delivery, Person
from dukcapil_shared.contracts.details import details_json, typed_details
from dukcapil_shared.db import as_utc, new_values, next_in_sequence, taking_next_in_sequence
from dukcapil_shared.messaging import SqlUnitOfWork
from dukcapil_shared.messaging.unit_of_work import Pending, SqlOutbox, take_pending, with_pending

_documents = tables.documents
_reservations = tables.number_reservations


class SqlDocumentRepository(DocumentRepository):
    def __init__(self, connection: AsyncConnection, outbox: SqlOutbox | None = None) -> None:
        """`outbox`: the unit of work's; on PostgreSQL the events added to it before a document issued under its
        reservation is stored are written in the statement that stores it."""
        self._connection = connection
        self._outbox = outbox

    async def add(self, document: Document) -> None:
        await self._connection.execute(_ADDING, _row(document))

    async def get(self, document_id: uuid.UUID) -> Document | None:
        return await self._one(_documents.c.id == str(document_id))

    async def for_request(self, request_id: uuid.UUID) -> list[Document]:
        rows = await self._connection.execute(_FOR_REQUEST, {"documents_of": str(request_id)})
        return [_to_document(row) for row in rows]

    async def by_verification_token(self, token: str) -> Document | None:
        return await self._one(_documents.c.verification_token == token)

    async def by_checksum(self, checksum_sha256: str) -> Document | None:
        row = (
            await self._connection.execute(
                select(_documents).where(_documents.c.checksum_sha256 == checksum_sha256).limit(1)
            )
        ).one_or_none()
        return _to_document(row) if row is not None else None

    async def next_sequence(self, type_code: str, year: int) -> int:
        return await next_in_sequence(self._connection, tables.document_counters, type_code=type_code, year=year)

    async def number_state(self, request_id: uuid.UUID) -> NumberState:
        row = (await self._connection.execute(_NUMBER_STATE, {"number_of": str(request_id)})).one()
        return _number_state_of(request_id, row)

    async def reserve_unless_taken(self, request_id: uuid.UUID, kind: DocumentKind, at: datetime) -> NumberState:
        if self._connection.dialect.name != "postgresql":
            return await super().reserve_unless_taken(request_id, kind, at)
        # The state, and the number taken and reserved only if the state leaves it free, in one round trip. Under
        # a concurrent delivery of the same approval, both see the number free; the second waits for the
        # counter's row lock, then its reservation meets the first one's and inserts nothing: it raises, and its
        # rolled-back transaction gives the number back, as with reserve_number.
        parameters = {
            "reserving_for": str(request_id),
            "reserving_type": kind.request_type,
            "reserving_code": kind.code,
            "reserving_year": issue_year(at),
            "reserving_at": at,
        }
        row = (await self._connection.execute(_RESERVING_UNLESS_TAKEN, parameters)).one()
        state = _number_state_of(request_id, row)
        if state.issued or state.reservation is not None:
            return state
        if row.reserved_sequence is None:
            raise NumberAlreadyReserved(str(request_id))
        reservation = NumberReservation(
            request_id=request_id, kind=kind, year=issue_year(at), sequence=row.reserved_sequence, reserved_at=at
        )
        return NumberState(issued=False, reservation=reservation)

    async def reserve_number(self, request_id: uuid.UUID, kind: DocumentKind, at: datetime) -> NumberReservation:
        # The counter's row lock comes first: a second delivery of the same approval waits here, then finds the
        # first one's reservation and takes nothing (its rolled-back transaction gives the number back).
        year = issue_year(at)
        values = {"request_id": str(request_id), "request_type": kind.request_type, "year": year, "reserved_at": at}
        if self._connection.dialect.name == "postgresql":
            # The number taken and reserved in one statement (SQLite has no INSERT inside WITH).
            taken = taking_next_in_sequence(
                self._connection, tables.document_counters, type_code=kind.code, year=year
            ).cte("taken")
            given = (literal(value, _reservations.c[name].type) for name, value in values.items())
            reserving = postgresql.insert(_reservations).from_select(
                [*values, "sequence"], select(*given, taken.c.last_value)
            )
        else:
            sequence = await self.next_sequence(kind.code, year)
            reserving = sqlite.insert(_reservations).values(**values, sequence=sequence)
        reserved = await self._connection.execute(
            reserving.on_conflict_do_nothing(index_elements=[_reservations.c.request_id]).returning(
                _reservations.c.sequence
            )
        )
        sequence = reserved.scalar_one_or_none()
        if sequence is None:
            raise NumberAlreadyReserved(str(request_id))
        return NumberReservation(request_id=request_id, kind=kind, year=year, sequence=sequence, reserved_at=at)

    async def release_reservation(self, request_id: uuid.UUID) -> None:
        await self._connection.execute(_RELEASING, {"released_for": str(request_id)})

    async def add_reserved(self, document: Document) -> None:
        if self._connection.dialect.name != "postgresql":
            await super().add_reserved(document)
            return
        # The reservation's release and the events added so far as CTEs of the insert: one round trip (SQLite has no
        # DELETE inside WITH).
        row = _row(document)
        parameters = {f"new_{name}": value for name, value in row.items()}
        parameters["released_for"] = str(document.request_id)
        await self._connection.execute(_adding_reserved(tuple(row), take_pending(self._outbox, parameters)), parameters)

    async def save_revocation(self, document: Document) -> bool:
        # Compare-and-set on the status: of two operators revoking at once, the second updates nothing.
        result = await self._connection.execute(
            update(_documents)
            .where(_documents.c.id == str(document.id), _documents.c.status == DocumentStatus.valid.value)
            .values(
                status=document.status.value,
                revoked_at=document.revoked_at,
                revoked_by=document.revoked_by,
                revocation_recorded_by=document.revocation_recorded_by,
                revocation_reason=document.revocation_reason,
                superseded_by=str(document.superseded_by) if document.superseded_by else None,
            )
        )
        return result.rowcount == 1

    async def count_verification(self, document_id: uuid.UUID, at: datetime) -> int:
        result = await self._connection.execute(
            update(_documents)
            .where(_documents.c.id == str(document_id))
            .values(verification_count=_documents.c.verification_count + 1, last_verified_at=at)
            .returning(_documents.c.verification_count)
        )
        return result.scalar_one()

    async def _one(self, condition: ColumnElement[bool]) -> Document | None:
        row = (await self._connection.execute(select(_documents).where(condition))).one_or_none()
        return _to_document(row) if row is not None else None


def _row(document: Document) -> dict[str, Any]:
    return {
        "id": str(document.id),
        "request_id": str(document.request_id),
        "request_number": document.request_number,
        "type": document.type,
        "number": document.number,
        "holder": document.holder.model_dump(mode="json"),
        "details": details_json(document.details),
        "kecamatan_code": document.kecamatan_code,
        "verification_token": document.verification_token,
        "checksum_sha256": document.checksum_sha256,
        "storage_key": document.storage_key,
        "issued_at": document.issued_at,
        "delivery": document.delivery.model_dump(mode="json") if document.delivery else None,
        "signature": document.signature,
        "signing_key_id": document.signing_key_id,
        "status": document.status.value,
        "supersedes": str(document.supersedes) if document.supersedes else None,
        "verification_count": document.verification_count,
    }


def _number_state_of(request_id: uuid.UUID, row: Any) -> NumberState:
    if row.request_id is None:
        return NumberState(issued=bool(row.issued), reservation=None)
    reservation = NumberReservation(
        request_id=request_id,
        kind=document_kind(row.request_type),
        year=row.year,
        sequence=row.sequence,
        reserved_at=as_utc(row.reserved_at),
    )
    return NumberState(issued=bool(row.issued), reservation=reservation)


def _number_state(request_id: BindParameter[str]) -> Select[Any]:
    """Whether the request has a document, and its reservation if any, in one row: the reservation joined to a row
    of its own, so that there is a row whether or not there is a reservation."""
    issued = exists().where(_documents.c.request_id == request_id).label("issued")
    anchor = select(literal(1).label("anchor")).subquery()
    return select(issued, _reservations).select_from(
        anchor.outerjoin(_reservations, _reservations.c.request_id == request_id)
    )


def _reserving_unless_taken() -> Select[Any]:
    """PostgreSQL: `_number_state`'s row for `reserving_for`, plus `reserved_sequence`, the number taken and reserved
    now, only when the request had neither a document nor a reservation (else, or when a concurrent reservation
    came first, null)."""
    request_id = bindparam("reserving_for", type_=String)
    year = bindparam("reserving_year", type_=Integer)
    counters = tables.document_counters
    free = ~exists().where(_documents.c.request_id == request_id) & ~exists().where(
        _reservations.c.request_id == request_id
    )
    taken = (
        postgresql.insert(counters)
        .from_select(
            ["type_code", "year", "last_value"],
            select(bindparam("reserving_code", type_=String), year, literal(1)).where(free),
        )
        .on_conflict_do_update(
            index_elements=[counters.c.type_code, counters.c.year], set_={"last_value": counters.c.last_value + 1}
        )
        .returning(counters.c.last_value)
        .cte("taken")
    )
    reserved = (
        postgresql.insert(_reservations)
        .from_select(
            ["request_id", "request_type", "year", "reserved_at", "sequence"],
            select(
                request_id,
                bindparam("reserving_type", type_=String),
                year,
                bindparam("reserving_at", type_=DateTime(timezone=True)),
                taken.c.last_value,
            ),
        )
        .on_conflict_do_nothing(index_elements=[_reservations.c.request_id])
        .returning(_reservations.c.sequence)
        .cte("reserved")
    )
    return _number_state(request_id).add_columns(
        select(func.max(reserved.c.sequence)).scalar_subquery().label("reserved_sequence")
    )


# The statements run for every document are built once and executed with parameters: SQLAlchemy then neither
# builds them nor works out their cache keys each time (see dukcapil_shared.messaging.unit_of_work).
_ADDING = insert(_documents)
_FOR_REQUEST = (
    select(_documents)
    .where(_documents.c.request_id == bindparam("documents_of"))
    .order_by(_documents.c.issued_at, _documents.c.number)
)
_NUMBER_STATE = _number_state(bindparam("number_of", type_=String))
_RELEASING = delete(_reservations).where(_reservations.c.request_id == bindparam("released_for"))
_RESERVING_UNLESS_TAKEN = _reserving_unless_taken()


@functools.cache
def _adding_reserved(columns: tuple[str, ...], pending: Pending) -> Select[Any]:
    """PostgreSQL: a document issued under its reservation (its `columns`, each a parameter `new_<name>`), the
    reservation's release and what the unit of work writes with it (`SqlOutbox.take_pending`) in one
    statement."""
    added = insert(_documents).values(new_values(_documents, columns)).returning(_documents.c.id).cte("added")
    statement = select(func.count()).select_from(added).add_cte(_RELEASING.cte("released"))
    return with_pending(statement, added, pending)


class SqlDocumentsUnitOfWork(SqlUnitOfWork, DocumentsUnitOfWork):
    def bind(self, connection: AsyncConnection) -> None:
        self.documents = SqlDocumentRepository(connection, self.outbox)


def _to_document(row) -> Document:  # type: ignore[no-untyped-def]
    return Document(
        id=uuid.UUID(row.id),
        request_id=uuid.UUID(row.request_id),
        request_number=row.request_number,
        type=row.type,
        number=row.number,
        holder=Person.model_validate(row.holder),
        details=typed_details(row.details, row.type),
        kecamatan_code=row.kecamatan_code,
        verification_token=row.verification_token,
        storage_key=row.storage_key,
        issued_at=as_utc(row.issued_at),
        checksum_sha256=row.checksum_sha256,
        delivery=Delivery.model_validate(row.delivery) if row.delivery else None,
        signature=row.signature,
        signing_key_id=row.signing_key_id,
        status=DocumentStatus(row.status),
        revoked_at=as_utc(row.revoked_at) if row.revoked_at else None,
        revoked_by=row.revoked_by,
        revocation_recorded_by=row.revocation_recorded_by,
        revocation_reason=row.revocation_reason,
        superseded_by=uuid.UUID(row.superseded_by) if row.superseded_by else None,
        supersedes=uuid.UUID(row.supersedes) if row.supersedes else None,
        verification_count=row.verification_count,
    )
