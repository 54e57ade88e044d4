"""What the citizen is told, and when: every notice's wording, in Indonesian, in one place.

A notice has a short SMS (one 160-character segment when no free text is quoted, two at most) and a fuller
e-mail (subject and body). Notices name the request by its number and never carry a NIK or an address; the
free text they quote (a reviewer's reason, a receiver's name) is shortened for SMS and any 16-digit number in it
is masked. The notice of receipt carries the request's access code, as a placeholder filled in only as it is sent
(access_codes.py): no stored notice holds a code.
"""

import re
import uuid
from dataclasses import dataclass
from datetime import date, datetime

from dukcapil_intake.follow_ons.domain.follow_ons import FollowOnDraft, FollowOnKind
from dukcapil_intake.follow_ons.domain.links import PLACEHOLDER as FOLLOW_ON_LINK
from dukcapil_intake.notifications.domain.notifications import Channel, Contact, Notification
from dukcapil_intake.requests.domain.access_codes import PLACEHOLDER
from dukcapil_intake.requests.domain.catalogue import ATTACHMENT_KINDS, BRING_TO_PEREKAMAN, SERVICES
from dukcapil_intake.requests.domain.model import ServiceRequest
from dukcapil_shared.contracts import (
    DeliveryMethod,
    DocumentRevoked,
    Event,
    InformationRequested,
    ReadyForPickup,
    RecordingBooked,
    RequestApproved,
    RequestRejected,
    RequestSubmitted,
    ShipmentCreated,
    ShipmentDelivered,
)
from dukcapil_shared.contracts.regions import WIB, find_kecamatan


@dataclass(frozen=True)
class Template:
    sms: str
    subject: str
    body: str


SENDER = "Disdukcapil Lebak"

