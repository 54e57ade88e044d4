"""Scans citizens upload: what the office takes (a PDF, JPEG or PNG that really is one, within the limits of size,
pages and pixels), what a refusal tells the citizen to fix, and the harmless name a scan is kept and served under.

Whether a file is what it claims is found out by decoding it, which is an adapter's work (adapters/scans.py); it
reports a `ScanReport`, and `accept_scan` decides.
"""

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from dukcapil_intake.requests.domain.model import RequestRefused
from dukcapil_shared.refusals import RefusalKind

PDF = "application/pdf"
JPEG = "image/jpeg"
PNG = "image/png"
EXTENSIONS = {PDF: "pdf", JPEG: "jpg", PNG: "png"}
_MAGIC = {PDF: b"%PDF-", JPEG: b"\xff\xd8\xff", PNG: b"\x89PNG\r\n\x1a\n"}
GENERIC_TYPES = {"application/octet-stream", "binary/octet-stream"}
"""What clients send when they do not know a file's type: never a disagreement with its content."""

FILENAME_MAX = 80
"""Characters of a kept file name before its extension."""


@dataclass(frozen=True)
class ScanLimits:
    max_bytes: int
    max_pixels: int
    """Width times height of an image."""
    max_pages: int


class Finding(StrEnum):
    readable = "readable"
    not_a_scan = "not_a_scan"
    """Neither a PDF, a JPEG nor a PNG by its first bytes."""
    unreadable = "unreadable"
    """Starts like one of them, but does not decode (or parse) as one."""
    encrypted = "encrypted"
    too_many_pixels = "too_many_pixels"
    too_many_pages = "too_many_pages"
    too_slow = "too_slow"
    """Still not read when the time for it ran out."""


@dataclass(frozen=True)
class ScanReport:
    finding: Finding
    content_type: str | None = None
    """What the content is, by its first bytes: application/pdf, image/jpeg or image/png."""
    pages: int | None = None
    width: int | None = None
    height: int | None = None


def claimed_type(head: bytes) -> str | None:
    """What the first bytes claim the file is, before anything has decoded it."""
    return next((kind for kind, magic in _MAGIC.items() if head.startswith(magic)), None)


def check_scan_size(size: int, max_bytes: int) -> None:
    if size == 0:
        raise RequestRefused("attachment_empty", "The file is empty.", "file", message_id="Berkas kosong.")
    if size > max_bytes:
        raise RequestRefused(
            "attachment_too_large",
            f"The file has {size:,} bytes; the limit is {max_bytes:,}. Scan at a lower resolution or as PDF.",
            "file",
            message_id=f"Berkas berukuran {size:,} byte; batasnya {max_bytes:,}. Pindai dengan resolusi lebih rendah "
            "atau sebagai PDF.",
            kind=RefusalKind.too_large,
        )


def accept_scan(report: ScanReport, declared_type: str | None, limits: ScanLimits) -> str:
    """The scan's content type when the office takes it; RequestRefused saying what to fix otherwise."""
    match report.finding:
        case Finding.not_a_scan:
            _refuse(
                "attachment_type",
                "Upload a scan as PDF, JPEG or PNG; this file is none of them.",
                "Unggah hasil pindaian berupa PDF, JPEG, atau PNG; berkas ini bukan salah satunya.",
            )
        case Finding.unreadable:
            what = EXTENSIONS.get(report.content_type or "", "scan").upper()
            _refuse(
                "scan_unreadable",
                f"The file starts like a {what} but cannot be read as one: it is damaged or not a {what}. Save or "
                "export the scan again and upload that file.",
                f"Berkas tampak seperti {what} tetapi tidak dapat dibaca: rusak atau bukan {what}. Simpan atau "
                "ekspor ulang hasil pindaian lalu unggah berkas itu.",
            )
        case Finding.encrypted:
            _refuse(
                "scan_encrypted",
                "The PDF is protected with a password or encryption: save it again without protection.",
                "PDF dilindungi kata sandi atau enkripsi: simpan ulang tanpa perlindungan.",
            )
        case Finding.too_many_pixels:
            size = f"{report.width:,}×{report.height:,} pixels" if report.width and report.height else "more pixels"
            _refuse(
                "scan_too_many_pixels",
                f"The image has {size}; at most {limits.max_pixels:,} pixels are taken. Scan at 300 dpi, or scale "
                "the image down.",
                f"Gambar berukuran {size.replace('pixels', 'piksel')}; paling banyak {limits.max_pixels:,} piksel. "
                "Pindai dengan 300 dpi, atau perkecil gambarnya.",
                max_pixels=limits.max_pixels,
            )
        case Finding.too_many_pages:
            _refuse(
                "scan_too_many_pages",
                f"The PDF has {report.pages} pages; at most {limits.max_pages} are taken. Upload only the pages "
                "the office asks for.",
                f"PDF berisi {report.pages} halaman; paling banyak {limits.max_pages}. Unggah hanya halaman yang "
                "diminta.",
                max_pages=limits.max_pages,
            )
        case Finding.too_slow:
            _refuse(
                "scan_too_complex",
                "The file took too long to read. Scan it again as a plain PDF, JPEG or PNG.",
                "Berkas terlalu lama dibaca. Pindai ulang sebagai PDF, JPEG, atau PNG biasa.",
            )
    content_type = report.content_type or ""
    if declared_type and declared_type != content_type and declared_type not in GENERIC_TYPES:
        _refuse(
            "attachment_type_mismatch",
            f"The file says it is {declared_type} but its content is {content_type}.",
            f"Berkas mengaku {declared_type} tetapi isinya {content_type}.",
        )
    return content_type


def _refuse(code: str, english: str, indonesian: str, **extra: object) -> None:
    raise RequestRefused(code, english, "file", message_id=indonesian, **extra)


_UNSAFE = re.compile(r"[^\w-]+")
_REPEATED = re.compile(r"([_-])[_-]+")


def safe_filename(client_name: str | None, content_type: str) -> str:
    """The name a scan is shown and served under, whatever the client sent: its last path segment without its
    extension, reduced to letters, digits, '-' and '_' (no dots, so no hidden or double-extension names), at most
    FILENAME_MAX characters, then the extension of what the content really is. Never a storage key."""
    base = re.split(r"[/\\]", unicodedata.normalize("NFKC", client_name or ""))[-1]
    stem = base.rsplit(".", 1)[0] if "." in base.lstrip(".") else base
    stem = "".join(char for char in stem if unicodedata.category(char)[0] in "LNPSZ")  # no controls or format chars
    stem = _REPEATED.sub(r"\1", _UNSAFE.sub("_", stem)).strip("_-")[:FILENAME_MAX].strip("_-")
    return f"{stem or 'scan'}.{EXTENSIONS.get(content_type, 'bin')}"
