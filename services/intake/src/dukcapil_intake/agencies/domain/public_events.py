"""What other agencies learn of a request: the public event that a document's issue or revocation becomes.

Only what an agency needs (contracts/public.py): the document number, the kecamatan, dates and identity numbers
(masked on the way out unless the agency is entitled to them). Never a name, a contact, an address or a scan.
"""

import uuid
from dataclasses import dataclass
from datetime import datetime

from pydantic import ValidationError

from dukcapil_intake.requests.domain.model import ServiceRequest
from dukcapil_shared.contracts import (
    AktaKematianDetails,
    BiodataWniDetails,
    DocumentIssued,
    DocumentRevoked,
    Envelope,
    Event,
    KartuKeluargaDetails,
    SuratPindahDetails,
)
from dukcapil_shared.contracts.public import (
    BiodataIssued,
    DeathRegistered,
    FamilyCardIssued,
    FamilyMember,
    PublicDocumentRevoked,
    PublicEvent,
    ResidenceMoved,
)

ANNOUNCED_AS: dict[str, type[PublicEvent]] = {
    "akta_kematian": DeathRegistered,
    "kartu_keluarga": FamilyCardIssued,
    "surat_pindah": ResidenceMoved,
    "biodata_wni": BiodataIssued,
}
"""The public event that announces an issued document of each request type."""


class PublicEventNotDerivable(ValueError):
    """The request's data lacks what the public event needs: a bug or a hand-edited row, for an operator."""


@dataclass(frozen=True)
class PublicEventRecord:
    """A public event as intake logs it, before it goes out in its two variants."""

    id: uuid.UUID
    event: PublicEvent
    occurred_at: datetime
    request_id: uuid.UUID


@dataclass(frozen=True)
class LoggedPublicEvent:
    """One variant of a logged public event, exactly as it was published: what a replay sends again."""

    id: str
    event_type: str
    region_code: str
    document_number: str
    occurred_at: datetime
    body: str


def public_events_for(event: Event, envelope: Envelope, request: ServiceRequest) -> list[PublicEventRecord]:
    """The public events another stage's event becomes: an issued document is announced by the event of its
    type, a revoked one by document.revoked. Each id derives from the internal event's, so deriving twice gives
    the same event."""
    try:
        match event:
            case DocumentIssued():
                public = _announcement(event, request)
            case DocumentRevoked():
                public = _revocation(event, request)
            case _:
                public = None
    except ValidationError as error:
        raise PublicEventNotDerivable(
            f"request {request.id} ({request.type}) lacks what {event.routing_key()} needs for agencies: "
            f"{type(error).__name__}"
        ) from error
    if public is None:
        return []
    return [
        PublicEventRecord(
            id=uuid.uuid5(envelope.id, public.type_name()),
            event=public,
            occurred_at=envelope.time,
            request_id=request.id,
        )
    ]


def _announcement(event: DocumentIssued, request: ServiceRequest) -> PublicEvent | None:
    # A corrected document carries its corrected details; intake's copy is what the citizen first submitted.
    details = event.details if event.details is not None else request.details
    if details.type != event.request_type:
        raise PublicEventNotDerivable(
            f"request {request.id} ({request.type}) has {details.type} details, its document is {event.request_type}"
        )
    common = {"document_number": event.document_number, "region_code": event.kecamatan_code}
    match details:
        case AktaKematianDetails():
            return DeathRegistered(**common, deceased_nik=details.deceased.nik, date_of_death=details.date_of_death)
        case KartuKeluargaDetails():
            return FamilyCardIssued(
                **common,
                reason=details.reason.value,
                previous_kk_number=details.kk_number,
                members=[
                    FamilyMember(nik=member.nik, relation=member.relation.value if member.relation else None)
                    for member in details.members or []
                ],
            )
        case SuratPindahDetails():
            return ResidenceMoved(
                **common,
                origin_kecamatan_code=details.origin.kecamatan_code,
                destination_kecamatan_code=details.destination.kecamatan_code,
                people_count=len(details.moving_members),
                mover_niks=list(details.moving_members),
            )
        case BiodataWniDetails():
            return BiodataIssued(**common, person_nik=details.person_nik or event.applicant.nik)
    return None


def _revocation(event: DocumentRevoked, request: ServiceRequest) -> PublicEvent | None:
    announced_as = ANNOUNCED_AS.get(request.type)
    if announced_as is None:
        return None
    return PublicDocumentRevoked(
        document_number=event.document_number,
        region_code=request.kecamatan_code,
        revoked_event_type=announced_as.type_name(),
        corrected=event.superseded_by is not None,
    )
