"""Follow-on drafts over HTTP: the family opens and confirms theirs with the link's token (in the body, never in a
URL), a kecamatan operator lists their office's drafts and confirms one at the counter."""

import uuid
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from pydantic import BaseModel, Field

from dukcapil_intake.follow_ons.domain.follow_ons import DraftNotFound, DraftStatus, FollowOnDraft, FollowOnKind
from dukcapil_intake.follow_ons.domain.links import AccessCodeMistyped, FollowOnLinks
from dukcapil_intake.follow_ons.service_layer import follow_ons
from dukcapil_intake.follow_ons.service_layer.repository import DraftFilter
from dukcapil_intake.follow_ons.service_layer.submissions import Submissions
from dukcapil_intake.follow_ons.service_layer.unit_of_work import FollowOnsUnitOfWork
from dukcapil_intake.requests.domain.access_codes import AccessCodes
from dukcapil_intake.requests.service_layer import handlers as requests
from dukcapil_shared.auth.http import personal_data, rate_limits, staff
from dukcapil_shared.auth.roles import Principal, Scope
from dukcapil_shared.contracts.regions import find_kecamatan
from dukcapil_shared.web import ApiError, ClockDep, ErrorResponse

log = structlog.get_logger(__name__)


def _unit_of_work(request: Request) -> FollowOnsUnitOfWork:
    factory: Callable[[], FollowOnsUnitOfWork] = request.app.state.follow_ons_unit_of_work
    return factory()


UnitOfWorkDep = Annotated[FollowOnsUnitOfWork, Depends(_unit_of_work)]
ReadingDrafts = Annotated[Principal, Depends(personal_data(Scope.REQUESTS_READ))]
Confirming = Annotated[Principal, Depends(staff(Scope.REQUESTS_SUBMIT))]
NO_TOKEN_NEEDED: dict[str, Any] = {"security": [{}]}


class TokenBody(BaseModel):
    token: str = Field(
        max_length=40, description="The token of the link sent to the family (its `kode`), e.g. K7QM-2XDP-9WBT-H4RZ-V"
    )


class MemberView(BaseModel):
    nik: str = Field(description="Masked: enough to recognise, not to use")
    name: str
    relation: str = Field(description="As the register writes it, e.g. KEPALA KELUARGA")
    removed: bool = Field(description="Leaves the family card with this request")


class RequestLinkView(BaseModel):
    id: uuid.UUID
    number: str
    type: str


class DraftView(BaseModel):
    id: uuid.UUID
    kind: FollowOnKind = Field(description="kk_remove_deceased, kk_new_after_move or ktp_el_recording")
    title: str
    title_en: str
    status: DraftStatus = Field(description="awaiting_register, offered, unmatched, confirmed or expired")
    request_type: str = Field(description="What confirming makes: a kartu_keluarga request, or a ktp_el recording")
    kecamatan_code: str
    office: str
    applicant_name: str
    details: dict[str, Any] | None = Field(description="The request's details as they will be submitted")
    family: list[MemberView] = Field(description="The family card as the population register has it")
    follows: RequestLinkView = Field(description="The request whose document led to this draft")
    origin_document_number: str
    note: str | None = Field(description="Why it is unmatched, for the office")
    created_at: datetime
    expires_at: datetime
    confirmed_at: datetime | None
    confirmed_by: str | None
    led_to: RequestLinkView | None = Field(description="The request (or e-KTP booking) it became once confirmed")

    @classmethod
    def of(cls, draft: FollowOnDraft) -> "DraftView":
        kecamatan = find_kecamatan(draft.kecamatan_code)
        removed = set(draft.subject_niks) if draft.kind == FollowOnKind.family_card_without_deceased else set()
        return cls(
            id=draft.id,
            kind=draft.kind,
            title=draft.title[0],
            title_en=draft.title[1],
            status=draft.status,
            request_type=draft.request_type,
            kecamatan_code=draft.kecamatan_code,
            office=kecamatan.office if kecamatan else draft.kecamatan_code,
            applicant_name=draft.applicant.name,
            details=_masked_details(draft.details),
            family=[
                MemberView(nik=_mask(m.nik), name=m.name, relation=m.relation, removed=m.nik in removed)
                for m in draft.family
            ],
            follows=RequestLinkView(id=draft.origin.request_id, number=draft.origin.number, type=draft.origin.type),
            origin_document_number=draft.origin.document_number,
            note=draft.note,
            created_at=draft.created_at,
            expires_at=draft.expires_at,
            confirmed_at=draft.confirmed_at,
            confirmed_by=draft.confirmed_by,
            led_to=(
                RequestLinkView(id=draft.result_id, number=draft.result_number, type=draft.request_type)
                if draft.result_id and draft.result_number
                else None
            ),
        )


