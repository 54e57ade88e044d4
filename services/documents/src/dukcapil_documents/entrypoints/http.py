"""Documents' HTTP API: translate a path into a use case and its result into JSON or a PDF, nothing more."""

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, Self

from fastapi import APIRouter, Depends, FastAPI, File, Request, Security, UploadFile
from fastapi.responses import Response
from fastapi.security import APIKeyQuery
from pydantic import BaseModel, Field, model_validator

from dukcapil_documents.domain.model import (
    DetailsNotCorrectable,
    Document,
    DocumentStatus,
    EmbeddedSignature,
    FileVerdict,
    FileVerification,
    Verification,
    verification_url,
)
from dukcapil_documents.service_layer import handlers
from dukcapil_documents.service_layer.unit_of_work import DocumentsUnitOfWork
from dukcapil_shared.auth.grants import GrantVerifier
from dukcapil_shared.auth.http import optional_personal_data, rate_limited, rate_limits, staff
from dukcapil_shared.auth.roles import Principal, Scope
from dukcapil_shared.auth.tokens import InvalidToken
from dukcapil_shared.contracts.common import PersonInput
from dukcapil_shared.contracts.text import DetailValues, Reason, ShortText
from dukcapil_shared.web import ApiError, ClockDep, ErrorResponse


async def _unit_of_work(request: Request) -> DocumentsUnitOfWork:
    factory: Callable[[], DocumentsUnitOfWork] = request.app.state.unit_of_work
    return factory()


async def _press(request: Request) -> handlers.Press:
    return request.app.state.press


_grant = APIKeyQuery(
    name="grant",
    scheme_name="downloadGrant",
    auto_error=False,
    description="The holder's download link, from intake's POST /requests/follow (number and access code): good "
    "for one document and a few minutes",
)


async def _reader(
    document_id: uuid.UUID,
    request: Request,
    staff: Annotated[Principal | None, Depends(optional_personal_data(Scope.DOCUMENTS_READ))],
    grant: Annotated[str | None, Security(_grant)] = None,
) -> handlers.Reader:
    if staff is not None:
        return handlers.Reader(staff=True)
    if grant is None:
        raise ApiError(
            401,
            "authentication_required",
            "A document's file is served to staff (Authorization: Bearer, with X-Access-Reason) and to its holder, "
            "through the link intake gives with the request's number and access code (POST /requests/follow). / "
            "Dokumen hanya dapat diunduh pemiliknya melalui tautan dari halaman permohonan.",
        )
    verifier: GrantVerifier = request.app.state.grants
    try:
        verifier.verify(grant, document_id)
    except InvalidToken as error:
        raise ApiError(
            401,
            "download_link_invalid",
            f"This download link does not work: {error}. Follow the request again (number and access code) for a new "
            "one. / Tautan unduhan tidak berlaku; buka kembali permohonan untuk mendapatkan tautan baru.",
        ) from None
    await _downloads_from_address(request)
    per_document: str = request.app.state.downloads_per_document
    await rate_limits(request).hit("downloads-per-document", per_document, str(document_id), what="of this document")
    return handlers.Reader(granted=document_id)


_downloads_from_address = rate_limited("download")


UnitOfWorkDep = Annotated[DocumentsUnitOfWork, Depends(_unit_of_work)]
PressDep = Annotated[handlers.Press, Depends(_press)]
ReaderDep = Annotated[handlers.Reader, Depends(_reader)]
Reading = Annotated[Principal, Depends(staff(Scope.DOCUMENTS_READ))]
Managing = Annotated[Principal, Depends(staff(Scope.DOCUMENTS_MANAGE))]


class RevocationView(BaseModel):
    revoked_at: datetime
    approved_by: str = Field(description="Who approved the revocation or correction")
    recorded_by: str | None = Field(description="The document officer who recorded it")
    reason: str


