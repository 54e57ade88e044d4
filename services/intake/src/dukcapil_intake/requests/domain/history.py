"""What each step means for the citizen: the status an event moves their request to, and the line they read about
it in the request's history (in Indonesian)."""

from dukcapil_intake.requests.domain.catalogue import ATTACHMENT_KINDS
from dukcapil_intake.requests.domain.status import RequestStatus
from dukcapil_shared.contracts import (
    AttachmentAdded,
    DeliveryFailed,
    DocumentCollected,
    DocumentIssued,
    DocumentRevoked,
    Event,
    InformationRequested,
    ReadyForPickup,
    RequestApproved,
    RequestCancelled,
    RequestRejected,
    RequestResubmitted,
    RequestSubmitted,
    ReviewClaimed,
    ReviewStarted,
    ShipmentCreated,
    ShipmentDelivered,
    ShipmentFlagged,
    ShipmentStatusChanged,
)


class NoDescription(LookupError):
    """An event this domain does not know how to tell a citizen about."""


def describe(event: Event) -> tuple[RequestStatus | None, str]:
    """The status an event moves a request to, and what the citizen reads about it (in Indonesian)."""
    match event:
        case RequestSubmitted():
            return RequestStatus.submitted, f"Permohonan diterima dengan nomor {event.request_number}."
        case AttachmentAdded():
            return None, f"Lampiran diterima: {ATTACHMENT_KINDS[event.attachment.kind].description}."
        case ReviewClaimed():
            return None, "Permohonan sedang diperiksa oleh verifikator."
        case ReviewStarted(automatic=True):
            return RequestStatus.in_review, "Permohonan diperiksa otomatis sesuai kebijakan dinas."
        case ReviewStarted():
            return RequestStatus.in_review, "Permohonan masuk antrean verifikasi."
        case InformationRequested():
            items = [ATTACHMENT_KINDS[i].description if i in ATTACHMENT_KINDS else i for i in event.missing_items]
            missing = f" Yang perlu dilengkapi: {'; '.join(items)}." if items else ""
            return RequestStatus.info_requested, f"Verifikator meminta kelengkapan: {event.reason}.{missing}"
        case RequestResubmitted():
            return RequestStatus.submitted, "Kelengkapan dikirim ulang oleh pemohon."
        case RequestApproved():
            return RequestStatus.approved, "Permohonan disetujui."
        case RequestRejected():
            return RequestStatus.rejected, f"Permohonan ditolak: {event.reason}"
        case RequestCancelled():
            reason = f": {event.reason}" if event.reason else "."
            return RequestStatus.cancelled, f"Permohonan dibatalkan oleh pemohon{reason}"
        case DocumentIssued(supersedes_number=None):
            return RequestStatus.document_issued, f"Dokumen terbit dengan nomor {event.document_number}."
        case DocumentIssued():
            return (
                RequestStatus.document_issued,
                f"Dokumen perbaikan terbit dengan nomor {event.document_number}, menggantikan dokumen "
                f"{event.supersedes_number} yang tidak berlaku lagi.",
            )
        case DocumentRevoked(superseded_by=None):
            return None, f"Dokumen {event.document_number} dicabut: {event.reason}."
        case DocumentRevoked():
            return None, f"Dokumen {event.document_number} diganti dengan dokumen perbaikan: {event.reason}."
        case ShipmentFlagged():
            return None, f"Pengiriman perlu ditangani petugas: {event.detail}"
        case ShipmentCreated(replaces_document_number=None):
            return (
                RequestStatus.shipped,
                f"Dokumen dikirim melalui {event.courier}, nomor resi {event.airway_bill}.",
            )
        case ShipmentCreated():
            return (
                RequestStatus.shipped,
                f"Dokumen perbaikan {event.document_number} dikirim melalui {event.courier}, nomor resi "
                f"{event.airway_bill}. Serahkan dokumen lama {event.replaces_document_number} kepada kurir.",
            )
        case ShipmentStatusChanged():
            return None, f"Status kiriman: {event.description}."
        case ShipmentDelivered():
            return RequestStatus.delivered, f"{_document(event)} telah diterima oleh {event.receiver_name}."
        case DeliveryFailed():
            return RequestStatus.delivery_failed, f"Pengiriman gagal: {event.reason}."
        case ReadyForPickup(replaces_document_number=None):
            return RequestStatus.ready_for_pickup, f"Dokumen dapat diambil di {event.office_name}."
        case ReadyForPickup():
            return (
                RequestStatus.ready_for_pickup,
                # The office comes last: the portal reads it from the end of the note.
                f"Dokumen perbaikan {event.document_number}: bawa dan serahkan dokumen lama "
                f"{event.replaces_document_number} saat mengambilnya. Dokumen dapat diambil di {event.office_name}.",
            )
        case DocumentCollected():
            return RequestStatus.collected, f"{_document(event)} telah diambil oleh {event.collector_name}."
    raise NoDescription(f"intake has no description for {event.routing_key()}")


def _document(event: ShipmentDelivered | DocumentCollected) -> str:
    return "Dokumen perbaikan" if event.replaces_document_number else "Dokumen"
