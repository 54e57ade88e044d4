"""The reviewer: the work queue, the review screen (the data beside the scans), claims and decisions."""

from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from dukcapil_web.adapters.api import ServiceRefused
from dukcapil_web.domain import forms
from dukcapil_web.domain.i18n import pick
from dukcapil_web.entrypoints.pages import LanguageDep, ProtectedForm, caller, kecamatan_choices, language, see_other
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

SCAN_TYPES = {"application/pdf", "image/jpeg", "image/png"}
ACTIONS = {"claim", "release", "approve", "reject", "request-information"}

router = APIRouter(prefix="/staff")


QUEUE_STATUSES = ("pending", "info_requested", "approved", "rejected", "cancelled")
REQUEST_TYPES = ("kartu_keluarga", "akta_kematian", "surat_pindah", "biodata_wni")


@router.get("/antrean", response_class=HTMLResponse)
async def queue(
    request: Request,
    console: ConsoleDep,
    staff: Annotated[Staff, needs("reviews:read")],
    status: str = "pending",
    jenis: str = "",
    kecamatan: str = "",
    terlambat: str = "",
    urutan: str = "due",
) -> Response:
    params: dict[str, Any] = {"order": "due" if urutan == "due" else "received", "limit": 100}
    if status in QUEUE_STATUSES:
        params["status"] = status
    if jenis in REQUEST_TYPES:
        params["type"] = jenis
    if kecamatan and len(kecamatan) == 8:
        params["kecamatan"] = kecamatan
    if terlambat:
        params["overdue"] = "true"
    reviews = await console.review.queue(params, calling(request, staff, "verifikasi"))
    return staff_page(
        request,
        "staff/queue.html",
        reviews=reviews,
        filters={"status": status, "jenis": jenis, "kecamatan": kecamatan, "terlambat": terlambat, "urutan": urutan},
        statuses=QUEUE_STATUSES,
        types=REQUEST_TYPES,
        kecamatan_list=kecamatan_choices(),
    )


@router.post("/antrean/berikutnya", dependencies=[ProtectedForm])
async def claim_next(
    request: Request, console: ConsoleDep, lang: LanguageDep, staff: Annotated[Staff, needs("reviews:decide")]
) -> Response:
    """Claim the pending review due first that nobody else holds, and open it."""
    who = calling(request, staff, "verifikasi")
    reviews = await console.review.queue({"status": "pending", "order": "due", "limit": 50}, who)
    for review in reviews:
        if review.get("claimed_by") in (None, staff.username):
            try:
                await console.review.act(review["request_id"], "claim", {}, who)
            except ServiceRefused as refused:
                if refused.status == 409:
                    continue
                raise
            return see_other(f"/staff/verifikasi/{review['request_id']}")
    session_of(request)["staff_notice"] = pick(lang, "Tidak ada permohonan yang menunggu.", "Nothing is waiting.")
    return see_other("/staff/antrean")


async def _review_page(
    request: Request, console: Console, staff: Staff, request_id: str, status_code: int = 200, **more: Any
) -> HTMLResponse:
    who = calling(request, staff, "verifikasi")
    review = await console.review.review(request_id, who)
    audit = await console.review.audit(request_id, who)
    try:
        history = (await console.intake.request(request_id, who)).get("history", [])
    except ServiceRefused:
        history = []
    lang = language(request)
    catalogue = await request.app.state.portal.intake.catalogue(caller(request))
    scan_names = forms.scan_descriptions(catalogue, lang)
    mine = review.get("claimed_by") == staff.username
    return staff_page(
        request,
        "staff/review.html",
        status_code=status_code,
        review=review,
        audit=audit,
        history=history,
        scan_names=scan_names,
        mine=mine,
        may_decide=staff.may("reviews:decide"),
        may_supervise=staff.may("reviews:supervise"),
        scan_types=SCAN_TYPES,
        errors=more.pop("errors", {}),
        general=more.pop("general", []),
        values=more.pop("values", {}),
        **more,
    )