class DocumentView(BaseModel):
    id: uuid.UUID
    request_id: uuid.UUID
    request_number: str
    number: str = Field(description="Official document number, e.g. KK/3602/2026/000001")
    type: str = Field(description="kartu_keluarga, akta_kematian, surat_pindah or biodata_wni")
    title: str = Field(description="The document's title as printed, e.g. KARTU KELUARGA")
    status: DocumentStatus = Field(description="valid, superseded (by a corrected document) or revoked")
    issued_at: datetime
    checksum_sha256: str = Field(description="SHA-256 of the PDF as issued")
    signing_key_id: str = Field(description="The office key that signed it (see GET /signing-keys)")
    signature: str = Field(description="Ed25519 signature (base64) of the signed payload, which names the PDF's hash")
    verification_url: str = Field(description="The public verification address printed in the QR code")
    verification_count: int = Field(description="How often the QR code was checked")
    supersedes: uuid.UUID | None = Field(default=None, description="The document this correction replaced")
    superseded_by: uuid.UUID | None = Field(default=None, description="The corrected document that replaced it")
    revocation: RevocationView | None = Field(
        default=None, description="When, by whose approval and why it was revoked or superseded (staff only)"
    )

    @classmethod
    def of(cls, document: Document, public_base_url: str, *, staff: bool = False) -> Self:
        revocation = None
        if staff and document.revoked_at is not None:
            revocation = RevocationView(
                revoked_at=document.revoked_at,
                approved_by=document.revoked_by or "",
                recorded_by=document.revocation_recorded_by,
                reason=document.revocation_reason or "",
            )
        return cls(
            id=document.id,
            request_id=document.request_id,
            request_number=document.request_number,
            number=document.number,
            type=document.type,
            title=document.title,
            status=document.status,
            issued_at=document.issued_at,
            checksum_sha256=document.checksum_sha256,
            signing_key_id=document.signing_key_id,
            signature=document.signature,
            verification_url=verification_url(public_base_url, document.verification_token),
            verification_count=document.verification_count,
            supersedes=document.supersedes,
            superseded_by=document.superseded_by,
            revocation=revocation,
        )


class RevocationBody(BaseModel):
    reason: Reason = Field(description="Why the document is withdrawn")
    approved_by: ShortText = Field(description="Who approved the decision")


class CorrectionBody(RevocationBody):
    details: DetailValues = Field(
        default_factory=dict,
        description="The corrected details: each key given replaces the old value, a key set to null is removed, "
        "keys left out stay as they were",
    )
    holder: PersonInput | None = Field(default=None, description="The holder's corrected data, when it was wrong")

    @model_validator(mode="after")
    def _something_to_correct(self) -> Self:
        if not self.details and self.holder is None:
            raise ValueError("nothing to correct: give the corrected details, the corrected holder, or both")
        return self


class CorrectionView(BaseModel):
    superseded: DocumentView = Field(description="The old document, now superseded")
    issued: DocumentView = Field(description="The corrected document, with its new number")


class VerificationView(BaseModel):
    genuine: bool = Field(description="True: the office issued this document and its file matches its signature")
    status: DocumentStatus = Field(description="valid, superseded (by a corrected document) or revoked")
    signature_valid: bool = Field(description="The stored file's SHA-256, recomputed, carries the office's signature")
    message: str = Field(description="The answer in a sentence")
    message_id: str = Field(description="The same in Indonesian")
    document_number: str
    document_type: str
    document_title: str
    issued_at: datetime
    holder_name_masked: str = Field(
        description="Name of the person the document is about (the deceased on a death certificate), with all "
        "but each word's first letter hidden"
    )
    nik_masked: str = Field(description="Their NIK with the six digits of the birth date hidden")
    superseded_by_number: str | None = Field(default=None, description="The number of the corrected document")
    revoked_at: datetime | None = Field(default=None, description="When it was revoked or superseded")
    verification_count: int = Field(description="How often this document was verified, this time included")
    signing_key_id: str = Field(description="The office key that signed it (see GET /signing-keys)")
    checksum_sha256: str = Field(
        description="SHA-256 of the PDF as issued: a copy with another hash is not this document as the office "
        "issued it (POST /verify checks a file)"
    )

    @classmethod
    def of(cls, verification: Verification) -> Self:
        return cls(
            genuine=verification.genuine,
            status=verification.status,
            signature_valid=verification.signature_valid,
            message=verification.message,
            message_id=verification.message_id,
            document_number=verification.document_number,
            document_type=verification.document_type,
            document_title=verification.document_title,
            issued_at=verification.issued_at,
            holder_name_masked=verification.holder_name_masked,
            nik_masked=verification.nik_masked,
            superseded_by_number=verification.superseded_by_number,
            revoked_at=verification.revoked_at,
            verification_count=verification.verification_count,
            signing_key_id=verification.signing_key_id,
            checksum_sha256=verification.checksum_sha256,
        )


