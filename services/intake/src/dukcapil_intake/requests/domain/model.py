"""A service request as the citizen sees it: its status, its history, and the rules that move it."""

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from dukcapil_intake.notifications.domain.notifications import email_address
from dukcapil_intake.requests.domain.catalogue import BRING_TO_PEREKAMAN, SERVICES
from dukcapil_intake.requests.domain.events import AccessCodeIssued, RequestEvent, StepRecorded
from dukcapil_intake.requests.domain.history import describe
from dukcapil_intake.requests.domain.status import RequestStatus
from dukcapil_intake.requests.domain.validation import Checked
from dukcapil_shared.contracts import (
    AttachmentAdded,
    AttachmentRef,
    Delivery,
    DeliveryFailed,
    DeliveryMethod,
    DocumentCollected,
    DocumentIssued,
    DocumentRevoked,
    Envelope,
    Event,
    Person,
    ReadyForPickup,
    RequestCancelled,
    RequestDetails,
    RequestResubmitted,
    RequestSubmitted,
    ShipmentCreated,
    ShipmentDelivered,
    ShipmentStatusChanged,
)
from dukcapil_shared.contracts.regions import Kecamatan, find_kecamatan
from dukcapil_shared.refusals import Refusal, RefusalKind

# How far along the lifecycle each status is. An event that arrives late (a lower rank than the request
# already has) is kept in the history but does not move the status back.
_RANK = {
    RequestStatus.submitted: 0,
    RequestStatus.in_review: 1,
    RequestStatus.info_requested: 2,
    RequestStatus.approved: 3,
    RequestStatus.rejected: 3,
    RequestStatus.document_issued: 4,
    RequestStatus.shipped: 5,
    RequestStatus.delivery_failed: 6,
    RequestStatus.ready_for_pickup: 7,
    RequestStatus.delivered: 8,
    RequestStatus.collected: 9,
    RequestStatus.cancelled: 10,
}
_FINAL = {RequestStatus.rejected, RequestStatus.cancelled, RequestStatus.delivered, RequestStatus.collected}
_DOCUMENT_ISSUED_OR_LATER = {
    RequestStatus.document_issued,
    RequestStatus.shipped,
    RequestStatus.delivery_failed,
    RequestStatus.ready_for_pickup,
    RequestStatus.delivered,
    RequestStatus.collected,
}
_SHIPMENT_EVENTS = (
    ShipmentCreated,
    ShipmentStatusChanged,
    ShipmentDelivered,
    DeliveryFailed,
    ReadyForPickup,
    DocumentCollected,
)
_BEFORE_DECISION = {RequestStatus.submitted, RequestStatus.in_review, RequestStatus.info_requested}
# Moves that go back in rank on purpose.
_BACKWARD_ALLOWED = {(RequestStatus.info_requested, RequestStatus.submitted)}


class RequestRefused(Refusal):
    """A submission or an action that the office's rules do not allow (`message_id`: the message in Indonesian,
    where it is not already part of `message`)."""

    def __init__(
        self,
        code: str,
        message: str,
        field: str | None = None,
        *,
        message_id: str | None = None,
        kind: RefusalKind = RefusalKind.invalid,
        **extra: Any,
    ) -> None:
        super().__init__(message, code=code, message_id=message_id, field=field, kind=kind, **extra)


class RequestNotFound(Refusal):
    """No such request (or booking, or scan), or none this caller may see: one answer for both."""

    code = "not_found"
    message = "Nothing found: check the id."
    message_id = "Tidak ditemukan: periksa id-nya."
    kind = RefusalKind.not_found

    def __init__(self, what: object = None, *, message: str | None = None) -> None:
        """`what` was looked for, for the logs; `message` replaces the answer (then in English only)."""
        super().__init__(message)
        if message is not None:
            self.message_id = None
        if what is not None:
            self.args = (str(what),)


@dataclass(frozen=True)
class HistoryEntry:
    event_id: str
    event_type: str
    stage: str
    occurred_at: datetime
    note: str
    status: RequestStatus | None
    """The status this event moved the request to, if it moved it."""


