"""What every page of the staff console shares: the signed-in member of staff as the session keeps them, the scope
a page needs, the caller with their token and their reason for the task, and the page with the menu of their scopes."""

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from dukcapil_web.adapters.api import (
    Caller,
    DeadLettersApi,
    ReviewApi,
    ServiceRefused,
    ShippingApi,
    StaffDocumentsApi,
    StaffIntakeApi,
)
from dukcapil_web.domain import forms
from dukcapil_web.domain.i18n import Language, pick
from dukcapil_web.domain.progress import local_time
from dukcapil_web.domain.staff import REVIEW_STATUSES, ROLE_NAMES, TASKS, TYPE_NAMES, expired, places_for
from dukcapil_web.entrypoints.pages import caller, language, refusal_text, render
from dukcapil_web.entrypoints.security import session_of


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
    return Caller(address=plain.address, http_request_id=plain.http_request_id, token=staff.token, reason=reason)


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
        role_label=lambda code: pick(lang, *ROLE_NAMES[code]) if code in ROLE_NAMES else code,
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


def path_id(value: str) -> str:
    """An id from a path, as intake, review and the others write it; anything else is a 404."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise StarletteHTTPException(404) from None