class EmbeddedSignatureView(BaseModel):
    present: bool = Field(description="The file carries a PDF signature")
    intact: bool = Field(description="The signed bytes are unchanged")
    covers_whole_file: bool = Field(description="It is the only signature and covers every byte of the file")
    trusted: bool = Field(description="The signer's certificate validates up to a root the office trusts")
    signer: str | None = Field(default=None, description="The signer's certificate subject")
    signed_at: datetime | None = Field(default=None, description="The signing time the signer stated")

    @classmethod
    def of(cls, signature: EmbeddedSignature) -> Self:
        return cls(
            present=signature.present,
            intact=signature.intact,
            covers_whole_file=signature.whole_file,
            trusted=signature.trusted,
            signer=signature.signer,
            signed_at=signature.signed_at,
        )


class FileVerificationView(BaseModel):
    genuine: bool = Field(
        description="True: this very file is a document the office issued, unchanged, and its embedded signature "
        "validates"
    )
    reason: FileVerdict | None = Field(
        description="Why not, when not genuine: unknown_file (no issued document has this content), "
        "signature_invalid (changed after the office signed it), signature_missing (issued before documents "
        "carried a signature inside: check the QR code)"
    )
    message: str = Field(description="The answer in a sentence")
    message_id: str = Field(description="The same in Indonesian")
    checksum_sha256: str = Field(description="SHA-256 of the file sent")
    signature: EmbeddedSignatureView = Field(description="The signature inside the file, checked offline")
    status: DocumentStatus | None = Field(
        default=None, description="When the file is an issued document's: valid, superseded or revoked"
    )
    document_number: str | None = None
    document_type: str | None = None
    document_title: str | None = None
    issued_at: datetime | None = None
    holder_name_masked: str | None = Field(default=None, description="As GET /verify/{token} shows it")
    nik_masked: str | None = Field(default=None, description="As GET /verify/{token} shows it")
    superseded_by_number: str | None = None
    revoked_at: datetime | None = None
    verification_count: int | None = Field(default=None, description="Checks of this document, this one included")
    signing_key_id: str | None = None

    @classmethod
    def of(cls, verification: FileVerification) -> Self:
        document = verification.document
        shown = (
            VerificationView.of(document).model_dump(
                exclude={"genuine", "signature_valid", "message", "message_id", "checksum_sha256"}
            )
            if document
            else {}
        )
        return cls(
            genuine=verification.genuine,
            reason=None if verification.genuine else verification.verdict,
            message=verification.message,
            message_id=verification.message_id,
            checksum_sha256=verification.checksum_sha256,
            signature=EmbeddedSignatureView.of(verification.signature),
            **shown,
        )


class PublicKeyView(BaseModel):
    key_id: str
    algorithm: str = Field(description="Ed25519")
    public_key_pem: str
    current: bool = Field(description="True for the key that signs new documents; False for a retired key")


router = APIRouter(tags=["documents"])
public = APIRouter(tags=["verification"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse},
    403: {"model": ErrorResponse},
    404: {"model": ErrorResponse},
    422: {"model": ErrorResponse},
}
_STAFF_ERRORS: dict[int | str, dict[str, Any]] = {**_ERRORS, 409: {"model": ErrorResponse}}


@router.get("/documents", response_model=list[DocumentView], responses=_ERRORS)
async def search(request_id: uuid.UUID, uow: UnitOfWorkDep, press: PressDep, _staff: Reading) -> list[DocumentView]:
    """The documents issued for a request, oldest first: none yet, the valid one, and any it replaced."""
    documents = await handlers.list_documents(request_id, uow=uow)
    return [DocumentView.of(document, press.public_base_url, staff=True) for document in documents]


@router.get("/documents/{document_id}", response_model=DocumentView, responses=_ERRORS)
async def show(document_id: uuid.UUID, uow: UnitOfWorkDep, press: PressDep, _staff: Reading) -> DocumentView:
    return DocumentView.of(await handlers.get_document(document_id, uow=uow), press.public_base_url, staff=True)


@router.get(
    "/documents/{document_id}/pdf",
    response_class=Response,
    responses={
        200: {"content": {"application/pdf": {}}},
        **_ERRORS,
        400: {"model": ErrorResponse},
        500: {"model": ErrorResponse},
    },
)
async def download(document_id: uuid.UUID, reader: ReaderDep, uow: UnitOfWorkDep, press: PressDep) -> Response:
    """The document's PDF, byte for byte as issued: for staff (bearer token and X-Access-Reason) and its holder
    (`grant`, the link intake gives with the request's number and access code)."""
    document, content = await handlers.get_document_file(
        document_id, reader=reader, uow=uow, storage=press.storage, signer=press.signer
    )
    file_name = document.number.replace("/", "-")
    return Response(
        content,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'inline; filename="{file_name}.pdf"',
            "ETag": f'"{document.checksum_sha256}"',
            "Cache-Control": "private, no-store",
            "X-Document-Status": document.status.value,
        },
    )


