"""The document officer: find a request's documents, revoke or correct them."""

import re
import uuid
from datetime import date, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from dukcapil_web.adapters.api import Caller, ServiceRefused
from dukcapil_web.domain.i18n import pick
from dukcapil_web.entrypoints.pages import LanguageDep, ProtectedForm, see_other
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

router = APIRouter(prefix="/staff")


REQUEST_NUMBER = re.compile(r"^(\d{2})(\d{2})(\d{2})-(\d{4})(\d{2})(\d{2})-\d{4}$")


async def _find_request(console: Console, query: str, who: Caller) -> dict[str, Any] | None:
    """A request by its id, or by its number: the number names the kecamatan and the day it was submitted, so
    intake's search of that kecamatan around that day finds it."""
    query = query.strip()
    try:
        return await console.intake.request(str(uuid.UUID(query)), who)
    except ValueError:
        pass
    except ServiceRefused as refused:
        if refused.status == 404:
            return None
        raise
    found = REQUEST_NUMBER.match(query)
    if not found:
        return None
    province, regency, district, year, month, day = found.groups()
    try:
        submitted = date(int(year), int(month), int(day))
    except ValueError:
        return None
    params = {
        "kecamatan": f"{province}.{regency}.{district}",
        "submitted_from": (submitted - timedelta(days=1)).isoformat(),
        "submitted_to": (submitted + timedelta(days=1)).isoformat(),
        "limit": 500,
    }
    for summary in await console.intake.requests(params, who):
        if summary["number"] == query:
            return await console.intake.request(summary["id"], who)
    return None


async def _documents_page(
    request: Request, console: Console, staff: Staff, query: str, status_code: int = 200, **more: Any
) -> HTMLResponse:
    who = calling(request, staff, "dokumen")
    found = await _find_request(console, query, who) if query else None
    documents = await console.documents.for_request(found["id"], who) if found else []
    return staff_page(
        request,
        "staff/documents.html",
        status_code=status_code,
        query=query,
        found=found,
        documents=documents,
        errors=more.pop("errors", {}),
        general=more.pop("general", []),
        values=more.pop("values", {}),
        **more,
    )


@router.get("/dokumen", response_class=HTMLResponse)
async def documents(
    request: Request, console: ConsoleDep, staff: Annotated[Staff, needs("documents:manage")], cari: str = ""
) -> Response:
    return await _documents_page(request, console, staff, cari[:80])


@router.post("/dokumen/{document_id}/{action}", response_class=HTMLResponse, dependencies=[ProtectedForm])
async def manage_document(
    document_id: str,
    action: str,
    request: Request,
    console: ConsoleDep,
    lang: LanguageDep,
    staff: Annotated[Staff, needs("documents:manage")],
) -> Response:
    """Revoke, or correct (a new document with a new number supersedes this one), on an approved decision."""
    if action not in ("revoke", "correct"):
        raise StarletteHTTPException(404)
    document_id = path_id(document_id)
    form = await request.form()
    values = {key: value.strip() for key, value in form.items() if isinstance(value, str)}
    query = values.get("cari", "")
    prefix = f"{action}."
    body: dict[str, Any] = {
        "reason": values.get(prefix + "reason", ""),
        "approved_by": values.get(prefix + "approved_by", ""),
    }
    errors: dict[str, list[str]] = {}
    for name, told in (
        ("reason", ("Tulis alasannya.", "Write the reason.")),
        ("approved_by", ("Isi siapa yang menyetujui.", "Say who approved it.")),
    ):
        if not body[name]:
            errors[prefix + name] = [pick(lang, *told)]
    if action == "correct":
        changes: dict[str, Any] = {}
        for line in values.get("correct.details", "").splitlines():
            if ":" in line:
                key, value = line.split(":", 1)
                changes[key.strip()] = value.strip() or None
            elif line.strip():
                errors["correct.details"] = [
                    pick(lang, "Tulis satu perubahan per baris: kunci: nilai.", "One change a line: key: value.")
                ]
        if changes:
            body["details"] = changes
        holder = {"nik": values.get("correct.holder.nik", ""), "name": values.get("correct.holder.name", "")}
        if values.get("correct.holder_changed") and all(holder.values()):
            body["holder"] = holder
        if not changes and "holder" not in body and "correct.details" not in errors:
            errors["correct.details"] = [
                pick(
                    lang,
                    "Tulis rincian yang dikoreksi, atau koreksi data pemegang.",
                    "Give the corrected details, or correct the holder.",
                )
            ]
    if not errors:
        try:
            if action == "revoke":
                await console.documents.revoke(document_id, body, calling(request, staff))
            else:
                await console.documents.correct(document_id, body, calling(request, staff))
        except ServiceRefused as refused:
            if refused.status in (401, 403):
                raise
            placed, general = field_errors(
                refused, {"reason", "approved_by", "details", "holder.nik", "holder.name", "holder"}, lang
            )
            errors = {prefix + name: messages for name, messages in placed.items()}
            return await _documents_page(
                request,
                console,
                staff,
                query,
                status_code=422,
                errors=errors,
                general=general,
                values=values,
                acting=document_id,
            )
        session_of(request)["staff_notice"] = pick(
            lang,
            "Dokumen dicabut." if action == "revoke" else "Dokumen koreksi diterbitkan dengan nomor baru.",
            "The document is revoked." if action == "revoke" else "The corrected document is issued with a new number.",
        )
        return see_other(f"/staff/dokumen?cari={quote(query)}")
    return await _documents_page(
        request, console, staff, query, status_code=422, errors=errors, values=values, acting=document_id
    )