@dataclass(frozen=True)
class RequestLink:
    """Another request this one follows from or led to (follow_ons): an akta kematian and the family card change
    it led to, say."""

    id: uuid.UUID
    number: str
    type: str


@dataclass(frozen=True)
class Attachment:
    id: uuid.UUID
    kind: str
    filename: str
    content_type: str
    size: int
    sha256: str
    uploaded_at: datetime

    @property
    def storage_key(self) -> str:
        return f"{self.id}"

    def ref(self) -> AttachmentRef:
        """The scan as events name it: its metadata, never its content."""
        return AttachmentRef(
            id=str(self.id), kind=self.kind, content_type=self.content_type, size=self.size, sha256=self.sha256
        )


@dataclass
class ServiceRequest:
    id: uuid.UUID
    number: str
    type: str
    applicant: Person
    details: RequestDetails
    """Of the request's type: e-KTP (ktp_el), the one type without details, is refused before a request exists."""
    delivery: Delivery
    kecamatan_code: str
    channel: str
    status: RequestStatus
    submitted_at: datetime
    updated_at: datetime
    operator: str | None = None
    office: str | None = None
    flags: list[str] = field(default_factory=list)
    required_attachments: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    history: list[HistoryEntry] = field(default_factory=list)
    new_history: list[HistoryEntry] = field(default_factory=list)
    new_attachments: list[Attachment] = field(default_factory=list)
    version: int = 0
    """Bumped on every save, so that two concurrent changes cannot overwrite each other."""
    access_code_version: int = 1
    """Which of the request's access codes opens it (see access_codes.py); a new version replaces a leaked one."""
    document_id: uuid.UUID | None = None
    """The document in force for the request, which its holder may fetch with the access code."""
    document_number: str | None = None
    follows: RequestLink | None = None
    """The request whose document led to this one (a confirmed follow-on draft)."""
    led_to: list[RequestLink] = field(default_factory=list)
    """The requests submitted as follow-ons of this one."""
    events: list[Event | RequestEvent] = field(default_factory=list, compare=False, repr=False)
    """What happened since it was loaded: the contract events it emits (for the outbox), then the steps it recorded
    and the access codes it issued (for the features that follow the requests); see domain/events.py."""

    @classmethod
    def submit(
        cls,
        *,
        id: uuid.UUID,
        number: str,
        type: str,
        applicant: Person,
        checked: Checked,
        delivery: Delivery,
        kecamatan_code: str,
        channel: str,
        operator: str | None,
        office: str | None,
        now: datetime,
    ) -> "ServiceRequest":
        """A request accepted: it is announced as submitted."""
        request = cls(
            id=id,
            number=number,
            type=type,
            applicant=applicant,
            details=checked.details,
            delivery=delivery,
            kecamatan_code=kecamatan_code,
            channel=channel,
            operator=operator,
            office=office,
            flags=checked.flags,
            required_attachments=checked.required_attachments,
            status=RequestStatus.submitted,
            submitted_at=now,
            updated_at=now,
        )
        request.events.append(
            RequestSubmitted(
                request_id=request.id,
                request_number=request.number,
                request_type=request.type,
                applicant=request.applicant,
                details=request.details,
                delivery=request.delivery,
                kecamatan_code=request.kecamatan_code,
                channel=request.channel,
                operator=request.operator,
                office=request.office,
                required_attachments=request.required_attachments,
                flags=request.flags,
            )
        )
        return request

    def learn(self, event: Event, envelope: Envelope) -> None:
        """A step enters the history: one this request emitted, once announced in `envelope`, or another stage's
        event. `describe` says the status it moves to (if the lifecycle allows) and what the citizen reads; an
        issued or revoked document changes the one in force. Raises NoDescription for an event it cannot tell."""
        status, note = describe(event)
        self.record(
            event_id=str(envelope.id),
            event_type=envelope.type,
            stage=event.stage,
            occurred_at=envelope.time,
            note=note,
            moves_to=status if self._about_document_in_force(event) else None,
            reopens=self._reissues(event),
        )
        match event:
            case DocumentIssued():
                self.document_issued(event.document_id, event.document_number)
            case DocumentRevoked():
                self.document_revoked(event.document_id, event.superseded_by)
        self.events.append(StepRecorded(self, event, envelope))

    def follow_from(self, origin: "ServiceRequest", *, event_id: str, now: datetime) -> None:
        """This request was submitted as a follow-on of `origin`: each history says so, naming the other (after the
        submission's own entry)."""
        now = max([now, *(entry.occurred_at for entry in self.history)])
        self.follows = RequestLink(origin.id, origin.number, origin.type)
        self.record(
            event_id=event_id,
            event_type="request.follows.v1",
            stage="intake",
            occurred_at=now,
            note=f"Permohonan lanjutan dari permohonan {origin.number} ({_service_name(origin.type)}).",
            moves_to=None,
        )
        origin.led_to.append(RequestLink(self.id, self.number, self.type))
        origin.record(
            event_id=str(uuid.uuid5(uuid.UUID(event_id), "led_to")),
            event_type="request.led_to.v1",
            stage="intake",
            occurred_at=now,
            note=f"Permohonan lanjutan {self.number} ({_service_name(self.type)}) diajukan.",
            moves_to=None,
        )

    def announced(self) -> list[Event]:
        """Take the contract events the request emitted, for the outbox."""
        emitted = [event for event in self.events if isinstance(event, Event)]
        self.events = [event for event in self.events if not isinstance(event, Event)]
        return emitted

    def collect_events(self) -> list[RequestEvent]:
        """Take what happened, for the features that follow the requests."""
        happened = [event for event in self.events if not isinstance(event, Event)]
        self.events = [event for event in self.events if isinstance(event, Event)]
        return happened

    def new_access_code(self, now: datetime) -> None:
        """The code given so far stops opening the request; the next version's does (access_codes.py), and goes to
        the contacts on file."""
        self.access_code_version += 1
        self.updated_at = now
        self.send_access_code(now)

    def send_access_code(self, now: datetime) -> None:
        """The request's access code goes (again) to the phone and e-mail address on file, never anywhere else."""
        self.events.append(AccessCodeIssued(self, id=str(uuid.uuid4()), at=now))

    def cancel(self, reason: str | None) -> None:
        self.ensure_cancellable()
        self.events.append(RequestCancelled(request_id=self.id, reason=reason))

    def resubmit(self, checked: Checked | None, note: str | None) -> None:
        """The citizen answers an information request: corrected details (checked again) and/or new scans."""
        self.ensure_awaiting_information()
        if checked is not None:
            self.details, self.flags = checked.details, checked.flags
            self.required_attachments = checked.required_attachments
        self.events.append(
            RequestResubmitted(
                request_id=self.id,
                request_type=self.type,
                details=self.details,
                note=note,
                attachments=[item.ref() for item in self.attachments],
                flags=self.flags,
                required_attachments=self.required_attachments,
            )
        )

    def _about_document_in_force(self, event: Event) -> bool:
        """A shipment's step moves the status only if the shipment carries the document in force: the old paper's
        parcel, still on its way when a corrected one was issued, is told in the history and moves nothing."""
        if not isinstance(event, _SHIPMENT_EVENTS):
            return True
        return event.document_number is None or self.document_number in (None, event.document_number)

    def _reissues(self, event: Event) -> bool:
        """A corrected document starts its own way to the holder: a request delivered, collected or on its way
        goes back to document_issued, then shipped and delivered (or ready for pickup) again."""
        return (
            isinstance(event, DocumentIssued)
            and event.supersedes_number is not None
            and self.status in _DOCUMENT_ISSUED_OR_LATER
            and event.document_number != self.document_number
        )

    def document_issued(self, document_id: uuid.UUID, number: str) -> None:
        """A document (or a corrected one) was issued: it is the one in force."""
        self.document_id, self.document_number = document_id, number

    def document_revoked(self, document_id: uuid.UUID, superseded_by: uuid.UUID | None) -> None:
        """A document was revoked: without a replacement, the request has none in force any more."""
        if self.document_id == document_id and superseded_by is None:
            self.document_id = self.document_number = None

    def has_recorded(self, event_type: str) -> bool:
        """Whether the history holds an event of this type (a routing key)."""
        return any(entry.event_type == event_type for entry in self.history)

    def has_learned(self, event_id: str) -> bool:
        """Whether the history holds the event with this id (each one once: its id is unique in the history)."""
        return any(entry.event_id == event_id for entry in self.history)

    def record(
        self,
        *,
        event_id: str,
        event_type: str,
        stage: str,
        occurred_at: datetime,
        note: str,
        moves_to: RequestStatus | None,
        reopens: bool = False,
    ) -> HistoryEntry:
        """Add an event to the history and move the status if the lifecycle allows it (`reopens`: a corrected
        document's issue, which moves a request that has its document back to document_issued)."""
        opens_history = not self.history  # the submission itself: the status it sets is the first one
        allowed = opens_history or reopens or (moves_to is not None and self.can_move_to(moves_to))
        moved = moves_to if moves_to is not None and allowed else None
        entry = HistoryEntry(event_id, event_type, stage, occurred_at, note, moved)
        self.history.append(entry)
        self.history.sort(key=lambda item: item.occurred_at)
        self.new_history.append(entry)
        if moved is not None:
            self.status = moved
            self.updated_at = max(self.updated_at, occurred_at)
        return entry

    def can_move_to(self, target: RequestStatus) -> bool:
        if self.status in _FINAL or target == self.status:
            return False
        if target == RequestStatus.cancelled:
            return self.status in _BEFORE_DECISION
        if (self.status, target) in _BACKWARD_ALLOWED:
            return True
        return _RANK[target] > _RANK[self.status]

    def ensure_cancellable(self) -> None:
        if self.status not in _BEFORE_DECISION:
            raise RequestRefused(
                "not_cancellable",
                f"A request can be cancelled only before the decision; this one is {self.status.value}.",
                kind=RefusalKind.conflict,
            )

    @property
    def missing_attachments(self) -> list[str]:
        """The checklist's kinds not uploaded yet: the request is complete when there are none."""
        uploaded = {attachment.kind for attachment in self.attachments}
        return [kind for kind in self.required_attachments if kind not in uploaded]

    def attach(self, attachment: Attachment) -> None:
        if not SERVICES[self.type].accepts_attachment(attachment.kind):
            raise RequestRefused(
                "attachment_kind_unknown",
                f"{attachment.kind!r} is not a scan this request takes; see GET /services/{self.type} for the list.",
                field="kind",
            )
        if self.status not in _BEFORE_DECISION:
            raise RequestRefused(
                "not_accepting_attachments",
                f"Scans can be added only before the decision; this request is {self.status.value}.",
                kind=RefusalKind.conflict,
            )
        self.attachments.append(attachment)
        self.new_attachments.append(attachment)
        self.events.append(AttachmentAdded(request_id=self.id, attachment=attachment.ref()))

    def ensure_awaiting_information(self) -> None:
        if self.status != RequestStatus.info_requested:
            raise RequestRefused(
                "not_awaiting_information",
                f"Only a request whose reviewer asked for information can be resubmitted; this one is "
                f"{self.status.value}.",
                kind=RefusalKind.conflict,
            )


