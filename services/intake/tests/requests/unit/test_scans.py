"""What the office takes as a scan, what a refusal says, and the name a scan is kept under."""

import uuid

import pytest

from dukcapil_intake.requests.domain.model import RequestRefused
from dukcapil_intake.requests.domain.scans import (
    FILENAME_MAX,
    JPEG,
    PDF,
    PNG,
    Finding,
    ScanLimits,
    ScanReport,
    accept_scan,
    check_scan_size,
    safe_filename,
)
from dukcapil_intake.requests.service_layer import handlers
from dukcapil_intake.requests.service_layer.repository import ConcurrentUpdate
from dukcapil_shared.contracts import AttachmentAdded, Person, RequestCancelled

from ...examples import pickup
from ...fakes import FakeFileStore, FakeRequestsUnitOfWork, FakeScanInspector

LIMITS = ScanLimits(max_bytes=1000, max_pixels=50_000_000, max_pages=50)
SITI = Person.model_validate(
    {"nik": "3602144107900001", "name": "Siti Aminah", "birth_date": "1990-07-01", "sex": "female"}
)
BIODATA = handlers.SubmitRequest(type="biodata_wni", applicant=SITI, details={}, delivery=pickup())


@pytest.mark.parametrize(
    ("sent", "content_type", "kept"),
    [
        ("../../../etc/passwd<script>.html", PDF, "passwd_script.pdf"),
        ("..\\..\\windows\\system32\\cmd.exe", PNG, "cmd.png"),
        (".htaccess", JPEG, "htaccess.jpg"),
        ("...", PDF, "scan.pdf"),
        ("", PDF, "scan.pdf"),
        (None, PDF, "scan.pdf"),
        ("scan.pdf.exe", PDF, "scan_pdf.pdf"),
        ("foto ktp.JPG", JPEG, "foto_ktp.jpg"),
        ("evil\u202egpj.exe", JPEG, "evilgpj.jpg"),
        ("tab\there\r\nnull\x00.pdf", PDF, "tabherenull.pdf"),
        ("Kartu Keluarga – Śiti.pdf", PDF, "Kartu_Keluarga_Śiti.pdf"),
        ("ｆｕｌｌｗｉｄｔｈ．ｐｄｆ", PDF, "fullwidth.pdf"),
        ("a" * 300 + ".pdf", PDF, "a" * FILENAME_MAX + ".pdf"),
        ("%2e%2e%2fetc", PDF, "2e_2e_2fetc.pdf"),
    ],
)
def test_a_kept_name_is_a_safe_base_name_with_the_extension_of_its_content(
    sent: str | None, content_type: str, kept: str
) -> None:
    assert safe_filename(sent, content_type) == kept
    assert safe_filename(kept, content_type) == kept, "making a kept name safe again changes nothing"


@pytest.mark.parametrize(
    ("report", "code", "fix"),
    [
        (ScanReport(Finding.not_a_scan), "attachment_type", "PDF, JPEG or PNG"),
        (ScanReport(Finding.unreadable, PDF), "scan_unreadable", "cannot be read as one"),
        (ScanReport(Finding.encrypted, PDF), "scan_encrypted", "without protection"),
        (
            ScanReport(Finding.too_many_pixels, PNG, width=60_000, height=60_000),
            "scan_too_many_pixels",
            "60,000×60,000",
        ),
        (ScanReport(Finding.too_many_pages, PDF, pages=51), "scan_too_many_pages", "51 pages; at most 50"),
        (ScanReport(Finding.too_slow, PDF), "scan_too_complex", "too long"),
    ],
)
def test_each_refusal_says_what_to_fix_in_english_and_indonesian(report: ScanReport, code: str, fix: str) -> None:
    with pytest.raises(RequestRefused) as refused:
        accept_scan(report, PDF, LIMITS)
    assert refused.value.code == code and refused.value.field == "file"
    assert fix in refused.value.message and refused.value.message_id


def test_a_readable_scan_is_taken_for_its_content_whatever_generic_type_the_client_sent() -> None:
    assert accept_scan(ScanReport(Finding.readable, PNG), None, LIMITS) == PNG
    assert accept_scan(ScanReport(Finding.readable, PNG), "application/octet-stream", LIMITS) == PNG
    with pytest.raises(RequestRefused) as refused:
        accept_scan(ScanReport(Finding.readable, PNG), PDF, LIMITS)
    assert refused.value.code == "attachment_type_mismatch"


def test_sizes() -> None:
    check_scan_size(1000, 1000)
    for size, code in ((0, "attachment_empty"), (1001, "attachment_too_large")):
        with pytest.raises(RequestRefused) as refused:
            check_scan_size(size, 1000)
        assert refused.value.code == code and refused.value.message_id


async def test_the_handler_keeps_nothing_the_inspector_refuses_and_keeps_the_rest_under_its_id() -> None:
    uow, files = FakeRequestsUnitOfWork(), FakeFileStore()
    request = await handlers.submit_request(BIODATA, uow=uow)

    async def attach(inspector: FakeScanInspector, name: str = "scan.pdf"):  # type: ignore[no-untyped-def]
        return await handlers.add_attachment(
            request.id, kind="surat_pengantar_rt_rw", filename=name, declared_type="application/pdf",
            content=b"%PDF-1.7 whatever", limits=LIMITS, uow=uow, files=files, scans=inspector,
        )  # fmt: skip

    refusing = FakeScanInspector(ScanReport(Finding.unreadable, PDF))
    with pytest.raises(RequestRefused):
        await attach(refusing)
    assert refusing.inspected == [(b"%PDF-1.7 whatever", LIMITS)] and files.files == {}
    attachment = await attach(FakeScanInspector(), name="../x/../../y.html")
    assert attachment.filename == "y.pdf" and list(files.files) == [str(attachment.id)]
    assert uuid.UUID(attachment.storage_key) == attachment.id


