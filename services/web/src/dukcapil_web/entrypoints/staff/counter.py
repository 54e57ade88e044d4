"""The kecamatan operator: assisted submission, the office's requests, a leaked code renewed, the pickup handover."""

import uuid
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from dukcapil_web.adapters.api import ServiceRefused
from dukcapil_web.domain import forms
from dukcapil_web.domain.i18n import pick
from dukcapil_web.entrypoints.pages import (
    LanguageDep,
    ProtectedForm,
    caller,
    kecamatan_choices,
    refusal_text,
    see_other,
)
from dukcapil_web.entrypoints.security import session_of
from dukcapil_web.entrypoints.staff.console import (
    Console,
    ConsoleDep,
    Staff,
    calling,
    field_errors,
    needs,
    path_id,
    staff_page,
)

log = structlog.get_logger(__name__)

router = APIRouter(prefix="/staff")


REQUEST_STATUSES = (
    "submitted",
    "in_review",
    "info_requested",
    "approved",
    "rejected",
    "document_issued",
    "shipped",
    "delivered",
    "delivery_failed",
    "ready_for_pickup",
    "collected",
    "cancelled",
)


@router.get("/loket", response_class=HTMLResponse)
async def office_requests(
    request: Request, console: ConsoleDep, staff: Annotated[Staff, needs("requests:submit")], status: str = ""
) -> Response:
    params: dict[str, Any] = {"limit": 200}
    if status in REQUEST_STATUSES:
        params["status"] = status
    found = await console.intake.requests(params, calling(request, staff, "loket"))
    found.sort(key=lambda item: item.get("submitted_at", ""), reverse=True)
    catalogue = await request.app.state.portal.intake.catalogue(caller(request))
    return staff_page(
        request,
        "staff/office.html",
        renewed=session_of(request).pop("renewed", None),
        renew_problem=session_of(request).pop("renew_problem", None),
        found=found,
        status=status,
        statuses=REQUEST_STATUSES,
        services=forms.online_services(catalogue),
    )


async def _assisted_service(request: Request, code: str) -> dict[str, Any]:
    service = forms.find_service(await request.app.state.portal.intake.catalogue(caller(request)), code)
    if service is None or not service.get("online"):
        raise StarletteHTTPException(404)
    return service


@router.get("/loket/baru/{code}", response_class=HTMLResponse)
async def assisted_form(
    code: str, request: Request, lang: LanguageDep, staff: Annotated[Staff, needs("requests:submit")]
) -> Response:
    service = await _assisted_service(request, code)
    values = {"delivery.pickup_kecamatan_code": staff.kecamatan_code or ""}
    form = forms.build_form(service, language=lang, kecamatan=kecamatan_choices(), values=values)
    return staff_page(request, "staff/assisted.html", form=form, idempotency_key=uuid.uuid4().hex)


@router.post("/loket/baru/{code}", response_class=HTMLResponse, dependencies=[ProtectedForm])
async def assisted_submit(
    code: str,
    request: Request,
    console: ConsoleDep,
    lang: LanguageDep,
    staff: Annotated[Staff, needs("requests:submit")],
) -> Response:
    """A request for a citizen at the counter: the operator's token makes it an assisted one of their office."""
    service = await _assisted_service(request, code)
    submitted = {key: value for key, value in (await request.form()).items() if isinstance(value, str)}
    add_row = submitted.pop("_tambah", None)
    shape = forms.build_form(service, language=lang, kecamatan=kecamatan_choices(), values=submitted)
    values = forms.compact_rows(shape, submitted)
    form = forms.build_form(service, language=lang, kecamatan=kecamatan_choices(), values=values, add_row=add_row)
    idempotency_key = (submitted.get("_kunci") or uuid.uuid4().hex)[:64]
    if add_row:
        return staff_page(request, "staff/assisted.html", form=form, idempotency_key=idempotency_key)
    try:
        created = await console.intake.submit(
            forms.request_body(code, form, values), calling(request, staff), idempotency_key=idempotency_key
        )
    except ServiceRefused as refused:
        if refused.status in (401, 429):
            raise
        if refused.status == 422 and refused.code == "invalid_request":
            forms.place_errors(form, forms.details_of(refused.body), lang)
        else:
            form.general_errors.append(refusal_text(refused, lang))
        return staff_page(
            request,
            "staff/assisted.html",
            status_code=422 if refused.status in (400, 422) else refused.status,
            form=form,
            idempotency_key=idempotency_key,
        )
    session = session_of(request)
    session["assisted"] = {
        "id": created["id"],
        "number": created["number"],
        "code": created["access_code"],
        "type": code,
    }
    log.info("assisted_request_submitted", request_id=created["id"], type=code, by=staff.username)
    return see_other("/staff/loket/tanda-terima")


@router.get("/loket/tanda-terima", response_class=HTMLResponse)
async def assisted_receipt(
    request: Request, console: ConsoleDep, lang: LanguageDep, staff: Annotated[Staff, needs("requests:submit")]
) -> Response:
    held = session_of(request).get("assisted")
    if not held:
        return see_other("/staff/loket")
    view = await console.intake.request(held["id"], calling(request, staff, "loket"))
    catalogue = await request.app.state.portal.intake.catalogue(caller(request))
    return staff_page(
        request,
        "staff/assisted_receipt.html",
        held=held,
        view=view,
        scan_names=forms.scan_descriptions(catalogue, lang),
        upload_problem=session_of(request).pop("upload_problem", None),
    )