class ConfirmedView(DraftView):
    access_code: str | None = Field(
        description="The new request's access code (with its number it opens the request; also sent by SMS and "
        "e-mail); none for an e-KTP recording booking"
    )
    appointment_date: date | None = Field(default=None, description="An e-KTP recording's day")


def _mask(nik: str) -> str:
    return f"{nik[:6]}******{nik[-4:]}" if len(nik) == 16 else "******"


def _masked_details(details: dict[str, Any] | None) -> dict[str, Any] | None:
    """The details as shown: each person's NIK masked (a link that leaks shows no whole NIK)."""
    if details is None:
        return None
    shown = dict(details)
    if isinstance(shown.get("members"), list):
        shown["members"] = [m | {"nik": _mask(str(m.get("nik", "")))} for m in shown["members"]]
    return shown


router = APIRouter(tags=["follow-on requests"])
_ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse},
    409: {"model": ErrorResponse},
    422: {"model": ErrorResponse},
    429: {"model": ErrorResponse},
}
_STAFF_ERRORS: dict[int | str, dict[str, Any]] = {
    **_ERRORS,
    401: {"model": ErrorResponse},
    403: {"model": ErrorResponse},
}


async def _opened(request: Request, draft_id: uuid.UUID, token: str) -> FollowOnDraft:
    """The draft its link opens. Wrong tokens are counted against the draft: after a few it is locked for a while,
    wherever the guesses come from. The token is never logged."""
    limits = rate_limits(request)
    misses: str = request.app.state.settings.access_code_misses
    wait = await limits.exhausted("follow-on-misses", misses, str(draft_id))
    if wait is not None:
        raise ApiError(
            429,
            "link_locked",
            f"Too many wrong links for this follow-on request; try again in {wait} s. / Terlalu banyak tautan salah "
            f"untuk permohonan lanjutan ini; coba lagi dalam {wait} detik.",
            headers={"Retry-After": str(wait)},
        )
    links: FollowOnLinks = request.app.state.follow_on_links
    try:
        return await follow_ons.open_draft(draft_id, token, uow=_unit_of_work(request), links=links)
    except AccessCodeMistyped:
        raise ApiError(
            422,
            "token_mistyped",
            "That is not the token of a follow-on link: open the whole link from the SMS or e-mail. / Kode pada "
            "tautan tidak sesuai: buka tautan lengkap dari SMS atau e-mail.",
        ) from None
    except DraftNotFound:
        await limits.allow("follow-on-misses", misses, str(draft_id))
        log.warning("follow_on_link_refused", draft_id=str(draft_id))
        raise


@router.post("/follow-ons/{draft_id}/open", response_model=DraftView, responses=_ERRORS, openapi_extra=NO_TOKEN_NEEDED)
async def open_with_link(draft_id: uuid.UUID, body: TokenBody, request: Request) -> DraftView:
    """For the family: the draft their link opens (the token in the body), prefilled from the population register,
    with its status (an expired one says so)."""
    return DraftView.of(await _opened(request, draft_id, body.token))


@router.post(
    "/follow-ons/{draft_id}/confirm",
    response_model=ConfirmedView,
    responses=_ERRORS,
    openapi_extra=NO_TOKEN_NEEDED,
)
async def confirm_with_link(draft_id: uuid.UUID, body: TokenBody, request: Request, clock: ClockDep) -> ConfirmedView:
    """For the family: submit the draft as a request of its own (every check of a submission applies), or book the
    e-KTP recording. Confirming again answers with the same request: it is submitted once. An expired draft is
    refused (409 `follow_on_expired`)."""
    opened = await _opened(request, draft_id, body.token)
    return await _confirm(request, opened.id, follow_ons.Confirmer(), clock)


