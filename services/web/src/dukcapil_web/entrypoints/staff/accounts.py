"""The admin: staff accounts."""

import re
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from dukcapil_web.adapters.api import ServiceRefused
from dukcapil_web.domain.i18n import pick
from dukcapil_web.entrypoints.pages import LanguageDep, ProtectedForm, kecamatan_choices, refusal_text, see_other
from dukcapil_web.entrypoints.security import session_of
from dukcapil_web.entrypoints.staff.console import Console, ConsoleDep, Staff, calling, field_errors, needs, staff_page

router = APIRouter(prefix="/staff")


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
