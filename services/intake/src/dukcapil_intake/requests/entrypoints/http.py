"""Intake's HTTP API: translate JSON into a use case and its result into JSON, nothing more."""

import uuid
from collections.abc import Callable
from dataclasses import asdict
from datetime import date, datetime
from typing import Annotated, Any, Literal
from urllib.parse import quote

import structlog
from fastapi import APIRouter, Depends, FastAPI, File, Form, Header, Query, Request, Security, UploadFile
from fastapi.responses import Response
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, Field

from dukcapil_intake.notifications.domain.notifications import Channel, Notification, NotificationStatus
from dukcapil_intake.notifications.service_layer import notices
from dukcapil_intake.notifications.service_layer.unit_of_work import NotificationsUnitOfWork
from dukcapil_intake.requests.domain.access_codes import AccessCode, AccessCodeMistyped, AccessCodes
from dukcapil_intake.requests.domain.catalogue import ATTACHMENT_KINDS, BRING_TO_PEREKAMAN, SERVICES, Service
from dukcapil_intake.requests.domain.model import (
    Attachment,
    RecordingBooking,
    RequestStatus,
    ServiceRequest,
)
from dukcapil_intake.requests.domain.scans import ScanLimits, safe_filename
from dukcapil_intake.requests.service_layer import handlers
from dukcapil_intake.requests.service_layer.repository import RequestFilter
from dukcapil_intake.requests.service_layer.scans import ScanInspector
from dukcapil_intake.requests.service_layer.unit_of_work import RequestsUnitOfWork
from dukcapil_shared.auth.grants import DownloadGrants
from dukcapil_shared.auth.http import client_address, optional_staff, personal_data, rate_limited, rate_limits, staff
from dukcapil_shared.auth.ratelimit import target_key
from dukcapil_shared.auth.roles import Principal, Scope
from dukcapil_shared.contracts import RequestType
from dukcapil_shared.contracts.common import PHONE_PATTERN, DeliveryInput, PersonInput
from dukcapil_shared.contracts.regions import find_kecamatan
from dukcapil_shared.contracts.text import Note, Reason, ShortText
from dukcapil_shared.files import FileStore
from dukcapil_shared.web import ApiError, ClockDep, ErrorResponse


def _unit_of_work(request: Request) -> RequestsUnitOfWork:
    factory: Callable[[], RequestsUnitOfWork] = request.app.state.requests_unit_of_work
    return factory()


async def _notifications(request: Request) -> NotificationsUnitOfWork:
    factory: Callable[[], NotificationsUnitOfWork] = request.app.state.notifications_unit_of_work
    return factory()


async def _files(request: Request) -> FileStore:
    return request.app.state.files


async def _scans(request: Request) -> ScanInspector:
    return request.app.state.scans


# Dependencies are coroutines: FastAPI runs a plain function in a worker thread, a hand-off per dependency and
# request that cost more CPU than the work itself.
async def _unit_of_work_dependency(request: Request) -> RequestsUnitOfWork:
    return _unit_of_work(request)


UnitOfWorkDep = Annotated[RequestsUnitOfWork, Depends(_unit_of_work_dependency)]
NotificationsDep = Annotated[NotificationsUnitOfWork, Depends(_notifications)]
FilesDep = Annotated[FileStore, Depends(_files)]
ScansDep = Annotated[ScanInspector, Depends(_scans)]
# A kecamatan operator may act on a request for the citizens of their kecamatan; a citizen acts on their own with
# its number and access code.
OperatorOrCitizen = Annotated[Principal | None, Depends(optional_staff(Scope.REQUESTS_SUBMIT))]
ReadingRequests = Annotated[Principal, Depends(personal_data(Scope.REQUESTS_READ))]
ReadingScans = Annotated[Principal, Depends(personal_data(Scope.ATTACHMENTS_READ))]
Submitting = Annotated[Principal, Depends(staff(Scope.REQUESTS_SUBMIT))]
# Declares, in the OpenAPI description, that a token is optional: citizens call without one.
NO_TOKEN_NEEDED: dict[str, Any] = {"security": [{}]}

log = structlog.get_logger(__name__)