TEMPLATES: dict[str, Template] = {
    "received": Template(
        sms="{pengirim}: Permohonan {layanan_singkat} diterima, no. {nomor}. Kode akses: {kode_akses} (RAHASIA, "
        "jangan berikan ke orang lain).",
        subject="Permohonan {nomor} diterima",
        body="Permohonan {layanan} Anda telah kami terima dengan nomor {nomor}.\n\n"
        "Kode akses permohonan Anda: {kode_akses}\n"
        "Simpan kode ini dan jangan berikan kepada siapa pun: bersama nomor permohonan, kode ini diperlukan untuk "
        "memantau, melengkapi, membatalkan permohonan dan mengunduh dokumen. Petugas Disdukcapil tidak akan pernah "
        "menanyakannya.\n\n"
        "Petugas akan memeriksa permohonan beserta lampirannya. Kami akan mengabari Anda pada setiap tahap berikutnya.",
    ),
    "access_code": Template(
        sms="{pengirim}: Kode akses permohonan {nomor}: {kode_akses} (RAHASIA). Abaikan pesan ini jika Anda tidak "
        "memintanya.",
        subject="Kode akses permohonan {nomor}",
        body="Seseorang meminta kode akses permohonan nomor {nomor} dikirim ulang.\n\n"
        "Kode akses: {kode_akses}\n\n"
        "Jangan berikan kode ini kepada siapa pun. Jika Anda tidak memintanya, abaikan pesan ini: tanpa kode ini "
        "permohonan Anda tidak dapat dibuka orang lain.",
    ),
    "information_needed": Template(
        sms="{pengirim}: Permohonan {nomor} perlu dilengkapi: {alasan_singkat}{kekurangan_singkat} Lengkapi lalu "
        "kirim ulang permohonan.",
        subject="Permohonan {nomor} perlu dilengkapi",
        body="Petugas verifikasi memerlukan kelengkapan untuk permohonan {layanan} nomor {nomor}.\n\n"
        "Keterangan petugas: {alasan}\n{kekurangan}\n"
        "Silakan unggah dokumen yang diminta, lalu kirim ulang permohonan. Permohonan akan diperiksa kembali setelah "
        "kelengkapan kami terima.",
    ),
    "approved": Template(
        sms="{pengirim}: Permohonan {nomor} DISETUJUI. {langkah_singkat}",
        subject="Permohonan {nomor} disetujui",
        body="Permohonan {layanan} nomor {nomor} telah disetujui. Dokumen sedang diterbitkan dan ditandatangani "
        "secara elektronik.\n\n{langkah}",
    ),
    "rejected": Template(
        sms="{pengirim}: Permohonan {nomor} DITOLAK: {alasan_singkat} Info lebih lanjut di kantor kecamatan.",
        subject="Permohonan {nomor} ditolak",
        body="Mohon maaf, permohonan {layanan} nomor {nomor} tidak dapat kami setujui.\n\n"
        "Alasan: {alasan}\n\n"
        "Anda dapat mengajukan permohonan baru setelah memperbaiki hal tersebut, atau meminta bantuan petugas di "
        "kantor kecamatan.",
    ),
    "shipped": Template(
        sms="{pengirim}: Dokumen permohonan {nomor} dikirim via {kurir}, no. resi {resi}. Siapkan KTP-el saat kurir "
        "datang.",
        subject="Dokumen permohonan {nomor} dikirim, resi {resi}",
        body="Dokumen untuk permohonan {layanan} nomor {nomor} telah diserahkan kepada kurir {kurir} "
        "(layanan {layanan_kurir}) dengan nomor resi {resi}. Kiriman dapat dilacak dengan nomor resi tersebut di "
        "situs {kurir}.\n\n"
        "Dokumen hanya diserahkan kepada pemohon atau anggota keluarga dalam Kartu Keluarga yang sama: siapkan "
        "KTP-el saat kurir datang.",
    ),
    "delivered": Template(
        sms="{pengirim}: Dokumen permohonan {nomor} diterima oleh {penerima_singkat} Bila bukan Anda/keluarga, "
        "hubungi Disdukcapil.",
        subject="Dokumen permohonan {nomor} telah diterima",
        body="Menurut kurir, dokumen untuk permohonan {layanan} nomor {nomor} telah diterima oleh {penerima} pada "
        "{waktu}.\n\n"
        "Bila Anda maupun keluarga Anda tidak menerimanya, segera hubungi Disdukcapil Kabupaten Lebak atau kantor "
        "kecamatan.",
    ),
    "ready_for_pickup": Template(
        sms="{pengirim}: {sebab_singkat}Dokumen permohonan {nomor} siap diambil di {kantor}. Bawa KTP-el dan nomor "
        "permohonan.",
        subject="Dokumen permohonan {nomor} siap diambil",
        body="{sebab}Dokumen untuk permohonan {layanan} nomor {nomor} siap diambil di {kantor} pada hari dan jam "
        "kerja.\n\n"
        "Bawa KTP-el Anda dan sebutkan nomor permohonan. Dokumen juga dapat diambil oleh anggota keluarga dalam "
        "Kartu Keluarga yang sama dengan membawa KTP-el-nya.",
    ),
    "document_corrected": Template(
        sms="{pengirim}: Dokumen {lama} tidak berlaku lagi dan diganti dokumen perbaikan. {serahkan_singkat}",
        subject="Dokumen {lama} diganti dokumen perbaikan",
        body="Dokumen {lama} untuk permohonan {layanan} nomor {nomor} telah diperbaiki dan diganti dengan dokumen "
        "baru bernomor lain. Alasan perbaikan: {alasan}\n\n"
        "Dokumen lama tidak berlaku lagi: kode QR-nya kini menyatakan bahwa dokumen tersebut telah diganti. "
        "{serahkan}",
    ),
    "document_revoked": Template(
        sms="{pengirim}: Dokumen {dokumen} (permohonan {nomor}) DICABUT dan tidak berlaku lagi. Serahkan ke kantor "
        "kecamatan.",
        subject="Dokumen {dokumen} dicabut",
        body="Dokumen {dokumen} untuk permohonan {layanan} nomor {nomor} telah dicabut dan tidak berlaku lagi; "
        "kode QR-nya kini menyatakan bahwa dokumen tersebut dicabut.\n\n"
        "Alasan: {alasan}\n\n"
        "Serahkan dokumen tersebut ke kantor kecamatan atau ke Disdukcapil Kabupaten Lebak. Bila Anda memerlukan "
        "dokumen pengganti, ajukan permohonan baru atau minta bantuan petugas di kantor kecamatan.",
    ),
    "correction_shipped": Template(
        sms="{pengirim}: Dokumen perbaikan permohonan {nomor} dikirim via {kurir}, resi {resi}. Serahkan dokumen "
        "lama ke kurir.",
        subject="Dokumen perbaikan permohonan {nomor} dikirim, resi {resi}",
        body="Dokumen perbaikan {baru} untuk permohonan {layanan} nomor {nomor} telah diserahkan kepada kurir "
        "{kurir} (layanan {layanan_kurir}) dengan nomor resi {resi}.\n\n"
        "Dokumen lama {lama} tidak berlaku lagi: serahkan kepada kurir saat dokumen perbaikan diantar. Dokumen "
        "hanya diserahkan kepada pemohon atau anggota keluarga dalam Kartu Keluarga yang sama: siapkan KTP-el saat "
        "kurir datang.",
    ),
    "correction_ready_for_pickup": Template(
        sms="{pengirim}: {sebab_singkat}Dokumen perbaikan {nomor} siap diambil di {kantor}. Bawa KTP-el dan "
        "dokumen lama.",
        subject="Dokumen perbaikan permohonan {nomor} siap diambil",
        body="{sebab}Dokumen perbaikan {baru} untuk permohonan {layanan} nomor {nomor} siap diambil di {kantor} "
        "pada hari dan jam kerja.\n\n"
        "Bawa KTP-el Anda dan dokumen lama {lama}, yang tidak berlaku lagi: serahkan kepada petugas saat "
        "mengambil dokumen perbaikan.",
    ),
    "follow_on_offered": Template(
        sms="{pengirim}: {tawaran_singkat} Periksa & konfirmasi s.d. {tanggal_singkat}: {tautan}",
        subject="{judul}: mohon konfirmasi",
        body="{tawaran}\n\n"
        "Buka tautan berikut untuk memeriksa data yang telah kami isikan dan mengonfirmasinya:\n{tautan}\n\n"
        "Tidak ada yang diajukan tanpa konfirmasi Anda atau petugas kantor kecamatan. Tawaran ini berlaku sampai "
        "{tanggal}; setelah itu Anda tetap dapat mengajukan permohonan seperti biasa. Tautan ini khusus untuk Anda: "
        "jangan berikan kepada orang lain.\n\n"
        "English: {english} Open the link above to check and confirm it before {tanggal_en}; nothing is submitted "
        "without your confirmation.",
    ),
    "recording_booked": Template(
        sms="{pengirim}: Perekaman KTP-el {tanggal_singkat}, antrean no. {antrean}, di {kantor}. Kode {kode}. Bawa "
        "Kartu Keluarga.",
        subject="Jadwal perekaman KTP-el: {tanggal}",
        body="Jadwal perekaman KTP-el Anda telah dipesan.\n\n"
        "Tanggal: {tanggal}\nTempat: {kantor}\nNomor antrean: {antrean}\nKode booking: {kode}\n\n"
        "Yang perlu dibawa:\n{bawaan}\n\n"
        "Datanglah pada jam kerja dan tunjukkan kode booking kepada petugas.",
    ),
}

