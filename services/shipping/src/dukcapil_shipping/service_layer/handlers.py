"""Shipping's use cases: check the address early, ship an issued document, book and follow the courier, flag what
needs an operator, hand documents over at the office."""

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from dukcapil_shared.clock import Clock, system_clock
from dukcapil_shared.contracts import (
    DeliveryFailed,
    DeliveryMethod,
    DocumentCollected,
    DocumentIssued,
    Envelope,
    ReadyForPickup,
    RequestResubmitted,
    RequestSubmitted,
    ShipmentCreated,
    ShipmentDelivered,
    ShipmentFlagged,
    ShipmentStatusChanged,
)
from dukcapil_shared.contracts.common import Delivery
from dukcapil_shared.contracts.regions import WIB, Kecamatan
from dukcapil_shared.logging import mask_personal_data
from dukcapil_shared.messaging import PermanentFailure
from dukcapil_shared.refusals import Refusal, RefusalKind
from dukcapil_shipping.domain.destinations import AddressCheck, DestinationTable
from dukcapil_shipping.domain.model import (
    CourierReport,
    FlagReason,
    RequestedDelivery,
    Shipment,
    ShipmentRefused,
    ShipmentStatus,
    ShippingMethod,
    household_names,
)
from dukcapil_shipping.domain.routing import NotRoutable, route_issued_document
from dukcapil_shipping.service_layer.courier import AirwayBillUnknown, CourierClient, CourierRefused
from dukcapil_shipping.service_layer.unit_of_work import ConcurrentUpdate, ShippingUnitOfWork

log = structlog.get_logger(__name__)

FindOffice = Callable[[str | None], Kecamatan | None]


class ShipmentNotFound(Refusal):
    code = "shipment_not_found"
    kind = RefusalKind.not_found

    def __init__(self, shipment_id: object) -> None:
        super().__init__(f"No shipment with id {shipment_id}.")


@dataclass(frozen=True)
class CollectDocument:
    collector_name: str
    collector_nik: str
    operator: str


async def check_address(
    uow: ShippingUnitOfWork,
    event: RequestSubmitted,
    envelope: Envelope,
    *,
    destinations: DestinationTable,
    clock: Clock = system_clock,
) -> None:
    """Consumer handler: keep who may receive the document, and check a courier address at once.

    An address the courier cannot serve is announced now (ShipmentFlagged, no shipment yet), and the document
    will wait at the kecamatan office. If the document was issued first, its shipment made that check already:
    only the family's names are added.
    """
    now = clock()
    household = household_names(event.details)
    requested = _requested_delivery(event.request_id, event.applicant.name, event.applicant.nik, event.delivery, now)
    requested.submitted_with(household=household, now=now)
    if event.delivery.method == DeliveryMethod.courier:
        _checked(requested, _check(destinations, event.delivery))
        requested.address_flagged = requested.address_problem is not None
    # Stored at once, usually: a look for what the issued document's shipment kept first would cost a round trip
    # for a case that is rare.
    if not await uow.deliveries.add_unless_known(requested):
        known = await uow.deliveries.get(event.request_id)
        assert known is not None, "a request's delivery is never deleted"
        known.submitted_with(household=household, now=now)
        await uow.deliveries.save(known)
        return
    if requested.address_flagged:
        await uow.outbox.add(
            ShipmentFlagged(
                request_id=event.request_id,
                reason=FlagReason.address_unserviceable.value,
                detail=requested.address_problem,
            ),
            traceparent=envelope.traceparent,
        )
        log.warning("address_unserviceable", request_id=str(event.request_id), detail=requested.address_problem)


async def note_resubmission(
    uow: ShippingUnitOfWork, event: RequestResubmitted, _envelope: Envelope, *, clock: Clock = system_clock
) -> None:
    """Consumer handler: the corrected details may name the family differently."""
    requested = await uow.deliveries.get(event.request_id)
    if requested is None or not requested.submitted:
        return
    requested.submitted_with(household=household_names(event.details), now=clock())
    await uow.deliveries.save(requested)