ACCESS_CODE_HEADER = "X-Access-Code"
_access_code = APIKeyHeader(
    name=ACCESS_CODE_HEADER,
    scheme_name="accessCode",
    auto_error=False,
    description="The request's access code, given once at submission and sent by SMS and e-mail, e.g. "
    "K7QM-2XDP-9WBT-H4RZ-V; it opens the request whose id is in the path, and no other",
)


async def _ensure_serves(principal: Principal | None, request_id: uuid.UUID, request: Request) -> None:
    """Staff bound to a kecamatan see and touch only its requests; to them others do not exist."""
    if principal is None or not principal.kecamatan_bound:
        return
    found = await handlers.get_request(request_id, uow=_unit_of_work(request))
    if not principal.serves(found.kecamatan_code):
        raise handlers.RequestNotFound(request_id)


async def _holder_or_operator(
    request_id: uuid.UUID,
    request: Request,
    operator: OperatorOrCitizen,
    access_code: Annotated[str | None, Security(_access_code)] = None,
) -> ServiceRequest:
    """The request its holder opens with its access code, or a kecamatan operator of its kecamatan with a token.
    The id alone opens nothing."""
    if operator is not None:
        found = await handlers.get_request(request_id, uow=_unit_of_work(request))
        if not operator.serves(found.kecamatan_code):
            raise handlers.RequestNotFound(request_id)
        return found
    if access_code is None:
        raise ApiError(
            401,
            "access_code_required",
            f"Send the request's access code in the {ACCESS_CODE_HEADER} header (it came with the submission and by "
            "SMS or e-mail; POST /requests/access-code sends it again), or a kecamatan operator's token. / Kirim "
            f"kode akses permohonan pada header {ACCESS_CODE_HEADER}.",
            headers={"WWW-Authenticate": ACCESS_CODE_HEADER},
        )
    return await _open_with_code(request, request_id, access_code)


Requester = Annotated[ServiceRequest, Depends(_holder_or_operator)]


async def _open_with_code(request: Request, reference: str | uuid.UUID, typed: str) -> ServiceRequest:
    """Opens a request with its access code. Wrong codes are counted against the request, not the client: after a
    few, it is locked for a while however many addresses the guesses come from."""
    limits = rate_limits(request)
    misses: str = request.app.state.settings.access_code_misses
    wait = await limits.exhausted("access-code-misses", misses, str(reference))
    if wait is not None:
        log.warning("access_code_locked", request=str(reference))
        raise ApiError(
            429,
            "access_code_locked",
            f"Too many wrong access codes for this request; try again in {wait} s, or ask for the code to be sent "
            f"again (POST /requests/access-code). / Terlalu banyak kode akses salah untuk permohonan ini; coba lagi "
            f"dalam {wait} detik.",
            headers={"Retry-After": str(wait)},
        )
    try:
        code = AccessCode.parse(typed)
    except AccessCodeMistyped as error:
        raise ApiError(
            422,
            "access_code_mistyped",
            f"That is not an access code: {error}. / Kode akses tidak sesuai format: periksa kembali.",
        ) from None
    codes: AccessCodes = request.app.state.access_codes
    try:
        return await handlers.open_request(reference, code, uow=_unit_of_work(request), codes=codes)
    except handlers.AccessRefused:
        await limits.allow("access-code-misses", misses, str(reference))
        log.warning("access_code_refused", request=str(reference))
        raise


async def _limit(request: Request, name: str, rate_setting: str, key: str, what: str) -> None:
    await rate_limits(request).hit(name, getattr(request.app.state.settings, rate_setting), key, what=what)


# --- the catalogue ---


class AttributeView(BaseModel):
    code: str
    datatype: str
    required: bool
    description: str
    values: list[str] = Field(description="Allowed values; empty when any value of the datatype is allowed")


class AttachmentKindView(BaseModel):
    code: str
    description: str


