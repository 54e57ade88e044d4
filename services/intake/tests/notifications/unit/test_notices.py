"""Which steps the citizen hears about, and what the notices say: Indonesian, short SMS, no NIK, no address."""

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from dukcapil_intake.notifications.domain.notices import (
    TEMPLATES,
    access_code_notice,
    long_date,
    notice_for,
    short_date,
)
from dukcapil_intake.notifications.domain.notifications import (
    Channel,
    Contact,
    Notification,
    NotificationStatus,
    RetrySchedule,
    email_address,
    mask_recipient,
    mobile_number,
)
from dukcapil_intake.requests.domain.access_codes import AccessCodes
from dukcapil_intake.requests.domain.catalogue import SERVICES
from dukcapil_intake.requests.domain.model import RequestStatus, ServiceRequest
from dukcapil_shared.contracts import (
    AttachmentAdded,
    AttachmentRef,
    Delivery,
    DeliveryFailed,
    DocumentCollected,
    DocumentIssued,
    DocumentRevoked,
    Event,
    InformationRequested,
    Person,
    ReadyForPickup,
    RecordingBooked,
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
from dukcapil_shared.contracts.details import typed_details
from dukcapil_shared.contracts.regions import lebak_kecamatan

from ...examples import pickup

NIK = "3602144107900001"
MEMBER_NIK = "3602140101100002"
KK_NUMBER = "3602141203150007"
ADDRESS = {
    "street": "Jl. Multatuli No. 12, Kampung Muara",
    "rt": "003",
    "rw": "005",
    "village_code": "36.02.14.1001",
    "kecamatan_code": "36.02.14",
    "postal_code": "42311",
}
COURIER = Delivery.model_validate(
    {"method": "courier", "phone": "0812-3456-7890", "email": "siti@example.com", "address": ADDRESS}
)
APPLICANT = Person(nik=NIK, name="Siti Aminah")
MEMBER = {"nik": MEMBER_NIK, "name": "Budi"}
DETAILS = {
    "kartu_keluarga": {"reason": "add_member", "kk_number": KK_NUMBER, "members": [MEMBER]},
    "akta_kematian": {
        "deceased": MEMBER,
        "date_of_death": "2026-11-20",
        "place_of_death": "Kampung Muara",
        "reporter_relation": "istri",
        "witnesses": [{"nik": "3602141111800004", "name": "Dedi"}, {"nik": "3602142010820006", "name": "Euis"}],
    },
    "surat_pindah": {
        "origin": ADDRESS,
        "destination": {"street": "Jl. Raya Serang No. 5", "kecamatan_code": "36.04.05"},
        "reason": "pekerjaan",
        "moving_members": [NIK, MEMBER_NIK],
    },
    "biodata_wni": {"person_nik": MEMBER_NIK},
}
"""Details of each type that name the people, numbers and places no notice may carry."""
ONLINE = [code for code, service in SERVICES.items() if service.online]
LONGEST_OFFICE = max((k.office for k in lebak_kecamatan().values()), key=len)
T0 = datetime(2026, 11, 30, 7, 5, tzinfo=UTC)


# The longest document numbers there are (SKPWNI is the longest code).
OLD_DOCUMENT, NEW_DOCUMENT = "SKPWNI/3602/2026/000001", "SKPWNI/3602/2026/000002"


def a_request(request_type: str = "kartu_keluarga", delivery: Delivery | None = None) -> ServiceRequest:
    return ServiceRequest(
        id=uuid.uuid4(),
        number="360214-20261130-0007",
        type=request_type,
        applicant=APPLICANT,
        details=typed_details(DETAILS[request_type], request_type),
        delivery=delivery or COURIER,
        kecamatan_code="36.02.14",
        channel="online",
        status=RequestStatus.submitted,
        submitted_at=T0,
        updated_at=T0,
    )


def notable_events(request: ServiceRequest) -> dict[str, Event]:
    rid, shipment = request.id, uuid.uuid4()
    return {
        "received": RequestSubmitted(
            request_id=rid,
            request_number=request.number,
            request_type=request.type,
            applicant=request.applicant,
            details=request.details,
            delivery=request.delivery,
            kecamatan_code="36.02.14",
            channel="online",
        ),
        "information_needed": InformationRequested(
            request_id=rid,
            reviewer="rina",
            reason=f"Scan KK nomor {KK_NUMBER} buram",
            missing_items=["kk_lama", "akta_kelahiran"],
        ),
        "approved": RequestApproved(
            request_id=rid,
            request_number=request.number,
            request_type=request.type,
            applicant=request.applicant,
            details=request.details,
            delivery=request.delivery,
            kecamatan_code="36.02.14",
            reviewer="rina",
        ),
        "rejected": RequestRejected(request_id=rid, reviewer="rina", reason="Anggota baru sudah terdaftar di KK lain."),
        "shipped": ShipmentCreated(
            request_id=rid, shipment_id=shipment, courier="JNE", service="REG", airway_bill="0112345678901234"
        ),
        "delivered": ShipmentDelivered(
            request_id=rid,
            shipment_id=shipment,
            airway_bill="0112345678901234",
            receiver_name="Siti Aminah",
            delivered_at=T0,
        ),
        "ready_for_pickup": ReadyForPickup(
            request_id=rid,
            shipment_id=shipment,
            kecamatan_code="36.02.14",
            office_name=LONGEST_OFFICE,
            reason="delivery_failed",
        ),
        "document_corrected": DocumentRevoked(
            request_id=rid,
            document_id=uuid.uuid4(),
            document_number=OLD_DOCUMENT,
            reason=f"Salah tulis NIK {MEMBER_NIK}",
            revoked_by="kabid.capil",
            superseded_by=uuid.uuid4(),
        ),
        "document_revoked": DocumentRevoked(
            request_id=rid,
            document_id=uuid.uuid4(),
            document_number=OLD_DOCUMENT,
            reason="Diterbitkan atas data yang keliru",
            revoked_by="kabid.capil",
        ),
        "correction_shipped": ShipmentCreated(
            request_id=rid,
            shipment_id=shipment,
            courier="JNE",
            service="REG",
            airway_bill="0112345678901235",
            document_number=NEW_DOCUMENT,
            replaces_document_number=OLD_DOCUMENT,
        ),
        "correction_ready_for_pickup": ReadyForPickup(
            request_id=rid,
            shipment_id=shipment,
            kecamatan_code="36.02.14",
            office_name=LONGEST_OFFICE,
            reason="delivery_failed",
            document_number=NEW_DOCUMENT,
            replaces_document_number=OLD_DOCUMENT,
        ),
        "recording_booked": RecordingBooked(
            request_id=uuid.uuid4(),
            booking_number="REK-360214-20261130-040",
            applicant=APPLICANT,
            kecamatan_code="36.02.14",
            office_name=LONGEST_OFFICE,
            appointment_date=date(2026, 11, 30),
            queue_number=40,
        ),
    }


def quiet_events(request: ServiceRequest) -> list[Event]:
    rid, shipment, document = request.id, uuid.uuid4(), uuid.uuid4()
    return [
        AttachmentAdded(
            request_id=rid,
            attachment=AttachmentRef(id="a", kind="kk_lama", content_type="application/pdf", size=1, sha256="0" * 64),
        ),
        ReviewStarted(request_id=rid),
        ReviewClaimed(request_id=rid, reviewer="rina", expires_at=T0 + timedelta(hours=1)),
        RequestResubmitted(request_id=rid, request_type=request.type, details=request.details),
        RequestCancelled(request_id=rid, reason="salah isi"),
        DocumentIssued(
            request_id=rid,
            document_id=document,
            document_number="KK/3602/2026/000001",
            request_type=request.type,
            checksum_sha256="0" * 64,
            applicant=APPLICANT,
            delivery=COURIER,
            kecamatan_code="36.02.14",
        ),
        ShipmentStatusChanged(
            request_id=rid,
            shipment_id=shipment,
            airway_bill="1",
            status="in_transit",
            description="Dalam perjalanan",
            occurred_at=T0,
        ),
        ShipmentFlagged(request_id=rid, reason="stuck_in_transit", detail="no change for 5 days"),
        DeliveryFailed(request_id=rid, shipment_id=shipment, airway_bill="1", reason="alamat tidak ditemukan"),
        DocumentCollected(
            request_id=rid,
            shipment_id=shipment,
            collector_name="Siti",
            collector_nik=NIK,
            collected_on=date(2026, 12, 1),
            operator="op",
        ),
    ]


def test_each_step_that_matters_has_its_notice_and_the_others_none() -> None:
    request = a_request()
    for kind, event in notable_events(request).items():
        notice = notice_for(event, request)
        assert notice is not None and notice.kind == kind
    # The code is sent again on asking; a follow-on draft's offer follows the draft, not a step (follow_ons).
    assert set(TEMPLATES) == set(notable_events(request)) | {"access_code", "follow_on_offered"}
    for event in quiet_events(request):
        assert notice_for(event, request) is None, event.routing_key()


def test_the_access_code_is_a_placeholder_until_the_notice_is_sent() -> None:
    request = a_request()
    codes = AccessCodes(b"access-code-key-for-the-tests")
    code = str(codes.of(request.id, request.access_code_version))
    for notice in (notice_for(notable_events(request)["received"], request), access_code_notice(request)):
        assert notice is not None
        for notification in notice.notifications(
            Contact(phone="6281234567890", email="siti@example.com"),
            request_id=request.id,
            event_id="e",
            now=datetime(2026, 12, 1, tzinfo=UTC),
        ):
            assert code not in notification.body and "[[kode-akses:1]]" in notification.body
            sent = codes.fill(notification.body, request.id)
            assert code in sent and "[[" not in sent
            if notification.channel.value == "sms":
                assert len(sent) <= 160, "one SMS segment"


def test_notices_are_in_indonesian_and_carry_what_the_step_needs() -> None:
    request = a_request()
    notices = {kind: notice_for(event, request) for kind, event in notable_events(request).items()}
    for notice in notices.values():
        assert notice is not None
        assert notice.sms.startswith("Disdukcapil Lebak: ")
        assert notice.email.startswith("Yth. Bapak/Ibu,")
        assert "Dinas Kependudukan dan Pencatatan Sipil Kabupaten Lebak" in notice.email
    assert "360214-20261130-0007" in notices["received"].sms and "diterima" in notices["received"].subject
    assert "Kartu Keluarga (KK)" in notices["received"].email
    needed = notices["information_needed"]
    assert "perlu dilengkapi" in needed.sms and "Kartu Keluarga lama" in needed.sms
    assert "- Akta kelahiran anggota baru" in needed.email and "buram" in needed.email
    assert "DISETUJUI" in notices["approved"].sms and "nomor resi" in notices["approved"].email
    assert "DITOLAK" in notices["rejected"].sms and "Alasan: Anggota baru sudah terdaftar di KK lain." in (
        notices["rejected"].email
    )
    assert "0112345678901234" in notices["shipped"].sms and "JNE" in notices["shipped"].subject + notices["shipped"].sms
    assert "Siti Aminah" in notices["delivered"].sms
    assert "Senin, 30 November 2026 pukul 14.05 WIB" in notices["delivered"].email
    ready = notices["ready_for_pickup"]
    assert LONGEST_OFFICE in ready.sms and "Pengiriman gagal" in ready.sms and "KTP-el" in ready.email
    booked = notices["recording_booked"]
    assert "Sen 30 Nov 2026" in booked.sms and "antrean no. 40" in booked.sms and LONGEST_OFFICE in booked.sms
    assert "Senin, 30 November 2026" in booked.subject and "Nomor antrean: 40" in booked.email
    assert "- Kartu Keluarga (asli atau fotokopi)" in booked.email and "/ the family card" not in booked.email


def test_pickup_requests_are_told_to_wait_for_the_office_not_for_a_courier() -> None:
    request = a_request(delivery=pickup(phone="081234567890"))
    approved = notice_for(notable_events(request)["approved"], request)
    assert approved is not None and "siap diambil" in approved.sms and "resi" not in approved.sms
    chosen = ReadyForPickup(
        request_id=request.id, shipment_id=uuid.uuid4(), kecamatan_code="36.02.14", office_name="X", reason="chosen"
    )
    ready = notice_for(chosen, request)
    assert ready is not None and "gagal" not in ready.sms + ready.email


@pytest.mark.parametrize("request_type", ONLINE)
def test_notices_never_carry_a_nik_nor_the_address(request_type: str) -> None:
    request = a_request(request_type)
    for event in notable_events(request).values():
        notice = notice_for(event, request)
        assert notice is not None
        text = "\n".join((notice.sms, notice.subject, notice.email))
        for secret in (NIK, MEMBER_NIK, KK_NUMBER, "Multatuli", "Kampung Muara", "42311", "RT 003", "36.02.14.1001"):
            assert secret not in text, (notice.kind, secret)
    needed = notice_for(notable_events(request)["information_needed"], request)
    assert needed is not None and "360214******0007" in needed.email


@pytest.mark.parametrize("request_type", ONLINE)
def test_sms_fit_one_segment_and_quoted_free_text_at_most_two(request_type: str) -> None:
    request = a_request(request_type)
    for event in notable_events(request).values():
        notice = notice_for(event, request)
        assert notice is not None
        limit = 306 if notice.kind in {"information_needed", "rejected"} else 160
        assert len(notice.sms) <= limit, (notice.kind, len(notice.sms), notice.sms)
        assert notice.sms.isascii(), notice.sms
    long_winded = InformationRequested(
        request_id=request.id, reviewer="rina", reason="x" * 400, missing_items=list(_every_attachment_kind())
    )
    notice = notice_for(long_winded, request)
    assert notice is not None and len(notice.sms) <= 306 and "..." in notice.sms and "...." not in notice.sms
    rejected = notice_for(RequestRejected(request_id=request.id, reviewer="r", reason="y" * 400), request)
    assert rejected is not None and len(rejected.sms) <= 306
    delivered = notable_events(request)["delivered"].model_copy(update={"receiver_name": "z" * 200})
    notice = notice_for(delivered, request)
    assert notice is not None and len(notice.sms) <= 160


def _every_attachment_kind() -> list[str]:
    from dukcapil_intake.requests.domain.catalogue import ATTACHMENT_KINDS

    return list(ATTACHMENT_KINDS)


def test_an_event_about_a_request_intake_does_not_have_has_no_notice() -> None:
    request = a_request()
    assert notice_for(notable_events(request)["approved"], None) is None
    assert notice_for(notable_events(request)["recording_booked"], None) is not None


@pytest.mark.parametrize(
    ("phone", "expected"),
    [
        ("081234567890", "6281234567890"),
        ("+62 812-3456-7890", "6281234567890"),
        ("6285712345678", "6285712345678"),
        ("(0252) 201234", None),
        ("0812", None),
        ("", None),
        (None, None),
    ],
)
def test_sms_go_to_indonesian_mobile_numbers_only(phone: str | None, expected: str | None) -> None:
    assert mobile_number(phone) == expected


def test_a_contact_gives_the_channels_it_can_and_none_without_one() -> None:
    assert Contact.of(COURIER).channels == {Channel.email: "siti@example.com", Channel.sms: "6281234567890"}
    assert Contact.of(pickup(phone="081234567890")).channels == {Channel.sms: "6281234567890"}
    spaced = Contact.of(pickup(email=" siti@example.com "))
    assert spaced.channels == {Channel.email: "siti@example.com"}
    assert Contact.of(pickup()).channels == {}
    assert Contact(email="not-an-address", phone="(0252) 201234").channels == {}
    assert email_address("a@b") is None and email_address("a b@c.id") is None


def test_recipients_are_masked_for_staff() -> None:
    assert mask_recipient(Channel.email, "siti.aminah@example.com") == "s***@example.com"
    assert mask_recipient(Channel.sms, "6281234567890") == "62812*****890"


def test_retries_wait_longer_each_time_then_give_up() -> None:
    schedule = RetrySchedule((10, 60, 300, 1800))
    waits = [schedule.after_failure(attempt, T0) for attempt in range(1, 6)]
    assert waits == [T0 + timedelta(seconds=s) for s in (10, 60, 300, 1800)] + [None]
    assert schedule.max_attempts == 5


def test_a_notification_records_each_attempt() -> None:
    notification = Notification(
        id=uuid.uuid4(), request_id=uuid.uuid4(), event_id="e", kind="received", channel=Channel.sms,
        recipient="6281234567890", subject=None, body="b", created_at=T0, next_attempt_at=T0,
    )  # fmt: skip
    schedule = RetrySchedule((10,))
    notification.start_attempt(T0 + timedelta(minutes=2))
    notification.failed("ConnectError", T0, schedule)
    assert (notification.status, notification.attempts) == (NotificationStatus.pending, 1)
    assert notification.next_attempt_at == T0 + timedelta(seconds=10)
    notification.start_attempt(T0 + timedelta(minutes=2))
    notification.failed("ConnectError", T0, schedule)
    assert notification.status == NotificationStatus.failed and notification.last_error == "ConnectError"
    assert long_date(date(2026, 8, 17)) == "Senin, 17 Agustus 2026"
    assert short_date(date(2026, 8, 17)) == "Sen 17 Agu 2026"


def test_a_correction_tells_the_holder_the_old_paper_is_no_longer_in_force_and_where_to_hand_it_over() -> None:
    by_courier = a_request()
    events = notable_events(by_courier)
    corrected = notice_for(events["document_corrected"], by_courier)
    assert corrected is not None
    assert OLD_DOCUMENT in corrected.sms and "tidak berlaku lagi" in corrected.sms and "kurir" in corrected.sms
    assert "kode QR" in corrected.email and "Salah tulis NIK 360214******0002" in corrected.email
    shipped = notice_for(events["correction_shipped"], by_courier)
    assert shipped is not None and "Dokumen perbaikan" in shipped.sms and "0112345678901235" in shipped.sms
    assert f"Dokumen lama {OLD_DOCUMENT} tidak berlaku lagi: serahkan kepada kurir" in shipped.email
    assert NEW_DOCUMENT in shipped.email

    at_the_office = a_request(delivery=pickup(phone="081234567890"))
    corrected = notice_for(notable_events(at_the_office)["document_corrected"], at_the_office)
    assert corrected is not None and "saat mengambil" in corrected.sms and "kurir" not in corrected.sms
    ready = notice_for(notable_events(at_the_office)["correction_ready_for_pickup"], at_the_office)
    assert ready is not None and "dokumen lama" in ready.sms and f"dokumen lama {OLD_DOCUMENT}" in ready.email


def test_a_revocation_without_a_replacement_tells_the_holder_too() -> None:
    request = a_request()
    revoked = notice_for(notable_events(request)["document_revoked"], request)
    assert revoked is not None and "DICABUT" in revoked.sms and OLD_DOCUMENT in revoked.subject
    assert "Alasan: Diterbitkan atas data yang keliru." in revoked.email and "kantor kecamatan" in revoked.email
