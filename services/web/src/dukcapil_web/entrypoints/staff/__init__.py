"""The staff console under /staff: sign-in at intake, and the pages of each role over the services' staff APIs.

The token intake issues stays in the server-side session (the browser holds only the session cookie), and goes
with every call as `Authorization: Bearer`. What the menu shows follows the token's scopes; a page whose scope
the token lacks answers 403 before calling anything. Where the services record why a person's data is read, the
reason is asked once per task (reviewing, the counter, ...) and sent as `X-Access-Reason` with every read.
A NIK (a collector's, say) is posted, never put in a URL or a log line.
"""

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from dukcapil_web.adapters.api import ServiceRefused
from dukcapil_web.domain.i18n import pick
from dukcapil_web.entrypoints.pages import language, refusal_text, refused_page, see_other
from dukcapil_web.entrypoints.security import session_of
from dukcapil_web.entrypoints.staff import (
    accounts,
    agencies,
    counter,
    documents,
    follow_ons,
    oversight,
    review,
    sign_in,
)
from dukcapil_web.entrypoints.staff.console import Console, ReasonNeeded, ScopeMissing, SignInNeeded, staff_page

__all__ = ["Console", "install"]


def install(app: FastAPI, console: Console) -> None:
    app.state.console = console
    for module in (sign_in, review, counter, follow_ons, documents, oversight, accounts, agencies):
        app.include_router(module.router)

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
