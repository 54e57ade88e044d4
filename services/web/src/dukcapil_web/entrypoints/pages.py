"""The citizens' pages: each route reads a form, calls a service's public API, and renders the answer.

Forms work without JavaScript (post, then redirect to a page that shows the result); with htmx, a scan upload
swaps only the checklist. The number and the access code are posted, never put in a URL; once a request is
followed its code stays in the server-side session, and the pages that act on the request read it from there.
"""

import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, FastAPI, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from dukcapil_shared.auth.ratelimit import RateLimits
from dukcapil_shared.contracts.regions import lebak_kecamatan
from dukcapil_shared.observability.http import http_request_id_of
from dukcapil_web.adapters.api import Caller, DocumentsApi, IntakeApi, ServiceRefused, ServiceUnavailable
from dukcapil_web.domain import forms
from dukcapil_web.domain.i18n import (
    LANGUAGES,
    Language,
    bilingual,
    language_of,
    pick,
    service_description,
    status_label,
    value_label,
)
from dukcapil_web.domain.progress import local_time, progress_of
from dukcapil_web.entrypoints.security import CSRF_FIELD, CsrfRefused, check_csrf, csrf_token, safe_next, session_of
from dukcapil_web.settings import WebSettings

log = structlog.get_logger(__name__)

LANGUAGE_COOKIE = "bahasa"
ONE_YEAR = 365 * 24 * 3600


@dataclass
class Portal:
    """What the pages need, built by the composition root."""

    settings: WebSettings
    intake: IntakeApi
    documents: DocumentsApi
    limits: RateLimits
    templates: Jinja2Templates


def portal(request: Request) -> Portal:
    return request.app.state.portal


PortalDep = Annotated[Portal, Depends(portal)]


