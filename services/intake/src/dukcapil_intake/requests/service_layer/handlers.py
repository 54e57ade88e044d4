"""Intake's use cases: submit, attach scans, follow, cancel, resubmit, book the e-KTP recording, and keep the
citizen's view of every other stage."""

import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any, TypeVar

from dukcapil_intake.requests.domain.access_codes import AccessCode, AccessCodes
from dukcapil_intake.requests.domain.events import BookingConfirmed
from dukcapil_intake.requests.domain.history import NoDescription
from dukcapil_intake.requests.domain.model import (
    Attachment,
    RecordingBooking,
    RequestNotFound,
    ServiceRequest,
    booking_number,
    check_channel,
    check_contact,
    check_operator_kecamatan,
    check_submission,
    first_recording_day,
    next_working_day,
    request_number,
    responsible_kecamatan,
)
from dukcapil_intake.requests.domain.scans import ScanLimits, accept_scan, check_scan_size, safe_filename
from dukcapil_intake.requests.domain.validation import check_applicant, check_request
from dukcapil_intake.requests.service_layer.repository import ConcurrentUpdate, IdempotentSubmission, RequestFilter
from dukcapil_intake.requests.service_layer.scans import ScanInspector
from dukcapil_intake.requests.service_layer.unit_of_work import RequestsUnitOfWork
from dukcapil_shared.clock import Clock, system_clock
from dukcapil_shared.contracts import Delivery, Envelope, Event, Person, RecordingBooked
from dukcapil_shared.contracts.regions import WIB
from dukcapil_shared.files import FileStore
from dukcapil_shared.messaging import AlreadyApplied, PermanentFailure
from dukcapil_shared.refusals import Refusal, RefusalKind


class AccessRefused(Refusal):
    """No request has that number with that access code: one answer for either mistake, so that a refusal tells
    nobody whether the number exists."""

    code = "not_found"
    message = "No request has that number and access code: check both."
    message_id = "Tidak ada permohonan dengan nomor dan kode akses tersebut: periksa keduanya."
    kind = RefusalKind.not_found

    def __init__(self, reference: str) -> None:
        super().__init__()
        self.args = (reference,)


class AlreadyBooked(Refusal):
    """The person has an upcoming e-KTP recording already; its confirmation went where they asked then."""

    code = "already_booked"
    message = (
        "This person already has an upcoming e-KTP recording; its confirmation went to the phone or e-mail given "
        "with it."
    )
    message_id = (
        "Orang ini sudah memiliki jadwal perekaman e-KTP; konfirmasinya telah dikirim ke telepon atau e-mail yang "
        "diberikan saat itu."
    )
    kind = RefusalKind.conflict


@dataclass(frozen=True)
class SubmitRequest:
    type: str
    applicant: Person
    details: dict[str, Any]
    """As the client sent them: the office's checks type them (validation.py)."""
    delivery: Delivery
    kecamatan_code: str | None = None
    channel: str = "online"
    operator: str | None = None
    office: str | None = None
    idempotency_key: str | None = None
    operator_kecamatan: str | None = None
    follows: uuid.UUID | None = None
    """The request this one follows from (a confirmed follow-on draft): both histories link to each other."""

    @property
    def fingerprint(self) -> str:
        """Identifies the submission's content, so that a reused Idempotency-Key with other content is caught."""
        content = {key: value for key, value in asdict(self).items() if key != "idempotency_key"} | {
            "applicant": self.applicant.model_dump(mode="json", exclude_none=True),
            "delivery": self.delivery.model_dump(mode="json", exclude_none=True),
        }
        return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


class IdempotencyKeyReused(Refusal):
    code = "idempotency_key_reused"
    message = "This Idempotency-Key was used for a different submission; use a new key."

    def __init__(self, key: str) -> None:
        super().__init__()
        self.args = (key,)