@router.get("/follow-ons", response_model=list[DraftView], responses=_STAFF_ERRORS)
async def list_for_office(
    uow: UnitOfWorkDep,
    staff: ReadingDrafts,
    kecamatan: Annotated[str | None, Query(pattern=r"^\d{2}\.\d{2}\.\d{2}$")] = None,
    status: DraftStatus | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[DraftView]:
    """For staff, newest first: the follow-on drafts of a kecamatan office. A kecamatan operator sees their own
    kecamatan's only."""
    if staff.kecamatan_bound:
        if kecamatan is not None and not staff.serves(kecamatan):
            raise ApiError(
                403, "outside_your_kecamatan", f"You serve kecamatan {staff.kecamatan_code}: leave out kecamatan."
            )
        kecamatan = staff.kecamatan_code
    found = await follow_ons.list_drafts(
        DraftFilter(kecamatan_code=kecamatan, status=status), limit=limit, offset=offset, uow=uow
    )
    return [DraftView.of(draft) for draft in found]


@router.get("/follow-ons/{draft_id}", response_model=DraftView, responses=_STAFF_ERRORS)
async def show(draft_id: uuid.UUID, uow: UnitOfWorkDep, staff: ReadingDrafts) -> DraftView:
    """For staff: one draft (to a kecamatan operator, only their kecamatan's exist)."""
    draft = await follow_ons.get_draft(draft_id, uow=uow)
    if not staff.serves(draft.kecamatan_code):
        raise DraftNotFound(draft_id)
    return DraftView.of(draft)


@router.post("/follow-ons/{draft_id}/confirm-at-counter", response_model=ConfirmedView, responses=_STAFF_ERRORS)
async def confirm_at_counter(
    draft_id: uuid.UUID, request: Request, uow: UnitOfWorkDep, operator: Confirming, clock: ClockDep
) -> ConfirmedView:
    """For a kecamatan operator, with the family at the counter: submit the draft as an assisted request of their
    office (or book the recording). Confirming again answers with the same request."""
    draft = await follow_ons.get_draft(draft_id, uow=uow)
    if not operator.serves(draft.kecamatan_code):
        raise DraftNotFound(draft_id)
    kecamatan = find_kecamatan(operator.kecamatan_code) if operator.kecamatan_code else None
    confirmer = follow_ons.Confirmer(
        by=operator.username,
        operator=operator.username,
        office=kecamatan.office if kecamatan else "Dinas Kependudukan dan Pencatatan Sipil",
        operator_kecamatan=operator.kecamatan_code,
    )
    return await _confirm(request, draft.id, confirmer, clock)


async def _confirm(request: Request, draft_id: uuid.UUID, confirmer: follow_ons.Confirmer, clock: Any) -> ConfirmedView:
    state = request.app.state
    confirmed = await follow_ons.confirm_draft(
        draft_id, confirmer, uow=state.follow_ons_unit_of_work, submissions=state.follow_on_submissions, clock=clock
    )
    view = DraftView.of(confirmed)
    access_code = None
    if confirmed.kind != FollowOnKind.ektp_recording and confirmed.result_id is not None:
        codes: AccessCodes = state.access_codes
        submitted = await requests.get_request(confirmed.result_id, uow=state.requests_unit_of_work())
        access_code = str(codes.of(submitted.id, submitted.access_code_version))
    return ConfirmedView(**view.model_dump(), access_code=access_code)


def install(
    app: FastAPI,
    *,
    unit_of_work: Callable[[], FollowOnsUnitOfWork],
    submissions: Submissions,
    links: FollowOnLinks,
) -> None:
    """After the requests' routes (their unit of work and access codes are on app.state)."""
    app.state.follow_ons_unit_of_work = unit_of_work
    app.state.follow_on_submissions = submissions
    app.state.follow_on_links = links
    app.include_router(router)