async def ship_document(
    uow: ShippingUnitOfWork,
    event: DocumentIssued,
    envelope: Envelope,
    *,
    find_office: FindOffice,
    destinations: DestinationTable,
    clock: Clock = system_clock,
    book_now: Callable[[], None] | None = None,
) -> None:
    """Consumer handler: hold the document at the kecamatan office, or line it up for the courier; once per document.

    A corrected document is a document of its own: it gets its own shipment, the way the request chose, and the
    shipment names the old paper its holder hands over. The courier is not called here: this runs inside the
    consumer's transaction, and the booking loop (`book_shipments`) asks the courier outside any transaction;
    `book_now` wakes that loop once the shipment is committed, so that the parcel does not wait for its next round.
    If RequestSubmitted has not been seen (it may come later), the address is checked here with what the issued
    document carries: nothing waits for it.
    """
    if _already_shipped(event, await uow.shipments.for_request(event.request_id)):
        log.info("document_already_shipped", request_id=str(event.request_id), document_number=event.document_number)
        return
    delivery = event.delivery
    address = delivery.address
    office = _first_office(
        find_office,
        delivery.pickup_kecamatan_code,
        address.kecamatan_code if address else None,
        event.kecamatan_code,
    )
    if office is None:
        raise PermanentFailure(f"request {event.request_id}: no Lebak kecamatan office to hold the document")
    now = clock()
    requested = await uow.deliveries.get(event.request_id)
    known = requested is not None
    if requested is None:
        requested = _requested_delivery(event.request_id, event.applicant.name, event.applicant.nik, delivery, now)
        if delivery.method == DeliveryMethod.courier and address is not None:
            _checked(requested, _check(destinations, delivery))
    try:
        routing = route_issued_document(
            event,
            requested,
            office=office,
            address_office=find_office(address.kecamatan_code) if address else None,
            now=now,
            traceparent=envelope.traceparent,
        )
    except NotRoutable as error:
        raise PermanentFailure(str(error)) from None
    # Announced first, so that the SQL repository stores the announcements with the shipment.
    for announced in routing.events:
        await uow.outbox.add(announced, traceparent=envelope.traceparent)
    await uow.shipments.add(routing.shipment)
    await _keep(uow, requested, known=known, changed=routing.requested_changed)
    if book_now is not None and routing.shipment.status == ShipmentStatus.booking:
        uow.after_commit(book_now)


async def book_shipments(
    *,
    unit_of_work: Callable[[], ShippingUnitOfWork],
    courier: CourierClient,
    batch_size: int = 50,
    concurrency: int = 10,
    lease: timedelta = timedelta(minutes=2),
    clock: Clock = system_clock,
) -> int:
    """One round of booking: ask the courier for an airway bill for every shipment due; returns how many got one.

    The courier is called outside any transaction; each answer is recorded in a short unit of work of its own.
    `lease` must outlast the round: until it ends, other replicas leave the claimed shipments alone.
    """
    now = clock()
    async with unit_of_work() as uow:
        shipments = await uow.shipments.claim_for_booking(now=now, until=now + lease, limit=batch_size)
        await uow.commit()
    limit = asyncio.Semaphore(concurrency)
    booked = await asyncio.gather(
        *(_book(s, unit_of_work=unit_of_work, courier=courier, clock=clock, limit=limit) for s in shipments)
    )
    return sum(booked)


async def record_booking(
    shipment_id: uuid.UUID, airway_bill: str, *, courier: CourierClient, uow: ShippingUnitOfWork, now: datetime
) -> bool:
    """Record the airway bill and announce the shipment; False if another replica recorded its booking first."""
    async with uow:
        shipment = await uow.shipments.get(shipment_id)
        if shipment is None or shipment.status != ShipmentStatus.booking:
            return False
        shipment.booked(courier=courier.name, service=courier.service, airway_bill=airway_bill, now=now)
        await uow.outbox.add(
            ShipmentCreated(
                request_id=shipment.request_id,
                shipment_id=shipment.id,
                courier=courier.name,
                service=courier.service,
                airway_bill=airway_bill,
                **shipment.carried,
            ),
            traceparent=shipment.traceparent,
        )
        try:
            await uow.shipments.save(shipment)
        except ConcurrentUpdate:
            return False
        await uow.commit()
    return True


