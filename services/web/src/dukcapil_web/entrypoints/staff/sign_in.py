"""Signing in at intake and out (its session ends too), and the reason asked once per task."""

from typing import Annotated

import structlog
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dukcapil_web.adapters.api import Caller, ServiceRefused
from dukcapil_web.domain.i18n import pick
from dukcapil_web.domain.staff import TASKS, reason_problem, signed_in_until
from dukcapil_web.entrypoints.pages import LanguageDep, ProtectedForm, caller, see_other
from dukcapil_web.entrypoints.security import safe_next, session_of
from dukcapil_web.entrypoints.staff.console import ConsoleDep, StaffDep, calling, field_errors, signed_in, staff_page

log = structlog.get_logger(__name__)

router = APIRouter(prefix="/staff")


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
                Caller(address=plain.address, http_request_id=plain.http_request_id, token=token["access_token"])
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