class RacingFileStore(FakeFileStore):
    """While a scan is being written, another stage's event changes the request, `races` times."""

    def __init__(self, uow: FakeRequestsUnitOfWork, races: int) -> None:
        super().__init__()
        self.uow, self.races = uow, races

    async def save(self, key: str, content: bytes) -> None:
        await super().save(key, content)
        if self.races:
            self.races -= 1
            for request in self.uow.requests.committed.values():
                request.version += 1


@pytest.mark.parametrize(("races", "attached"), [(1, True), (handlers.FRESH_STATE_ATTEMPTS - 1, True), (3, False)])
async def test_a_scan_is_attached_again_when_another_stage_changed_the_request_meanwhile(
    races: int, attached: bool
) -> None:
    uow = FakeRequestsUnitOfWork()
    request = await handlers.submit_request(BIODATA, uow=uow)
    files = RacingFileStore(uow, races)
    upload = handlers.add_attachment(
        request.id, kind="surat_pengantar_rt_rw", filename="scan.pdf", declared_type="application/pdf",
        content=b"%PDF-1.7", limits=LIMITS, uow=uow, files=files, scans=FakeScanInspector(),
    )  # fmt: skip
    if not attached:
        with pytest.raises(ConcurrentUpdate):
            await upload
        return
    attachment = await upload
    events = [event for event in uow.outbox.events if isinstance(event, AttachmentAdded)]
    assert [event.attachment.id for event in events] == [str(attachment.id)], "announced once"
    assert [item.id for item in (await handlers.get_request(request.id, uow=uow)).attachments] == [attachment.id]


async def test_a_cancellation_that_meets_another_stages_event_is_applied_on_the_request_as_it_is_now() -> None:
    uow = FakeRequestsUnitOfWork()
    request = await handlers.submit_request(BIODATA, uow=uow)
    save = uow.requests.save
    raced = []

    async def save_after_an_event(changed):  # type: ignore[no-untyped-def]
        if not raced:  # review.started was recorded just before this save
            raced.append(True)
            uow.requests.committed[changed.id].version += 1
        await save(changed)

    uow.requests.save = save_after_an_event  # type: ignore[method-assign]
    cancelled = await handlers.cancel_request(request.id, "keliru", uow=uow)
    assert raced and cancelled.status.value == "cancelled"
    assert sum(isinstance(event, RequestCancelled) for event in uow.outbox.events) == 1, "announced once"


async def test_a_scan_for_the_request_the_caller_opened_is_attached_without_loading_it_again() -> None:
    uow, files = FakeRequestsUnitOfWork(), FakeFileStore()
    request = await handlers.submit_request(BIODATA, uow=uow)
    opened = await handlers.get_request(request.id, uow=uow)  # as the citizen's access code opened it
    loads = []
    get = uow.requests.get

    async def counted_get(request_id):  # type: ignore[no-untyped-def]
        loads.append(request_id)
        return await get(request_id)

    uow.requests.get = counted_get  # type: ignore[method-assign]
    attachment = await handlers.add_attachment(
        request.id, opened=opened, kind="surat_pengantar_rt_rw", filename="scan.pdf", declared_type="application/pdf",
        content=b"%PDF-1.7", limits=LIMITS, uow=uow, files=files, scans=FakeScanInspector(),
    )  # fmt: skip
    assert loads == [], "the opened request was changed and saved as it was"
    assert [item.id for item in uow.requests.committed[request.id].attachments] == [attachment.id]


async def test_a_request_opened_before_another_stage_changed_it_gets_its_scan_on_the_request_as_it_is_now() -> None:
    uow, files = FakeRequestsUnitOfWork(), FakeFileStore()
    request = await handlers.submit_request(BIODATA, uow=uow)
    opened = await handlers.get_request(request.id, uow=uow)
    # Meanwhile another scan was attached: the opened copy no longer is the request as it is.
    first = await handlers.add_attachment(
        request.id, kind="surat_pengantar_rt_rw", filename="a.pdf", declared_type="application/pdf",
        content=b"%PDF-1.7 a", limits=LIMITS, uow=uow, files=files, scans=FakeScanInspector(),
    )  # fmt: skip
    second = await handlers.add_attachment(
        request.id, opened=opened, kind="surat_pengantar_rt_rw", filename="b.pdf", declared_type="application/pdf",
        content=b"%PDF-1.7 b", limits=LIMITS, uow=uow, files=files, scans=FakeScanInspector(),
    )  # fmt: skip
    kept = uow.requests.committed[request.id]
    assert [item.id for item in kept.attachments] == [first.id, second.id], "the change made meanwhile is kept"
    announced = [event.attachment.id for event in uow.outbox.events if isinstance(event, AttachmentAdded)]
    assert announced == [str(first.id), str(second.id)], "each announced once"