async def track_shipments(
    *,
    unit_of_work: Callable[[], ShippingUnitOfWork],
    courier: CourierClient,
    find_office: FindOffice,
    batch_size: int = 100,
    concurrency: int = 8,
    clock: Clock = system_clock,
) -> int:
    """One round of tracking: ask the courier about every shipment on its way; returns how many moved."""
    async with unit_of_work() as uow:
        shipments = await uow.shipments.tracked(limit=batch_size)
    if not shipments:
        return 0
    limit = asyncio.Semaphore(concurrency)
    answers = await asyncio.gather(*(_poll(courier, shipment, limit) for shipment in shipments))
    answered = [
        (shipment, report)
        for shipment, report in zip(shipments, answers, strict=True)
        if isinstance(report, CourierReport)
    ]
    failed = [(shipment, error) for shipment, error in zip(shipments, answers, strict=True) if _outage(error)]
    if failed:
        # One line a round however many shipments wait: the courier may be away for hours.
        shipment, error = failed[0]
        log.warning(
            "tracking_poll_failed",
            shipments=len(failed),
            first_airway_bill=shipment.airway_bill,
            error=f"{type(error).__name__}: {error}",
        )
    for shipment in (shipment for shipment, answer in zip(shipments, answers, strict=True) if _lost(answer)):
        try:
            await record_lost_parcel(shipment.id, uow=unit_of_work(), clock=clock)
        except Exception as error:  # one shipment's trouble must not hold up the others: it is asked again
            log.exception("lost_parcel_record_failed", shipment_id=str(shipment.id), error=type(error).__name__)
    moved = [(shipment, report) for shipment, report in answered if shipment.unseen(report)]
    unchanged = [shipment.id for shipment, report in answered if not shipment.unseen(report)]
    if unchanged:
        async with unit_of_work() as uow:
            await uow.shipments.mark_polled(unchanged, clock())
            await uow.commit()
    recorded = 0
    for shipment, report in moved:
        try:
            if await record_tracking(shipment.id, report, uow=unit_of_work(), find_office=find_office, clock=clock):
                recorded += 1
        except Exception as error:  # one shipment's trouble must not hold up the others: it is retried next round
            log.exception("tracking_record_failed", shipment_id=str(shipment.id), error=type(error).__name__)
    return recorded


async def record_tracking(
    shipment_id: uuid.UUID,
    report: CourierReport,
    *,
    uow: ShippingUnitOfWork,
    find_office: FindOffice,
    clock: Clock = system_clock,
) -> bool:
    """Record the courier's new steps and announce them; False if there were none or another replica won."""
    now = clock()
    async with uow:
        shipment = await uow.shipments.get(shipment_id)
        if shipment is None or not shipment.is_tracked:
            return False
        fresh = shipment.follow(report, now=now)
        if not fresh:
            return False
        assert shipment.airway_bill is not None, "a tracked shipment has an airway bill"
        common = {
            "request_id": shipment.request_id,
            "shipment_id": shipment.id,
            "airway_bill": shipment.airway_bill,
            **shipment.carried,
        }
        for entry in fresh:
            await uow.outbox.add(
                ShipmentStatusChanged(
                    **common,
                    status=entry.status,
                    courier_code=entry.courier_code,
                    description=entry.description,
                    occurred_at=entry.occurred_at,
                )
            )
        if shipment.status == ShipmentStatus.delivered:
            # Announced before ShipmentDelivered, so that "delivered" stays the last word of the request's history.
            detail = await _receiver_not_entitled(uow, shipment, report.receiver_name)
            if detail is not None and shipment.flag(FlagReason.receiver_not_entitled, detail, now=now):
                await uow.outbox.add(
                    ShipmentFlagged(
                        request_id=shipment.request_id,
                        shipment_id=shipment.id,
                        reason=FlagReason.receiver_not_entitled.value,
                        detail=detail,
                    )
                )
                log.warning("receiver_not_entitled", shipment_id=str(shipment.id), request_id=str(shipment.request_id))
            await uow.outbox.add(
                ShipmentDelivered(
                    **common,
                    receiver_name=report.receiver_name or shipment.recipient,
                    delivered_at=report.delivered_at or fresh[-1].occurred_at,
                )
            )
        elif shipment.status == ShipmentStatus.delivery_failed:
            await uow.outbox.add(DeliveryFailed(**common, reason=report.failure_reason or fresh[-1].description))
            office = _office_name(find_office, shipment.kecamatan_code)
            shipment.hold_for_pickup(office, now=now)
            await uow.outbox.add(
                ReadyForPickup(
                    request_id=shipment.request_id,
                    shipment_id=shipment.id,
                    kecamatan_code=shipment.kecamatan_code,
                    office_name=office,
                    reason="delivery_failed",
                    **shipment.carried,
                )
            )
        try:
            await uow.shipments.save(shipment)
        except ConcurrentUpdate:
            log.info("tracking_recorded_elsewhere", shipment_id=str(shipment.id))
            return False
        await uow.commit()
    return True