class TooManyAttempts(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = retry_after


def language(request: Request) -> Language:
    return language_of(request.cookies.get(LANGUAGE_COOKIE))


LanguageDep = Annotated[Language, Depends(language)]


def caller(request: Request) -> Caller:
    """The citizen's address, and this click's request id: one id in the portal's log lines and the services'."""
    return Caller(
        address=request.client.host if request.client else None, http_request_id=http_request_id_of(request.scope)
    )


async def _limit(request: Request, name: str, rate: str) -> None:
    limits: RateLimits = request.app.state.portal.limits
    key = request.client.host if request.client else "unknown"
    if not await limits.allow(f"web-{name}", rate, key):
        raise TooManyAttempts(await limits.retry_after(f"web-{name}", rate, key))


async def protected_form(request: Request) -> None:
    """Every form post: the CSRF check, and the portal's own limit per client address."""
    await check_csrf(request)
    await _limit(request, "forms", request.app.state.portal.settings.form_rate_limit)


ProtectedForm = Depends(protected_form)


def render(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    lang = language(request)
    templates: Jinja2Templates = request.app.state.portal.templates
    return templates.TemplateResponse(
        request,
        template,
        {
            "lang": lang,
            "other_lang": "en" if lang == "id" else "id",
            "t": lambda indonesian, english: pick(lang, indonesian, english),
            "csrf_token": csrf_token(request),
            "csrf_field": CSRF_FIELD,
            "here": request.url.path,
            "value_label": lambda value: value_label(value, lang),
            "status_label": lambda value: status_label(value, lang),
            "htmx": request.headers.get("hx-request") == "true",
            **context,
        },
        status_code=status_code,
    )


def see_other(path: str) -> RedirectResponse:
    return RedirectResponse(path, status_code=303)


def kecamatan_choices() -> list[forms.Region]:
    return [forms.Region(k.code, k.name) for k in sorted(lebak_kecamatan().values(), key=lambda k: k.name)]


def refusal_text(error: ServiceRefused, lang: Language) -> str:
    """The service's message in the reader's language: its messages are `English / Indonesian`."""
    message = error.message
    if " / " in message:
        english, indonesian = message.split(" / ", 1)
        return pick(lang, indonesian.strip(), english.strip())
    return message


router = APIRouter()


# --- the catalogue ---


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, portal: PortalDep) -> HTMLResponse:
    catalogue = await portal.intake.catalogue(caller(request))
    lang = language(request)
    return render(
        request,
        "home.html",
        services=forms.online_services(catalogue),
        describe=lambda service: service_description(service["code"], service.get("description", ""), lang),
    )


@router.get("/bahasa/{code}")
async def switch_language(code: str, kembali: str | None = None) -> RedirectResponse:
    response = see_other(safe_next(kembali))
    if code in LANGUAGES:
        response.set_cookie(LANGUAGE_COOKIE, code, max_age=ONE_YEAR, httponly=True, samesite="lax")
    return response


# --- a request: the form, the receipt ---


async def _service(portal: Portal, request: Request, code: str) -> dict[str, Any]:
    service = forms.find_service(await portal.intake.catalogue(caller(request)), code)
    if service is None:
        raise StarletteHTTPException(404)
    return service


@router.get("/layanan/{code}", response_class=HTMLResponse)
async def request_form(code: str, request: Request, portal: PortalDep, lang: LanguageDep) -> Response:
    service = await _service(portal, request, code)
    if not service.get("online"):
        return see_other("/ktp-el")
    form = forms.build_form(service, language=lang, kecamatan=kecamatan_choices())
    return render(
        request,
        "request_form.html",
        form=form,
        service=service,
        scans=_scans(service, lang),
        idempotency_key=uuid.uuid4().hex,
    )


def _scans(service: dict[str, Any], lang: Language) -> dict[str, list[forms.ScanKind]]:
    """The checklist per reason (or the one list), shown beside the form so the citizen knows what to have ready."""
    attachments = service.get("attachments") or {}
    if set(attachments) <= {"*"}:
        return {"": forms.scan_checklist(service, None, lang)}
    return {reason: forms.scan_checklist(service, reason, lang) for reason in attachments if reason != "*"}


@router.post("/layanan/{code}", response_class=HTMLResponse, dependencies=[ProtectedForm])
async def submit_request(code: str, request: Request, portal: PortalDep, lang: LanguageDep) -> Response:
    service = await _service(portal, request, code)
    if not service.get("online"):
        return see_other("/ktp-el")
    submitted = {key: value for key, value in (await request.form()).items() if isinstance(value, str)}
    kecamatan = kecamatan_choices()
    add_row = submitted.pop("_tambah", None)
    shape = forms.build_form(service, language=lang, kecamatan=kecamatan, values=submitted)
    values = forms.compact_rows(shape, submitted)
    form = forms.build_form(service, language=lang, kecamatan=kecamatan, values=values, add_row=add_row)
    # One key per filled-in form: a double click or a retried post gives back the first request, not a second one.
    idempotency_key = (submitted.get("_kunci") or uuid.uuid4().hex)[:64]
    if add_row:
        return render(
            request,
            "request_form.html",
            form=form,
            service=service,
            scans=_scans(service, lang),
            idempotency_key=idempotency_key,
        )
    session = session_of(request)
    try:
        created = await portal.intake.submit(
            forms.request_body(code, form, values), caller(request), idempotency_key=idempotency_key
        )
    except ServiceRefused as refused:
        if refused.status == 422 and refused.code == "invalid_request":
            forms.place_errors(form, forms.details_of(refused.body), lang)
        else:
            form.general_errors.append(refusal_text(refused, lang))
        return render(
            request,
            "request_form.html",
            status_code=422 if refused.status == 422 else refused.status,
            form=form,
            service=service,
            scans=_scans(service, lang),
            idempotency_key=idempotency_key,
        )
    _remember(session, created, created["access_code"])
    session["receipt"] = {"id": created["id"], "number": created["number"], "submitted_at": created["submitted_at"]}
    log.info("request_submitted_through_portal", request_id=created["id"], type=code)
    return see_other("/permohonan/tanda-terima")


def _remember(session: Any, view: dict[str, Any], access_code: str) -> None:
    """Keeps the request's access code in the session, and makes it the current one. The session gets a new id:
    one that held no code before does not come to hold one."""
    followed: dict[str, Any] = dict(session.get("followed") or {})
    followed[view["id"]] = {"number": view["number"], "code": access_code, "type": view["type"]}
    session["followed"] = dict(list(followed.items())[-5:])
    session["current"] = view["id"]
    session.rotate()


def _current(request: Request) -> tuple[str, dict[str, str]] | None:
    session = session_of(request)
    followed = session.get("followed") or {}
    current = session.get("current")
    if current in followed:
        return current, followed[current]
    return None


@router.get("/permohonan/tanda-terima", response_class=HTMLResponse)
async def receipt(request: Request, portal: PortalDep, lang: LanguageDep) -> Response:
    session = session_of(request)
    shown = session.get("receipt")
    followed = (session.get("followed") or {}).get((shown or {}).get("id", ""))
    if not shown or not followed:
        return see_other("/lacak")
    service = forms.find_service(await portal.intake.catalogue(caller(request)), followed["type"]) or {}
    return render(
        request,
        "receipt.html",
        number=followed["number"],
        access_code=followed["code"],
        service_name=service.get("name", followed["type"]),
        submitted_at=local_time(shown.get("submitted_at", "")),
    )


@router.get("/permohonan/tanda-terima.txt")
async def receipt_text(request: Request, lang: LanguageDep) -> Response:
    session = session_of(request)
    shown = session.get("receipt") or {}
    followed = (session.get("followed") or {}).get(shown.get("id", ""))
    if not followed:
        return see_other("/lacak")
    text = "\n".join(
        [
            "Disdukcapil Kabupaten Lebak",
            pick(lang, "Tanda terima permohonan", "Request receipt"),
            "",
            f"{pick(lang, 'Nomor permohonan', 'Request number')}: {followed['number']}",
            f"{pick(lang, 'Kode akses', 'Access code')}: {followed['code']}",
            f"{pick(lang, 'Diajukan', 'Submitted')}: {local_time(shown.get('submitted_at', ''))}",
            "",
            pick(
                lang,
                "Simpan kode akses ini dan jangan berikan kepada siapa pun. "
                "Lacak permohonan dengan nomor dan kode ini.",
                "Keep this access code and give it to nobody. Follow the request with the number and this code.",
            ),
            "",
        ]
    )
    filename = f"tanda-terima-{followed['number']}.txt"
    return Response(
        text,
        media_type="text/plain; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# --- following a request ---


@router.get("/lacak", response_class=HTMLResponse)
async def follow_form(request: Request) -> HTMLResponse:
    followed = session_of(request).get("followed") or {}
    return render(request, "follow.html", errors={}, number="", followed=followed)


@router.post("/lacak", response_class=HTMLResponse, dependencies=[ProtectedForm])
async def follow(
    request: Request,
    portal: PortalDep,
    lang: LanguageDep,
    number: Annotated[str, Form(max_length=40)] = "",
    access_code: Annotated[str, Form(max_length=40)] = "",
) -> Response:
    await _limit(request, "follow", portal.settings.follow_rate_limit)
    number, access_code = number.strip(), access_code.strip()
    errors: dict[str, str] = {}
    if not number:
        errors["number"] = pick(lang, "Isi nomor permohonan.", "Enter the request number.")
    if not access_code:
        errors["access_code"] = pick(lang, "Isi kode akses.", "Enter the access code.")
    if not errors:
        try:
            view = await portal.intake.follow(number, access_code, caller(request))
        except ServiceRefused as refused:
            field = "access_code" if refused.code in ("access_code_mistyped", "not_found") else "general"
            errors[field] = refusal_text(refused, lang)
        else:
            _remember(session_of(request), view, access_code)
            return see_other("/permohonan")
    followed = session_of(request).get("followed") or {}
    return render(request, "follow.html", status_code=422, errors=errors, number=number, followed=followed)


@router.post("/permohonan/pilih", dependencies=[ProtectedForm])
async def choose(request: Request, request_id: Annotated[str, Form(max_length=40)]) -> RedirectResponse:
    session = session_of(request)
    if request_id in (session.get("followed") or {}):
        session["current"] = request_id
    return see_other("/permohonan")


@router.post("/permohonan/lupakan", dependencies=[ProtectedForm])
async def forget(request: Request) -> RedirectResponse:
    """Forget every access code this browser holds (on a shared phone, say)."""
    session = session_of(request)
    for key in ("followed", "current", "receipt", "booking", "notice"):
        session.pop(key, None)
    session.rotate()
    return see_other("/lacak")


async def _followed_view(request: Request, portal: Portal) -> tuple[str, dict[str, str], dict[str, Any]] | None:
    current = _current(request)
    if current is None:
        return None
    request_id, held = current
    try:
        view = await portal.intake.follow(held["number"], held["code"], caller(request))
    except ServiceRefused as refused:
        if refused.status in (404, 422):  # the code was renewed at the counter: it no longer opens the request
            session = session_of(request)
            followed = dict(session.get("followed") or {})
            followed.pop(request_id, None)
            session["followed"] = followed
            session.pop("current", None)
            return None
        raise
    return request_id, held, view


@router.get("/permohonan", response_class=HTMLResponse)
async def request_status(request: Request, portal: PortalDep, lang: LanguageDep) -> Response:
    found = await _followed_view(request, portal)
    if found is None:
        return see_other("/lacak")
    return await _status_page(request, portal, lang, found[2])


async def _status_page(
    request: Request, portal: Portal, lang: Language, view: dict[str, Any], status_code: int = 200, **more: Any
) -> HTMLResponse:
    catalogue = await portal.intake.catalogue(caller(request))
    service = forms.find_service(catalogue, view["type"]) or {}
    session = session_of(request)
    notice = session.pop("notice", None)
    return render(
        request,
        "request_status.html",
        status_code=status_code,
        view=view,
        progress=progress_of(view, lang),
        service_name=service.get("name", view["type"]),
        scan_names=forms.scan_descriptions(catalogue, lang),
        notice=notice,
        followed=session.get("followed") or {},
        current=session.get("current"),
        **more,
    )


@router.post("/permohonan/unggah", response_class=HTMLResponse, dependencies=[ProtectedForm])
async def upload_scan(
    request: Request,
    portal: PortalDep,
    lang: LanguageDep,
    kind: Annotated[str, Form(max_length=40)],
    file: Annotated[UploadFile, File()],
) -> Response:
    current = _current(request)
    if current is None:
        return see_other("/lacak")
    request_id, held = current
    content = await file.read(portal.settings.upload_max_bytes + 1)
    problem: str | None = None
    if not content:
        problem = pick(lang, "Pilih berkas yang akan diunggah.", "Choose a file to upload.")
    elif len(content) > portal.settings.upload_max_bytes:
        problem = pick(lang, "Berkas terlalu besar.", "The file is too large.")
    else:
        try:
            await portal.intake.upload(
                request_id,
                held["code"],
                kind=kind,
                filename=file.filename or "scan",
                content_type=file.content_type or "application/octet-stream",
                content=content,
                caller=caller(request),
            )
        except ServiceRefused as refused:
            problem = refusal_text(refused, lang)
    found = await _followed_view(request, portal)
    if found is None:
        return see_other("/lacak")
    view = found[2]
    done = pick(lang, "Berkas diterima.", "Scan received.")
    if request.headers.get("hx-request") == "true":
        catalogue = await portal.intake.catalogue(caller(request))
        return render(
            request,
            "partials/checklist.html",
            status_code=200,
            view=view,
            progress=progress_of(view, lang),
            scan_names=forms.scan_descriptions(catalogue, lang),
            upload_problem=problem,
            upload_done=None if problem else done,
        )
    if problem:
        return await _status_page(request, portal, lang, view, status_code=422, upload_problem=problem)
    session_of(request)["notice"] = done
    return see_other("/permohonan")


@router.post("/permohonan/kirim-ulang", response_class=HTMLResponse, dependencies=[ProtectedForm])
async def resubmit(
    request: Request, portal: PortalDep, lang: LanguageDep, note: Annotated[str, Form(max_length=2000)] = ""
) -> Response:
    current = _current(request)
    if current is None:
        return see_other("/lacak")
    request_id, held = current
    try:
        await portal.intake.resubmit(request_id, held["code"], note.strip() or None, caller(request))
    except ServiceRefused as refused:
        found = await _followed_view(request, portal)
        if found is None:
            return see_other("/lacak")
        return await _status_page(
            request, portal, lang, found[2], status_code=422, resubmit_problem=refusal_text(refused, lang)
        )
    session_of(request)["notice"] = pick(lang, "Permohonan dikirim ulang untuk diverifikasi.", "Sent back for review.")
    return see_other("/permohonan")


@router.post("/permohonan/batal", response_class=HTMLResponse, dependencies=[ProtectedForm])
async def cancel(
    request: Request,
    portal: PortalDep,
    lang: LanguageDep,
    reason: Annotated[str, Form(max_length=500)] = "",
    confirm: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    current = _current(request)
    if current is None:
        return see_other("/lacak")
    request_id, held = current
    problem = None
    if confirm != "ya":
        problem = pick(lang, "Centang kotak untuk memastikan pembatalan.", "Tick the box to confirm the cancellation.")
    else:
        try:
            await portal.intake.cancel(request_id, held["code"], reason.strip() or None, caller(request))
        except ServiceRefused as refused:
            problem = refusal_text(refused, lang)
    if problem:
        found = await _followed_view(request, portal)
        if found is None:
            return see_other("/lacak")
        return await _status_page(request, portal, lang, found[2], status_code=422, cancel_problem=problem)
    session_of(request)["notice"] = pick(lang, "Permohonan dibatalkan.", "The request is cancelled.")
    return see_other("/permohonan")


@router.get("/permohonan/dokumen")
async def download_document(request: Request, portal: PortalDep, lang: LanguageDep) -> Response:
    found = await _followed_view(request, portal)
    if found is None:
        return see_other("/lacak")
    document = found[2].get("document")
    if not document:
        return see_other("/permohonan")
    pdf = await portal.documents.download(document["pdf_url"], caller(request))
    name = document["number"].replace("/", "-")
    return Response(
        pdf.content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}.pdf"', "X-Content-Type-Options": "nosniff"},
    )


# --- e-KTP ---


@router.get("/ktp-el", response_class=HTMLResponse)
async def ktp_el(request: Request, portal: PortalDep) -> HTMLResponse:
    service = forms.find_service(await portal.intake.catalogue(caller(request)), "ktp_el") or {}
    return render(
        request,
        "ktp_el.html",
        service=service,
        kecamatan=kecamatan_choices(),
        values={},
        errors={},
        general=[],
        earliest=(date.today() + timedelta(days=1)).isoformat(),
    )


@router.post("/ktp-el", response_class=HTMLResponse, dependencies=[ProtectedForm])
async def book_recording(request: Request, portal: PortalDep, lang: LanguageDep) -> Response:
    form = await request.form()
    values = {key: value.strip() for key, value in form.items() if isinstance(value, str) and key != CSRF_FIELD}
    body: dict[str, Any] = {
        "applicant": {
            key: values[f"applicant.{key}"]
            for key in ("nik", "name", "birth_date", "sex")
            if values.get(f"applicant.{key}")
        },
        "kecamatan_code": values.get("kecamatan_code", ""),
    }
    for key in ("preferred_date", "phone", "email"):
        if values.get(key):
            body[key] = values[key]
    errors: dict[str, list[str]] = {}
    general: list[str] = []
    try:
        booking = await portal.intake.book_recording(body, caller(request))
    except ServiceRefused as refused:
        names = {
            "applicant.nik",
            "applicant.name",
            "applicant.birth_date",
            "applicant.sex",
            "kecamatan_code",
            "preferred_date",
            "phone",
            "email",
        }
        for detail in forms.details_of(refused.body):
            path = (detail.field or "").removeprefix("body.")
            target = path if path in names else next((n for n in names if path.startswith(n)), None)
            if target:
                errors.setdefault(target, []).append(detail.text(lang))
            else:
                general.append(detail.text(lang))
        if not refused.body.get("error", {}).get("details"):
            general.append(refusal_text(refused, lang))
        service = forms.find_service(await portal.intake.catalogue(caller(request)), "ktp_el") or {}
        return render(
            request,
            "ktp_el.html",
            status_code=422 if refused.status in (400, 422) else refused.status,
            service=service,
            kecamatan=kecamatan_choices(),
            values=values,
            errors=errors,
            general=general,
            earliest=(date.today() + timedelta(days=1)).isoformat(),
        )
    session_of(request)["booking"] = booking
    return see_other("/ktp-el/jadwal")


@router.get("/ktp-el/jadwal", response_class=HTMLResponse)
async def booking(request: Request) -> Response:
    booked = session_of(request).get("booking")
    if not booked:
        return see_other("/ktp-el")
    return render(
        request,
        "booking.html",
        booking=booked,
        lang_bring=[bilingual(item, language(request)) for item in booked.get("bring", [])],
    )


# --- verifying a document ---


@router.get("/verifikasi", response_class=HTMLResponse)
async def verify_page(request: Request) -> HTMLResponse:
    return render(request, "verify.html", result=None, problem=None)


@router.post("/verifikasi", response_class=HTMLResponse, dependencies=[ProtectedForm])
async def verify_file(
    request: Request, portal: PortalDep, lang: LanguageDep, file: Annotated[UploadFile, File()]
) -> HTMLResponse:
    content = await file.read(portal.settings.upload_max_bytes + 1)
    if not content:
        return render(
            request,
            "verify.html",
            status_code=422,
            result=None,
            problem=pick(lang, "Pilih berkas PDF.", "Choose a PDF file."),
        )
    try:
        result = await portal.documents.verify_file(file.filename or "dokumen.pdf", content, caller(request))
    except ServiceRefused as refused:
        return render(request, "verify.html", status_code=422, result=None, problem=refusal_text(refused, lang))
    return render(
        request, "verify.html", result=result, problem=None, issued_at=local_time(result.get("issued_at") or "")
    )


@router.get("/verify/{token}", response_class=HTMLResponse)
async def verify_code(token: str, request: Request, portal: PortalDep, lang: LanguageDep) -> HTMLResponse:
    """The page behind a document's QR code: anyone may read it; it shows only what the documents service shows
    (masked name and NIK)."""
    if len(token) > 200:
        raise StarletteHTTPException(404)
    try:
        result = await portal.documents.verify_code(token, caller(request))
    except ServiceRefused as refused:
        if refused.status == 404:
            return render(request, "verification.html", status_code=404, result=None)
        raise
    return render(request, "verification.html", result=result, issued_at=local_time(result.get("issued_at") or ""))


async def refused_page(request: Request, error: ServiceRefused) -> HTMLResponse:
    """A service's refusal no page handled itself: its message, in the reader's language."""
    if error.status == 429:
        retry = int(error.retry_after) if (error.retry_after or "").isdigit() else 60
        return render(request, "error.html", status_code=429, kind="too_many", retry_after=retry)
    return render(
        request,
        "error.html",
        status_code=error.status,
        kind="refused",
        message=refusal_text(error, language(request)),
    )


def install(app: FastAPI, portal: Portal) -> None:
    app.state.portal = portal
    app.include_router(router)

    @app.exception_handler(CsrfRefused)
    async def _csrf(request: Request, error: CsrfRefused) -> HTMLResponse:
        log.warning("csrf_refused", reason=str(error), path=request.url.path)
        return render(request, "error.html", status_code=403, kind="csrf")

    @app.exception_handler(TooManyAttempts)
    async def _too_many(request: Request, error: TooManyAttempts) -> HTMLResponse:
        response = render(request, "error.html", status_code=429, kind="too_many", retry_after=error.retry_after)
        response.headers["Retry-After"] = str(error.retry_after)
        return response

    @app.exception_handler(ServiceUnavailable)
    async def _unavailable(request: Request, error: ServiceUnavailable) -> HTMLResponse:
        response = render(request, "error.html", status_code=503, kind="unavailable")
        response.headers["Retry-After"] = "30"
        return response

    app.add_exception_handler(ServiceRefused, refused_page)  # type: ignore[arg-type]

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, error: StarletteHTTPException) -> HTMLResponse:
        return render(
            request,
            "error.html",
            status_code=error.status_code,
            kind="not_found" if error.status_code == 404 else "other",
        )
