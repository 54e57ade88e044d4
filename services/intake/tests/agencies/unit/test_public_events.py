"""What agencies learn of a request: derived from the issued or revoked document, minimised, masked on
dukcapil.public, and logged in the same transaction as the citizen's history."""

import re
import uuid
from datetime import UTC, date, datetime

import pytest

from dukcapil_intake.agencies.domain.public_events import PublicEventNotDerivable, public_events_for
from dukcapil_intake.requests.domain.model import RequestStatus, ServiceRequest
from dukcapil_intake.requests.service_layer import handlers
from dukcapil_shared.contracts import Delivery, DocumentIssued, DocumentRevoked, Envelope, ReviewStarted
from dukcapil_shared.contracts.details import typed_details
from dukcapil_shared.contracts.public import (
    BiodataIssued,
    DeathRegistered,
    FamilyCardIssued,
    PublicDocumentRevoked,
    ResidenceMoved,
)
from dukcapil_shared.messaging import PermanentFailure

from ...examples import pickup
from ...fakes import FakeRequestsUnitOfWork
from ...requests.unit.test_validation import SITI, WITNESSES, death, move

SIXTEEN_DIGITS = re.compile(r"(?<!\d)\d{16}(?!\d)")
T0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
COURIER = Delivery.model_validate(
    {
        "method": "courier",
        "recipient_name": "Siti Aminah",
        "phone": "081234567890",
        "email": "siti@example.id",
        "address": {"street": "Jl. Multatuli No. 12", "rt": "002", "rw": "005", "kecamatan_code": "36.02.14"},
    }
)
FAMILY = {
    "reason": "add_member",
    "kk_number": "3602141202100005",
    "members": [{"nik": "3602145003240001", "name": "Nur Aisyah", "relation": "anak", "birth_date": "2024-03-10"}],
}
PERSONAL = ["Siti Aminah", "Sarmadi", "Dedi", "Euis", "081234567890", "siti@example.id", "Multatuli", "Adjidarmo"]


def a_request(request_type: str, details: dict) -> ServiceRequest:
    return ServiceRequest(
        id=uuid.uuid4(),
        number="360214-20261128-0001",
        type=request_type,
        applicant=SITI,
        details=typed_details(details, request_type),
        delivery=COURIER,
        kecamatan_code="36.02.14",
        channel="online",
        status=RequestStatus.approved,
        submitted_at=T0,
        updated_at=T0,
    )


def issued(request: ServiceRequest, number: str, details: dict | None = None) -> DocumentIssued:
    return DocumentIssued(
        request_id=request.id,
        document_id=uuid.uuid4(),
        document_number=number,
        request_type=request.type,
        checksum_sha256="0" * 64,
        applicant=SITI,
        delivery=COURIER,
        kecamatan_code=request.kecamatan_code,
        details=details,
    )


def derive(event, request: ServiceRequest):  # type: ignore[no-untyped-def]
    envelope = Envelope.wrap(event, source="/test", time=T0)
    return public_events_for(event, envelope, request), envelope


def wire(record, *, identified: bool) -> str:  # type: ignore[no-untyped-def]
    return record.event.envelope(event_id=record.id, time=record.occurred_at, identified=identified).to_json().decode()


def test_a_registered_death_tells_agencies_the_document_the_deceased_and_the_day_and_nothing_personal() -> None:
    request = a_request("akta_kematian", death(cause_category="sakit"))
    [record], envelope = derive(issued(request, "AKM/3602/2026/000001"), request)
    assert record.event == DeathRegistered(
        document_number="AKM/3602/2026/000001",
        region_code="36.02.14",
        deceased_nik="3602140101500002",
        date_of_death="2026-11-20",
    )
    assert record.event.routing_key() == "death.registered.v1.36.02.14"
    assert record.occurred_at == envelope.time and record.request_id == request.id
    masked, identified = wire(record, identified=False), wire(record, identified=True)
    for text in (masked, identified):
        assert not [word for word in PERSONAL if word in text], text
        assert "sakit" not in text and str(request.id) not in text, "no cause of death, no internal request id"
    assert not SIXTEEN_DIGITS.search(masked)
    assert "360214******0002" in masked
    assert "3602140101500002" in identified