def _service_name(request_type: str) -> str:
    service = SERVICES.get(request_type)
    return service.name if service else request_type


IN_PERSON_ONLY = {"ktp_el"}


def responsible_kecamatan(kecamatan_code: str | None, delivery: Delivery | None = None) -> Kecamatan:
    """The kecamatan office in charge: the one given, else the pickup office, else the delivery address's."""
    code = kecamatan_code or (_kecamatan_of(delivery) if delivery is not None else None)
    if code is None:
        raise RequestRefused(
            "kecamatan_required",
            "Say which kecamatan the applicant lives in: give kecamatan_code (e.g. 36.02.14 for Rangkasbitung).",
            field="kecamatan_code",
        )
    kecamatan = find_kecamatan(code)
    if kecamatan is None:
        raise RequestRefused(
            "unknown_kecamatan",
            f"{code} is not one of Kabupaten Lebak's 28 kecamatan (36.02.01 to 36.02.28).",
            field="kecamatan_code",
        )
    return kecamatan


def _kecamatan_of(delivery: Delivery) -> str | None:
    if delivery.pickup_kecamatan_code:
        return delivery.pickup_kecamatan_code
    return delivery.address.kecamatan_code if delivery.address is not None else None


def check_submission(request_type: str, kecamatan: Kecamatan, delivery: Delivery) -> None:
    """The rules every submission must pass before it is accepted (the per-type rules come on top)."""
    if request_type in IN_PERSON_ONLY:
        raise RequestRefused(
            "in_person_only",
            "KTP-el (e-KTP) cannot be requested online: the biometric recording (perekaman: fingerprints, photo, "
            f"signature) must be done in person at {kecamatan.office}. Bring your Kartu Keluarga; if you are "
            "replacing a card, bring the old KTP-el or a police report of its loss. / Perekaman KTP-el wajib "
            f"datang langsung ke {kecamatan.office} dengan membawa Kartu Keluarga.",
            field="type",
            office=kecamatan.office,
            kecamatan_code=kecamatan.code,
            booking={"method": "POST", "href": "/perekaman-bookings", "what_to_bring": BRING_TO_PEREKAMAN},
        )
    if delivery.method == DeliveryMethod.courier and delivery.address is None:
        raise RequestRefused(
            "delivery_address_required",
            "Courier delivery needs delivery.address; or choose delivery.method = pickup at the kecamatan office.",
            field="delivery.address",
        )
    check_contact(delivery.email, field="delivery.email")