async def record_lost_parcel(shipment_id: uuid.UUID, *, uow: ShippingUnitOfWork, clock: Clock = system_clock) -> bool:
    """The courier says it does not know the airway bill it issued: stop tracking the shipment and announce
    ShipmentFlagged(courier_lost_parcel), which intake opens as an incident. False if it was no longer tracked."""
    now = clock()
    async with uow:
        shipment = await uow.shipments.get(shipment_id)
        if shipment is None or not shipment.lost_by_courier(now=now):
            return False
        [flag] = [flag for flag in shipment.flags if flag.reason == FlagReason.courier_lost_parcel]
        await uow.outbox.add(
            ShipmentFlagged(
                request_id=shipment.request_id,
                shipment_id=shipment.id,
                reason=FlagReason.courier_lost_parcel.value,
                detail=flag.detail,
            ),
            traceparent=shipment.traceparent,
        )
        try:
            await uow.shipments.save(shipment)
        except ConcurrentUpdate:
            return False
        await uow.commit()
    log.warning(
        "courier_lost_parcel",
        shipment_id=str(shipment.id),
        request_id=str(shipment.request_id),
        airway_bill=shipment.airway_bill,
    )
    return True


async def flag_stuck_shipments(
    *,
    unit_of_work: Callable[[], ShippingUnitOfWork],
    stuck_after: timedelta,
    batch_size: int = 100,
    clock: Clock = system_clock,
) -> int:
    """One round: flag, once each, the parcels whose tracking has not changed for longer than `stuck_after`."""
    now = clock()
    async with unit_of_work() as uow:
        quiet = await uow.shipments.quiet(
            since=now - stuck_after, unflagged=FlagReason.stuck_in_transit.value, limit=batch_size
        )
    flagged = 0
    for shipment in quiet:
        try:
            if await _flag_stuck(shipment.id, uow=unit_of_work(), stuck_after=stuck_after, now=now):
                flagged += 1
        except Exception as error:  # one shipment's trouble must not hold up the others: it is tried next round
            log.exception("stuck_flag_failed", shipment_id=str(shipment.id), error=type(error).__name__)
    return flagged


async def _flag_stuck(
    shipment_id: uuid.UUID, *, uow: ShippingUnitOfWork, stuck_after: timedelta, now: datetime
) -> bool:
    async with uow:
        shipment = await uow.shipments.get(shipment_id)
        if shipment is None or not shipment.stuck(now=now, after=stuck_after):
            return False
        quiet_since = (shipment.last_moved_at or shipment.updated_at).astimezone(WIB)
        detail = (
            f"Kiriman {shipment.courier} nomor resi {shipment.airway_bill} tidak bergerak sejak "
            f"{quiet_since:%d-%m-%Y %H:%M} WIB (status {shipment.status.value}); hubungi kurir."
        )
        if not shipment.flag(FlagReason.stuck_in_transit, detail, now=now):
            return False
        await uow.outbox.add(
            ShipmentFlagged(
                request_id=shipment.request_id,
                shipment_id=shipment.id,
                reason=FlagReason.stuck_in_transit.value,
                detail=detail,
            ),
            traceparent=shipment.traceparent,
        )
        try:
            await uow.shipments.save(shipment)
        except ConcurrentUpdate:
            return False
        await uow.commit()
    log.warning("shipment_stuck", shipment_id=str(shipment.id), airway_bill=shipment.airway_bill)
    return True


