"""The staff console under /staff: sign-in at intake, and the pages of each role over the services' staff APIs.

The token intake issues stays in the server-side session (the browser holds only the session cookie), and goes
with every call as `Authorization: Bearer`. What the menu shows follows the token's scopes; a page whose scope
the token lacks answers 403 before calling anything. Where the services record why a person's data is read, the
reason is asked once per task (reviewing, the counter, ...) and sent as `X-Access-Reason` with every read.
A NIK (a collector's, say) is posted, never put in a URL or a log line.
"""

import re
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import quote

import structlog
from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from dukcapil_web.adapters.api import (
    Caller,
    DeadLettersApi,
    ReviewApi,
    ServiceRefused,
    ServiceUnavailable,
    ShippingApi,
    StaffDocumentsApi,
    StaffIntakeApi,
)
from dukcapil_web.domain import forms
from dukcapil_web.domain.i18n import Language, pick, status_label
from dukcapil_web.domain.progress import local_time
from dukcapil_web.domain.staff import (
    REVIEW_STATUSES,
    TASKS,
    TYPE_NAMES,
    bar_chart,
    duration,
    expired,
    places_for,
    reason_problem,
    signed_in_until,
)
from dukcapil_web.entrypoints.pages import (
    LanguageDep,
    ProtectedForm,
    caller,
    kecamatan_choices,
    language,
    refusal_text,
    refused_page,
    render,
    see_other,
)
from dukcapil_web.entrypoints.security import safe_next, session_of

log = structlog.get_logger(__name__)

SCAN_TYPES = {"application/pdf", "image/jpeg", "image/png"}
ACTIONS = {"claim", "release", "approve", "reject", "request-information"}


@dataclass
class Console:
    """The staff APIs the console calls, built by the composition root."""

    intake: StaffIntakeApi
    review: ReviewApi
    shipping: ShippingApi
    documents: StaffDocumentsApi
    dead_letters: dict[str, DeadLettersApi]


def console(request: Request) -> Console:
    return request.app.state.console


ConsoleDep = Annotated[Console, Depends(console)]


class SignInNeeded(Exception):
    pass


class ReasonNeeded(Exception):
    def __init__(self, task: str) -> None:
        super().__init__(task)
        self.task = task


class ScopeMissing(Exception):
    pass


@dataclass(frozen=True)
class Staff:
    """The signed-in member of staff, as the session keeps them."""

    username: str
    role: str
    kecamatan_code: str | None
    scopes: frozenset[str]
    token: str

    def may(self, scope: str) -> bool:
        return scope in self.scopes


def signed_in(request: Request) -> Staff | None:
    held = session_of(request).get("staff")
    if not isinstance(held, dict) or expired(held.get("until", "")):
        return None
    return Staff(
        username=held["username"],
        role=held["role"],
        kecamatan_code=held.get("kecamatan_code"),
        scopes=frozenset(held.get("scopes") or ()),
        token=held["token"],
    )


def current_staff(request: Request) -> Staff:
    staff = signed_in(request)
    if staff is None:
        raise SignInNeeded()
    return staff


StaffDep = Annotated[Staff, Depends(current_staff)]


def needs(scope: str) -> Any:
    def check(staff: StaffDep) -> Staff:
        if not staff.may(scope):
            raise ScopeMissing(scope)
        return staff

    return Depends(check)


def calling(request: Request, staff: Staff, task: str | None = None) -> Caller:
    """The caller for a service: this click's request id and the staff token; with a task, its reason."""
    reason = None
    if task is not None:
        reason = (session_of(request).get("reasons") or {}).get(task)
        if not reason:
            raise ReasonNeeded(task)
    plain = caller(request)
    return Caller(address=plain.address, request_id=plain.request_id, token=staff.token, reason=reason)