EMAIL_LAYOUT = (
    "Yth. Bapak/Ibu,\n\n{isi}\n\n{pantau}Salam,\nDinas Kependudukan dan Pencatatan Sipil Kabupaten Lebak\n\n"
    "Pesan ini dikirim otomatis; mohon tidak dibalas."
)
FOLLOW_THE_REQUEST = (
    "Status permohonan dapat dipantau dengan nomor permohonan dan kode aksesnya pada layanan daring Disdukcapil "
    "Kabupaten Lebak.\n\n"
)

SHORT_NAMES = {
    "kartu_keluarga": "KK",
    "akta_kematian": "Akta Kematian",
    "surat_pindah": "SKPWNI",
    "biodata_wni": "Biodata WNI",
    "ktp_el": "KTP-el",
}

AFTER_APPROVAL = {
    DeliveryMethod.courier: (
        "Dokumen akan dikirim ke alamat Anda; nomor resi menyusul.",
        "Dokumen akan dikirim melalui kurir ke alamat yang Anda berikan. Kami akan mengirimkan nomor resi begitu "
        "dokumen diserahkan kepada kurir.",
    ),
    DeliveryMethod.pickup: (
        "Kami kabari bila dokumen siap diambil.",
        "Dokumen dapat diambil di kantor kecamatan yang Anda pilih. Kami akan mengabari Anda begitu dokumen siap "
        "diambil.",
    ),
}

HAND_OVER_THE_OLD_PAPER = {
    DeliveryMethod.courier: (
        "Serahkan yang lama ke kurir saat yang baru diantar.",
        "Dokumen perbaikan akan dikirim melalui kurir ke alamat Anda; nomor resi menyusul. Serahkan dokumen lama "
        "kepada kurir saat dokumen perbaikan diantar.",
    ),
    DeliveryMethod.pickup: (
        "Bawa yang lama saat mengambil yang baru.",
        "Kami kabari bila dokumen perbaikan siap diambil di kantor kecamatan. Bawa dokumen lama dan serahkan "
        "kepada petugas saat mengambil dokumen perbaikan.",
    ),
}

HELD_AFTER_FAILED_DELIVERY = (
    "Pengiriman gagal. ",
    "Kurir tidak berhasil mengantarkan dokumen, sehingga dokumen dititipkan di kantor kecamatan.\n\n",
)