def check_contact(email: str | None, *, field: str) -> None:
    """An e-mail address for notices, when given, must be one: a typo would silently lose every notice."""
    if email and email_address(email) is None:
        raise RequestRefused(
            "invalid_email",
            f"{email!r} is not an e-mail address; correct it or leave it out. / Alamat e-mail tidak valid.",
            field=field,
        )


def check_channel(channel: str, operator: str | None, office: str | None) -> None:
    """An assisted request records who submitted it and where."""
    if channel == "assisted" and not (operator and office):
        raise RequestRefused(
            "operator_required",
            "An assisted request must name the operator and the kecamatan or desa office (operator, office).",
            field="operator",
        )


def check_operator_kecamatan(kecamatan: Kecamatan, operator_kecamatan: str | None) -> None:
    """A kecamatan operator submits for the citizens of their own kecamatan only."""
    if operator_kecamatan is not None and kecamatan.code != operator_kecamatan:
        raise RequestRefused(
            "outside_your_kecamatan",
            f"This applicant belongs to kecamatan {kecamatan.code} ({kecamatan.name}); you serve {operator_kecamatan}. "
            "Send the citizen to their own kecamatan office, or let them apply online.",
            field="kecamatan_code",
            kind=RefusalKind.forbidden,
        )


@dataclass(frozen=True)
class RecordingBooking:
    """An appointment for the in-person e-KTP recording (perekaman) at a kecamatan office."""

    id: uuid.UUID
    number: str
    nik: str
    name: str
    kecamatan_code: str
    appointment_date: date
    queue_number: int
    created_at: datetime


def next_working_day(after: date) -> date:
    """Offices record on working days (Monday to Friday)."""
    day = after + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def first_recording_day(today: date, preferred: date | None) -> date:
    """The first working day a recording may be booked for: the preferred one, never before tomorrow."""
    return next_working_day(max(today, (preferred or today) - timedelta(days=1)))


def booking_number(kecamatan: Kecamatan, day: date, queue_number: int) -> str:
    """E.g. REK-360214-20261207-001: kecamatan code, day of the appointment, place in that day's queue."""
    return f"REK-{kecamatan.code.replace('.', '')}-{day:%Y%m%d}-{queue_number:03d}"


def request_number(kecamatan: Kecamatan, day: date, sequence: int) -> str:
    """E.g. 360214-20261128-0007: kecamatan code, day of submission, sequence within that day."""
    return f"{kecamatan.code.replace('.', '')}-{day:%Y%m%d}-{sequence:04d}"
