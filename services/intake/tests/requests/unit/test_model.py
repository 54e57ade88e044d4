import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from dukcapil_intake.requests.domain.model import (
    RequestRefused,
    RequestStatus,
    ServiceRequest,
    check_submission,
    request_number,
    responsible_kecamatan,
)
from dukcapil_shared.contracts import (
    BiodataWniDetails,
    Delivery,
    DocumentIssued,
    Envelope,
    Event,
    ShipmentCreated,
    ShipmentDelivered,
)
from dukcapil_shared.contracts.regions import find_kecamatan, lebak_kecamatan

from ...examples import AHMAD, pickup

T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)


def a_request(status: RequestStatus = RequestStatus.submitted) -> ServiceRequest:
    request = ServiceRequest(
        id=uuid.uuid4(),
        number="360214-20261128-0001",
        type="biodata_wni",
        applicant=AHMAD,
        details=BiodataWniDetails(),
        delivery=pickup(),
        kecamatan_code="36.02.14",
        channel="online",
        status=status,
        submitted_at=T0,
        updated_at=T0,
    )
    request.record(
        event_id="e0",
        event_type="request.submitted.v1",
        stage="intake",
        occurred_at=T0,
        note="",
        moves_to=RequestStatus.submitted,
    )
    request.status = status
    return request


def step(request: ServiceRequest, status: RequestStatus, minutes: int) -> None:
    request.record(
        event_id=str(uuid.uuid4()),
        event_type=f"x.{status}",
        stage="test",
        occurred_at=T0 + timedelta(minutes=minutes),
        note="",
        moves_to=status,
    )


def test_the_lifecycle_moves_forward_to_delivery() -> None:
    request = a_request()
    for minutes, status in enumerate(
        [
            RequestStatus.in_review,
            RequestStatus.approved,
            RequestStatus.document_issued,
            RequestStatus.shipped,
            RequestStatus.delivered,
        ],
        start=1,
    ):
        step(request, status, minutes)
        assert request.status == status
    assert [entry.status for entry in request.history][-1] == RequestStatus.delivered


def test_a_late_event_is_kept_in_history_but_does_not_move_the_status_back() -> None:
    request = a_request()
    step(request, RequestStatus.shipped, 5)
    step(request, RequestStatus.document_issued, 3)
    assert request.status == RequestStatus.shipped
    assert [entry.status for entry in request.history] == [
        RequestStatus.submitted,
        None,
        RequestStatus.shipped,
    ], "history is ordered by event time, and the late entry records that it moved nothing"


@pytest.mark.parametrize(
    "final",
    [RequestStatus.rejected, RequestStatus.cancelled, RequestStatus.delivered, RequestStatus.collected],
)
def test_final_statuses_never_change(final: RequestStatus) -> None:
    request = a_request(final)
    step(request, RequestStatus.ready_for_pickup, 9)
    assert request.status == final


def test_resubmission_goes_back_to_submitted_only_from_info_requested() -> None:
    request = a_request(RequestStatus.info_requested)
    assert request.can_move_to(RequestStatus.submitted)
    assert not a_request(RequestStatus.in_review).can_move_to(RequestStatus.submitted)


def test_cancellation_only_before_the_decision() -> None:
    a_request(RequestStatus.in_review).ensure_cancellable()
    with pytest.raises(RequestRefused) as refused:
        a_request(RequestStatus.approved).ensure_cancellable()
    assert refused.value.code == "not_cancellable"
    assert not a_request(RequestStatus.document_issued).can_move_to(RequestStatus.cancelled)


def test_ktp_el_is_refused_naming_the_kecamatan_office() -> None:
    with pytest.raises(RequestRefused) as refused:
        check_submission("ktp_el", find_kecamatan("36.02.01"), pickup("36.02.01"))
    assert refused.value.code == "in_person_only"
    assert "Kantor Kecamatan Malingping" in refused.value.message
    assert refused.value.extra["office"] == "Kantor Kecamatan Malingping"


def test_courier_delivery_needs_an_address() -> None:
    with pytest.raises(RequestRefused) as refused:
        check_submission("biodata_wni", find_kecamatan("36.02.14"), Delivery(method="courier"))
    assert refused.value.field == "delivery.address"


