"""Documents' use cases: issue one signed document per approved request, hand it to staff and its holder,
revoke or correct it on an approved decision, and let anyone verify it, by its QR code or the file in hand."""

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog

from dukcapil_documents.domain.model import (
    Document,
    DocumentKind,
    DocumentNotCurrent,
    FileVerification,
    NotAPdf,
    NumberReservation,
    UnsupportedDocumentType,
    Verification,
    document_kind,
    document_number,
    file_checksum,
    issue_year,
    looks_like_pdf,
    new_verification_token,
    verification_url,
)
from dukcapil_documents.service_layer.ports import DocumentRenderer, DocumentSigner, DocumentStorage, PdfSealer
from dukcapil_documents.service_layer.unit_of_work import DocumentsUnitOfWork, NumberAlreadyReserved
from dukcapil_shared.clock import Clock, system_clock
from dukcapil_shared.contracts import (
    Delivery,
    DeliveryMethod,
    DocumentIssued,
    DocumentRevoked,
    Envelope,
    Person,
    RequestApproved,
    RequestType,
)
from dukcapil_shared.messaging import PermanentFailure
from dukcapil_shared.refusals import Refusal, RefusalKind

log = structlog.get_logger(__name__)


class DocumentNotFound(Refusal):
    code = "document_not_found"
    kind = RefusalKind.not_found

    def __init__(self, document_id: str) -> None:
        super().__init__(f"No document with id {document_id}.")


class UnknownVerificationToken(Refusal):
    code = "unknown_document"
    message = (
        "This code does not belong to any document issued by Disdukcapil Kabupaten Lebak: the document may be forged."
    )
    message_id = "Kode ini tidak terdaftar: dokumen tidak diterbitkan oleh Disdukcapil Kabupaten Lebak."
    kind = RefusalKind.not_found

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token


class DocumentFileUnavailable(Refusal):
    """The document exists but its stored file is missing or no longer matches its checksum and signature."""

    code = "document_file_unavailable"
    kind = RefusalKind.internal

    def __init__(self, problem: str) -> None:
        super().__init__(f"{problem}; the error was logged for an operator to restore it.")


class NotTheHolder(Refusal):
    """The applicant asking for a document's file is not the person it was issued to."""

    code = "not_document_holder"
    message = "This download link is for another document."
    message_id = "Tautan ini untuk dokumen lain."
    kind = RefusalKind.forbidden

    def __init__(self, document_id: str) -> None:
        super().__init__()
        self.document_id = document_id


@dataclass(frozen=True)
class Reader:
    """Who asks for a document's file: staff, or the holder with a download grant for one document (both checked
    by the caller)."""

    staff: bool = False
    granted: uuid.UUID | None = None


@dataclass(frozen=True)
class Press:
    """What issuing a document takes besides the database: the renderer, the signatures (over the record, and
    inside the PDF) and the file store."""

    renderer: DocumentRenderer
    signer: DocumentSigner
    sealer: PdfSealer
    storage: DocumentStorage
    public_base_url: str


@dataclass(frozen=True)
class Draft:
    """A document rendered and signed before its transaction, under the number reserved for it."""

    document: Document
    content: bytes


DRAFT_ATTEMPTS = 3
"""Rounds of reserving a number before a draft gives up: another delivery of the same approval reserving at the same
moment costs one."""


async def draft_document(
    event: RequestApproved,
    envelope: Envelope,
    *,
    press: Press,
    unit_of_work: Callable[[], DocumentsUnitOfWork],
    clock: Clock = system_clock,
) -> Draft | None:
    """Consumer preparer, outside the transaction that issues the document: reserve the request's number (a short
    transaction of its own, the same number for every delivery of the approval), then render and sign the document
    under it, holding no lock. None when the request already has a document (a redelivery)."""
    kind = _kind(event)
    for attempt in range(1, DRAFT_ATTEMPTS + 1):
        try:
            reservation = await _reserve_number(event, kind, unit_of_work, clock())
            break
        except NumberAlreadyReserved:
            if attempt == DRAFT_ATTEMPTS:
                raise
    if reservation is None:
        return None
    document = _new_document(event, kind, reservation.reserved_at, reservation.sequence)
    return Draft(document=document, content=await _render_and_sign(document, press))


async def _reserve_number(
    event: RequestApproved, kind: DocumentKind, unit_of_work: Callable[[], DocumentsUnitOfWork], now: datetime
) -> NumberReservation | None:
    async with unit_of_work() as uow:
        state = await uow.documents.reserve_unless_taken(event.request_id, kind, now)
        if state.issued:
            return None
        await uow.commit()
        return state.reservation