async def collect_document(
    shipment_id: uuid.UUID, command: CollectDocument, *, uow: ShippingUnitOfWork, clock: Clock = system_clock
) -> Shipment:
    """The citizen (or a representative) collects the document at the kecamatan office."""
    async with uow:
        shipment = await _load(uow, shipment_id)
        now = clock()
        shipment.collect(
            collector_name=command.collector_name,
            collector_nik=command.collector_nik,
            operator=command.operator,
            now=now,
        )
        await uow.outbox.add(
            DocumentCollected(
                request_id=shipment.request_id,
                shipment_id=shipment.id,
                collector_name=command.collector_name,
                collector_nik=command.collector_nik,
                collected_on=now.astimezone(WIB).date(),
                operator=command.operator,
                **shipment.carried,
            )
        )
        try:
            await uow.shipments.save(shipment)
        except ConcurrentUpdate:
            raise ShipmentRefused(
                "changed_concurrently", "The shipment changed meanwhile; reload it and try again."
            ) from None
        await uow.commit()
    return shipment


async def rebook_shipment(
    shipment_id: uuid.UUID, *, operator: str, uow: ShippingUnitOfWork, clock: Clock = system_clock
) -> Shipment:
    """An operator has the courier book a parcel it lost again; the booking loop asks for the new airway bill, and
    its ShipmentCreated closes the incident."""
    async with uow:
        shipment = await _load(uow, shipment_id)
        shipment.rebook(operator=operator, now=clock())
        try:
            await uow.shipments.save(shipment)
        except ConcurrentUpdate:
            raise ShipmentRefused(
                "changed_concurrently", "The shipment changed meanwhile; reload it and try again."
            ) from None
        await uow.commit()
    log.info("shipment_rebooked", shipment_id=str(shipment.id), operator=operator)
    return shipment


async def get_shipment(shipment_id: uuid.UUID, *, uow: ShippingUnitOfWork) -> Shipment:
    async with uow:
        return await _load(uow, shipment_id)


async def list_shipments(
    *,
    request_id: uuid.UUID | None,
    status: ShipmentStatus | None,
    limit: int,
    offset: int,
    uow: ShippingUnitOfWork,
    flag: str | None = None,
    kecamatan_code: str | None = None,
) -> list[Shipment]:
    async with uow:
        return await uow.shipments.find(
            request_id=request_id, status=status, limit=limit, offset=offset, flag=flag, kecamatan_code=kecamatan_code
        )


async def _book(
    shipment: Shipment,
    *,
    unit_of_work: Callable[[], ShippingUnitOfWork],
    courier: CourierClient,
    clock: Clock,
    limit: asyncio.Semaphore,
) -> bool:
    """Ask the courier for one shipment's airway bill and record the answer; True if it was booked."""
    assert shipment.parcel is not None, "a shipment waiting for the courier has its parcel"
    async with limit:
        try:
            answer: str | Exception = await courier.book(shipment.parcel)
        except Exception as error:  # recorded below: CourierRefused is final, anything else is asked again later
            answer = error
    try:
        if isinstance(answer, Exception):
            await _record_booking_failure(shipment.id, answer, uow=unit_of_work(), now=clock())
            return False
        return await record_booking(shipment.id, answer, courier=courier, uow=unit_of_work(), now=clock())
    except Exception as error:  # one shipment's trouble must not hold up the others: booked again after the lease
        log.exception("booking_record_failed", shipment_id=str(shipment.id), error=type(error).__name__)
        return False


async def _record_booking_failure(
    shipment_id: uuid.UUID, error: Exception, *, uow: ShippingUnitOfWork, now: datetime
) -> None:
    """Mark the booking failed if the courier refused it, else postpone it; nothing if another replica was first."""
    refused = isinstance(error, CourierRefused)
    # The courier's answer may echo the receiver's phone number, and the error is kept and shown.
    trouble = mask_personal_data(f"{type(error).__name__}: {error}")
    async with uow:
        shipment = await uow.shipments.get(shipment_id)
        if shipment is None or shipment.status != ShipmentStatus.booking:
            return
        if refused:
            shipment.fail_booking(trouble, now=now)
        else:
            shipment.postpone_booking(trouble, now=now)
        try:
            await uow.shipments.save(shipment)
        except ConcurrentUpdate:
            return
        await uow.commit()
    context = {
        "shipment_id": str(shipment.id),
        "request_id": str(shipment.request_id),
        "attempts": shipment.booking_attempts,
        "error": shipment.last_booking_error,
    }
    if refused:
        log.error("courier_booking_refused", **context)
    else:
        assert shipment.next_booking_at is not None, "a postponed booking has its next time"
        log.warning("courier_booking_postponed", **context, next_booking_at=shipment.next_booking_at.isoformat())


