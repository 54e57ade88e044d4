"""The admin: agencies that subscribe to the office's public events (onboard, offboard, replay), over intake's
agencies API. The broker password intake answers at onboarding is shown once, on the answer to the form itself:
it is never kept in the session nor cached."""

import re
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from dukcapil_web.adapters.api import ServiceRefused
from dukcapil_web.domain.i18n import Language, pick
from dukcapil_web.domain.progress import WIB
from dukcapil_web.entrypoints.pages import LanguageDep, ProtectedForm, kecamatan_choices, refusal_text, see_other
from dukcapil_web.entrypoints.security import session_of
from dukcapil_web.entrypoints.staff.console import Console, ConsoleDep, Staff, calling, field_errors, needs, staff_page

router = APIRouter(prefix="/staff")

AgencyAdmin = Annotated[Staff, needs("agencies:manage")]
AGENCY_NAME = re.compile(r"[a-z][a-z0-9-]{1,29}")
LEBAK = "36.02"
ONBOARD_FIELDS = {"name", "event_types", "region_prefixes", "identified"}


async def _agencies_page(
    request: Request, console: Console, staff: Staff, status_code: int = 200, **more: Any
) -> HTMLResponse:
    caller = calling(request, staff)
    return staff_page(
        request,
        "staff/agencies.html",
        status_code=status_code,
        agencies=await console.intake.agencies(caller),
        event_types=await console.intake.agency_event_types(caller),
        kecamatan_list=kecamatan_choices(),
        lebak=LEBAK,
        errors=more.pop("errors", {}),
        general=more.pop("general", []),
        values=more.pop("values", {}),
        **more,
    )


@router.get("/instansi", response_class=HTMLResponse)
async def agencies(request: Request, console: ConsoleDep, staff: AgencyAdmin) -> Response:
    return await _agencies_page(request, console, staff)


@router.post("/instansi", response_class=HTMLResponse, dependencies=[ProtectedForm])
async def onboard(request: Request, console: ConsoleDep, lang: LanguageDep, staff: AgencyAdmin) -> Response:
    form = await request.form()
    body = {
        "name": str(form.get("name") or "").strip().lower(),
        "event_types": [str(value) for value in form.getlist("event_types")],
        "region_prefixes": [str(value) for value in form.getlist("region_prefixes")],
        "identified": form.get("identified") == "ya",
    }
    errors: dict[str, list[str]] = {}
    for name, told in (
        ("name", ("Isi nama singkat instansi.", "Enter the agency's short name.")),
        ("event_types", ("Pilih paling sedikit satu jenis peristiwa.", "Choose at least one event type.")),
        ("region_prefixes", ("Pilih paling sedikit satu wilayah.", "Choose at least one region.")),
    ):
        if not body[name]:
            errors[name] = [pick(lang, *told)]
    if not errors:
        try:
            onboarded = await console.intake.onboard_agency(body, calling(request, staff))
        except ServiceRefused as refused:
            if refused.status in (401, 403):
                raise
            errors, general = field_errors(refused, ONBOARD_FIELDS, lang)
            if refused.code == "agency_exists":
                errors, general = {"name": [refusal_text(refused, lang)]}, []
            return await _agencies_page(
                request, console, staff, status_code=422, errors=errors, general=general, values=body
            )
        page = staff_page(request, "staff/agency_onboarded.html", onboarded=onboarded)
        page.headers["Cache-Control"] = "no-store"
        return page
    return await _agencies_page(request, console, staff, status_code=422, errors=errors, values=body)


@router.post("/instansi/{name}/offboard", response_class=HTMLResponse, dependencies=[ProtectedForm])
async def offboard(name: str, request: Request, console: ConsoleDep, lang: LanguageDep, staff: AgencyAdmin) -> Response:
    """Offboarding cuts an agency off at once; the admin types its name to confirm."""
    _known_shape(name)
    form = await request.form()
    if str(form.get("confirm") or "").strip() != name:
        told = pick(lang, f"Ketik {name} untuk memastikan.", f"Type {name} to confirm.")
        return await _agencies_page(request, console, staff, status_code=422, errors={f"{name}.confirm": [told]})
    try:
        gone = await console.intake.offboard_agency(name, calling(request, staff))
    except ServiceRefused as refused:
        if refused.status in (401, 403):
            raise
        return await _agencies_page(request, console, staff, status_code=422, general=[refusal_text(refused, lang)])
    session_of(request)["staff_notice"] = pick(
        lang,
        f"Instansi {name} dilepas: pengguna broker dan antreannya dihapus, {gone['connections_closed']} koneksi "
        "ditutup.",
        f"The agency {name} is offboarded: its broker user and queues are deleted, {gone['connections_closed']} "
        "connection(s) closed.",
    )
    return see_other("/staff/instansi")


@router.post("/instansi/{name}/replay", response_class=HTMLResponse, dependencies=[ProtectedForm])
async def replay(name: str, request: Request, console: ConsoleDep, lang: LanguageDep, staff: AgencyAdmin) -> Response:
    """Send an agency the events of a time range again; the times are Lebak's (WIB)."""
    _known_shape(name)
    form = await request.form()
    errors: dict[str, list[str]] = {}
    since = _wib_moment(str(form.get("since") or ""))
    until = _wib_moment(str(form.get("until") or "")) if form.get("until") else None
    if since is None:
        errors[f"{name}.since"] = [_moment_problem(lang, required=True)]
    if form.get("until") and until is None:
        errors[f"{name}.until"] = [_moment_problem(lang, required=False)]
    if errors:
        return await _agencies_page(request, console, staff, status_code=422, errors=errors)
    body = {"since": since.isoformat() if since else None, **({"until": until.isoformat()} if until else {})}
    try:
        replayed = await console.intake.replay_to_agency(name, body, calling(request, staff))
    except ServiceRefused as refused:
        if refused.status in (401, 403):
            raise
        return await _agencies_page(
            request, console, staff, status_code=422, errors={f"{name}.since": [refusal_text(refused, lang)]}
        )
    session_of(request)["staff_notice"] = pick(
        lang,
        f"{replayed['replayed']} peristiwa dikirim ulang ke {name}.",
        f"{replayed['replayed']} event(s) sent to {name} again.",
    )
    return see_other("/staff/instansi")


def _known_shape(name: str) -> None:
    if not AGENCY_NAME.fullmatch(name):
        raise StarletteHTTPException(404)


def _wib_moment(text: str) -> datetime | None:
    """A time from a datetime-local input (no zone: Lebak's), or None when it is none."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=WIB)


def _moment_problem(lang: Language, *, required: bool) -> str:
    if required:
        return pick(lang, "Isi waktu mulai, misalnya 2026-11-01 08:00.", "Enter a start time, e.g. 2026-11-01 08:00.")
    return pick(
        lang,
        "Waktu akhir tidak terbaca; contoh 2026-11-02 08:00.",
        "The end time is unreadable; e.g. 2026-11-02 08:00.",
    )