async def issue_document(
    uow: DocumentsUnitOfWork,
    event: RequestApproved,
    envelope: Envelope,
    *,
    press: Press,
    prepared: Draft | None = None,
    clock: Clock = system_clock,
) -> None:
    """Consumer handler: store the request's document, signed under its reserved number, and announce it (once per
    request: a redelivered approval, even after a revocation, issues nothing). The document was drawn beforehand
    (`draft_document`); without a draft (no preparer wired) its number is taken and it is drawn here."""
    # A draft was made only for a request without a document (`draft_document` looked, in the statement that
    # reserved its number); one issued meanwhile by another delivery makes the insert below fail on the unique index.
    if prepared is None:
        if await uow.documents.for_request(event.request_id):
            log.info("document_already_issued", request_id=str(event.request_id))
            return
        kind = _kind(event)
        issued_at = clock()
        sequence = await uow.documents.next_sequence(kind.code, issue_year(issued_at))
        document = _new_document(event, kind, issued_at, sequence)
        content = await _render_and_sign(document, press)
    else:
        document, content = prepared.document, prepared.content
    # Announced first, so that the SQL repository stores the announcement with the row. The row goes in before the
    # file: a concurrent issue for the same request fails on the unique index here, and so never overwrites the file
    # of the document that wins.
    await uow.outbox.add(_issued(document), traceparent=envelope.traceparent)
    await (uow.documents.add if prepared is None else uow.documents.add_reserved)(document)
    await press.storage.save(document.storage_key, content)


def _kind(event: RequestApproved) -> DocumentKind:
    try:
        return document_kind(event.request_type.value)
    except UnsupportedDocumentType as error:
        raise PermanentFailure(str(error)) from error


def _new_document(event: RequestApproved, kind: DocumentKind, issued_at: datetime, sequence: int) -> Document:
    return Document(
        id=uuid.uuid4(),
        request_id=event.request_id,
        request_number=event.request_number,
        type=kind.request_type,
        number=document_number(kind, issue_year(issued_at), sequence),
        holder=event.applicant,
        details=event.details,
        kecamatan_code=event.kecamatan_code,
        verification_token=new_verification_token(),
        # Named by request, not by document: a retry after a crash overwrites its own orphan file.
        storage_key=f"{event.request_id}.pdf",
        issued_at=issued_at,
        delivery=event.delivery,
    )


async def revoke_document(
    document_id: uuid.UUID,
    *,
    reason: str,
    approved_by: str,
    uow: DocumentsUnitOfWork,
    recorded_by: str | None = None,
    clock: Clock = system_clock,
) -> Document:
    """Withdraw a valid document on an approved decision; it stays verifiable as revoked."""
    async with uow:
        document = await _load(uow, document_id)
        document.revoke(reason=reason, by=approved_by, at=clock(), recorded_by=recorded_by)
        await _save_revocation(uow, document)
        await uow.outbox.add(_revoked(document))
        await uow.commit()
    log.info(
        "document_revoked", document_id=str(document.id), number=document.number, by=approved_by, officer=recorded_by
    )
    return document


async def correct_document(
    document_id: uuid.UUID,
    *,
    changes: dict[str, Any],
    holder: Person | None,
    reason: str,
    approved_by: str,
    uow: DocumentsUnitOfWork,
    press: Press,
    recorded_by: str | None = None,
    clock: Clock = system_clock,
) -> tuple[Document, Document]:
    """Replace a valid document after an approved correction: the old one is superseded, the new one gets a
    new number. Returns (old, new)."""
    issued_at = clock()
    async with uow:
        old = await _load(uow, document_id)
        year = issue_year(issued_at)
        new = old.corrected(
            id=uuid.uuid4(),
            number=document_number(old.kind, year, await uow.documents.next_sequence(old.kind.code, year)),
            changes=changes,
            holder=holder,
            verification_token=new_verification_token(),
            issued_at=issued_at,
        )
        old.revoke(reason=reason, by=approved_by, at=issued_at, superseded_by=new.id, recorded_by=recorded_by)
        # The old one goes first: of two corrections at once, the second stops here before writing any file.
        await _save_revocation(uow, old)
        content = await _render_and_sign(new, press)
        await uow.documents.add(new)
        await press.storage.save(new.storage_key, content)
        await uow.outbox.add(_revoked(old))
        await uow.outbox.add(_issued(new, supersedes=old))
        await uow.commit()
    log.info("document_corrected", old=old.number, new=new.number, by=approved_by, officer=recorded_by)
    return old, new


async def get_document(document_id: uuid.UUID, *, uow: DocumentsUnitOfWork) -> Document:
    async with uow:
        return await _load(uow, document_id)


async def list_documents(request_id: uuid.UUID, *, uow: DocumentsUnitOfWork) -> list[Document]:
    """The request's documents, oldest first: the valid one and any it replaced."""
    async with uow:
        return await uow.documents.for_request(request_id)


