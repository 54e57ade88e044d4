"""The staff console's rules, without a framework: what a member of staff sees follows the scopes of their token,
why they look at a person's data is asked once per task, and the office's figures become bar charts."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


@dataclass(frozen=True)
class Place:
    """A page of the console and the scope that shows it in the menu."""

    path: str
    scope: str
    label_id: str
    label_en: str


PLACES = (
    Place("/staff/antrean", "reviews:read", "Antrean verifikasi", "Review queue"),
    Place("/staff/loket", "requests:submit", "Loket kecamatan", "Kecamatan counter"),
    Place("/staff/serah-terima", "shipments:handover", "Serah terima", "Pickup handover"),
    Place("/staff/dokumen", "documents:manage", "Dokumen", "Documents"),
    Place("/staff/statistik", "statistics:read", "Statistik", "Statistics"),
    Place("/staff/insiden", "incidents:read", "Insiden", "Incidents"),
    Place("/staff/pesan-gagal", "operations", "Pesan gagal", "Dead letters"),
    Place("/staff/akun", "accounts:manage", "Akun staf", "Staff accounts"),
    Place("/staff/instansi", "agencies:manage", "Instansi pelanggan", "Agencies"),
)


def places_for(scopes: list[str] | set[str] | frozenset[str]) -> list[Place]:
    """The menu of a token with these scopes, in the order of a working day."""
    return [place for place in PLACES if place.scope in scopes]


@dataclass(frozen=True)
class Task:
    """A kind of work during which a person's data is read; its reason is asked once and sent with every read."""

    code: str
    label_id: str
    label_en: str
    example: str


TASKS = {
    "verifikasi": Task("verifikasi", "Verifikasi permohonan", "Reviewing requests", "verifikasi antrean harian"),
    "loket": Task("loket", "Pelayanan di loket kecamatan", "Serving at the kecamatan counter", "pelayanan loket"),
    "dokumen": Task("dokumen", "Pengelolaan dokumen", "Managing documents", "koreksi dokumen atas permintaan"),
    "operasi": Task("operasi", "Penanganan pesan gagal", "Handling dead letters", "penanganan insiden"),
}

MIN_REASON, MAX_REASON = 3, 300


def reason_problem(reason: str) -> tuple[str, str] | None:
    """What is wrong with a typed reason (Indonesian, English), or None: the services take 3 to 300 characters."""
    if len(reason.strip()) < MIN_REASON:
        return (
            f"Tulis alasan minimal {MIN_REASON} karakter.",
            f"Write a reason of at least {MIN_REASON} characters.",
        )
    if len(reason.strip()) > MAX_REASON:
        return (f"Alasan paling banyak {MAX_REASON} karakter.", f"At most {MAX_REASON} characters.")
    return None


def signed_in_until(expires_in: int, now: datetime | None = None) -> str:
    """When a token from intake stops working, a little early so that no call is made with a dying token."""
    now = now or datetime.now(UTC)
    return (now + timedelta(seconds=max(0, expires_in - 30))).isoformat()


def expired(until: str, now: datetime | None = None) -> bool:
    try:
        return datetime.fromisoformat(until) <= (now or datetime.now(UTC))
    except ValueError:
        return True


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    text: str
    y: int
    width: float


@dataclass(frozen=True)
class BarChart:
    """A horizontal bar chart drawn as SVG on the server: no script, no style attribute, readable by a screen
    reader from its title and the table beside it."""

    title: str
    bars: list[Bar]
    width: int
    height: int
    label_width: int
    plot_width: int
    bar_height: int


def bar_chart(title: str, items: list[tuple[str, float, str]], *, width: int = 640, bar_height: int = 22) -> BarChart:
    """`items`: (label, value, the value as shown). Bars scale to the largest value."""
    label_width = 220
    plot_width = width - label_width - 90
    largest = max((value for _, value, _ in items), default=0) or 1
    bars = [
        Bar(label=label, value=value, text=text, y=8 + index * (bar_height + 8), width=plot_width * value / largest)
        for index, (label, value, text) in enumerate(items)
    ]
    height = 16 + len(items) * (bar_height + 8)
    return BarChart(title, bars, width, height, label_width, plot_width, bar_height)


REVIEW_STATUSES = {
    "pending": ("Menunggu verifikasi", "Awaiting review"),
    "info_requested": ("Menunggu kelengkapan dari pemohon", "Waiting for the applicant"),
    "approved": ("Disetujui", "Approved"),
    "rejected": ("Ditolak", "Rejected"),
    "cancelled": ("Dibatalkan", "Cancelled"),
}
TYPE_NAMES = {
    "kartu_keluarga": ("Kartu Keluarga", "Family card"),
    "akta_kematian": ("Akta Kematian", "Death certificate"),
    "surat_pindah": ("Surat Pindah (SKPWNI)", "Relocation letter (SKPWNI)"),
    "biodata_wni": ("Biodata WNI", "Citizen biodata"),
}
ROLE_NAMES = {
    "reviewer": ("Verifikator", "Reviewer"),
    "supervisor": ("Supervisor", "Supervisor"),
    "kecamatan_operator": ("Operator kecamatan", "Kecamatan operator"),
    "document_officer": ("Petugas dokumen", "Document officer"),
    "shipping_officer": ("Petugas pengiriman", "Shipping officer"),
    "admin": ("Admin", "Admin"),
}


def duration(hours: float | None, language: str) -> str:
    """A lead time as people say it: minutes under an hour, hours under two days, then days."""
    if hours is None:
        return "—"
    if hours < 1:
        minutes = round(hours * 60)
        return (
            "< 1 mnt"
            if minutes < 1 and language == "id"
            else "< 1 min"
            if minutes < 1
            else f"{minutes} mnt"
            if language == "id"
            else f"{minutes} min"
        )
    if hours < 48:
        return f"{hours:.1f} jam" if language == "id" else f"{hours:.1f} h"
    return f"{hours / 24:.1f} hari" if language == "id" else f"{hours / 24:.1f} days"