def staff_page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    staff = signed_in(request)
    session = session_of(request)
    lang = language(request)
    return render(
        request,
        template,
        status_code=status_code,
        staff=staff,
        places=places_for(staff.scopes) if staff else [],
        reasons=session.get("reasons") or {},
        tasks=TASKS,
        notice=session.pop("staff_notice", None),
        local_time=local_time,
        review_status=lambda code: pick(lang, *REVIEW_STATUSES[code]) if code in REVIEW_STATUSES else code,
        type_label=lambda code: pick(lang, *TYPE_NAMES[code]) if code in TYPE_NAMES else code,
        **context,
    )


def field_errors(refused: ServiceRefused, names: set[str], lang: Language) -> tuple[dict[str, list[str]], list[str]]:
    """A service's error details beside the inputs named like their path (`body.reason` -> `reason`); the rest, and
    a refusal without details, on top."""
    errors: dict[str, list[str]] = {}
    general: list[str] = []
    for detail in forms.details_of(refused.body):
        path = (detail.field or "").removeprefix("body.")
        target = path if path in names else next((n for n in names if path.startswith(n + ".")), None)
        if target:
            errors.setdefault(target, []).append(detail.text(lang))
        else:
            general.append(detail.text(lang))
    if not errors and not general:
        general.append(refusal_text(refused, lang))
    return errors, general


router = APIRouter(prefix="/staff")


# --- signing in and out; the reason for a task ---


@router.get("", response_class=HTMLResponse)
async def home(request: Request, kembali: str | None = None) -> Response:
    staff = signed_in(request)
    if staff is None:
        return staff_page(request, "staff/sign_in.html", errors={}, general=[], username="", kembali=kembali or "")
    return staff_page(request, "staff/home.html")


@router.post("/masuk", response_class=HTMLResponse, dependencies=[ProtectedForm])
async def sign_in(
    request: Request,
    console: ConsoleDep,
    lang: LanguageDep,
    username: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=200)] = "",
    kembali: Annotated[str, Form(max_length=300)] = "",
) -> Response:
    username = username.strip().lower()
    errors: dict[str, list[str]] = {}
    general: list[str] = []
    if not username:
        errors["username"] = [pick(lang, "Isi nama pengguna.", "Enter your user name.")]
    if not password:
        errors["password"] = [pick(lang, "Isi kata sandi.", "Enter your password.")]
    settings = request.app.state.portal.settings
    secure = settings.cookie_secure if settings.cookie_secure is not None else request.url.scheme == "https"
    if settings.environment == "production" and not secure:
        # A staff session must ride on a Secure cookie: over plain HTTP it could be read on the way.
        errors, general = {}, [pick(lang, "Masuk petugas hanya lewat HTTPS.", "Staff sign in over HTTPS only.")]
    if not errors and not general:
        try:
            token = await console.intake.sign_in(username, password, caller(request))
            plain = caller(request)
            me = await console.intake.me(
                Caller(address=plain.address, request_id=plain.request_id, token=token["access_token"])
            )
        except ServiceRefused as refused:
            if refused.code == "invalid_grant":
                errors["password"] = [
                    pick(
                        lang,
                        "Nama pengguna atau kata sandi salah, atau akun dinonaktifkan.",
                        "Wrong user name or password, or the account is deactivated.",
                    )
                ]
            else:
                errors, general = field_errors(refused, {"username", "password"}, lang)
        else:
            session = session_of(request)
            for key in ("staff", "reasons"):
                session.pop(key, None)
            session["staff"] = {
                "token": token["access_token"],
                "until": signed_in_until(int(token.get("expires_in", 3600))),
                "username": me["username"],
                "role": me["role"],
                "kecamatan_code": me.get("kecamatan_code"),
                "scopes": me.get("scopes") or [],
            }
            session.rotate()  # a session id seen before signing in does not come to hold a token
            log.info("staff_signed_in", username=me["username"], role=me["role"])
            return see_other(safe_next(kembali) if kembali.startswith("/staff/") else "/staff")
    return staff_page(
        request,
        "staff/sign_in.html",
        status_code=422,
        errors=errors,
        general=general,
        username=username,
        kembali=kembali,
    )