class ServiceView(BaseModel):
    code: str
    name: str
    form: str | None = Field(description="The office's form number")
    description: str
    online: bool = Field(description="False: cannot be requested online; see in_person_reason")
    in_person_reason: str | None
    attributes: list[AttributeView] = Field(description="The fields of `details`")
    attachments: dict[str, list[AttachmentKindView]] = Field(
        description="Scans required, by reason (`*`: for every request of the type)"
    )

    @classmethod
    def of(cls, service: Service) -> "ServiceView":
        return cls(
            code=service.code,
            name=service.name,
            form=service.form,
            description=service.description,
            online=service.online,
            in_person_reason=service.in_person_reason,
            attributes=[AttributeView(**asdict(a) | {"values": list(a.values)}) for a in service.attributes],
            attachments={
                reason: [AttachmentKindView(code=k, description=ATTACHMENT_KINDS[k].description) for k in kinds]
                for reason, kinds in service.attachments.items()
            },
        )


# --- requests ---


class SubmitRequestBody(BaseModel):
    type: RequestType = Field(description="Which document: kartu_keluarga, akta_kematian, surat_pindah, biodata_wni")
    applicant: PersonInput
    details: dict[str, Any] = Field(default_factory=dict, description="Type-specific details: see GET /services")
    delivery: DeliveryInput
    kecamatan_code: str | None = Field(
        default=None,
        description="The applicant's kecamatan, e.g. 36.02.14; defaults to the pickup office or delivery address",
        pattern=r"^\d{2}\.\d{2}\.\d{2}$",
    )
    channel: Literal["online", "assisted"] = Field(
        default="online",
        description="online by the citizen; assisted when a signed-in kecamatan operator submits (implied by the "
        "operator's token)",
    )
    office: ShortText | None = Field(
        default=None, description="Assisted: the desa office, if not the operator's kecamatan office"
    )


class CancelBody(BaseModel):
    reason: Reason | None = Field(default=None, description="Why the citizen withdraws, if they say")


class ResubmitBody(BaseModel):
    details: dict[str, Any] | None = Field(default=None, description="Corrected details, replacing the old ones")
    note: Note | None = Field(default=None, description="The citizen's answer to the reviewer")


class FollowBody(BaseModel):
    number: str = Field(max_length=40, description="The request number, e.g. 360214-20261128-0007")
    access_code: str = Field(
        max_length=40, description="The access code given at submission, e.g. K7QM-2XDP-9WBT-H4RZ-V (any case)"
    )


class ResendBody(BaseModel):
    number: str = Field(max_length=40, description="The request number, e.g. 360214-20261128-0007")


class HistoryItem(BaseModel):
    event_type: str = Field(description="e.g. request.approved.v1")
    time: datetime
    stage: str = Field(description="intake, review, documents or shipping")
    note: str = Field(description="What happened, in plain words")
    status: RequestStatus | None = Field(description="The status this step moved the request to, if any")


class AttachmentView(BaseModel):
    id: uuid.UUID
    kind: str
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_at: datetime


class Checklist(BaseModel):
    required: list[str] = Field(description="The scans this type and reason need")
    missing: list[str] = Field(description="Required scans not uploaded yet")
    complete: bool


class LinkedRequest(BaseModel):
    id: uuid.UUID
    number: str
    type: str


class RequestView(BaseModel):
    id: uuid.UUID
    number: str = Field(description="Human-friendly request number")
    type: str
    status: RequestStatus
    kecamatan_code: str
    delivery_method: str
    channel: str
    flags: list[str] = Field(description="What the checks noticed for the reviewer")
    checklist: Checklist
    attachments: list[AttachmentView]
    submitted_at: datetime
    updated_at: datetime
    history: list[HistoryItem]
    follows: LinkedRequest | None = Field(
        default=None, description="The request whose document led to this one (a confirmed follow-on)"
    )
    led_to: list[LinkedRequest] = Field(
        default_factory=list, description="The follow-on requests submitted after this one's document"
    )

    @classmethod
    def of(cls, request: ServiceRequest, **more: Any) -> Any:
        return cls(
            **more,
            id=request.id,
            number=request.number,
            type=request.type,
            status=request.status,
            kecamatan_code=request.kecamatan_code,
            delivery_method=request.delivery.method.value,
            channel=request.channel,
            flags=request.flags,
            checklist=Checklist(
                required=request.required_attachments,
                missing=request.missing_attachments,
                complete=not request.missing_attachments,
            ),
            attachments=[AttachmentView(**asdict(item)) for item in request.attachments],
            submitted_at=request.submitted_at,
            updated_at=request.updated_at,
            follows=LinkedRequest(**asdict(request.follows)) if request.follows else None,
            led_to=[LinkedRequest(**asdict(link)) for link in request.led_to],
            history=[
                HistoryItem(
                    event_type=entry.event_type,
                    time=entry.occurred_at,
                    stage=entry.stage,
                    note=entry.note,
                    status=entry.status,
                )
                for entry in request.history
            ],
        )


