"""The kecamatan operator's follow-on drafts: what the office prepared after a death or a move into Lebak, waiting for
the family's confirmation; with the family at the counter, the operator confirms one (an assisted request)."""

from typing import Annotated

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from dukcapil_web.adapters.api import ServiceRefused
from dukcapil_web.entrypoints.pages import LanguageDep, ProtectedForm, refusal_text, see_other
from dukcapil_web.entrypoints.security import session_of
from dukcapil_web.entrypoints.staff.console import ConsoleDep, Staff, calling, needs, path_id, staff_page

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/staff")
STATUSES = ("offered", "awaiting_register", "unmatched", "confirmed", "expired")


@router.get("/lanjutan", response_class=HTMLResponse)
async def drafts(
    request: Request,
    console: ConsoleDep,
    staff: Annotated[Staff, needs("requests:submit")],
    status: str = "offered",
) -> Response:
    params = {"limit": 200} | ({"status": status} if status in STATUSES else {})
    found = await console.intake.follow_ons(params, calling(request, staff, "loket"))
    return staff_page(
        request,
        "staff/follow_ons.html",
        found=found,
        status=status,
        statuses=STATUSES,
        confirmed=session_of(request).pop("follow_on_confirmed", None),
        problem=session_of(request).pop("follow_on_problem", None),
    )


@router.post("/lanjutan/{draft_id}/konfirmasi", dependencies=[ProtectedForm])
async def confirm(
    draft_id: str,
    request: Request,
    console: ConsoleDep,
    lang: LanguageDep,
    staff: Annotated[Staff, needs("requests:submit")],
) -> Response:
    try:
        done = await console.intake.confirm_follow_on(path_id(draft_id), calling(request, staff, "loket"))
    except ServiceRefused as refused:
        if refused.status in (401, 403):
            raise
        session_of(request)["follow_on_problem"] = refusal_text(refused, lang)
        return see_other("/staff/lanjutan")
    led_to = done.get("led_to") or {}
    session_of(request)["follow_on_confirmed"] = {
        "number": led_to.get("number"),
        "code": done.get("access_code"),
        "title": done.get("title"),
    }
    log.info("follow_on_confirmed_at_counter", draft_id=done.get("id"))
    return see_other("/staff/lanjutan")