@router.post("/keluar", dependencies=[ProtectedForm])
async def sign_out(request: Request, console: ConsoleDep, lang: LanguageDep) -> RedirectResponse:
    """Ends the session at intake too: the token is refused by every service from now on."""
    staff = signed_in(request)
    if staff is not None:
        try:
            await console.intake.sign_out(calling(request, staff))
        except Exception as error:  # the session here ends anyway; intake's ends when its token expires
            log.warning("staff_sign_out_failed", error=type(error).__name__)
    session = session_of(request)
    for key in ("staff", "reasons"):
        session.pop(key, None)
    session.rotate()
    session["staff_notice"] = pick(lang, "Anda sudah keluar.", "You are signed out.")
    return see_other("/staff")


@router.get("/alasan", response_class=HTMLResponse)
async def reason_form(request: Request, _staff: StaffDep, tugas: str = "", kembali: str = "/staff") -> Response:
    if tugas not in TASKS:
        return see_other("/staff")
    current = (session_of(request).get("reasons") or {}).get(tugas, "")
    return staff_page(
        request, "staff/reason.html", task=TASKS[tugas], reason=current, kembali=safe_next(kembali), errors=[]
    )


@router.post("/alasan", response_class=HTMLResponse, dependencies=[ProtectedForm])
async def give_reason(
    request: Request,
    _staff: StaffDep,
    lang: LanguageDep,
    tugas: Annotated[str, Form(max_length=40)],
    alasan: Annotated[str, Form(max_length=1000)] = "",
    kembali: Annotated[str, Form(max_length=300)] = "/staff",
) -> Response:
    if tugas not in TASKS:
        return see_other("/staff")
    problem = reason_problem(alasan)
    if problem:
        return staff_page(
            request,
            "staff/reason.html",
            status_code=422,
            task=TASKS[tugas],
            reason=alasan,
            kembali=safe_next(kembali),
            errors=[pick(lang, *problem)],
        )
    session = session_of(request)
    session["reasons"] = {**(session.get("reasons") or {}), tugas: " ".join(alasan.split())}
    return see_other(safe_next(kembali))


# --- the reviewer: the queue, the review screen, the scans ---


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


def _uuid(value: str) -> str:
    """An id from a path, as intake, review and the others write it; anything else is a 404."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise StarletteHTTPException(404) from None


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
    return await _review_page(request, console, staff, _uuid(request_id))


@router.post("/verifikasi/{request_id}/{action}", response_class=HTMLResponse, dependencies=[ProtectedForm])
async def review_action(
    request_id: str,
    action: str,
    request: Request,
    console: ConsoleDep,
    lang: LanguageDep,
    staff: Annotated[Staff, needs("reviews:decide")],
) -> Response:
    request_id = _uuid(request_id)
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
    found = await console.intake.scan(_uuid(request_id), _uuid(attachment_id), calling(request, staff, task))
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


# --- the kecamatan operator: assisted submission, the office's requests, the pickup handover ---


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
    request_id = _uuid(request_id)
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
    shipment_id = _uuid(shipment_id)
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


# --- the document officer: find a document, revoke or correct it ---


REQUEST_NUMBER = re.compile(r"^(\d{2})(\d{2})(\d{2})-(\d{4})(\d{2})(\d{2})-\d{4}$")


async def _find_request(console: Console, query: str, who: Caller) -> dict[str, Any] | None:
    """A request by its id, or by its number: the number names the kecamatan and the day it was submitted, so
    intake's search of that kecamatan around that day finds it."""
    query = query.strip()
    try:
        return await console.intake.request(str(uuid.UUID(query)), who)
    except ValueError:
        pass
    except ServiceRefused as refused:
        if refused.status == 404:
            return None
        raise
    found = REQUEST_NUMBER.match(query)
    if not found:
        return None
    province, regency, district, year, month, day = found.groups()
    try:
        submitted = date(int(year), int(month), int(day))
    except ValueError:
        return None
    params = {
        "kecamatan": f"{province}.{regency}.{district}",
        "submitted_from": (submitted - timedelta(days=1)).isoformat(),
        "submitted_to": (submitted + timedelta(days=1)).isoformat(),
        "limit": 500,
    }
    for summary in await console.intake.requests(params, who):
        if summary["number"] == query:
            return await console.intake.request(summary["id"], who)
    return None