@router.get("/verifikasi/{request_id}", response_class=HTMLResponse)
async def review_screen(
    request_id: str, request: Request, console: ConsoleDep, staff: Annotated[Staff, needs("reviews:read")]
) -> Response:
    return await _review_page(request, console, staff, path_id(request_id))


@router.post("/verifikasi/{request_id}/{action}", response_class=HTMLResponse, dependencies=[ProtectedForm])
async def review_action(
    request_id: str,
    action: str,
    request: Request,
    console: ConsoleDep,
    lang: LanguageDep,
    staff: Annotated[Staff, needs("reviews:decide")],
) -> Response:
    request_id = path_id(request_id)
    if action not in ACTIONS:
        return see_other(f"/staff/verifikasi/{request_id}")
    form = await request.form()
    values = {key: value.strip() for key, value in form.items() if isinstance(value, str)}
    body: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    if action == "approve" and values.get("note"):
        body["note"] = values["note"]
    if action in ("reject", "request-information"):
        field = f"{action}.reason"
        if not values.get(field):
            errors[field] = [pick(lang, "Tulis alasannya untuk pemohon.", "Write the reason for the applicant.")]
        body["reason"] = values.get(field, "")
    if action == "request-information":
        missing = [str(item) for item in form.getlist("missing_items") if isinstance(item, str) and item]
        missing += [line.strip() for line in values.get("missing_other", "").splitlines() if line.strip()]
        body["missing_items"] = missing
    if not errors:
        try:
            await console.review.act(request_id, action, body, calling(request, staff, "verifikasi"))
        except ServiceRefused as refused:
            if refused.status in (401, 403, 404):
                raise
            names = {"reason", "note", "missing_items"}
            placed, general = field_errors(refused, names, lang)
            prefix = "approve." if action == "approve" else f"{action}."
            errors = {
                (prefix + name if name != "missing_items" else "missing_items"): msgs for name, msgs in placed.items()
            }
            return await _review_page(
                request, console, staff, request_id, status_code=422, errors=errors, general=general, values=values
            )
        else:
            done = {
                "claim": ("Permohonan Anda ambil.", "You claimed the request."),
                "release": ("Permohonan dikembalikan ke antrean.", "The request is back in the queue."),
                "approve": ("Permohonan disetujui.", "The request is approved."),
                "reject": ("Permohonan ditolak.", "The request is rejected."),
                "request-information": ("Permintaan kelengkapan dikirim ke pemohon.", "The applicant was asked."),
            }[action]
            session_of(request)["staff_notice"] = pick(lang, *done)
            if action in ("approve", "reject", "request-information", "release"):
                return see_other("/staff/antrean")
            return see_other(f"/staff/verifikasi/{request_id}")
    return await _review_page(request, console, staff, request_id, status_code=422, errors=errors, values=values)


@router.get("/berkas/{request_id}/{attachment_id}")
async def scan(
    request_id: str,
    attachment_id: str,
    request: Request,
    console: ConsoleDep,
    staff: Annotated[Staff, needs("attachments:read")],
) -> Response:
    """A scan shown inside the review screen: fetched from intake with the staff token, given to the browser as
    what it was recorded as (PDF, JPEG or PNG, nothing else), to be framed by this site only, never cached."""
    task = "loket" if staff.may("requests:submit") else "verifikasi"
    found = await console.intake.scan(path_id(request_id), path_id(attachment_id), calling(request, staff, task))
    content_type = found.content_type if found.content_type in SCAN_TYPES else "application/octet-stream"
    return Response(
        found.content,
        media_type=content_type,
        headers={
            "Content-Disposition": f'inline; filename="{found.filename}"',
            "Content-Security-Policy": "default-src 'none'; img-src 'self'; frame-ancestors 'self'",
            "X-Frame-Options": "SAMEORIGIN",
            "Cache-Control": "no-store",
        },
    )
