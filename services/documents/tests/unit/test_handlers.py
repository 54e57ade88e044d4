import uuid

import pytest

from dukcapil_documents.entrypoints.consumers import subscriptions
from dukcapil_documents.service_layer import handlers
from dukcapil_shared.contracts import DocumentIssued, Envelope, RequestApproved
from dukcapil_shared.messaging import PermanentFailure

from ..fakes import FakeDocumentsUnitOfWork, FakeRenderer, FakeStorage

BASE_URL = "https://dukcapil.lebakkab.go.id"
APPLICANT = {"nik": "3602144107900001", "name": "Siti Aminah", "birth_date": "1990-07-01", "sex": "female"}
PICKUP = {"method": "pickup", "pickup_kecamatan_code": "36.02.14"}


def approval(request_type: str = "kartu_keluarga", request_id: uuid.UUID | None = None) -> RequestApproved:
    return RequestApproved(
        request_id=request_id or uuid.uuid4(), request_number="360214-20261128-0007", request_type=request_type,
        applicant=APPLICANT, details={"reason": "pisah KK"}, delivery=PICKUP, kecamatan_code="36.02.14",
        reviewer="rina",
    )  # fmt: skip


async def deliver(
    uow: FakeDocumentsUnitOfWork, event: RequestApproved, storage: FakeStorage, renderer: FakeRenderer | None = None
) -> None:
    """As the consumer does: the handler and the commit in one unit of work, rolled back on failure."""
    async with uow:
        await handlers.issue_document(
            uow,
            event,
            Envelope.wrap(event, source="/test", traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
            renderer=renderer or FakeRenderer(),
            storage=storage,
            public_base_url=BASE_URL,
        )
        await uow.commit()


async def test_an_approval_issues_a_stored_document_and_announces_it_in_one_commit() -> None:
    uow, storage = FakeDocumentsUnitOfWork(), FakeStorage()
    event = approval()
    await deliver(uow, event, storage)

    [document] = uow.issued
    assert document.request_id == event.request_id
    assert document.number.startswith("KK/3602/") and document.number.endswith("/000001")
    assert storage.files == {f"{event.request_id}.pdf": storage.files[document.storage_key]}
    assert document.matches(storage.files[document.storage_key])
    [issued] = uow.outbox.events
    assert isinstance(issued, DocumentIssued)
    assert (issued.request_id, issued.document_id, issued.document_number) == (
        event.request_id, document.id, document.number,
    )  # fmt: skip
    assert issued.checksum_sha256 == document.checksum_sha256
    assert (issued.applicant, issued.delivery, issued.kecamatan_code) == (
        event.applicant, event.delivery, event.kecamatan_code,
    )  # fmt: skip
    assert uow.outbox.committed[0].traceparent == "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


async def test_a_redelivered_approval_issues_nothing_more() -> None:
    uow, storage, renderer = FakeDocumentsUnitOfWork(), FakeStorage(), FakeRenderer()
    event = approval()
    await deliver(uow, event, storage, renderer)
    first = dict(storage.files)
    await deliver(uow, event, storage, renderer)
    await deliver(uow, approval(request_id=event.request_id), storage, renderer)

    assert len(uow.issued) == 1
    assert len(uow.outbox.events) == 1
    assert len(renderer.rendered) == 1
    assert storage.files == first


async def test_numbers_count_up_per_document_type() -> None:
    uow, storage = FakeDocumentsUnitOfWork(), FakeStorage()
    for request_type in ("kartu_keluarga", "kartu_keluarga", "akta_kematian", "kartu_keluarga", "biodata_wni"):
        await deliver(uow, approval(request_type), storage)
    numbers = sorted(document.number.split("/")[0] + "#" + document.number[-6:] for document in uow.issued)
    assert numbers == ["AKM#000001", "BIO#000001", "KK#000001", "KK#000002", "KK#000003"]


async def test_a_failed_issue_leaves_nothing_and_burns_no_number() -> None:
    uow = FakeDocumentsUnitOfWork()
    event = approval()
    with pytest.raises(OSError):
        await deliver(uow, event, FakeStorage(fail=True))
    assert uow.issued == [] and uow.outbox.events == []

    await deliver(uow, event, FakeStorage())
    [document] = uow.issued
    assert document.number.endswith("/000001")


async def test_an_approval_for_a_type_never_issued_here_is_a_permanent_failure() -> None:
    uow = FakeDocumentsUnitOfWork()
    with pytest.raises(PermanentFailure):
        await deliver(uow, approval("ktp_el"), FakeStorage())
    assert uow.issued == [] and uow.outbox.events == []


async def test_the_approvals_subscription_wires_the_handler_with_its_adapters() -> None:
    uow, storage, renderer = FakeDocumentsUnitOfWork(), FakeStorage(), FakeRenderer()
    [subscription] = subscriptions(renderer=renderer, storage=storage, public_base_url=BASE_URL)
    assert subscription.name == "approvals"
    assert subscription.routing_keys == ["request.approved.v1"]
    event = approval("surat_pindah")
    async with uow:
        await subscription.handlers[RequestApproved](uow, event, Envelope.wrap(event, source="/test"))
        await uow.commit()
    [document] = uow.issued
    assert renderer.rendered == [(document.number, f"{BASE_URL}/verify/{document.verification_token}")]


async def test_the_qr_code_verifies_the_document_with_the_holder_masked() -> None:
    uow, storage = FakeDocumentsUnitOfWork(), FakeStorage()
    await deliver(uow, approval("akta_kematian"), storage)
    [document] = uow.issued

    verification = await handlers.verify_document(document.verification_token, uow=uow)
    assert verification.genuine and verification.status == "valid"
    assert verification.document_number == document.number
    assert verification.document_type == "akta_kematian"
    assert (verification.holder_name_masked, verification.nik_masked) == ("S*** A*****", "360214******0001")

    with pytest.raises(handlers.UnknownVerificationToken):
        await handlers.verify_document("forged-token", uow=uow)


async def test_the_file_is_handed_out_only_as_issued() -> None:
    uow, storage = FakeDocumentsUnitOfWork(), FakeStorage()
    await deliver(uow, approval(), storage)
    [document] = uow.issued

    found, content = await handlers.get_document_file(document.id, uow=uow, storage=storage)
    assert found.id == document.id and content == storage.files[document.storage_key]

    storage.files[document.storage_key] += b"tampered"
    with pytest.raises(handlers.DocumentFileUnavailable, match="checksum"):
        await handlers.get_document_file(document.id, uow=uow, storage=storage)
    del storage.files[document.storage_key]
    with pytest.raises(handlers.DocumentFileUnavailable, match="missing"):
        await handlers.get_document_file(document.id, uow=uow, storage=storage)
    with pytest.raises(handlers.DocumentNotFound):
        await handlers.get_document_file(uuid.uuid4(), uow=uow, storage=storage)


async def test_documents_are_listed_by_request() -> None:
    uow, storage = FakeDocumentsUnitOfWork(), FakeStorage()
    event = approval()
    await deliver(uow, event, storage)
    assert [d.request_id for d in await handlers.list_documents(event.request_id, uow=uow)] == [event.request_id]
    assert await handlers.list_documents(uuid.uuid4(), uow=uow) == []