class SubmittedView(RequestView):
    access_code: str = Field(
        description="Opens the request, with its number, to follow it, add scans, cancel, resubmit and fetch the "
        "document. Shown this once (and sent by SMS and e-mail): keep it, and give it to nobody."
    )


class AccessCodeResent(BaseModel):
    message: str = (
        "If a request has that number, its access code is on its way to the phone and e-mail address given with it. "
        "/ Jika nomor permohonan tersebut ada, kode aksesnya dikirim ke nomor telepon dan alamat e-mail permohonan."
    )


class DocumentAccess(BaseModel):
    id: uuid.UUID
    number: str = Field(description="The document's number, e.g. KK/3602/2026/000001")
    pdf_url: str = Field(description="The signed PDF, for the holder: works until url_expires_at")
    url_expires_at: datetime


class FollowView(RequestView):
    document: DocumentAccess | None = Field(
        description="The document in force once issued (a corrected one replaces it), with a short-lived link to it"
    )


class RequestSummary(BaseModel):
    id: uuid.UUID
    number: str
    type: str
    status: RequestStatus
    kecamatan_code: str
    channel: str
    operator: str | None
    office: str | None
    flags: list[str]
    submitted_at: datetime


# --- e-KTP recording ---


class BookingBody(BaseModel):
    applicant: PersonInput
    kecamatan_code: str = Field(pattern=r"^\d{2}\.\d{2}\.\d{2}$", description="Where to record, e.g. 36.02.14")
    preferred_date: date | None = Field(default=None, description="The earliest day that suits; default tomorrow")
    phone: str | None = Field(default=None, pattern=PHONE_PATTERN, description="Mobile number for the SMS confirmation")
    email: ShortText | None = Field(default=None, description="Address for the e-mail confirmation")


class BookingView(BaseModel):
    id: uuid.UUID
    number: str
    kecamatan_code: str
    office: str
    appointment_date: date
    queue_number: int
    bring: list[str] = Field(description="What to bring to the recording")

    @classmethod
    def of(cls, booking: RecordingBooking) -> "BookingView":
        kecamatan = find_kecamatan(booking.kecamatan_code)
        return cls(
            id=booking.id,
            number=booking.number,
            kecamatan_code=booking.kecamatan_code,
            office=kecamatan.office if kecamatan else booking.kecamatan_code,
            appointment_date=booking.appointment_date,
            queue_number=booking.queue_number,
            bring=list(BRING_TO_PEREKAMAN),
        )


# --- notifications ---


class NotificationView(BaseModel):
    id: uuid.UUID
    kind: str = Field(description="received, information_needed, approved, rejected, shipped, delivered, ...")
    channel: Channel
    recipient: str = Field(description="Masked: enough to recognise, not to contact")
    status: NotificationStatus = Field(description="pending (retried until sent), sent, or failed (given up)")
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None = Field(description="When a pending notice is tried next")
    sent_at: datetime | None
    last_error: str | None = Field(description="Why the last failed attempt failed (kept after a later success)")

    @classmethod
    def of(cls, notification: Notification) -> "NotificationView":
        pending = notification.status == NotificationStatus.pending
        return cls(
            id=notification.id,
            kind=notification.kind,
            channel=notification.channel,
            recipient=notification.masked_recipient,
            status=notification.status,
            attempts=notification.attempts,
            created_at=notification.created_at,
            next_attempt_at=notification.next_attempt_at if pending else None,
            sent_at=notification.sent_at,
            last_error=notification.last_error,
        )


