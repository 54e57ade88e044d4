"""Documents' HTTP API: translate a path into a use case and its result into JSON or a PDF, nothing more."""

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field

from dukcapil_documents.domain.model import Document, verification_url
from dukcapil_documents.service_layer import handlers
from dukcapil_documents.service_layer.ports import DocumentStorage
from dukcapil_documents.service_layer.unit_of_work import DocumentsUnitOfWork
from dukcapil_shared.web import ErrorResponse, error_response


def _unit_of_work(request: Request) -> DocumentsUnitOfWork:
    factory: Callable[[], DocumentsUnitOfWork] = request.app.state.unit_of_work
    return factory()


def _storage(request: Request) -> DocumentStorage:
    return request.app.state.storage


def _public_base_url(request: Request) -> str:
    return request.app.state.public_base_url


UnitOfWorkDep = Annotated[DocumentsUnitOfWork, Depends(_unit_of_work)]
StorageDep = Annotated[DocumentStorage, Depends(_storage)]
PublicBaseUrlDep = Annotated[str, Depends(_public_base_url)]


class DocumentView(BaseModel):
    id: uuid.UUID
    request_id: uuid.UUID
    request_number: str
    number: str = Field(description="Official document number, e.g. KK/3602/2026/000001")
    type: str = Field(description="kartu_keluarga, akta_kematian, surat_pindah or biodata_wni")
    title: str = Field(description="The document's title as printed, e.g. KARTU KELUARGA")
    checksum_sha256: str = Field(description="SHA-256 of the PDF as issued")
    issued_at: datetime
    verification_url: str = Field(description="The public verification address printed in the QR code")

    @classmethod
    def of(cls, document: Document, public_base_url: str) -> "DocumentView":
        return cls(
            id=document.id,
            request_id=document.request_id,
            request_number=document.request_number,
            number=document.number,
            type=document.type,
            title=document.title,
            checksum_sha256=document.checksum_sha256,
            issued_at=document.issued_at,
            verification_url=verification_url(public_base_url, document.verification_token),
        )


class VerificationView(BaseModel):
    genuine: bool = Field(description="True: the office issued this document")
    status: str = Field(description="valid")
    document_number: str
    document_type: str
    document_title: str
    issued_at: datetime
    holder_name_masked: str = Field(description="The holder's name with all but each word's first letter hidden")
    nik_masked: str = Field(description="The holder's NIK with the six digits of the birth date hidden")


router = APIRouter(tags=["documents"])
public = APIRouter(tags=["verification"])
_ERRORS: dict[int | str, dict[str, Any]] = {404: {"model": ErrorResponse}, 422: {"model": ErrorResponse}}


@router.get("/documents", response_model=list[DocumentView], responses=_ERRORS)
async def search(request_id: uuid.UUID, uow: UnitOfWorkDep, base_url: PublicBaseUrlDep) -> list[DocumentView]:
    """The documents issued for a request: none yet, or one."""
    return [DocumentView.of(document, base_url) for document in await handlers.list_documents(request_id, uow=uow)]


@router.get("/documents/{document_id}", response_model=DocumentView, responses=_ERRORS)
async def show(document_id: uuid.UUID, uow: UnitOfWorkDep, base_url: PublicBaseUrlDep) -> DocumentView:
    return DocumentView.of(await handlers.get_document(document_id, uow=uow), base_url)


@router.get(
    "/documents/{document_id}/pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}, **_ERRORS, 500: {"model": ErrorResponse}},
)
async def download(document_id: uuid.UUID, uow: UnitOfWorkDep, storage: StorageDep) -> Response:
    """The document's PDF, byte for byte as issued."""
    document, content = await handlers.get_document_file(document_id, uow=uow, storage=storage)
    file_name = document.number.replace("/", "-")
    return Response(
        content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{file_name}.pdf"', "ETag": f'"{document.checksum_sha256}"'},
    )


@public.get("/verify/{token}", response_model=VerificationView, responses={404: {"model": ErrorResponse}})
async def verify(token: str, uow: UnitOfWorkDep) -> VerificationView:
    """Public check of a document's QR code: is it genuine, and whose is it (masked)."""
    verification = await handlers.verify_document(token, uow=uow)
    return VerificationView(
        genuine=verification.genuine,
        status=verification.status,
        document_number=verification.document_number,
        document_type=verification.document_type,
        document_title=verification.document_title,
        issued_at=verification.issued_at,
        holder_name_masked=verification.holder_name_masked,
        nik_masked=verification.nik_masked,
    )


def install(app: FastAPI) -> None:
    app.include_router(router)
    app.include_router(public)

    @app.exception_handler(handlers.DocumentNotFound)
    async def _not_found(_request: Request, error: handlers.DocumentNotFound) -> JSONResponse:
        return error_response(404, "document_not_found", f"No document with id {error}.")

    @app.exception_handler(handlers.UnknownVerificationToken)
    async def _unknown(_request: Request, _error: handlers.UnknownVerificationToken) -> JSONResponse:
        return error_response(
            404,
            "unknown_document",
            "This code does not belong to any document issued by Disdukcapil Kabupaten Lebak: the document "
            "may be forged. / Kode ini tidak terdaftar: dokumen tidak diterbitkan oleh Disdukcapil Kabupaten Lebak.",
        )

    @app.exception_handler(handlers.DocumentFileUnavailable)
    async def _file_unavailable(_request: Request, error: handlers.DocumentFileUnavailable) -> JSONResponse:
        return error_response(
            500, "document_file_unavailable", f"{error}; the error was logged for an operator to restore it."
        )