async def _documents_page(
    request: Request, console: Console, staff: Staff, query: str, status_code: int = 200, **more: Any
) -> HTMLResponse:
    who = calling(request, staff, "dokumen")
    found = await _find_request(console, query, who) if query else None
    documents = await console.documents.for_request(found["id"], who) if found else []
    return staff_page(
        request,
        "staff/documents.html",
        status_code=status_code,
        query=query,
        found=found,
        documents=documents,
        errors=more.pop("errors", {}),
        general=more.pop("general", []),
        values=more.pop("values", {}),
        **more,
    )


@router.get("/dokumen", response_class=HTMLResponse)
async def documents(
    request: Request, console: ConsoleDep, staff: Annotated[Staff, needs("documents:manage")], cari: str = ""
) -> Response:
    return await _documents_page(request, console, staff, cari[:80])


@router.post("/dokumen/{document_id}/{action}", response_class=HTMLResponse, dependencies=[ProtectedForm])
async def manage_document(
    document_id: str,
    action: str,
    request: Request,
    console: ConsoleDep,
    lang: LanguageDep,
    staff: Annotated[Staff, needs("documents:manage")],
) -> Response:
    """Revoke, or correct (a new document with a new number supersedes this one), on an approved decision."""
    if action not in ("revoke", "correct"):
        raise StarletteHTTPException(404)
    document_id = _uuid(document_id)
    form = await request.form()
    values = {key: value.strip() for key, value in form.items() if isinstance(value, str)}
    query = values.get("cari", "")
    prefix = f"{action}."
    body: dict[str, Any] = {
        "reason": values.get(prefix + "reason", ""),
        "approved_by": values.get(prefix + "approved_by", ""),
    }
    errors: dict[str, list[str]] = {}
    for name, told in (
        ("reason", ("Tulis alasannya.", "Write the reason.")),
        ("approved_by", ("Isi siapa yang menyetujui.", "Say who approved it.")),
    ):
        if not body[name]:
            errors[prefix + name] = [pick(lang, *told)]
    if action == "correct":
        changes: dict[str, Any] = {}
        for line in values.get("correct.details", "").splitlines():
            if ":" in line:
                key, value = line.split(":", 1)
                changes[key.strip()] = value.strip() or None
            elif line.strip():
                errors["correct.details"] = [
                    pick(lang, "Tulis satu perubahan per baris: kunci: nilai.", "One change a line: key: value.")
                ]
        if changes:
            body["details"] = changes
        holder = {"nik": values.get("correct.holder.nik", ""), "name": values.get("correct.holder.name", "")}
        if values.get("correct.holder_changed") and all(holder.values()):
            body["holder"] = holder
        if not changes and "holder" not in body and "correct.details" not in errors:
            errors["correct.details"] = [
                pick(
                    lang,
                    "Tulis rincian yang dikoreksi, atau koreksi data pemegang.",
                    "Give the corrected details, or correct the holder.",
                )
            ]
    if not errors:
        try:
            if action == "revoke":
                await console.documents.revoke(document_id, body, calling(request, staff))
            else:
                await console.documents.correct(document_id, body, calling(request, staff))
        except ServiceRefused as refused:
            if refused.status in (401, 403):
                raise
            placed, general = field_errors(
                refused, {"reason", "approved_by", "details", "holder.nik", "holder.name", "holder"}, lang
            )
            errors = {prefix + name: messages for name, messages in placed.items()}
            return await _documents_page(
                request,
                console,
                staff,
                query,
                status_code=422,
                errors=errors,
                general=general,
                values=values,
                acting=document_id,
            )
        session_of(request)["staff_notice"] = pick(
            lang,
            "Dokumen dicabut." if action == "revoke" else "Dokumen koreksi diterbitkan dengan nomor baru.",
            "The document is revoked." if action == "revoke" else "The corrected document is issued with a new number.",
        )
        return see_other(f"/staff/dokumen?cari={quote(query)}")
    return await _documents_page(
        request, console, staff, query, status_code=422, errors=errors, values=values, acting=document_id
    )