router = APIRouter()
_ERRORS: dict[int | str, dict[str, Any]] = {404: {"model": ErrorResponse}, 422: {"model": ErrorResponse}}
_CONFLICTS: dict[int | str, dict[str, Any]] = {**_ERRORS, 409: {"model": ErrorResponse}}
_STAFF_ERRORS: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    400: {"model": ErrorResponse},
    401: {"model": ErrorResponse},
    403: {"model": ErrorResponse},
}
_STAFF_CONFLICTS: dict[int | str, dict[str, Any]] = {**_STAFF_ERRORS, 409: {"model": ErrorResponse}}
_LIMITED_STAFF_CONFLICTS: dict[int | str, dict[str, Any]] = {**_STAFF_CONFLICTS, 429: {"model": ErrorResponse}}


@router.get("/services", response_model=list[ServiceView], tags=["catalogue"])
async def catalogue() -> list[ServiceView]:
    """Every request type: its fields, the scans each reason needs, and whether it can be done online."""
    return [ServiceView.of(service) for service in SERVICES.values()]


@router.get("/services/{code}", response_model=ServiceView, responses=_ERRORS, tags=["catalogue"])
async def service_definition(code: str) -> ServiceView:
    if code not in SERVICES:
        raise ApiError(404, "service_not_found", f"No service {code!r}; GET /services lists them.")
    return ServiceView.of(SERVICES[code])


