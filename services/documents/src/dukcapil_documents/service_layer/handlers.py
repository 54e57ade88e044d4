"""Documents' use cases: issue one document per approved request, hand it out, and let anyone verify it."""

import uuid
from datetime import UTC, datetime

import structlog

from dukcapil_documents.domain.model import (
    Document,
    UnsupportedDocumentType,
    Verification,
    document_kind,
    document_number,
    issue_year,
    new_verification_token,
    verification_url,
)
from dukcapil_documents.service_layer.ports import DocumentRenderer, DocumentStorage
from dukcapil_documents.service_layer.unit_of_work import DocumentsUnitOfWork
from dukcapil_shared.contracts import DocumentIssued, Envelope, RequestApproved
from dukcapil_shared.messaging import PermanentFailure

log = structlog.get_logger(__name__)


class DocumentNotFound(Exception):
    pass


class UnknownVerificationToken(Exception):
    pass


class DocumentFileUnavailable(Exception):
    """The document exists but its stored file is missing or no longer matches its checksum."""


async def issue_document(
    uow: DocumentsUnitOfWork,
    event: RequestApproved,
    envelope: Envelope,
    *,
    renderer: DocumentRenderer,
    storage: DocumentStorage,
    public_base_url: str,
) -> None:
    """Consumer handler: render, number and store the request's document, and announce it (once per request)."""
    if await uow.documents.for_request(event.request_id) is not None:
        log.info("document_already_issued", request_id=str(event.request_id))
        return
    try:
        kind = document_kind(event.request_type.value)
    except UnsupportedDocumentType as error:
        raise PermanentFailure(str(error)) from error
    issued_at = datetime.now(UTC)
    year = issue_year(issued_at)
    document = Document(
        id=uuid.uuid4(),
        request_id=event.request_id,
        request_number=event.request_number,
        type=kind.request_type,
        number=document_number(kind, year, await uow.documents.next_sequence(kind.code, year)),
        holder=event.applicant.model_dump(mode="json"),
        details=event.details,
        kecamatan_code=event.kecamatan_code,
        verification_token=new_verification_token(),
        # Named by request, not by document: a retry after a crash overwrites its own orphan file.
        storage_key=f"{event.request_id}.pdf",
        issued_at=issued_at,
    )
    content = await renderer.render(
        document, verification_url=verification_url(public_base_url, document.verification_token)
    )
    document.seal(content)
    # The row goes in before the file: a concurrent issue for the same request fails on the row's unique key
    # here, and so never overwrites the file of the document that wins.
    await uow.documents.add(document)
    await storage.save(document.storage_key, content)
    await uow.outbox.add(
        DocumentIssued(
            request_id=document.request_id,
            document_id=document.id,
            document_number=document.number,
            request_type=event.request_type,
            checksum_sha256=document.checksum_sha256,
            applicant=event.applicant,
            delivery=event.delivery,
            kecamatan_code=event.kecamatan_code,
        ),
        traceparent=envelope.traceparent,
    )


async def get_document(document_id: uuid.UUID, *, uow: DocumentsUnitOfWork) -> Document:
    async with uow:
        return await _load(uow, document_id)


async def list_documents(request_id: uuid.UUID, *, uow: DocumentsUnitOfWork) -> list[Document]:
    async with uow:
        document = await uow.documents.for_request(request_id)
    return [document] if document is not None else []


async def get_document_file(
    document_id: uuid.UUID, *, uow: DocumentsUnitOfWork, storage: DocumentStorage
) -> tuple[Document, bytes]:
    """The document's PDF, exactly as issued: a file that no longer matches its checksum is not handed out."""
    async with uow:
        document = await _load(uow, document_id)
    content = await storage.load(document.storage_key)
    if content is None or not document.matches(content):
        problem = "is missing" if content is None else "does not match its checksum"
        log.error("document_file_unavailable", document_id=str(document.id), problem=problem)
        raise DocumentFileUnavailable(f"the file of document {document.number} {problem}")
    return document, content


async def verify_document(token: str, *, uow: DocumentsUnitOfWork) -> Verification:
    async with uow:
        document = await uow.documents.by_verification_token(token)
    if document is None:
        raise UnknownVerificationToken(token)
    return document.verification()


async def _load(uow: DocumentsUnitOfWork, document_id: uuid.UUID) -> Document:
    document = await uow.documents.get(document_id)
    if document is None:
        raise DocumentNotFound(str(document_id))
    return document