def test_the_responsible_kecamatan_comes_from_the_request_or_its_delivery() -> None:
    assert responsible_kecamatan(None, pickup("36.02.03")).name == "Bayah"
    by_courier = Delivery.model_validate(
        {"method": "courier", "address": {"street": "Kp. Cigemblong", "kecamatan_code": "36.02.28"}}
    )
    assert responsible_kecamatan(None, by_courier).name == "Cigemblong"
    assert responsible_kecamatan("36.02.01", by_courier).name == "Malingping"
    with pytest.raises(RequestRefused) as refused:
        responsible_kecamatan("36.01.01")
    assert refused.value.code == "unknown_kecamatan"


def test_lebak_has_28_kecamatan_and_request_numbers_name_one() -> None:
    assert len(lebak_kecamatan()) == 28
    assert request_number(find_kecamatan("36.02.14"), date(2026, 11, 28), 7) == "360214-20261128-0007"


def _learned(request: ServiceRequest, event: Event, minutes: int) -> None:
    request.learn(event, Envelope.wrap(event, source="/test", time=T0 + timedelta(minutes=minutes)))


def _issued(request: ServiceRequest, number: str, supersedes: DocumentIssued | None = None) -> DocumentIssued:
    return DocumentIssued(
        request_id=request.id,
        document_id=uuid.uuid4(),
        document_number=number,
        request_type="biodata_wni",
        checksum_sha256="0" * 64,
        applicant=AHMAD,
        delivery=request.delivery,
        kecamatan_code="36.02.14",
        supersedes=supersedes.document_id if supersedes else None,
        supersedes_number=supersedes.document_number if supersedes else None,
    )


def _shipped(request: ServiceRequest, document: DocumentIssued, airway_bill: str) -> ShipmentCreated:
    return ShipmentCreated(
        request_id=request.id,
        shipment_id=uuid.uuid4(),
        courier="JNE",
        service="REG",
        airway_bill=airway_bill,
        document_number=document.document_number,
        replaces_document_number=document.supersedes_number,
    )


def _delivered(request: ServiceRequest, document: DocumentIssued, airway_bill: str) -> ShipmentDelivered:
    return ShipmentDelivered(
        request_id=request.id,
        shipment_id=uuid.uuid4(),
        airway_bill=airway_bill,
        receiver_name="Ahmad Fauzi",
        delivered_at=T0,
        document_number=document.document_number,
        replaces_document_number=document.supersedes_number,
    )


def test_a_delivered_request_whose_document_is_corrected_is_shipped_and_delivered_again() -> None:
    request = a_request(RequestStatus.approved)
    original = _issued(request, "BIO/3602/2026/000001")
    corrected = _issued(request, "BIO/3602/2026/000002", supersedes=original)
    _learned(request, original, 1)
    _learned(request, _shipped(request, original, "0100"), 2)
    _learned(request, _delivered(request, original, "0100"), 3)
    assert request.status == RequestStatus.delivered

    _learned(request, corrected, 10)
    assert (request.status, request.document_number) == (RequestStatus.document_issued, corrected.document_number)
    _learned(request, _shipped(request, corrected, "0200"), 11)
    assert request.status == RequestStatus.shipped
    _learned(request, _delivered(request, corrected, "0200"), 12)
    assert request.status == RequestStatus.delivered

    notes = [entry.note for entry in request.history[-3:]]
    assert notes == [
        "Dokumen perbaikan terbit dengan nomor BIO/3602/2026/000002, menggantikan dokumen BIO/3602/2026/000001 "
        "yang tidak berlaku lagi.",
        "Dokumen perbaikan BIO/3602/2026/000002 dikirim melalui JNE, nomor resi 0200. Serahkan dokumen lama "
        "BIO/3602/2026/000001 kepada kurir.",
        "Dokumen perbaikan telah diterima oleh Ahmad Fauzi.",
    ]


def test_the_old_papers_parcel_moves_nothing_once_a_corrected_document_is_in_force() -> None:
    request = a_request(RequestStatus.approved)
    original = _issued(request, "BIO/3602/2026/000001")
    corrected = _issued(request, "BIO/3602/2026/000002", supersedes=original)
    _learned(request, original, 1)
    _learned(request, _shipped(request, original, "0100"), 2)
    _learned(request, corrected, 3)
    _learned(request, _shipped(request, corrected, "0200"), 4)
    _learned(request, _delivered(request, original, "0100"), 5)  # the old paper arrives: told, but not the end

    assert request.status == RequestStatus.shipped
    assert request.history[-1].status is None and "telah diterima" in request.history[-1].note
    _learned(request, corrected, 6)  # the corrected document's issue, delivered again: nothing goes back
    assert request.status == RequestStatus.shipped