async def _poll(courier: CourierClient, shipment: Shipment, limit: asyncio.Semaphore) -> CourierReport | Exception:
    """The courier's report, or why there is none: AirwayBillUnknown, or trouble asked about again next round."""
    assert shipment.airway_bill is not None, "a tracked shipment has an airway bill"
    async with limit:
        try:
            return await courier.track(shipment.airway_bill)
        except Exception as error:  # the courier may be away: sorted out by the caller
            return error


def _lost(answer: CourierReport | Exception) -> bool:
    return isinstance(answer, AirwayBillUnknown)


def _outage(answer: CourierReport | Exception) -> bool:
    return isinstance(answer, Exception) and not _lost(answer)


async def _load(uow: ShippingUnitOfWork, shipment_id: uuid.UUID) -> Shipment:
    shipment = await uow.shipments.get(shipment_id)
    if shipment is None:
        raise ShipmentNotFound(str(shipment_id))
    return shipment


def _requested_delivery(
    request_id: uuid.UUID, applicant_name: str, applicant_nik: str, delivery: Delivery, now: datetime
) -> RequestedDelivery:
    return RequestedDelivery(
        request_id=request_id,
        applicant_name=applicant_name,
        applicant_nik=applicant_nik,
        method=ShippingMethod(delivery.method.value),
        created_at=now,
        updated_at=now,
    )


def _check(destinations: DestinationTable, delivery: Delivery) -> AddressCheck:
    address = delivery.address
    if address is None:
        return AddressCheck(problem="no_address", detail="Pengiriman dengan kurir tanpa alamat.")
    return destinations.check(
        kecamatan_code=address.kecamatan_code, village_code=address.village_code, postal_code=address.postal_code
    )


def _checked(requested: RequestedDelivery, check: AddressCheck) -> None:
    requested.destination_code = check.destination_code
    requested.postal_code = check.postal_code
    requested.address_problem = check.detail if not check.serviceable else None


async def _keep(uow: ShippingUnitOfWork, requested: RequestedDelivery, *, known: bool, changed: bool) -> None:
    if not known:
        await uow.deliveries.add(requested)
    elif changed:
        await uow.deliveries.save(requested)


async def _receiver_not_entitled(uow: ShippingUnitOfWork, shipment: Shipment, receiver: str | None) -> str | None:
    """Why the proof of delivery's receiver may not have the document; None if they may (or nobody can tell)."""
    requested = await uow.deliveries.get(shipment.request_id)
    if requested is None:
        return None  # shipped before shipping kept the family's names
    if requested.is_entitled(receiver):
        return None
    if not receiver:
        return "Bukti terima kurir tidak mencantumkan nama penerima; periksa siapa yang menerima dokumen."
    return (
        f"Dokumen diterima oleh {receiver}, bukan pemohon ({requested.applicant_name}) atau anggota keluarga "
        "dalam KK pemohon; periksa dan hubungi pemohon."
    )


def _already_shipped(event: DocumentIssued, shipments: list[Shipment]) -> bool:
    """Whether the document has its shipment already (a redelivery), or is not to be sent: a corrected document
    replacing it was shipped first (its issue came late), or it is the request's first document and the request
    was shipped before shipments recorded their document."""
    for shipment in shipments:
        if event.document_number in (shipment.document_number, shipment.replaces_document_number):
            return True
        if shipment.document_number is None and event.supersedes_number is None:
            return True
    return False


def _first_office(find_office: FindOffice, *codes: str | None) -> Kecamatan | None:
    return next((office for code in codes if code and (office := find_office(code))), None)


def _office_name(find_office: FindOffice, kecamatan_code: str) -> str:
    office = find_office(kecamatan_code)
    return office.office if office else f"Kantor Kecamatan {kecamatan_code}"