def test_each_document_type_becomes_its_own_public_event() -> None:
    family = a_request("kartu_keluarga", FAMILY)
    [record], _ = derive(issued(family, "KK/3602/2026/000001"), family)
    assert isinstance(record.event, FamilyCardIssued)
    assert record.event.reason == "add_member" and record.event.previous_kk_number == "3602141202100005"
    assert [(m.nik, m.relation) for m in record.event.members] == [("3602145003240001", "anak")]
    assert "Nur Aisyah" not in wire(record, identified=True) and "2024-03-10" not in wire(record, identified=True)
    assert "360214******0005" in wire(record, identified=False)

    moving = a_request("surat_pindah", move(moving_members=["3602031503920007", "3602035107950002"]))
    [record], _ = derive(issued(moving, "SKPWNI/3602/2026/000001"), moving)
    assert record.event == ResidenceMoved(
        document_number="SKPWNI/3602/2026/000001",
        region_code="36.02.14",
        origin_kecamatan_code="36.02.03",
        destination_kecamatan_code="36.04.05",
        people_count=2,
        mover_niks=["3602031503920007", "3602035107950002"],
    )
    assert "Sawarna" not in wire(record, identified=True) and "36.02.03.2002" not in wire(record, identified=True)

    biodata = a_request("biodata_wni", {})
    [record], _ = derive(issued(biodata, "BIO/3602/2026/000001"), biodata)
    assert record.event == BiodataIssued(
        document_number="BIO/3602/2026/000001", region_code="36.02.14", person_nik=SITI.nik
    )


def test_a_corrected_document_is_announced_with_its_corrected_details() -> None:
    request = a_request("akta_kematian", death())
    corrected = death(date_of_death="2026-11-19")
    [record], _ = derive(issued(request, "AKM/3602/2026/000002", details=corrected), request)
    assert record.event.date_of_death.isoformat() == "2026-11-19"


def test_a_revocation_names_the_document_and_whether_a_correction_replaces_it() -> None:
    request = a_request("akta_kematian", death())
    revoked = DocumentRevoked(
        request_id=request.id,
        document_id=uuid.uuid4(),
        document_number="AKM/3602/2026/000001",
        reason="Salah tulis tanggal kematian (NIK 3602140101500002)",
        revoked_by="Kabid Capil",
        superseded_by=uuid.uuid4(),
    )
    [record], _ = derive(revoked, request)
    assert record.event == PublicDocumentRevoked(
        document_number="AKM/3602/2026/000001",
        region_code="36.02.14",
        revoked_event_type="death.registered.v1",
        corrected=True,
    )
    text = wire(record, identified=True)
    assert "Salah tulis" not in text and "Kabid" not in text, "the free-text reason and the official stay inside"


def test_other_steps_tell_agencies_nothing_and_ids_are_stable() -> None:
    request = a_request("akta_kematian", death())
    assert derive(ReviewStarted(request_id=request.id), request)[0] == []
    event = issued(request, "AKM/3602/2026/000001")
    envelope = Envelope.wrap(event, source="/test")
    first, second = public_events_for(event, envelope, request), public_events_for(event, envelope, request)
    assert first[0].id == second[0].id, "deriving twice from one lifecycle event gives the same public event"


def a_mislabelled_request() -> ServiceRequest:
    """A hand-edited row: a death registration holding a family card's details."""
    request = a_request("kartu_keluarga", FAMILY)
    request.type = "akta_kematian"
    return request


def test_a_request_missing_what_the_event_needs_is_not_derivable() -> None:
    request = a_mislabelled_request()
    with pytest.raises(PublicEventNotDerivable) as refused:
        derive(issued(request, "AKM/3602/2026/000001"), request)
    assert "Nur Aisyah" not in str(refused.value) and "3602145003240001" not in str(refused.value)


async def record(uow: FakeRequestsUnitOfWork, event) -> None:  # type: ignore[no-untyped-def]
    async with uow:
        await handlers.record_lifecycle_event(uow, event, Envelope.wrap(event, source="/test"))
        await uow.commit()


async def test_the_public_event_is_logged_in_the_same_commit_as_the_history() -> None:
    uow = FakeRequestsUnitOfWork(notify=False)
    request = await handlers.submit_request(
        handlers.SubmitRequest(
            type="akta_kematian",
            applicant=SITI,
            details=death(witnesses=WITNESSES),
            delivery=pickup(),
        ),
        uow=uow,
        today=date(2026, 11, 28),
    )
    commits = uow.commits
    await record(uow, issued(request, "AKM/3602/2026/000001"))
    assert uow.commits == commits + 1
    assert uow.status_of(request.id) == RequestStatus.document_issued
    [event] = uow.agency_log.public_events.events
    assert isinstance(event, DeathRegistered) and event.document_number == "AKM/3602/2026/000001"


async def test_an_underivable_public_event_parks_the_lifecycle_event_and_leaves_nothing_behind() -> None:
    uow = FakeRequestsUnitOfWork()
    request = a_mislabelled_request()
    request.record(
        event_id=str(uuid.uuid4()), event_type="request.submitted.v1", stage="intake", occurred_at=T0, note="n",
        moves_to=RequestStatus.submitted,
    )  # fmt: skip
    async with uow:
        await uow.requests.add(request)
        await uow.commit()
    with pytest.raises(PermanentFailure):
        await record(uow, issued(request, "AKM/3602/2026/000001"))
    assert uow.agency_log.public_events.events == []
    assert len(uow.requests.committed[request.id].history) == 1