_DAYS = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")
_MONTHS = (
    "Januari", "Februari", "Maret", "April", "Mei", "Juni",
    "Juli", "Agustus", "September", "Oktober", "November", "Desember",
)  # fmt: skip
_SIXTEEN_DIGITS = re.compile(r"(?<!\d)(\d{6})\d{6}(\d{4})(?!\d)")


@dataclass(frozen=True)
class Notice:
    kind: str
    sms: str
    subject: str
    email: str

    def notifications(
        self, contact: Contact, *, request_id: uuid.UUID, event_id: str, now: datetime
    ) -> list[Notification]:
        """One notification per channel the citizen gave; none without a usable e-mail address or mobile number."""
        return [
            Notification(
                id=uuid.uuid4(),
                request_id=request_id,
                event_id=event_id,
                kind=self.kind,
                channel=channel,
                recipient=recipient,
                subject=self.subject if channel == Channel.email else None,
                body=self.email if channel == Channel.email else self.sms,
                created_at=now,
                next_attempt_at=now,
            )
            for channel, recipient in contact.channels.items()
        ]


def notice_for(event: Event, request: ServiceRequest | None = None) -> Notice | None:
    """The notice an event deserves, or None for the steps the citizen need not hear about."""
    if isinstance(event, RecordingBooked):
        return _render(
            "recording_booked",
            follow=False,
            tanggal=long_date(event.appointment_date),
            tanggal_singkat=short_date(event.appointment_date),
            antrean=event.queue_number,
            kantor=event.office_name,
            kode=event.booking_number,
            bawaan="\n".join(f"- {_indonesian(item)}" for item in BRING_TO_PEREKAMAN),
        )
    if request is None:
        return None
    about = _about(request)
    match event:
        case RequestSubmitted():
            return _render("received", **about, kode_akses=PLACEHOLDER.format(version=request.access_code_version))
        case InformationRequested():
            items = [
                _indonesian(ATTACHMENT_KINDS[i].description) if i in ATTACHMENT_KINDS else i
                for i in event.missing_items
            ]
            reason = _quoted(event.reason)
            return _render(
                "information_needed",
                **about,
                alasan=_sentence(reason),
                alasan_singkat=_sentence(_clip(reason, 80)),
                kekurangan=f"Yang perlu dilengkapi:\n{_bullets(items)}\n" if items else "",
                kekurangan_singkat=f" Kekurangan: {_sentence(_clip(', '.join(items), 90))}" if items else "",
            )
        case RequestApproved():
            short, full = AFTER_APPROVAL[request.delivery.method]
            return _render("approved", **about, langkah_singkat=short, langkah=full)
        case RequestRejected():
            reason = _quoted(event.reason)
            return _render("rejected", **about, alasan=_sentence(reason), alasan_singkat=_sentence(_clip(reason, 100)))
        case DocumentRevoked(superseded_by=None):
            reason = _quoted(event.reason)
            return _render("document_revoked", **about, dokumen=event.document_number, alasan=_sentence(reason))
        case DocumentRevoked():
            short, full = HAND_OVER_THE_OLD_PAPER[request.delivery.method]
            return _render(
                "document_corrected",
                **about,
                lama=event.document_number,
                alasan=_sentence(_quoted(event.reason)),
                serahkan_singkat=short,
                serahkan=full,
            )
        case ShipmentCreated(replaces_document_number=None):
            return _render("shipped", **about, kurir=event.courier, layanan_kurir=event.service, resi=event.airway_bill)
        case ShipmentCreated():
            return _render(
                "correction_shipped",
                **about,
                kurir=event.courier,
                layanan_kurir=event.service,
                resi=event.airway_bill,
                baru=event.document_number,
                lama=event.replaces_document_number,
            )
        case ShipmentDelivered():
            receiver = _quoted(event.receiver_name)
            return _render(
                "delivered",
                **about,
                penerima=receiver,
                penerima_singkat=_sentence(_clip(receiver, 30)),
                waktu=_moment(event.delivered_at),
            )
        case ReadyForPickup():
            short, full = HELD_AFTER_FAILED_DELIVERY if event.reason == "delivery_failed" else ("", "")
            if event.replaces_document_number is not None:
                return _render(
                    "correction_ready_for_pickup",
                    **about,
                    kantor=event.office_name,
                    sebab_singkat=short,
                    sebab=full,
                    baru=event.document_number,
                    lama=event.replaces_document_number,
                )
            return _render("ready_for_pickup", **about, kantor=event.office_name, sebab_singkat=short, sebab=full)
    return None


