"""What a citizen following a request is told: where it stands and what to do next, from intake's answer to
`POST /requests/follow` (status, checklist, history, document)."""

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from dukcapil_web.domain.i18n import Language, pick, status_label

WIB = dt.timezone(dt.timedelta(hours=7), "WIB")
BEFORE_DECISION = frozenset({"submitted", "in_review", "info_requested"})
"""Until a reviewer decides, the citizen may add scans and cancel (intake refuses both afterwards)."""

_AIRWAY_BILL = re.compile(r"nomor resi ([A-Za-z0-9-]+)")
_PICKUP_OFFICE = re.compile(r"dapat diambil di (.+?)\.?$")


@dataclass(frozen=True)
class TimelineEntry:
    time: str
    note: str
    status: str | None


@dataclass(frozen=True)
class NextStep:
    title: str
    text: str


@dataclass(frozen=True)
class Progress:
    number: str
    type: str
    status: str
    status_label: str
    timeline: list[TimelineEntry]
    next_step: NextStep | None
    missing_scans: list[str]
    required_scans: list[str]
    uploaded_scans: list[str]
    can_upload: bool
    can_cancel: bool
    can_resubmit: bool
    has_document: bool
    document_number: str | None
    airway_bill: str | None
    pickup_office: str | None

    @property
    def scans_done(self) -> int:
        return len(self.required_scans) - len(self.missing_scans)


def local_time(value: str) -> str:
    """An ISO time from the API as the office's clock shows it: 28-11-2026 14:05 WIB."""
    try:
        moment = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(WIB).strftime("%d-%m-%Y %H:%M WIB")


def progress_of(view: dict[str, Any], language: Language) -> Progress:
    status = view["status"]
    history: list[dict[str, Any]] = view.get("history") or []
    checklist = view.get("checklist") or {}
    document = view.get("document")
    airway_bill = _last_match(history, "shipment.created.v1", _AIRWAY_BILL)
    pickup_office = _last_match(history, "shipment.ready_for_pickup.v1", _PICKUP_OFFICE)
    progress = Progress(
        number=view["number"],
        type=view.get("type", ""),
        status=status,
        status_label=status_label(status, language),
        timeline=[
            TimelineEntry(
                time=local_time(entry.get("time", "")), note=entry.get("note", ""), status=entry.get("status")
            )
            for entry in reversed(history)
        ],
        next_step=None,
        missing_scans=list(checklist.get("missing") or []),
        required_scans=list(checklist.get("required") or []),
        uploaded_scans=sorted({item.get("kind", "") for item in view.get("attachments") or []}),
        can_upload=status in BEFORE_DECISION,
        can_cancel=status in BEFORE_DECISION,
        can_resubmit=status == "info_requested",
        has_document=bool(document),
        document_number=(document or {}).get("number"),
        airway_bill=airway_bill,
        pickup_office=pickup_office,
    )
    return _with_next_step(progress, history, language)


def _last_match(history: list[dict[str, Any]], event_type: str, pattern: re.Pattern[str]) -> str | None:
    for entry in reversed(history):
        if entry.get("event_type") == event_type and (found := pattern.search(entry.get("note", ""))):
            return found.group(1)
    return None


def _last_note(history: list[dict[str, Any]], event_type: str) -> str | None:
    return next((e.get("note") for e in reversed(history) if e.get("event_type") == event_type), None)


def _with_next_step(progress: Progress, history: list[dict[str, Any]], language: Language) -> Progress:
    status = progress.status
    step: NextStep | None
    if status == "info_requested":
        asked = _last_note(history, "review.information_requested.v1") or ""
        step = NextStep(
            pick(language, "Lengkapi permohonan Anda", "Complete your request"),
            pick(
                language,
                f"{asked} Unggah berkas yang diminta, lalu kirim ulang permohonan.",
                f"The reviewer asked (in Indonesian): “{asked}” Upload what is asked for, then send the request back.",
            ).strip(),
        )
    elif status in ("submitted", "in_review") and progress.missing_scans:
        step = NextStep(
            pick(language, "Unggah berkas persyaratan", "Upload the required scans"),
            pick(
                language,
                "Permohonan baru diperiksa setelah semua berkas di daftar periksa diunggah.",
                "The request is reviewed once every scan on the checklist is uploaded.",
            ),
        )
    elif status in ("submitted", "in_review", "approved"):
        step = NextStep(
            pick(language, "Tunggu kabar dari kami", "Wait for news from us"),
            pick(
                language,
                "Tidak ada yang perlu Anda lakukan sekarang. Kami mengirim kabar lewat SMS atau e-mail.",
                "Nothing to do for now. We send news by SMS or e-mail.",
            ),
        )
    elif status == "shipped":
        step = NextStep(
            pick(language, "Dokumen dalam pengiriman", "Your document is on its way"),
            pick(
                language,
                f"Dikirim melalui JNE dengan nomor resi {progress.airway_bill or '-'}.",
                f"Sent by JNE, airway bill {progress.airway_bill or '-'}.",
            ),
        )
    elif status == "ready_for_pickup":
        office = progress.pickup_office or pick(language, "kantor kecamatan", "the kecamatan office")
        step = NextStep(
            pick(language, "Ambil dokumen Anda", "Collect your document"),
            pick(
                language,
                f"Dokumen menunggu di {office}. Bawa KTP-el dan nomor permohonan ini.",
                f"The document waits at {office}. Bring your ID card and this request number.",
            ),
        )
    elif status == "document_issued":
        step = NextStep(
            pick(language, "Dokumen sudah terbit", "Your document is issued"),
            pick(
                language,
                "Unduh dokumen di bawah. Dokumen juga dikirim atau disiapkan untuk diambil.",
                "Download it below. It is also being sent, or made ready for collection.",
            ),
        )
    elif status == "rejected":
        reason = _last_note(history, "request.rejected.v1") or ""
        step = NextStep(
            pick(language, "Permohonan ditolak", "The request was rejected"),
            pick(
                language,
                f"{reason} Anda dapat mengajukan permohonan baru.",
                f"Reason (in Indonesian): “{reason}” You may submit a new request.",
            ).strip(),
        )
    else:
        step = None
    return Progress(**{**progress.__dict__, "next_step": step})
