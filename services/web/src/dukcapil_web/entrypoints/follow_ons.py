"""The page behind the link a family is sent when the office has prepared a follow-on request (the family card
after a death, a new card and an e-KTP recording after a move into Lebak): it shows the prefilled request and a
button to confirm it.

The link carries its token in the query (`?kode=`), so that an SMS can hold it; the first visit keeps it in the
server-side session and sends the browser on to the same page without it, out of the address bar, the history and
any Referer. The token goes to intake in the body of its calls; no log line holds it.
"""

import uuid
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from dukcapil_web.adapters.api import ServiceRefused
from dukcapil_web.domain.i18n import pick
from dukcapil_web.domain.progress import local_time
from dukcapil_web.entrypoints.pages import (
    LanguageDep,
    PortalDep,
    ProtectedForm,
    _remember,
    caller,
    refusal_text,
    render,
    see_other,
)
from dukcapil_web.entrypoints.security import session_of

log = structlog.get_logger(__name__)
router = APIRouter()
_HELD = "follow_on_links"


def _held_token(request: Request, draft_id: uuid.UUID) -> str | None:
    return (session_of(request).get(_HELD) or {}).get(str(draft_id))


@router.get("/lanjutan/{draft_id}", response_class=HTMLResponse)
async def follow_on(
    draft_id: uuid.UUID,
    request: Request,
    portal: PortalDep,
    lang: LanguageDep,
    kode: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    if kode is not None:
        session = session_of(request)
        held = dict(session.get(_HELD) or {})
        held[str(draft_id)] = kode.strip()
        session[_HELD] = dict(list(held.items())[-5:])
        return see_other(f"/lanjutan/{draft_id}")
    token = _held_token(request, draft_id)
    if token is None:
        return _unknown(request, lang)
    try:
        draft = await portal.intake.open_follow_on(str(draft_id), token, caller(request))
    except ServiceRefused as refused:
        if refused.status in (404, 422):
            return _unknown(request, lang)
        raise
    return _page(request, draft)


@router.post("/lanjutan/{draft_id}", response_class=HTMLResponse, dependencies=[ProtectedForm])
async def confirm(draft_id: uuid.UUID, request: Request, portal: PortalDep, lang: LanguageDep) -> Response:
    """The family confirms: intake submits the request (once, however often the button is pressed)."""
    token = _held_token(request, draft_id)
    if token is None:
        return _unknown(request, lang)
    try:
        confirmed = await portal.intake.confirm_follow_on(str(draft_id), token, caller(request))
    except ServiceRefused as refused:
        if refused.status in (404, 422):
            return _unknown(request, lang)
        if refused.code == "follow_on_expired":
            draft = await portal.intake.open_follow_on(str(draft_id), token, caller(request))
            return _page(request, draft, status_code=409)
        return _page(
            request,
            await portal.intake.open_follow_on(str(draft_id), token, caller(request)),
            status_code=409,
            problem=refusal_text(refused, lang),
        )
    led_to = confirmed.get("led_to") or {}
    if confirmed.get("access_code") and led_to:
        # The new request opens on this device as any submitted here does.
        _remember(
            session_of(request),
            {"id": str(led_to["id"]), "number": led_to["number"], "type": led_to["type"]},
            confirmed["access_code"],
        )
    log.info("follow_on_confirmed_through_portal", draft_id=str(draft_id))
    return _page(request, confirmed)


def _page(request: Request, draft: dict[str, Any], status_code: int = 200, problem: str | None = None) -> HTMLResponse:
    expired = draft.get("status") == "expired"
    return render(
        request,
        "follow_on.html",
        status_code=410 if expired and status_code == 200 else status_code,
        draft=draft,
        expired=expired,
        problem=problem,
        expires_at=local_time(draft.get("expires_at") or ""),
    )


def _unknown(request: Request, lang: str) -> HTMLResponse:
    return render(
        request,
        "error.html",
        status_code=404,
        kind="refused",
        message=pick(
            lang,  # type: ignore[arg-type]
            "Tautan ini tidak dikenal: buka tautan lengkap dari SMS atau e-mail yang Anda terima.",
            "This link is not known: open the whole link from the SMS or e-mail you received.",
        ),
    )
