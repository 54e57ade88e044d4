"""The supervisor's figures as charts and the incidents; the admin's dead letters with replay and discard."""

from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from dukcapil_web.adapters.api import ServiceRefused, ServiceUnavailable
from dukcapil_web.domain.i18n import Language, pick, status_label
from dukcapil_web.domain.staff import bar_chart, duration
from dukcapil_web.entrypoints.pages import LanguageDep, ProtectedForm, kecamatan_choices, see_other
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
    letter_id = path_id(letter_id)
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