async def get_document_file(
    document_id: uuid.UUID,
    *,
    reader: Reader,
    uow: DocumentsUnitOfWork,
    storage: DocumentStorage,
    signer: DocumentSigner,
) -> tuple[Document, bytes]:
    """The document's PDF exactly as issued, for staff and its holder only; a file that no longer matches its
    checksum and signature is not handed out."""
    async with uow:
        document = await _load(uow, document_id)
    if not reader.staff and reader.granted != document.id:
        raise NotTheHolder(str(document_id))
    content = await storage.load(document.storage_key)
    if content is None or not _authentic(document, content, signer):
        problem = "is missing" if content is None else "does not match its checksum or signature"
        log.error("document_file_unavailable", document_id=str(document.id), problem=problem)
        raise DocumentFileUnavailable(f"the file of document {document.number} {problem}")
    return document, content


async def verify_document(
    token: str,
    *,
    uow: DocumentsUnitOfWork,
    storage: DocumentStorage,
    signer: DocumentSigner,
    clock: Clock = system_clock,
) -> Verification:
    """Public check of a QR code: counted, and answered from the stored file's signature and the document's
    status, with the holder masked."""
    async with uow:
        document = await uow.documents.by_verification_token(token)
        if document is None:
            raise UnknownVerificationToken(token)
        count = await uow.documents.count_verification(document.id, clock())
        replacement = await uow.documents.get(document.superseded_by) if document.superseded_by else None
        await uow.commit()
    content = await storage.load(document.storage_key)
    signature_valid = content is not None and _authentic(document, content, signer)
    if not signature_valid:
        log.error(
            "document_signature_invalid",
            document_id=str(document.id),
            number=document.number,
            file="missing" if content is None else "present",
        )
    return document.verification(
        signature_valid=signature_valid,
        count=count,
        replacement_number=replacement.number if replacement else None,
    )


async def verify_file(
    content: bytes,
    *,
    uow: DocumentsUnitOfWork,
    sealer: PdfSealer,
    signer: DocumentSigner,
    clock: Clock = system_clock,
) -> FileVerification:
    """Public check of a PDF in hand: is it, byte for byte, a document the office issued, does the signature inside
    it hold, and is the document still in force; counted like a QR code check when it is a document."""
    if not looks_like_pdf(content):
        raise NotAPdf()
    checksum = file_checksum(content)
    signature = await sealer.examine(content)
    async with uow:
        document = await uow.documents.by_checksum(checksum)
        if document is None:
            return FileVerification(checksum_sha256=checksum, signature=signature)
        count = await uow.documents.count_verification(document.id, clock())
        replacement = await uow.documents.get(document.superseded_by) if document.superseded_by else None
        await uow.commit()
    verification = document.verification(
        signature_valid=_authentic(document, content, signer),
        count=count,
        replacement_number=replacement.number if replacement else None,
    )
    return FileVerification(checksum_sha256=checksum, signature=signature, document=verification)


def _authentic(document: Document, content: bytes, signer: DocumentSigner) -> bool:
    """The file is the one the office signed for this document: its hash, recomputed, carries the signature."""
    checksum = file_checksum(content)
    return checksum == document.checksum_sha256 and signer.verify(
        document.signed_payload(checksum), document.signature, document.signing_key_id
    )


async def _render_and_sign(document: Document, press: Press) -> bytes:
    """The document's PDF with the office's signature inside; its record keeps the signed file's hash, signed too."""
    document.signing_key_id = press.signer.key_id
    rendered = await press.renderer.render(
        document, verification_url=verification_url(press.public_base_url, document.verification_token)
    )
    content = await press.sealer.seal(rendered)
    document.seal(content)
    document.signature = press.signer.sign(document.signed_payload())
    return content


async def _save_revocation(uow: DocumentsUnitOfWork, document: Document) -> None:
    if not await uow.documents.save_revocation(document):
        current = await uow.documents.get(document.id)
        raise DocumentNotCurrent(document.number, current.status if current else document.status)


def _issued(document: Document, *, supersedes: Document | None = None) -> DocumentIssued:
    """`supersedes`: the document a correction replaces, which its holder hands back."""
    return DocumentIssued(
        request_id=document.request_id,
        document_id=document.id,
        document_number=document.number,
        request_type=RequestType(document.type),
        checksum_sha256=document.checksum_sha256,
        applicant=document.holder,
        delivery=_delivery(document),
        kecamatan_code=document.kecamatan_code,
        details=document.details,
        supersedes=supersedes.id if supersedes else None,
        supersedes_number=supersedes.number if supersedes else None,
    )


def _revoked(document: Document) -> DocumentRevoked:
    return DocumentRevoked(
        request_id=document.request_id,
        document_id=document.id,
        document_number=document.number,
        reason=document.revocation_reason or "",
        revoked_by=document.revoked_by or "",
        superseded_by=document.superseded_by,
    )


def _delivery(document: Document) -> Delivery:
    if document.delivery:
        return document.delivery
    # Documents issued before deliveries were kept: the kecamatan office holds the corrected one for pickup.
    return Delivery(method=DeliveryMethod.pickup, pickup_kecamatan_code=document.kecamatan_code)


async def _load(uow: DocumentsUnitOfWork, document_id: uuid.UUID) -> Document:
    document = await uow.documents.get(document_id)
    if document is None:
        raise DocumentNotFound(str(document_id))
    return document