async def submit_request(
    command: SubmitRequest, *, uow: RequestsUnitOfWork, today: date | None = None, clock: Clock = system_clock
) -> ServiceRequest:
    """Accept a request, announce it and tell the citizen; refused requests raise and leave nothing behind.

    With an idempotency key, a retried submission returns the request the first one created.
    """
    kecamatan = responsible_kecamatan(command.kecamatan_code, command.delivery)
    check_submission(command.type, kecamatan, command.delivery)
    check_channel(command.channel, command.operator, command.office)
    check_operator_kecamatan(kecamatan, command.operator_kecamatan)
    now = clock()
    checked = check_request(command.type, command.applicant, command.details, today or now.astimezone(WIB).date())
    async with uow:
        if command.idempotency_key is not None:
            earlier = await _earlier_submission(uow, command)
            if earlier is not None:
                return earlier
        sequence = await uow.requests.next_sequence(kecamatan.code, now.date())
        request = ServiceRequest.submit(
            id=uuid.uuid4(),
            number=request_number(kecamatan, now.date(), sequence),
            type=command.type,
            applicant=command.applicant,
            checked=checked,
            delivery=command.delivery,
            kecamatan_code=kecamatan.code,
            channel=command.channel,
            operator=command.operator,
            office=command.office,
            now=now,
        )
        await _save(uow, request, new=True)
        if command.follows is not None:
            origin = await _load(uow, command.follows)
            request.follow_from(origin, event_id=str(uuid.uuid4()), now=clock())
            await _save(uow, origin)
            await _save(uow, request)
        if command.idempotency_key is not None:
            await uow.requests.remember_submission(
                command.idempotency_key, IdempotentSubmission(command.fingerprint, request.id)
            )
        await uow.commit()
    return request


async def _earlier_submission(uow: RequestsUnitOfWork, command: SubmitRequest) -> ServiceRequest | None:
    assert command.idempotency_key is not None
    earlier = await uow.requests.find_submission(command.idempotency_key)
    if earlier is None:
        return None
    if earlier.fingerprint != command.fingerprint:
        raise IdempotencyKeyReused(command.idempotency_key)
    return await _load(uow, earlier.request_id)


async def add_attachment(
    request_id: uuid.UUID,
    *,
    opened: ServiceRequest | None = None,
    kind: str,
    filename: str,
    declared_type: str | None,
    content: bytes,
    limits: ScanLimits,
    uow: RequestsUnitOfWork,
    files: FileStore,
    scans: ScanInspector,
    clock: Clock = system_clock,
) -> Attachment:
    """Keep a scan for the request and announce it, once it has been read for what it really is; its content never
    leaves intake, and it is kept under its id, never under a name the client chose. `opened`: the request as the
    caller loaded it to check who asks (see `_on_fresh_state`)."""
    check_scan_size(len(content), limits.max_bytes)
    content_type = accept_scan(await scans.inspect(content, limits), declared_type, limits)
    attachment = Attachment(
        id=uuid.uuid4(),
        kind=kind,
        filename=safe_filename(filename, content_type),
        content_type=content_type,
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
        uploaded_at=clock(),
    )
    await _on_fresh_state(
        lambda start: _attach(request_id, attachment, content, uow=uow, files=files, start=start), opened
    )
    return attachment


FRESH_STATE_ATTEMPTS = 3
T = TypeVar("T")


async def _on_fresh_state(
    action: Callable[[ServiceRequest | None], Awaitable[T]], opened: ServiceRequest | None = None
) -> T:
    """Run a citizen's action again on the request as it is now when another stage's event reached it meanwhile
    (review starting, say), instead of telling them to try again: the action checks its rules afresh each time,
    so one the event made impossible (a cancellation after the approval) is refused as it should be.

    The action is given the request to start from: first `opened`, the request as the caller loaded it a moment
    ago to check who asks (one load fewer); its save fails if the request changed since, and every later attempt
    gets None and loads the request as it is now."""
    start = opened
    for attempt in range(1, FRESH_STATE_ATTEMPTS + 1):
        try:
            return await action(start)
        except ConcurrentUpdate:
            if attempt == FRESH_STATE_ATTEMPTS:
                raise
            start = None
    raise AssertionError("unreachable")


async def _attach(
    request_id: uuid.UUID,
    attachment: Attachment,
    content: bytes,
    *,
    uow: RequestsUnitOfWork,
    files: FileStore,
    start: ServiceRequest | None,
) -> None:
    async with uow:
        request = await _load_unless_given(uow, request_id, start)
        request.attach(attachment)
        # The file goes first: a crash before the commit leaves an unreferenced file, never a row without one.
        await files.save(attachment.storage_key, content)
        await _save(uow, request)
        await uow.commit()


async def get_attachment(
    request_id: uuid.UUID, attachment_id: uuid.UUID, *, uow: RequestsUnitOfWork, files: FileStore
) -> tuple[Attachment, bytes]:
    async with uow.reading():
        request = await _load(uow, request_id)
    attachment = next((item for item in request.attachments if item.id == attachment_id), None)
    content = await files.load(attachment.storage_key) if attachment is not None else None
    if attachment is None or content is None:
        raise RequestNotFound(f"attachment {attachment_id} of request {request_id}")
    return attachment, content


