"""Every event of a request's lifecycle, versioned.

Within a version only optional fields are added; a breaking change is a new class with `version = 2`,
published beside the old one until its consumers have moved. The routing key, which is also the CloudEvents
`type`, is `<event_type>.v<version>`.
"""

import uuid
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any, ClassVar

from pydantic import Field, model_validator

from dukcapil_shared.contracts.common import AttachmentRef, ContractModel, Delivery, Person, RequestType
from dukcapil_shared.contracts.details import RequestDetails, with_type


class Event(ContractModel):
    event_type: ClassVar[str]
    version: ClassVar[int] = 1
    stage: ClassVar[str]
    """Which service produces it: intake, review, documents or shipping."""

    request_id: uuid.UUID = Field(description="The service request this event is about")

    @classmethod
    def routing_key(cls) -> str:
        return f"{cls.event_type}.v{cls.version}"

    @property
    def producer(self) -> str:
        """The service that alone may publish this event: a consumer refuses it from any other."""
        return self.stage

    @property
    def subject(self) -> str:
        """What the event is about (its CloudEvents subject): the request; a service's events about one subject
        leave in the order they were committed."""
        return str(self.request_id)


class _TypedDetails(Event):
    """An event whose `details` sit beside the request's type: the type fills `details.type` when a producer
    leaves it out (as every producer did before details were typed), and details of another type are refused."""

    @model_validator(mode="before")
    @classmethod
    def _details_typed_by_request_type(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and data.get("details") is not None:
            return {
                **data,
                "details": with_type(data["details"], data.get("request_type")),
            }
        return data


class RequestSubmitted(_TypedDetails):
    """A citizen or an operator submitted a request online."""

    event_type = "request.submitted"
    stage = "intake"

    request_number: str = Field(description="Human-friendly request number, e.g. LBK-3602.14-20261128-0007")
    request_type: RequestType = Field(description="Which document is requested")
    applicant: Person = Field(description="The person applying (or on whose behalf an operator applies)")
    details: RequestDetails = Field(description="Type-specific details, as described by the intake catalogue")
    delivery: Delivery = Field(description="How the finished document reaches the citizen")
    kecamatan_code: str = Field(description="Kecamatan responsible for the request, e.g. 36.02.14")
    channel: str = Field(description="online (by the citizen) or assisted (at a kecamatan or desa office)")
    operator: str | None = Field(default=None, description="The operator who submitted an assisted request")
    office: str | None = Field(default=None, description="The kecamatan or desa office of an assisted request")
    attachments: list[AttachmentRef] = Field(default_factory=list, description="Scans uploaded so far")
    required_attachments: list[str] = Field(
        default_factory=list,
        description="The catalogue's checklist for this type and reason (attachment kinds)",
    )
    flags: list[str] = Field(
        default_factory=list,
        description="What intake noticed for the reviewer, e.g. nik_outside_lebak, late_death_report",
    )


class AttachmentAdded(Event):
    """A scan was uploaded for a request (its content stays at intake)."""

    event_type = "request.attachment_added"
    stage = "intake"

    attachment: AttachmentRef = Field(description="The new scan")


class RecordingBooked(Event):
    """A citizen booked the in-person e-KTP recording (perekaman); `request_id` is the booking's id."""

    event_type = "perekaman.booked"
    stage = "intake"

    booking_number: str = Field(description="Human-friendly booking number")
    applicant: Person = Field(description="Who will come for the recording")
    kecamatan_code: str = Field(description="The kecamatan whose office records")
    office_name: str = Field(description="Where to come")
    appointment_date: date = Field(description="The day to come")
    queue_number: int = Field(description="Place in that day's queue at that office")


class ReviewStarted(Event):
    """The request entered a reviewer's work queue."""

    event_type = "review.started"
    stage = "review"

    automatic: bool = Field(
        default=False,
        description="True when the office's policy decides it without a person",
    )


class ReviewClaimed(Event):
    """A reviewer took the request: nobody else decides on it until the claim expires or is released."""

    event_type = "review.claimed"
    stage = "review"

    reviewer: str = Field(description="Who claimed it")
    expires_at: datetime = Field(description="When the claim lapses if the reviewer does nothing")


class InformationRequested(Event):
    """The reviewer needs more from the citizen before deciding."""

    event_type = "review.information_requested"
    stage = "review"

    reviewer: str = Field(description="Who asked")
    reason: str = Field(description="What is wrong or missing, in words the citizen understands")
    missing_items: list[str] = Field(default_factory=list, description="Attachments or fields to provide")


class RequestResubmitted(_TypedDetails):
    """The citizen answered an information request."""

    event_type = "request.resubmitted"
    stage = "intake"

    request_type: RequestType | None = Field(
        default=None,
        description="Which document is requested (the same as when submitted); fills details.type, which the "
        "details must carry themselves when it is left out",
    )
    details: RequestDetails = Field(description="The request's details after the citizen's corrections")
    note: str | None = Field(default=None, description="The citizen's answer")
    attachments: list[AttachmentRef] = Field(default_factory=list, description="All scans uploaded so far")
    flags: list[str] = Field(default_factory=list, description="What intake noticed, after the corrections")
    required_attachments: list[str] | None = Field(
        default=None,
        description="The checklist after the corrections; absent when it did not change",
    )


class RequestApproved(_TypedDetails):
    """A reviewer (or the automatic policy) approved the request; carries what the document needs."""

    event_type = "request.approved"
    stage = "review"

    request_number: str = Field(description="Human-friendly request number")
    request_type: RequestType = Field(description="Which document to issue")
    applicant: Person = Field(description="The person applying")
    details: RequestDetails = Field(description="Type-specific details as approved")
    delivery: Delivery = Field(description="How the document reaches the citizen")
    kecamatan_code: str = Field(description="Kecamatan responsible for the request")
    reviewer: str = Field(description="Who approved, or 'policy:auto' for an automatic decision")
    automatic: bool = Field(default=False, description="True when approved by policy without a person")


class RequestRejected(Event):
    """A reviewer refused the request."""

    event_type = "request.rejected"
    stage = "review"

    reviewer: str = Field(description="Who decided")
    reason: str = Field(description="Why, in words the citizen understands")


class RequestCancelled(Event):
    """The citizen withdrew the request before a decision."""

    event_type = "request.cancelled"
    stage = "intake"

    reason: str | None = Field(default=None, description="Why the citizen withdrew, if they said")


class DocumentIssued(_TypedDetails):
    """A signed PDF was generated for an approved request."""

    event_type = "document.issued"
    stage = "documents"

    document_id: uuid.UUID = Field(description="The document's id at the documents service")
    document_number: str = Field(description="Official document number, unique per type and year")
    request_type: RequestType = Field(description="Which document it is")
    checksum_sha256: str = Field(description="SHA-256 of the stored PDF")
    applicant: Person = Field(description="The person the document belongs to")
    delivery: Delivery = Field(description="How the document reaches the citizen")
    kecamatan_code: str = Field(description="Kecamatan responsible for the request")
    details: RequestDetails | None = Field(
        default=None,
        description="The type-specific details the document was issued with: the approved ones, or a correction's",
    )
    supersedes: uuid.UUID | None = Field(
        default=None, description="A corrected document: the document it replaces (now superseded)"
    )
    supersedes_number: str | None = Field(
        default=None, description="A corrected document: the number of the document it replaces"
    )


class DocumentRevoked(Event):
    """A document was revoked; if a corrected one replaced it, the old one now verifies as superseded."""

    event_type = "document.revoked"
    stage = "documents"

    document_id: uuid.UUID = Field(description="The revoked document")
    document_number: str = Field(description="Its number")
    reason: str = Field(description="Why it was revoked")
    revoked_by: str = Field(description="Who approved the revocation or correction")
    superseded_by: uuid.UUID | None = Field(default=None, description="The corrected document that replaces it")


class ShipmentCreated(Event):
    """The courier accepted the parcel and gave an airway bill."""

    event_type = "shipment.created"
    stage = "shipping"

    shipment_id: uuid.UUID = Field(description="The shipment's id at the shipping service")
    courier: str = Field(description="Courier company, e.g. JNE")
    service: str = Field(description="Courier service level, e.g. REG")
    airway_bill: str = Field(description="The courier's airway bill (cnote) number")
    document_number: str | None = Field(
        default=None, description="The document the shipment carries (empty for shipments older than the field)"
    )
    replaces_document_number: str | None = Field(
        default=None,
        description="A corrected document's shipment: the number of the old paper, no longer in force, to hand over",
    )


class ShipmentFlagged(Event):
    """Shipping needs an operator: an address the courier cannot serve, a parcel stuck, a receiver not entitled."""

    event_type = "shipment.flagged"
    stage = "shipping"

    shipment_id: uuid.UUID | None = Field(default=None, description="The shipment, once there is one")
    reason: str = Field(
        description="address_unserviceable, stuck_in_transit or receiver_not_entitled (more may be added)"
    )
    detail: str = Field(description="What the operator should know, in plain words")


class ShipmentStatusChanged(Event):
    """The courier's tracking shows a new status."""

    event_type = "shipment.status_changed"
    stage = "shipping"

    shipment_id: uuid.UUID = Field(description="The shipment's id")
    airway_bill: str = Field(description="The courier's airway bill number")
    status: str = Field(
        description="Normalised status: manifested, picked_up, in_transit, failed (one failed attempt; the "
        "courier tries again), returned (back to the sender), delivered"
    )
    courier_code: str | None = Field(default=None, description="The courier's own status code")
    description: str = Field(description="The courier's description of the step")
    occurred_at: datetime = Field(description="When the courier recorded it")
    document_number: str | None = Field(
        default=None, description="The document the shipment carries (empty for shipments older than the field)"
    )
    replaces_document_number: str | None = Field(
        default=None,
        description="A corrected document's shipment: the number of the old paper, no longer in force, to hand over",
    )


class ShipmentDelivered(Event):
    """The courier delivered the parcel."""

    event_type = "shipment.delivered"
    stage = "shipping"

    shipment_id: uuid.UUID = Field(description="The shipment's id")
    airway_bill: str = Field(description="The courier's airway bill number")
    receiver_name: str = Field(description="Who signed for the parcel, from the proof of delivery")
    delivered_at: datetime = Field(description="When, from the proof of delivery")
    document_number: str | None = Field(
        default=None, description="The document the shipment carries (empty for shipments older than the field)"
    )
    replaces_document_number: str | None = Field(
        default=None,
        description="A corrected document's shipment: the number of the old paper, no longer in force, to hand over",
    )


class DeliveryFailed(Event):
    """The courier could not deliver the parcel."""

    event_type = "shipment.delivery_failed"
    stage = "shipping"

    shipment_id: uuid.UUID = Field(description="The shipment's id")
    airway_bill: str = Field(description="The courier's airway bill number")
    reason: str = Field(description="The courier's reason")
    document_number: str | None = Field(
        default=None, description="The document the shipment carries (empty for shipments older than the field)"
    )
    replaces_document_number: str | None = Field(
        default=None,
        description="A corrected document's shipment: the number of the old paper, no longer in force, to hand over",
    )


class ReadyForPickup(Event):
    """The document waits at the kecamatan office."""

    event_type = "shipment.ready_for_pickup"
    stage = "shipping"

    shipment_id: uuid.UUID = Field(description="The shipment's id")
    kecamatan_code: str = Field(description="The kecamatan whose office holds the document")
    office_name: str = Field(description="Where to collect it")
    reason: str = Field(description="chosen (the citizen chose pickup), delivery_failed, or address_unserviceable")
    document_number: str | None = Field(
        default=None, description="The document the shipment carries (empty for shipments older than the field)"
    )
    replaces_document_number: str | None = Field(
        default=None,
        description="A corrected document's shipment: the number of the old paper, no longer in force, to hand over",
    )


class DocumentCollected(Event):
    """The citizen (or their representative) collected the document at the kecamatan office."""

    event_type = "shipment.collected"
    stage = "shipping"

    shipment_id: uuid.UUID = Field(description="The shipment's id")
    collector_name: str = Field(description="Who collected it")
    collector_nik: str = Field(description="The collector's NIK, as checked by the operator")
    collected_on: date = Field(description="Day of collection")
    operator: str = Field(description="The operator who handed it over")
    document_number: str | None = Field(
        default=None, description="The document the shipment carries (empty for shipments older than the field)"
    )
    replaces_document_number: str | None = Field(
        default=None,
        description="A corrected document's shipment: the number of the old paper, no longer in force, to hand over",
    )


ALL_EVENTS: tuple[type[Event], ...] = (
    RequestSubmitted,
    AttachmentAdded,
    RecordingBooked,
    ReviewStarted,
    ReviewClaimed,
    InformationRequested,
    RequestResubmitted,
    RequestApproved,
    RequestRejected,
    RequestCancelled,
    DocumentIssued,
    DocumentRevoked,
    ShipmentCreated,
    ShipmentFlagged,
    ShipmentStatusChanged,
    ShipmentDelivered,
    DeliveryFailed,
    ReadyForPickup,
    DocumentCollected,
)