@router.post("/loket/unggah", dependencies=[ProtectedForm])
async def assisted_upload(
    request: Request, console: ConsoleDep, lang: LanguageDep, staff: Annotated[Staff, needs("requests:submit")]
) -> Response:
    held = session_of(request).get("assisted")
    if not held:
        return see_other("/staff/loket")
    form = await request.form()
    kind, upload = form.get("kind"), form.get("file")
    session = session_of(request)
    content = await upload.read() if upload is not None and not isinstance(upload, str) else b""
    if not isinstance(kind, str) or not content or upload is None or isinstance(upload, str):
        session["upload_problem"] = pick(lang, "Pilih berkas yang akan diunggah.", "Choose a file to upload.")
        return see_other("/staff/loket/tanda-terima")
    try:
        await console.intake.upload(
            held["id"],
            kind=kind,
            filename=upload.filename or "scan",
            content_type=upload.content_type or "application/octet-stream",
            content=content,
            caller=calling(request, staff),
        )
    except ServiceRefused as refused:
        if refused.status == 401:
            raise
        session["upload_problem"] = refusal_text(refused, lang)
    else:
        session["staff_notice"] = pick(lang, "Berkas diterima.", "Scan received.")
    return see_other("/staff/loket/tanda-terima")


@router.post("/loket/{request_id}/kode-baru", dependencies=[ProtectedForm])
async def renew_access_code(
    request_id: str,
    request: Request,
    console: ConsoleDep,
    lang: LanguageDep,
    staff: Annotated[Staff, needs("requests:submit")],
    checked: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """A leaked code replaced at the counter, once the operator has checked the holder's identity in person: the old
    code stops working at once; the new one is shown once, to hand over."""
    request_id = path_id(request_id)
    session = session_of(request)
    if checked != "ya":
        session["renew_problem"] = {
            "id": request_id,
            "text": pick(
                lang, "Centang bahwa identitas pemohon sudah diperiksa.", "Tick that you checked their identity."
            ),
        }
        return see_other(f"/staff/loket#r-{request_id}")
    try:
        renewed = await console.intake.renew_access_code(request_id, calling(request, staff))
    except ServiceRefused as refused:
        if refused.status in (401, 403):
            raise
        session["renew_problem"] = {"id": request_id, "text": refusal_text(refused, lang)}
        return see_other(f"/staff/loket#r-{request_id}")
    session["renewed"] = {"number": renewed["number"], "code": renewed["access_code"]}
    log.info("access_code_renewed_at_counter", request_id=request_id, by=staff.username)
    return see_other("/staff/loket")


async def _handover_page(
    request: Request, console: Console, staff: Staff, status_code: int = 200, **more: Any
) -> HTMLResponse:
    who = calling(request, staff, "loket")
    waiting = await console.shipping.shipments({"status": "ready_for_pickup", "limit": 200}, who)
    numbers: dict[str, str] = {}
    if staff.may("requests:read"):
        found = await console.intake.requests({"status": "ready_for_pickup", "limit": 500}, who)
        numbers = {item["id"]: item["number"] for item in found}
    return staff_page(
        request,
        "staff/handover.html",
        status_code=status_code,
        waiting=waiting,
        numbers=numbers,
        errors=more.pop("errors", {}),
        general=more.pop("general", []),
        values=more.pop("values", {}),
        **more,
    )


@router.get("/serah-terima", response_class=HTMLResponse)
async def handover(
    request: Request, console: ConsoleDep, staff: Annotated[Staff, needs("shipments:handover")]
) -> Response:
    return await _handover_page(request, console, staff)


@router.post("/serah-terima/{shipment_id}", response_class=HTMLResponse, dependencies=[ProtectedForm])
async def record_handover(
    shipment_id: str,
    request: Request,
    console: ConsoleDep,
    lang: LanguageDep,
    staff: Annotated[Staff, needs("shipments:handover")],
    collector_name: Annotated[str, Form(max_length=200)] = "",
    collector_nik: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    """The collector's name and NIK, checked by the operator against their e-KTP, posted (never in a URL)."""
    shipment_id = path_id(shipment_id)
    name, nik = collector_name.strip(), "".join(collector_nik.split())
    errors: dict[str, list[str]] = {}
    if not name:
        errors["collector_name"] = [pick(lang, "Isi nama pengambil.", "Enter the collector's name.")]
    if not nik:
        errors["collector_nik"] = [pick(lang, "Isi NIK pengambil.", "Enter the collector's NIK.")]
    general: list[str] = []
    if not errors:
        try:
            await console.shipping.collected(
                shipment_id, {"collector_name": name, "collector_nik": nik}, calling(request, staff)
            )
        except ServiceRefused as refused:
            if refused.status in (401, 403, 404):
                raise
            errors, general = field_errors(refused, {"collector_name", "collector_nik"}, lang)
            if refused.code == "invalid_nik":
                told = pick(lang, "NIK pengambil tidak sah", "The collector's NIK is not valid")
                errors, general = {"collector_nik": [f"{told} ({refusal_text(refused, lang)})"]}, []
        else:
            session_of(request)["staff_notice"] = pick(
                lang, f"Dokumen diserahkan kepada {name}.", f"The document was handed to {name}."
            )
            return see_other("/staff/serah-terima")
    return await _handover_page(
        request,
        console,
        staff,
        status_code=422,
        errors={f"{shipment_id}.{key}": value for key, value in errors.items()},
        general=general,
        values={f"{shipment_id}.collector_name": name},
    )