async def open_request(
    reference: str | uuid.UUID, code: AccessCode, *, uow: RequestsUnitOfWork, codes: AccessCodes
) -> ServiceRequest:
    """The request its holder opens with its number (or id) and access code; the NIK opens nothing."""
    async with uow.reading():
        if isinstance(reference, uuid.UUID):
            request = await uow.requests.get(reference)
        else:
            request = await uow.requests.get_by_number(reference)
    if request is None or not codes.opens(request.id, request.access_code_version, code):
        raise AccessRefused(str(reference))
    return request


async def get_request_by_number(number: str, *, uow: RequestsUnitOfWork) -> ServiceRequest:
    async with uow.reading():
        request = await uow.requests.get_by_number(number)
    if request is None:
        raise RequestNotFound(number)
    return request


async def resend_access_code(number: str, *, uow: RequestsUnitOfWork, clock: Clock = system_clock) -> bool:
    """Send the request's access code again to the phone and e-mail address on file, never anywhere else; False
    when there is no such request (the caller answers the same either way)."""
    async with uow:
        request = await uow.requests.get_by_number(number)
        if request is None:
            return False
        request.send_access_code(clock())
        await uow.hand_on(request.collect_events())
        await uow.commit()
    return True


async def renew_access_code(
    request_id: uuid.UUID, *, uow: RequestsUnitOfWork, clock: Clock = system_clock
) -> ServiceRequest:
    """A code that leaked (or a holder who lost the phone it went to) is replaced at the office: the old code stops
    working at once, and the new one goes to the contacts on file."""
    return await _on_fresh_state(lambda _start: _renew_access_code(request_id, uow=uow, clock=clock))


async def _renew_access_code(request_id: uuid.UUID, *, uow: RequestsUnitOfWork, clock: Clock) -> ServiceRequest:
    async with uow:
        request = await _load(uow, request_id)
        request.new_access_code(clock())
        await _save(uow, request)
        await uow.commit()
    return request


async def cancel_request(
    request_id: uuid.UUID, reason: str | None, *, uow: RequestsUnitOfWork, opened: ServiceRequest | None = None
) -> ServiceRequest:
    """`opened`: the request as the caller loaded it to check who asks (see `_on_fresh_state`)."""
    return await _on_fresh_state(lambda start: _cancel(request_id, reason, uow=uow, start=start), opened)


async def _cancel(
    request_id: uuid.UUID, reason: str | None, *, uow: RequestsUnitOfWork, start: ServiceRequest | None
) -> ServiceRequest:
    async with uow:
        request = await _load_unless_given(uow, request_id, start)
        request.cancel(reason)
        await _save(uow, request)
        await uow.commit()
    return request


async def resubmit_request(
    request_id: uuid.UUID,
    details: dict[str, Any] | None,
    note: str | None,
    *,
    uow: RequestsUnitOfWork,
    today: date | None = None,
    clock: Clock = system_clock,
    opened: ServiceRequest | None = None,
) -> ServiceRequest:
    """The citizen answers an information request: corrected details (checked again) and/or new scans. `opened`:
    the request as the caller loaded it to check who asks (see `_on_fresh_state`)."""
    day = today or clock().astimezone(WIB).date()
    return await _on_fresh_state(
        lambda start: _resubmit(request_id, details, note, uow=uow, today=day, start=start), opened
    )


async def _resubmit(
    request_id: uuid.UUID,
    details: dict[str, Any] | None,
    note: str | None,
    *,
    uow: RequestsUnitOfWork,
    today: date,
    start: ServiceRequest | None,
) -> ServiceRequest:
    async with uow:
        request = await _load_unless_given(uow, request_id, start)
        request.ensure_awaiting_information()
        checked = check_request(request.type, request.applicant, details, today) if details is not None else None
        request.resubmit(checked, note)
        await _save(uow, request)
        await uow.commit()
    return request


@dataclass(frozen=True)
class BookRecording:
    applicant: Person
    kecamatan_code: str
    preferred_date: date | None = None
    phone: str | None = None
    email: str | None = None
    """Where the booking's confirmation goes."""