@router.post(
    "/requests",
    status_code=201,
    response_model=SubmittedView,
    responses=_LIMITED_STAFF_CONFLICTS,
    openapi_extra=NO_TOKEN_NEEDED,
    tags=["requests"],
)
async def submit(
    body: SubmitRequestBody,
    request: Request,
    uow: UnitOfWorkDep,
    clock: ClockDep,
    operator: OperatorOrCitizen,
    idempotency_key: Annotated[
        str | None,
        Header(max_length=200, description="Send the same key when retrying: the first result comes back"),
    ] = None,
) -> SubmittedView:
    """Submit a request: by the citizen (no account), or by a kecamatan operator for a citizen of their
    kecamatan (with the operator's token; the request is then `assisted`). Every problem is reported at once.
    `ktp_el` is refused: its recording is in person. The answer carries the request's access code, which opens
    it from then on; it is sent by SMS and e-mail too."""
    if body.channel == "assisted" and operator is None:
        raise ApiError(
            401,
            "not_authenticated",
            "An assisted request is submitted by a signed-in kecamatan operator: send the operator's token.",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if operator is not None:
        await _limit(request, "submissions", "operator_submission_rate_limit", operator.username, "by your account")
    else:
        await _limit(request, "submissions", "submission_rate_limit", client_address(request), "from your address")
    await _limit(
        request,
        "submissions-per-applicant",
        "submissions_per_applicant",
        target_key(body.applicant.nik),
        "for this applicant",
    )
    office = None
    if operator is not None:
        kecamatan = find_kecamatan(operator.kecamatan_code) if operator.kecamatan_code else None
        office = body.office or (kecamatan.office if kecamatan else "Dinas Kependudukan dan Pencatatan Sipil")
    command = handlers.SubmitRequest(
        type=body.type.value,
        applicant=body.applicant,
        details=body.details,
        delivery=body.delivery,
        kecamatan_code=body.kecamatan_code,
        channel="assisted" if operator is not None else "online",
        operator=operator.username if operator is not None else None,
        office=office,
        idempotency_key=idempotency_key,
        operator_kecamatan=operator.kecamatan_code if operator is not None else None,
    )
    submitted = await handlers.submit_request(command, uow=uow, clock=clock)
    codes: AccessCodes = request.app.state.access_codes
    return SubmittedView.of(submitted, access_code=str(codes.of(submitted.id, submitted.access_code_version)))


@router.get("/requests", response_model=list[RequestSummary], responses=_STAFF_ERRORS, tags=["requests"])
async def search(
    uow: UnitOfWorkDep,
    staff: ReadingRequests,
    status: RequestStatus | None = None,
    type: RequestType | None = None,
    kecamatan: Annotated[str | None, Query(pattern=r"^\d{2}\.\d{2}\.\d{2}$")] = None,
    submitted_from: date | None = None,
    submitted_to: date | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[RequestSummary]:
    """Requests for staff, oldest first: by status, type, kecamatan and day of submission (inclusive). A kecamatan
    operator sees their own kecamatan's only."""
    if staff.kecamatan_bound:
        if kecamatan is not None and not staff.serves(kecamatan):
            raise ApiError(
                403, "outside_your_kecamatan", f"You serve kecamatan {staff.kecamatan_code}: leave out kecamatan."
            )
        kecamatan = staff.kecamatan_code
    where = RequestFilter(
        status=status,
        request_type=type.value if type else None,
        kecamatan_code=kecamatan,
        submitted_from=submitted_from,
        submitted_to=submitted_to,
    )
    found = await handlers.list_requests(where, limit=limit, offset=offset, uow=uow)
    return [
        RequestSummary(
            id=r.id,
            number=r.number,
            type=r.type,
            status=r.status,
            kecamatan_code=r.kecamatan_code,
            channel=r.channel,
            operator=r.operator,
            office=r.office,
            flags=r.flags,
            submitted_at=r.submitted_at,
        )
        for r in found
    ]


@router.post(
    "/requests/follow",
    response_model=FollowView,
    responses={**_ERRORS, 429: {"model": ErrorResponse}},
    dependencies=[Depends(rate_limited("follow"))],
    openapi_extra=NO_TOKEN_NEEDED,
    tags=["requests"],
)
async def follow_by_number(body: FollowBody, request: Request) -> FollowView:
    """For citizens without an account: the request number and its access code (in the body, not the URL). Once
    the document is issued, the answer links to its PDF for a few minutes."""
    found = await _open_with_code(request, body.number, body.access_code)
    document = None
    if found.document_id is not None and found.document_number is not None:
        grants: DownloadGrants = request.app.state.download_grants
        grant = grants.issue(found.document_id)
        documents_url = request.app.state.settings.documents_url.rstrip("/")
        document = DocumentAccess(
            id=found.document_id,
            number=found.document_number,
            pdf_url=f"{documents_url}/documents/{found.document_id}/pdf?grant={grant.token}",
            url_expires_at=grant.expires_at,
        )
    return FollowView.of(found, document=document)


@router.post(
    "/requests/access-code",
    status_code=202,
    response_model=AccessCodeResent,
    responses={422: {"model": ErrorResponse}, 429: {"model": ErrorResponse}},
    dependencies=[Depends(rate_limited("access-code"))],
    openapi_extra=NO_TOKEN_NEEDED,
    tags=["requests"],
)
async def resend_access_code(
    body: ResendBody, request: Request, uow: UnitOfWorkDep, clock: ClockDep
) -> AccessCodeResent:
    """Lost the access code? It is sent again to the phone and e-mail address given with the request, and only
    there. The answer is the same whether the number exists or not."""
    await _limit(request, "access-code-resends", "access_code_resends", body.number, "for this request")
    await handlers.resend_access_code(body.number, uow=uow, clock=clock)
    return AccessCodeResent()


@router.get("/requests/{request_id}", response_model=RequestView, responses=_STAFF_ERRORS, tags=["requests"])
async def follow(request_id: uuid.UUID, uow: UnitOfWorkDep, staff: ReadingRequests) -> RequestView:
    """For staff: a request's status and its history, one entry per event. (Citizens follow theirs with
    POST /requests/follow.)"""
    found = await handlers.get_request(request_id, uow=uow)
    if not staff.serves(found.kecamatan_code):
        raise handlers.RequestNotFound(request_id)
    return RequestView.of(found)


@router.post(
    "/requests/{request_id}/attachments",
    status_code=201,
    response_model=AttachmentView,
    responses=_LIMITED_STAFF_CONFLICTS,
    tags=["attachments"],
)
async def attach(
    request_id: uuid.UUID,
    request: Request,
    uow: UnitOfWorkDep,
    clock: ClockDep,
    files: FilesDep,
    scans: ScansDep,
    opened: Requester,
    kind: Annotated[str, Form(max_length=40, description="Which scan, from the catalogue, e.g. kk_lama")],
    file: Annotated[UploadFile, File(description="The scan: PDF, JPEG or PNG")],
) -> AttachmentView:
    """Upload a scan before the decision (also to answer an information request, then resubmit). It is decoded:
    a file that is not the PDF, JPEG or PNG it claims to be, an image over the pixel limit or a PDF over the page
    limit is refused (422, `scan_*`). It is kept under a name made safe from the one sent. Citizens send the
    access code (X-Access-Code), operators their token."""
    await _limit(request, "uploads", "upload_rate_limit", client_address(request), "from your address")
    await _limit(request, "uploads-per-request", "uploads_per_request", str(opened.id), "for this request")
    settings = request.app.state.settings
    limits = ScanLimits(
        max_bytes=settings.max_attachment_bytes,
        max_pixels=settings.max_scan_pixels,
        max_pages=settings.max_scan_pages,
    )
    content = await file.read(limits.max_bytes + 1)
    attachment = await handlers.add_attachment(
        opened.id,
        opened=opened,
        kind=kind,
        filename=file.filename or "scan",
        declared_type=file.content_type,
        content=content,
        limits=limits,
        uow=uow,
        files=files,
        scans=scans,
        clock=clock,
    )
    return AttachmentView(**asdict(attachment))


@router.get(
    "/requests/{request_id}/attachments/{attachment_id}",
    responses={**_STAFF_ERRORS, 200: {"content": {"application/pdf": {}, "image/*": {}}}},
    tags=["attachments"],
)
async def read_attachment(  # type: ignore[no-untyped-def]
    request_id: uuid.UUID,
    attachment_id: uuid.UUID,
    request: Request,
    uow: UnitOfWorkDep,
    files: FilesDep,
    staff: ReadingScans,
):
    """A scan's content, for staff only: a download, never shown inside the page that asked for it."""
    await _ensure_serves(staff, request_id, request)
    attachment, content = await handlers.get_attachment(request_id, attachment_id, uow=uow, files=files)
    return Response(content, media_type=attachment.content_type, headers=download_headers(attachment))


def download_headers(attachment: Attachment) -> dict[str, str]:
    """A scan goes out as a file to save (RFC 6266), of the type recorded at upload and no other (nosniff), inert
    if a browser opens it anyway (a sandbox that allows nothing), and never cached (it holds personal data)."""
    name = safe_filename(attachment.filename, attachment.content_type)
    fallback = name.encode("ascii", "replace").decode().replace("?", "_")
    return {
        "Content-Disposition": f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "no-store",
    }


@router.get(
    "/requests/{request_id}/notifications",
    response_model=list[NotificationView],
    responses=_STAFF_ERRORS,
    tags=["notifications"],
)
async def request_notifications(
    request_id: uuid.UUID, request: Request, uow: UnitOfWorkDep, told: NotificationsDep, staff: ReadingRequests
) -> list[NotificationView]:
    """For staff: what the citizen was told about the request, on which channel, and whether it reached them."""
    await _ensure_serves(staff, request_id, request)
    await handlers.ensure_known(request_id, uow=uow)
    return [NotificationView.of(item) for item in await notices.list_notifications(request_id, uow=told)]


@router.post(
    "/requests/{request_id}/cancel",
    response_model=RequestView,
    responses=_LIMITED_STAFF_CONFLICTS,
    tags=["requests"],
)
async def cancel(request_id: uuid.UUID, body: CancelBody, uow: UnitOfWorkDep, opened: Requester) -> RequestView:
    """Withdraw a request before the decision: its holder with the access code (X-Access-Code), or an operator."""
    return RequestView.of(await handlers.cancel_request(opened.id, body.reason, uow=uow, opened=opened))


@router.post(
    "/requests/{request_id}/resubmit",
    response_model=RequestView,
    responses=_LIMITED_STAFF_CONFLICTS,
    tags=["requests"],
)
async def resubmit(
    request_id: uuid.UUID, body: ResubmitBody, uow: UnitOfWorkDep, opened: Requester, clock: ClockDep
) -> RequestView:
    """Answer the reviewer's information request (corrections here, scans uploaded before); back to review. Its
    holder with the access code (X-Access-Code), or an operator."""
    return RequestView.of(
        await handlers.resubmit_request(opened.id, body.details, body.note, uow=uow, clock=clock, opened=opened)
    )


class RenewedAccessCode(BaseModel):
    number: str
    access_code: str = Field(
        description="The request's new code: the old one no longer opens it. Hand it to the citizen in person; it "
        "is also sent to the phone and e-mail address given with the request"
    )


@router.post(
    "/requests/{request_id}/access-code/renew",
    response_model=RenewedAccessCode,
    responses=_STAFF_ERRORS,
    tags=["requests"],
)
async def renew_access_code(
    request_id: uuid.UUID, request: Request, uow: UnitOfWorkDep, operator: Submitting, clock: ClockDep
) -> RenewedAccessCode:
    """For a kecamatan operator at the counter, once they have checked the holder's identity in person: a request
    whose code leaked gets a new one, and the old one stops working at once."""
    await _ensure_serves(operator, request_id, request)
    renewed = await handlers.renew_access_code(request_id, uow=uow, clock=clock)
    log.info("access_code_renewed", request_id=str(renewed.id), by=operator.username)
    codes: AccessCodes = request.app.state.access_codes
    return RenewedAccessCode(number=renewed.number, access_code=str(codes.of(renewed.id, renewed.access_code_version)))


@router.post(
    "/perekaman-bookings",
    status_code=201,
    response_model=BookingView,
    responses={**_CONFLICTS, 429: {"model": ErrorResponse}},
    tags=["e-KTP recording"],
)
async def book_recording(body: BookingBody, request: Request, uow: UnitOfWorkDep, clock: ClockDep) -> BookingView:
    """Book the in-person e-KTP recording (perekaman) at a kecamatan office: a working day and a queue number.
    A person who already has an upcoming booking is refused (409 `already_booked`): their confirmation went to the
    phone or e-mail they gave then."""
    await _limit(request, "bookings", "booking_rate_limit", client_address(request), "from your address")
    await _limit(
        request, "bookings-per-applicant", "bookings_per_applicant", target_key(body.applicant.nik), "for this person"
    )
    command = handlers.BookRecording(
        applicant=body.applicant,
        kecamatan_code=body.kecamatan_code,
        preferred_date=body.preferred_date,
        phone=body.phone,
        email=body.email,
    )
    capacity: int = request.app.state.settings.recording_capacity
    booking = await handlers.book_recording(command, capacity=capacity, uow=uow, clock=clock)
    return BookingView.of(booking)


@router.get("/perekaman-bookings/{booking_id}", response_model=BookingView, responses=_ERRORS, tags=["e-KTP recording"])
async def show_booking(booking_id: uuid.UUID, uow: UnitOfWorkDep) -> BookingView:
    return BookingView.of(await handlers.get_booking(booking_id, uow=uow))


@router.get(
    "/perekaman-bookings/{booking_id}/notifications",
    response_model=list[NotificationView],
    responses=_STAFF_ERRORS,
    tags=["notifications"],
)
async def booking_notifications(
    booking_id: uuid.UUID, request: Request, uow: UnitOfWorkDep, told: NotificationsDep, staff: ReadingRequests
) -> list[NotificationView]:
    """For staff: the booking's confirmation, on which channel, and whether it reached the citizen."""
    if staff.kecamatan_bound:
        booking = await handlers.get_booking(booking_id, uow=_unit_of_work(request))
        if not staff.serves(booking.kecamatan_code):
            raise handlers.RequestNotFound(booking_id)
    await handlers.ensure_known(booking_id, uow=uow)
    return [NotificationView.of(item) for item in await notices.list_notifications(booking_id, uow=told)]


def install(
    app: FastAPI,
    *,
    unit_of_work: Callable[[], RequestsUnitOfWork],
    notifications: Callable[[], NotificationsUnitOfWork],
    access_codes: AccessCodes,
    download_grants: DownloadGrants,
) -> None:
    app.state.requests_unit_of_work = unit_of_work
    app.state.notifications_unit_of_work = notifications
    app.state.access_codes = access_codes
    app.state.download_grants = download_grants
    app.include_router(router)