# --- the supervisor: figures as charts, incidents; the admin: dead letters ---


OPEN_STAGES = (
    "submitted",
    "in_review",
    "info_requested",
    "approved",
    "document_issued",
    "shipped",
    "delivery_failed",
    "ready_for_pickup",
)


@router.get("/statistik", response_class=HTMLResponse)
async def statistics(
    request: Request,
    console: ConsoleDep,
    lang: LanguageDep,
    staff: Annotated[Staff, needs("statistics:read")],
    kecamatan: str = "",
) -> Response:
    """Backlog per stage, throughput per month and per kecamatan, lead times per stage and overdue reviews per
    kecamatan: figures only, never a person's data, so no reason is asked."""
    who = calling(request, staff)
    where: dict[str, Any] = {}
    if staff.kecamatan_code:
        kecamatan = staff.kecamatan_code
    if len(kecamatan) == 8:
        where["kecamatan"] = kecamatan
    names = {k.code: k.name for k in kecamatan_choices()}
    by_status = await console.intake.request_counts({**where, "group_by": "status"}, who)
    by_month = await console.intake.request_counts({**where, "group_by": "month"}, who)
    by_kecamatan = await console.intake.request_counts({**where, "group_by": "kecamatan"}, who)
    lead_times = await console.intake.lead_times(where, who)
    overdue = await console.review.overdue(where, who) if staff.may("reviews:read") or staff.kecamatan_code else None
    stuck: dict[str, int] = {}
    if staff.may("incidents:read") and not where:  # incidents name no kecamatan: the whole regency only
        for incident in await console.intake.incidents(open_=True, caller=who):
            stuck[incident["stage"]] = stuck.get(incident["stage"], 0) + 1
    counts = {group["status"]: group["count"] for group in by_status["groups"]}
    backlog = [(status_name(code, lang), counts.get(code, 0)) for code in OPEN_STAGES]
    months = [(group["month"], group["count"]) for group in by_month["groups"]]
    places = sorted(
        ((group.get("kecamatan_name") or group["kecamatan"], group["count"]) for group in by_kecamatan["groups"]),
        key=lambda item: -item[1],
    )
    stages = [stage for stage in lead_times["stages"] if stage["count"]]
    overdue_places: dict[str, list[int]] = {}
    for group in (overdue or {}).get("groups", []):
        name = group.get("kecamatan_name") or names.get(group["kecamatan"], group["kecamatan"])
        pending_overdue = overdue_places.setdefault(name, [0, 0])
        pending_overdue[0] += group["pending"]
        pending_overdue[1] += group["overdue"]
    return staff_page(
        request,
        "staff/statistics.html",
        kecamatan=kecamatan,
        kecamatan_list=kecamatan_choices(),
        total=by_status["total"],
        backlog=backlog,
        backlog_chart=bar_chart(pick(lang, "Antrean per tahap", "Backlog per stage"), _bars(backlog)),
        months=months,
        months_chart=bar_chart(pick(lang, "Permohonan per bulan", "Requests per month"), _bars(months)),
        kecamatan_counts=places,
        places_chart=bar_chart(pick(lang, "Permohonan per kecamatan", "Requests per kecamatan"), _bars(places[:15])),
        stages=stages,
        stages_chart=bar_chart(
            pick(lang, "Median lama proses per tahap (jam)", "Median lead time per stage (hours)"),
            [(stage["stage"], stage["p50_hours"] or 0, duration(stage["p50_hours"], lang)) for stage in stages],
        ),
        stuck=sorted(stuck.items()),
        stuck_chart=bar_chart(
            pick(lang, "Tersendat per tahap (insiden terbuka)", "Stuck per stage (open incidents)"),
            _bars(sorted(stuck.items())),
        ),
        may_see_incidents=staff.may("incidents:read") and not where,
        overdue=overdue,
        overdue_rows=[(name, pending, late) for name, (pending, late) in overdue_places.items()],
        lead_rows=[
            (
                stage["stage"],
                stage["count"],
                _hours(stage["mean_hours"]),
                _hours(stage["p50_hours"]),
                _hours(stage["p90_hours"]),
            )
            for stage in stages
        ],
        overdue_chart=bar_chart(
            pick(lang, "Verifikasi lewat tenggat per kecamatan", "Overdue reviews per kecamatan"),
            _bars([(name, counts_[1]) for name, counts_ in overdue_places.items()]),
        ),
    )