async def book_recording(
    command: BookRecording,
    *,
    capacity: int,
    uow: RequestsUnitOfWork,
    today: date | None = None,
    clock: Clock = system_clock,
) -> RecordingBooking:
    """Book the in-person e-KTP recording at a kecamatan office: the first working day with room in the queue
    on or after the preferred day, confirmed to the citizen. A person with an upcoming booking is refused."""
    kecamatan = responsible_kecamatan(command.kecamatan_code)
    check_contact(command.email, field="email")
    today = today or clock().astimezone(WIB).date()
    check_applicant(command.applicant, today)
    async with uow:
        if await uow.bookings.upcoming_for(command.applicant.nik, today) is not None:
            # Never that booking itself: whoever knows a NIK would learn where and when its holder will be.
            raise AlreadyBooked()
        day = first_recording_day(today, command.preferred_date)
        while (queue_number := await uow.bookings.next_queue_number(kecamatan.code, day)) > capacity:
            day = next_working_day(day)
        booking = RecordingBooking(
            id=uuid.uuid4(),
            number=booking_number(kecamatan, day, queue_number),
            nik=command.applicant.nik,
            name=command.applicant.name,
            kecamatan_code=kecamatan.code,
            appointment_date=day,
            queue_number=queue_number,
            created_at=clock(),
        )
        await uow.bookings.add(booking)
        event = RecordingBooked(
            request_id=booking.id,
            booking_number=booking.number,
            applicant=command.applicant,
            kecamatan_code=kecamatan.code,
            office_name=kecamatan.office,
            appointment_date=day,
            queue_number=queue_number,
        )
        envelope = await uow.outbox.add(event)
        await uow.hand_on([BookingConfirmed(event, envelope, email=command.email, phone=command.phone)])
        await uow.commit()
    return booking


async def get_booking(booking_id: uuid.UUID, *, uow: RequestsUnitOfWork) -> RecordingBooking:
    async with uow:
        booking = await uow.bookings.get(booking_id)
    if booking is None:
        raise RequestNotFound(f"booking {booking_id}")
    return booking


async def record_lifecycle_event(uow: RequestsUnitOfWork, event: Event, envelope: Envelope) -> None:
    """Consumer handler: show another stage's event in the citizen's history; the features that follow the
    requests queue the notice it deserves and log what agencies learn of it (in the consumer's transaction). The
    history is this subscription's inbox: an event already in it is a duplicate, and nothing happens."""
    request = await uow.requests.get(event.request_id)
    if request is None:
        # Either submission's commit is not visible yet (retry) or the request never existed here: the
        # retries run out and the event is parked in the dead-letter queue for an operator.
        raise LookupError(f"request {event.request_id} is unknown to intake")
    if request.has_learned(str(envelope.id)):
        raise AlreadyApplied(f"{envelope.type} {envelope.id} is in request {event.request_id}'s history")
    _learn(request, event, envelope)
    await _save(uow, request)


async def ensure_known(request_id: uuid.UUID, *, uow: RequestsUnitOfWork) -> None:
    """Raise RequestNotFound unless there is a request or an e-KTP booking with this id."""
    async with uow.reading():
        if await uow.requests.get(request_id) is None and await uow.bookings.get(request_id) is None:
            raise RequestNotFound(str(request_id))


async def get_request(request_id: uuid.UUID, *, uow: RequestsUnitOfWork) -> ServiceRequest:
    async with uow.reading():
        return await _load(uow, request_id)


async def list_requests(
    where: RequestFilter, *, limit: int, offset: int, uow: RequestsUnitOfWork
) -> list[ServiceRequest]:
    async with uow.reading():
        return await uow.requests.list(where, limit=limit, offset=offset)


async def _load(uow: RequestsUnitOfWork, request_id: uuid.UUID) -> ServiceRequest:
    request = await uow.requests.get(request_id)
    if request is None:
        raise RequestNotFound(str(request_id))
    return request


async def _load_unless_given(
    uow: RequestsUnitOfWork, request_id: uuid.UUID, given: ServiceRequest | None
) -> ServiceRequest:
    """`given`, loaded a moment ago in another unit of work: saving it checks that it has not changed since."""
    return given if given is not None else await _load(uow, request_id)


async def _save(uow: RequestsUnitOfWork, request: ServiceRequest, *, new: bool = False) -> None:
    """Store the request and map what it recorded: each event it emitted goes to the outbox and, with the envelope
    it goes out in, into its history; then every step goes to the features that follow the requests, in this
    transaction."""
    for event in request.announced():
        _learn(request, event, await uow.outbox.add(event))
    happened = request.collect_events()
    await (uow.requests.add if new else uow.requests.save)(request)
    await uow.hand_on(happened)


def _learn(request: ServiceRequest, event: Event, envelope: Envelope) -> None:
    try:
        request.learn(event, envelope)
    except NoDescription as error:
        raise PermanentFailure(str(error)) from None
