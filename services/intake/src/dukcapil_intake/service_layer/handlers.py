"""Intake's use cases: submit, cancel, resubmit, and keeping the citizen's view of every other stage."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from dukcapil_intake.domain.model import (
    RequestStatus,
    ServiceRequest,
    check_submission,
    request_number,
    responsible_kecamatan,
)
from dukcapil_intake.service_layer.unit_of_work import IntakeUnitOfWork
from dukcapil_shared.contracts import (
    DeliveryFailed,
    DocumentCollected,
    DocumentIssued,
    Envelope,
    Event,
    InformationRequested,
    ReadyForPickup,
    RequestApproved,
    RequestCancelled,
    RequestRejected,
    RequestResubmitted,
    RequestSubmitted,
    ReviewStarted,
    ShipmentCreated,
    ShipmentDelivered,
    ShipmentStatusChanged,
)
from dukcapil_shared.messaging import PermanentFailure


class RequestNotFound(Exception):
    pass


@dataclass(frozen=True)
class SubmitRequest:
    type: str
    applicant: dict[str, Any]
    details: dict[str, Any]
    delivery: dict[str, Any]
    kecamatan_code: str | None = None
    channel: str = "online"


async def submit_request(command: SubmitRequest, *, uow: IntakeUnitOfWork) -> ServiceRequest:
    """Accept a request and announce it; refused requests raise RequestRefused and leave nothing behind."""
    kecamatan = responsible_kecamatan(command.kecamatan_code, command.delivery)
    check_submission(command.type, kecamatan, command.delivery)
    now = datetime.now(UTC)
    async with uow:
        sequence = await uow.requests.next_sequence(kecamatan.code, now.date())
        request = ServiceRequest(
            id=uuid.uuid4(),
            number=request_number(kecamatan, now.date(), sequence),
            type=command.type,
            applicant=command.applicant,
            details=command.details,
            delivery=command.delivery,
            kecamatan_code=kecamatan.code,
            channel=command.channel,
            status=RequestStatus.submitted,
            submitted_at=now,
            updated_at=now,
        )
        event = RequestSubmitted(
            request_id=request.id,
            request_number=request.number,
            request_type=request.type,
            applicant=request.applicant,
            details=request.details,
            delivery=request.delivery,
            kecamatan_code=request.kecamatan_code,
            channel=request.channel,
        )
        envelope = await uow.outbox.add(event)
        _record(request, event, envelope)
        await uow.requests.add(request)
        await uow.commit()
    return request


async def cancel_request(request_id: uuid.UUID, reason: str | None, *, uow: IntakeUnitOfWork) -> ServiceRequest:
    async with uow:
        request = await _load(uow, request_id)
        request.ensure_cancellable()
        event = RequestCancelled(request_id=request.id, reason=reason)
        _record(request, event, await uow.outbox.add(event))
        await uow.requests.save(request)
        await uow.commit()
    return request


async def resubmit_request(
    request_id: uuid.UUID, details: dict[str, Any] | None, note: str | None, *, uow: IntakeUnitOfWork
) -> ServiceRequest:
    async with uow:
        request = await _load(uow, request_id)
        request.ensure_awaiting_information()
        if details is not None:
            request.details = details
        event = RequestResubmitted(request_id=request.id, details=request.details, note=note)
        _record(request, event, await uow.outbox.add(event))
        await uow.requests.save(request)
        await uow.commit()
    return request


async def record_lifecycle_event(uow: IntakeUnitOfWork, event: Event, envelope: Envelope) -> None:
    """Consumer handler: show another stage's event in the citizen's history (runs inside the consumer's UoW)."""
    request = await uow.requests.get(event.request_id)
    if request is None:
        # Either submission's commit is not visible yet (retry) or the request never existed here: the
        # retries run out and the event is parked in the dead-letter queue for an operator.
        raise LookupError(f"request {event.request_id} is unknown to intake")
    _record(request, event, envelope)
    await uow.requests.save(request)


async def get_request(request_id: uuid.UUID, *, uow: IntakeUnitOfWork) -> ServiceRequest:
    async with uow:
        return await _load(uow, request_id)


async def list_requests(
    *, status: RequestStatus | None, request_type: str | None, limit: int, offset: int, uow: IntakeUnitOfWork
) -> list[ServiceRequest]:
    async with uow:
        return await uow.requests.list(status=status, request_type=request_type, limit=limit, offset=offset)


async def _load(uow: IntakeUnitOfWork, request_id: uuid.UUID) -> ServiceRequest:
    request = await uow.requests.get(request_id)
    if request is None:
        raise RequestNotFound(str(request_id))
    return request


def _record(request: ServiceRequest, event: Event, envelope: Envelope) -> None:
    status, note = describe(event)
    request.record(
        event_id=str(envelope.id),
        event_type=envelope.type,
        stage=event.stage,
        occurred_at=envelope.time,
        note=note,
        moves_to=status,
    )


def describe(event: Event) -> tuple[RequestStatus | None, str]:
    """The status an event moves a request to, and what the citizen reads about it (in Indonesian)."""
    match event:
        case RequestSubmitted():
            return RequestStatus.submitted, f"Permohonan diterima dengan nomor {event.request_number}."
        case ReviewStarted(automatic=True):
            return RequestStatus.in_review, "Permohonan diperiksa otomatis sesuai kebijakan dinas."
        case ReviewStarted():
            return RequestStatus.in_review, "Permohonan masuk antrean verifikasi."
        case InformationRequested():
            missing = f" Yang perlu dilengkapi: {', '.join(event.missing_items)}." if event.missing_items else ""
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
        case DocumentIssued():
            return RequestStatus.document_issued, f"Dokumen terbit dengan nomor {event.document_number}."
        case ShipmentCreated():
            return (
                RequestStatus.shipped,
                f"Dokumen dikirim melalui {event.courier}, nomor resi {event.airway_bill}.",
            )
        case ShipmentStatusChanged():
            return None, f"Status kiriman: {event.description}."
        case ShipmentDelivered():
            return RequestStatus.delivered, f"Dokumen telah diterima oleh {event.receiver_name}."
        case DeliveryFailed():
            return RequestStatus.delivery_failed, f"Pengiriman gagal: {event.reason}."
        case ReadyForPickup():
            return RequestStatus.ready_for_pickup, f"Dokumen dapat diambil di {event.office_name}."
        case DocumentCollected():
            return RequestStatus.collected, f"Dokumen telah diambil oleh {event.collector_name}."
    raise PermanentFailure(f"intake has no description for {event.routing_key()}")
