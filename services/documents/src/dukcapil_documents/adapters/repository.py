import uuid

from sqlalchemy import ColumnElement, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection

from dukcapil_documents.adapters import tables
from dukcapil_documents.domain.model import Document
from dukcapil_documents.service_layer.unit_of_work import DocumentRepository, DocumentsUnitOfWork
from dukcapil_shared.db import as_utc, next_in_sequence
from dukcapil_shared.messaging import SqlUnitOfWork


class SqlDocumentRepository(DocumentRepository):
    def __init__(self, connection: AsyncConnection) -> None:
        self._connection = connection

    async def add(self, document: Document) -> None:
        await self._connection.execute(
            insert(tables.documents).values(
                id=str(document.id),
                request_id=str(document.request_id),
                request_number=document.request_number,
                type=document.type,
                number=document.number,
                holder=document.holder,
                details=document.details,
                kecamatan_code=document.kecamatan_code,
                verification_token=document.verification_token,
                checksum_sha256=document.checksum_sha256,
                storage_key=document.storage_key,
                issued_at=document.issued_at,
            )
        )

    async def get(self, document_id: uuid.UUID) -> Document | None:
        return await self._one(tables.documents.c.id == str(document_id))

    async def for_request(self, request_id: uuid.UUID) -> Document | None:
        return await self._one(tables.documents.c.request_id == str(request_id))

    async def by_verification_token(self, token: str) -> Document | None:
        return await self._one(tables.documents.c.verification_token == token)

    async def next_sequence(self, type_code: str, year: int) -> int:
        return await next_in_sequence(self._connection, tables.document_counters, type_code=type_code, year=year)

    async def _one(self, condition: ColumnElement[bool]) -> Document | None:
        row = (await self._connection.execute(select(tables.documents).where(condition))).one_or_none()
        return _to_document(row) if row is not None else None


class SqlDocumentsUnitOfWork(SqlUnitOfWork, DocumentsUnitOfWork):
    def bind(self, connection: AsyncConnection) -> None:
        self.documents = SqlDocumentRepository(connection)


def _to_document(row) -> Document:  # type: ignore[no-untyped-def]
    return Document(
        id=uuid.UUID(row.id),
        request_id=uuid.UUID(row.request_id),
        request_number=row.request_number,
        type=row.type,
        number=row.number,
        holder=row.holder,
        details=row.details,
        kecamatan_code=row.kecamatan_code,
        verification_token=row.verification_token,
        storage_key=row.storage_key,
        issued_at=as_utc(row.issued_at),
        checksum_sha256=row.checksum_sha256,
    )