@router.post("/documents/{document_id}/revoke", response_model=DocumentView, responses=_STAFF_ERRORS)
async def revoke(
    document_id: uuid.UUID,
    body: RevocationBody,
    uow: UnitOfWorkDep,
    press: PressDep,
    officer: Managing,
    clock: ClockDep,
) -> DocumentView:
    """Withdraw a valid document on an approved decision; it stays verifiable as revoked (staff only)."""
    document = await handlers.revoke_document(
        document_id,
        reason=body.reason,
        approved_by=body.approved_by,
        uow=uow,
        recorded_by=officer.username,
        clock=clock,
    )
    return DocumentView.of(document, press.public_base_url, staff=True)


@router.post(
    "/documents/{document_id}/corrections", status_code=201, response_model=CorrectionView, responses=_STAFF_ERRORS
)
async def correct(
    document_id: uuid.UUID,
    body: CorrectionBody,
    uow: UnitOfWorkDep,
    press: PressDep,
    response: Response,
    officer: Managing,
    clock: ClockDep,
) -> CorrectionView:
    """Reissue a valid document after an approved correction, with a new number; the old one verifies as
    superseded (staff only)."""
    try:
        old, new = await handlers.correct_document(
            document_id,
            changes=body.details,
            holder=body.holder,
            reason=body.reason,
            approved_by=body.approved_by,
            uow=uow,
            press=press,
            recorded_by=officer.username,
            clock=clock,
        )
    except DetailsNotCorrectable as error:
        raise ApiError(422, "details_invalid", f"The corrected details do not fit the document: {error}") from None
    response.headers["Location"] = f"/documents/{new.id}"
    return CorrectionView(
        superseded=DocumentView.of(old, press.public_base_url, staff=True),
        issued=DocumentView.of(new, press.public_base_url, staff=True),
    )


@public.get(
    "/verify/{token}",
    response_model=VerificationView,
    responses={404: {"model": ErrorResponse}, 429: {"model": ErrorResponse}},
    dependencies=[Depends(rate_limited("verify"))],
)
async def verify(
    token: str, uow: UnitOfWorkDep, press: PressDep, response: Response, clock: ClockDep
) -> VerificationView:
    """Public check of a document's QR code: is it genuine, is it still in force, and whose is it (masked)."""
    verification = await handlers.verify_document(
        token, uow=uow, storage=press.storage, signer=press.signer, clock=clock
    )
    response.headers["Cache-Control"] = "no-store"
    return VerificationView.of(verification)


@public.post(
    "/verify",
    response_model=FileVerificationView,
    responses={413: {"model": ErrorResponse}, 422: {"model": ErrorResponse}, 429: {"model": ErrorResponse}},
    dependencies=[Depends(rate_limited("verify"))],
)
async def verify_file(
    request: Request,
    uow: UnitOfWorkDep,
    press: PressDep,
    response: Response,
    clock: ClockDep,
    file: Annotated[UploadFile, File(description="The PDF to check, as downloaded or received")],
) -> FileVerificationView:
    """Public check of a PDF in hand: is this very file a document the office issued, unchanged (its SHA-256 is an
    issued document's and the signature inside it validates), and is the document still in force. An unknown or
    edited file answers 200 with genuine false and a reason; a file that is not a PDF, 422 not_a_pdf."""
    limit: int = request.app.state.verify_max_bytes
    content = await file.read(limit + 1)
    if len(content) > limit:
        raise ApiError(
            413,
            "request_too_large",
            f"The file is larger than this endpoint takes: {limit:,} bytes at most.",
            max_bytes=limit,
        )
    verification = await handlers.verify_file(content, uow=uow, sealer=press.sealer, signer=press.signer, clock=clock)
    response.headers["Cache-Control"] = "no-store"
    return FileVerificationView.of(verification)


@public.get("/signing-keys", response_model=list[PublicKeyView])
async def signing_keys(press: PressDep) -> list[PublicKeyView]:
    """The office's public keys, to check a document's signature without asking this service."""
    return [
        PublicKeyView(key_id=key.key_id, algorithm=key.algorithm, public_key_pem=key.pem, current=key.current)
        for key in press.signer.public_keys()
    ]


def install(app: FastAPI, *, verify_max_bytes: int, grants: GrantVerifier, downloads_per_document: str) -> None:
    app.state.verify_max_bytes = verify_max_bytes
    app.state.grants = grants
    app.state.downloads_per_document = downloads_per_document
    app.include_router(router)
    app.include_router(public)