FOLLOW_ON_OFFERS = {
    FollowOnKind.family_card_without_deceased: (
        "Perubahan KK setelah akta kematian {dokumen} sudah kami siapkan.",
        "Setelah akta kematian {dokumen} (permohonan {nomor}) terbit, Kartu Keluarga perlu diubah: almarhum/almarhumah "
        "dikeluarkan dari KK. Permohonan perubahan KK tersebut telah kami siapkan dari data kependudukan.",
        "After the death certificate {dokumen}, the family card must change: we prepared the request that removes "
        "the deceased from it.",
    ),
    FollowOnKind.family_card_at_destination: (
        "KK baru di alamat tujuan pindah sudah kami siapkan.",
        "Setelah surat pindah {dokumen} (permohonan {nomor}) terbit, keluarga yang pindah ke Kabupaten Lebak "
        "memerlukan Kartu Keluarga baru di alamat tujuan. Permohonannya telah kami siapkan.",
        "After the move certificate {dokumen}, the family needs a new family card at its new address in Lebak: we "
        "prepared the request.",
    ),
    FollowOnKind.ektp_recording: (
        "Jadwal perekaman KTP-el di {kantor} dapat dipesan.",
        "Setelah pindah ke Kabupaten Lebak, perekaman KTP-el dilakukan di {kantor}. Jadwalnya dapat dipesan dengan "
        "satu kali konfirmasi.",
        "After moving to Lebak, the e-KTP recording is done at {kantor}: confirm to book an appointment.",
    ),
}


def follow_on_notice(draft: FollowOnDraft) -> Notice:
    """The offer of a follow-on draft, with the link to confirm it as a placeholder (filled in only as it is sent:
    no stored notice holds its token)."""
    kecamatan = find_kecamatan(draft.kecamatan_code)
    about = {
        "nomor": draft.origin.number,
        "dokumen": draft.origin.document_number,
        "kantor": kecamatan.office if kecamatan else draft.kecamatan_code,
    }
    short, full, english = (text.format(**about) for text in FOLLOW_ON_OFFERS[draft.kind])
    last_day = draft.expires_at.astimezone(WIB).date()
    return _render(
        "follow_on_offered",
        follow=False,
        judul=draft.title[0],
        tawaran_singkat=short,
        tawaran=full,
        english=english,
        tanggal=long_date(last_day),
        tanggal_singkat=short_date(last_day),
        tanggal_en=f"{last_day:%d %B %Y}",
        tautan=FOLLOW_ON_LINK.format(draft_id=draft.id),
    )


def access_code_notice(request: ServiceRequest) -> Notice:
    """The request's access code, sent again to the contacts on file at the citizen's asking."""
    return _render(
        "access_code",
        follow=False,
        **_about(request),
        kode_akses=PLACEHOLDER.format(version=request.access_code_version),
    )


def _about(request: ServiceRequest) -> dict[str, str]:
    service = SERVICES.get(request.type)
    return {
        "nomor": request.number,
        "layanan": service.name if service else request.type,
        "layanan_singkat": SHORT_NAMES.get(request.type, request.type),
    }


def long_date(day: date) -> str:
    """Senin, 30 November 2026"""
    return f"{_DAYS[day.weekday()]}, {day.day} {_MONTHS[day.month - 1]} {day.year}"


def short_date(day: date) -> str:
    """Sen 30 Nov 2026"""
    return f"{_DAYS[day.weekday()][:3]} {day.day} {_MONTHS[day.month - 1][:3]} {day.year}"


def _render(kind: str, *, follow: bool = True, **fields: object) -> Notice:
    template = TEMPLATES[kind]
    fields["pengirim"] = SENDER
    body = EMAIL_LAYOUT.format(isi=template.body.format(**fields), pantau=FOLLOW_THE_REQUEST if follow else "")
    return Notice(kind=kind, sms=template.sms.format(**fields), subject=template.subject.format(**fields), email=body)


def _moment(moment: datetime) -> str:
    local = moment.astimezone(WIB)
    return f"{long_date(local.date())} pukul {local:%H.%M} WIB"


def _quoted(text: str) -> str:
    """Free text as a notice quotes it: on one line, with any NIK or KK number masked."""
    return _SIXTEEN_DIGITS.sub(r"\1******\2", " ".join(text.split()))


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3].rstrip(" ,;.") + "..."


def _sentence(text: str) -> str:
    return text if text.endswith((".", "!", "?")) else f"{text}."


def _indonesian(description: str) -> str:
    """The catalogue's descriptions read 'Indonesian / English'."""
    return description.split(" / ")[0]


def _bullets(items: list[str]) -> str:
    return "\n".join(f"- {item}" for item in items)