def _hours(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def _bars(items: list[tuple[str, int]]) -> list[tuple[str, float, str]]:
    return [(label, float(value), str(value)) for label, value in items]


def status_name(code: str, lang: Language) -> str:
    return status_label(code, lang)


@router.get("/insiden", response_class=HTMLResponse)
async def incidents(
    request: Request, console: ConsoleDep, staff: Annotated[Staff, needs("incidents:read")], selesai: str = ""
) -> Response:
    found = await console.intake.incidents(open_=not selesai, caller=calling(request, staff))
    return staff_page(request, "staff/incidents.html", incidents=found, resolved=bool(selesai))


LETTER_STATUSES = ("parked", "replayed", "discarded")


async def _letters_page(
    request: Request, console: Console, staff: Staff, status: str = "parked", status_code: int = 200, **more: Any
) -> HTMLResponse:
    who = calling(request, staff)
    letters: dict[str, list[dict[str, Any]]] = {}
    unreachable: list[str] = []
    for service, api in console.dead_letters.items():
        try:
            letters[service] = await api.letters(status, who)
        except ServiceRefused as refused:
            if refused.status in (401, 403):
                raise
            unreachable.append(service)
        except ServiceUnavailable:
            unreachable.append(service)
    return staff_page(
        request,
        "staff/dead_letters.html",
        status_code=status_code,
        letters=letters,
        unreachable=unreachable,
        status=status,
        statuses=LETTER_STATUSES,
        errors=more.pop("errors", {}),
        general=more.pop("general", []),
        **more,
    )


@router.get("/pesan-gagal", response_class=HTMLResponse)
async def dead_letters(
    request: Request, console: ConsoleDep, staff: Annotated[Staff, needs("operations")], status: str = "parked"
) -> Response:
    return await _letters_page(request, console, staff, status if status in LETTER_STATUSES else "parked")


@router.post("/pesan-gagal/{service}/{letter_id}/{action}", response_class=HTMLResponse, dependencies=[ProtectedForm])
async def resolve_letter(
    service: str,
    letter_id: str,
    action: str,
    request: Request,
    console: ConsoleDep,
    lang: LanguageDep,
    staff: Annotated[Staff, needs("operations")],
    note: Annotated[str, Form(max_length=2000)] = "",
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    api = console.dead_letters.get(service)
    if api is None or action not in ("replay", "discard"):
        raise StarletteHTTPException(404)
    letter_id = _uuid(letter_id)
    key = f"{letter_id}.reason"
    if action == "discard" and not reason.strip():
        errors = {key: [pick(lang, "Tulis mengapa pesan ini dibuang.", "Write why this message is dropped.")]}
        return await _letters_page(request, console, staff, status_code=422, errors=errors)
    try:
        if action == "replay":
            await api.replay(letter_id, note.strip() or None, calling(request, staff))
        else:
            await api.discard(letter_id, reason.strip(), calling(request, staff))
    except ServiceRefused as refused:
        if refused.status in (401, 403):
            raise
        placed, general = field_errors(refused, {"reason", "note"}, lang)
        errors = {f"{letter_id}.{name}": messages for name, messages in placed.items()}
        return await _letters_page(request, console, staff, status_code=422, errors=errors, general=general)
    log.info("dead_letter_resolved_in_console", service=service, letter_id=letter_id, action=action)
    session_of(request)["staff_notice"] = pick(
        lang,
        "Pesan dikirim ulang ke antreannya." if action == "replay" else "Pesan dibuang.",
        "The message went back to its queue." if action == "replay" else "The message was dropped.",
    )
    return see_other("/staff/pesan-gagal")


# --- the admin: staff accounts ---


ROLES = ("reviewer", "supervisor", "kecamatan_operator", "document_officer", "shipping_officer", "admin")
ACCOUNT_FIELDS_BY_CODE = {
    "weak_password": "password",
    "invalid_username": "username",
    "account_exists": "username",
    "kecamatan_required": "kecamatan_code",
    "unknown_kecamatan": "kecamatan_code",
    "kecamatan_not_applicable": "kecamatan_code",
}


async def _accounts_page(
    request: Request, console: Console, staff: Staff, status_code: int = 200, **more: Any
) -> HTMLResponse:
    accounts = await console.intake.accounts(calling(request, staff))
    return staff_page(
        request,
        "staff/accounts.html",
        status_code=status_code,
        accounts=accounts,
        roles=ROLES,
        kecamatan_list=kecamatan_choices(),
        errors=more.pop("errors", {}),
        general=more.pop("general", []),
        values=more.pop("values", {}),
        **more,
    )


@router.get("/akun", response_class=HTMLResponse)
async def accounts(
    request: Request, console: ConsoleDep, staff: Annotated[Staff, needs("accounts:manage")]
) -> Response:
    return await _accounts_page(request, console, staff)


@router.post("/akun", response_class=HTMLResponse, dependencies=[ProtectedForm])
async def create_account(
    request: Request, console: ConsoleDep, lang: LanguageDep, staff: Annotated[Staff, needs("accounts:manage")]
) -> Response:
    form = await request.form()
    values = {key: value.strip() for key, value in form.items() if isinstance(value, str)}
    body: dict[str, Any] = {
        "username": values.get("username", "").lower(),
        "full_name": values.get("full_name", ""),
        "role": values.get("role", ""),
        "password": values.get("password", ""),
    }
    if values.get("kecamatan_code"):
        body["kecamatan_code"] = values["kecamatan_code"]
    errors: dict[str, list[str]] = {}
    for name, told in (
        ("username", ("Isi nama pengguna.", "Enter a user name.")),
        ("full_name", ("Isi nama lengkap.", "Enter the full name.")),
        ("role", ("Pilih peran.", "Choose a role.")),
        ("password", ("Isi kata sandi awal.", "Enter a first password.")),
    ):
        if not body[name]:
            errors[name] = [pick(lang, *told)]
    if not errors:
        try:
            await console.intake.create_account(body, calling(request, staff))
        except ServiceRefused as refused:
            if refused.status in (401, 403):
                raise
            names = {"username", "full_name", "role", "password", "kecamatan_code"}
            errors, general = field_errors(refused, names, lang)
            if refused.code in ACCOUNT_FIELDS_BY_CODE:
                errors, general = {ACCOUNT_FIELDS_BY_CODE[refused.code]: [refusal_text(refused, lang)]}, []
            values.pop("password", None)
            return await _accounts_page(
                request, console, staff, status_code=422, errors=errors, general=general, values=values
            )
        session_of(request)["staff_notice"] = pick(
            lang, f"Akun {body['username']} dibuat.", f"The account {body['username']} is made."
        )
        return see_other("/staff/akun")
    values.pop("password", None)
    return await _accounts_page(request, console, staff, status_code=422, errors=errors, values=values)


@router.post("/akun/{username}/{action}", response_class=HTMLResponse, dependencies=[ProtectedForm])
async def change_account(
    username: str,
    action: str,
    request: Request,
    console: ConsoleDep,
    lang: LanguageDep,
    staff: Annotated[Staff, needs("accounts:manage")],
    password: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Deactivate or activate an account (its sessions end), or set its password."""
    if action not in ("activate", "deactivate", "password") or not re.fullmatch(r"[a-z][a-z0-9._-]{2,63}", username):
        raise StarletteHTTPException(404)
    body: dict[str, Any] = {"active": action == "activate"} if action != "password" else {"password": password}
    key = f"{username}.password"
    if action == "password" and not password:
        errors = {key: [pick(lang, "Isi kata sandi baru.", "Enter the new password.")]}
        return await _accounts_page(request, console, staff, status_code=422, errors=errors)
    try:
        await console.intake.change_account(username, body, calling(request, staff))
    except ServiceRefused as refused:
        if refused.status in (401, 403):
            raise
        target = key if action == "password" else None
        if target:
            return await _accounts_page(
                request, console, staff, status_code=422, errors={target: [refusal_text(refused, lang)]}
            )
        return await _accounts_page(request, console, staff, status_code=422, general=[refusal_text(refused, lang)])
    told = {
        "activate": ("diaktifkan", "activated"),
        "deactivate": ("dinonaktifkan; sesinya berakhir", "deactivated; its sessions ended"),
        "password": ("mendapat kata sandi baru; sesinya berakhir", "has a new password; its sessions ended"),
    }[action]
    session_of(request)["staff_notice"] = pick(
        lang, f"Akun {username} {told[0]}.", f"The account {username} {told[1]}."
    )
    return see_other("/staff/akun")


# --- installing ---


def install(app: FastAPI, console: Console) -> None:
    app.state.console = console
    app.include_router(router)

    @app.exception_handler(SignInNeeded)
    async def _sign_in(request: Request, _error: SignInNeeded) -> RedirectResponse:
        if session_of(request).get("staff"):
            session_of(request).pop("staff", None)
            session_of(request)["staff_notice"] = pick(
                language(request), "Sesi Anda berakhir: masuk lagi.", "Your session ended: sign in again."
            )
        target = request.url.path if request.method == "GET" else ""
        return see_other("/staff" + (f"?kembali={quote(target)}" if target else ""))

    @app.exception_handler(ReasonNeeded)
    async def _reason(request: Request, error: ReasonNeeded) -> RedirectResponse:
        back = request.url.path if request.method == "GET" else "/staff"
        if request.method == "GET" and request.url.query:
            back += "?" + request.url.query
        return see_other(f"/staff/alasan?tugas={error.task}&kembali={quote(back)}")

    @app.exception_handler(ScopeMissing)
    async def _scope(request: Request, _error: ScopeMissing) -> HTMLResponse:
        return staff_page(request, "staff/forbidden.html", status_code=403)

    @app.exception_handler(ServiceRefused)
    async def _refused(request: Request, error: ServiceRefused) -> Response:
        if not request.url.path.startswith("/staff"):
            return await refused_page(request, error)
        if error.status == 401:  # the token expired or its session was ended (deactivated, signed out elsewhere)
            return await _sign_in(request, SignInNeeded())
        if error.status == 403:
            return staff_page(
                request, "staff/forbidden.html", status_code=403, message=refusal_text(error, language(request))
            )
        return staff_page(
            request,
            "error.html",
            status_code=error.status,
            kind="refused",
            message=refusal_text(error, language(request)),
        )
