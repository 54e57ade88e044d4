import copy
import hashlib
import uuid
from datetime import UTC, datetime

import pytest

from dukcapil_documents.domain.model import (
    Document,
    DocumentKind,
    DocumentNotCurrent,
    DocumentStatus,
    NumberReservation,
    issue_year,
)
from dukcapil_documents.entrypoints.consumers import subscriptions
from dukcapil_documents.service_layer import handlers
from dukcapil_documents.service_layer.handlers import Press, Reader
from dukcapil_shared.contracts import (
    AktaKematianDetails,
    DocumentIssued,
    DocumentRevoked,
    Envelope,
    NamedPerson,
    Person,
    RequestApproved,
    RequestType,
)
from dukcapil_shared.messaging import PermanentFailure

from ..details import SAMPLE_DETAILS
from ..fakes import (
    BASE_URL,
    FakeDocumentRepository,
    FakeDocumentsUnitOfWork,
    FakeRenderer,
    FakeSigner,
    FakeStorage,
    a_press,
)

APPLICANT = {"nik": "3602144107900001", "name": "Siti Aminah", "birth_date": "1990-07-01", "sex": "female"}
PICKUP = {"method": "pickup", "pickup_kecamatan_code": "36.02.14"}
THIS_YEAR = issue_year(datetime.now(UTC))
DEATH = {
    "deceased": {"nik": "3602140101500002", "name": "Sarmadi"},
    "date_of_death": "2026-11-20",
    "place_of_death": "RSUD dr. Adjidarmo, Rangkasbitung",
    "reporter_relation": "anak",
    "witnesses": [{"nik": "3602141111800004", "name": "Dedi"}, {"nik": "3602142010820006", "name": "Euis"}],
}


def approval(
    request_type: str = "kartu_keluarga", request_id: uuid.UUID | None = None, details: dict | None = None
) -> RequestApproved:
    fields = dict(
        request_id=request_id or uuid.uuid4(), request_number="360214-20261128-0007", request_type=request_type,
        applicant=APPLICANT, details=details if details is not None else SAMPLE_DETAILS.get(request_type, {}),
        delivery=PICKUP, kecamatan_code="36.02.14", reviewer="rina",
    )  # fmt: skip
    if request_type not in SAMPLE_DETAILS:  # no contract carries details of a type done in person only
        return RequestApproved.model_construct(**{**fields, "request_type": RequestType(request_type)})  # type: ignore[arg-type]
    return RequestApproved(**fields)  # type: ignore[arg-type]


async def deliver(uow: FakeDocumentsUnitOfWork, event: RequestApproved, press: Press) -> None:
    """As the consumer does: the handler and the commit in one unit of work, rolled back on failure."""
    async with uow:
        await handlers.issue_document(
            uow,
            event,
            Envelope.wrap(event, source="/test", traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
            press=press,
        )
        await uow.commit()


async def one_document(
    request_type: str = "kartu_keluarga", details: dict | None = None
) -> tuple[FakeDocumentsUnitOfWork, Press, Document]:
    uow, press = FakeDocumentsUnitOfWork(), a_press()
    await deliver(uow, approval(request_type, details=details), press)
    [document] = uow.issued
    return uow, press, document


def storage_of(press: Press) -> FakeStorage:
    assert isinstance(press.storage, FakeStorage)
    return press.storage


async def test_an_approval_issues_a_signed_stored_document_and_announces_it_in_one_commit() -> None:
    uow, press = FakeDocumentsUnitOfWork(), a_press()
    event = approval()
    await deliver(uow, event, press)

    [document] = uow.issued
    assert document.request_id == event.request_id and document.status is DocumentStatus.valid
    assert document.number.startswith("KK/3602/") and document.number.endswith("/000001")
    files = storage_of(press).files
    assert list(files) == [f"{event.request_id}.pdf"] and document.matches(files[document.storage_key])
    assert (await press.sealer.examine(files[document.storage_key])).valid, "the stored file is the sealed one"
    assert document.signing_key_id == "fake-key-1"
    assert press.signer.verify(document.signed_payload(), document.signature, document.signing_key_id)
    assert document.delivery == event.delivery
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
    uow, renderer = FakeDocumentsUnitOfWork(), FakeRenderer()
    press = a_press(renderer=renderer)
    event = approval()
    await deliver(uow, event, press)
    first = dict(storage_of(press).files)
    await deliver(uow, event, press)
    await deliver(uow, approval(request_id=event.request_id), press)

    assert len(uow.issued) == 1
    assert len(uow.outbox.events) == 1
    assert len(renderer.rendered) == 1
    assert storage_of(press).files == first


async def test_a_redelivered_approval_issues_nothing_after_a_revocation_or_a_correction() -> None:
    uow, press, document = await one_document()
    await handlers.revoke_document(document.id, reason="salah data", approved_by="kabid", uow=uow)
    await deliver(uow, approval(request_id=document.request_id), press)

    uow2, press2, document2 = await one_document()
    await handlers.correct_document(
        document2.id,
        changes={"reason": "data_change"},
        holder=None,
        reason="r",
        approved_by="k",
        uow=uow2,
        press=press2,
    )
    await deliver(uow2, approval(request_id=document2.request_id), press2)

    assert [d.status for d in uow.issued] == [DocumentStatus.revoked]
    assert [d.status for d in uow2.issued] == [DocumentStatus.superseded, DocumentStatus.valid]


async def test_numbers_count_up_per_document_type() -> None:
    uow, press = FakeDocumentsUnitOfWork(), a_press()
    for request_type in ("kartu_keluarga", "kartu_keluarga", "akta_kematian", "kartu_keluarga", "biodata_wni"):
        await deliver(uow, approval(request_type), press)
    numbers = sorted(document.number.split("/")[0] + "#" + document.number[-6:] for document in uow.issued)
    assert numbers == ["AKM#000001", "BIO#000001", "KK#000001", "KK#000002", "KK#000003"]


async def test_a_failed_issue_leaves_nothing_and_burns_no_number() -> None:
    uow = FakeDocumentsUnitOfWork()
    event = approval()
    with pytest.raises(OSError):
        await deliver(uow, event, a_press(storage=FakeStorage(fail=True)))
    assert uow.issued == [] and uow.outbox.events == []

    await deliver(uow, event, a_press())
    [document] = uow.issued
    assert document.number.endswith("/000001")


async def test_an_approval_for_a_type_never_issued_here_is_a_permanent_failure() -> None:
    uow = FakeDocumentsUnitOfWork()
    with pytest.raises(PermanentFailure):
        await deliver(uow, approval("ktp_el"), a_press())
    assert uow.issued == [] and uow.outbox.events == []


async def test_the_approvals_subscription_wires_the_handler_with_its_press() -> None:
    uow, renderer = FakeDocumentsUnitOfWork(), FakeRenderer()
    [subscription] = subscriptions(press=a_press(renderer=renderer))
    assert subscription.name == "approvals"
    assert subscription.routing_keys == ["request.approved.v1"]
    event = approval("surat_pindah")
    async with uow:
        await subscription.handlers[RequestApproved](uow, event, Envelope.wrap(event, source="/test"))
        await uow.commit()
    [document] = uow.issued
    assert renderer.rendered == [(document.number, f"{BASE_URL}/verify/{document.verification_token}")]


async def deliver_drafted(uow: FakeDocumentsUnitOfWork, event: RequestApproved, press: Press) -> None:
    """As the consumer does with the subscription's preparer: draw first, then the handler in its unit of work."""
    envelope = Envelope.wrap(event, source="/test")
    draft = await handlers.draft_document(event, envelope, press=press, unit_of_work=lambda: uow)
    async with uow:
        await handlers.issue_document(uow, event, envelope, press=press, prepared=draft)
        await uow.commit()


async def test_a_document_is_drawn_under_the_number_reserved_before_its_transaction_and_issued_as_drawn() -> None:
    uow, renderer = FakeDocumentsUnitOfWork(), FakeRenderer()
    press = a_press(renderer=renderer)
    event = approval()
    envelope = Envelope.wrap(event, source="/test")

    draft = await handlers.draft_document(event, envelope, press=press, unit_of_work=lambda: uow)
    assert draft is not None and draft.document.number.endswith("/000001")
    assert uow.issued == [] and uow.documents.counters == {("KK", THIS_YEAR): 1}, "the number is taken, not issued"
    assert uow.documents.reservations[event.request_id].number == draft.document.number
    async with uow:
        await handlers.issue_document(uow, event, envelope, press=press, prepared=draft)
        await uow.commit()

    [document] = uow.issued
    assert (document.id, document.number, document.signature) == (
        draft.document.id, draft.document.number, draft.document.signature,
    )  # fmt: skip
    assert storage_of(press).files[document.storage_key] == draft.content and document.matches(draft.content)
    assert press.signer.verify(document.signed_payload(), document.signature, document.signing_key_id)
    assert renderer.rendered == [(document.number, f"{BASE_URL}/verify/{document.verification_token}")]
    assert uow.documents.reservations == {}, "the reservation ends with the issue"


async def test_documents_drafted_side_by_side_each_get_their_own_number_and_none_is_drawn_twice() -> None:
    uow, renderer = FakeDocumentsUnitOfWork(), FakeRenderer()
    press = a_press(renderer=renderer)
    events = [approval() for _ in range(3)]
    envelopes = [Envelope.wrap(event, source="/test") for event in events]
    drafts = [
        await handlers.draft_document(event, envelope, press=press, unit_of_work=lambda: uow)
        for event, envelope in zip(events, envelopes, strict=True)
    ]
    for event, envelope, draft in reversed(list(zip(events, envelopes, drafts, strict=True))):
        async with uow:
            await handlers.issue_document(uow, event, envelope, press=press, prepared=draft)
            await uow.commit()

    numbers = {document.request_id: document.number[-6:] for document in uow.issued}
    assert numbers == {events[0].request_id: "000001", events[1].request_id: "000002", events[2].request_id: "000003"}
    assert len(renderer.rendered) == 3, "each document drawn once"


async def test_an_approval_delivered_again_after_a_crash_is_drawn_under_the_number_it_reserved() -> None:
    """The first delivery reserved a number and drew the document, then the process died before the issue: the
    next delivery draws it again under the same number, and no number is left unused."""
    uow, renderer = FakeDocumentsUnitOfWork(), FakeRenderer()
    press = a_press(renderer=renderer)
    event, other = approval(), approval()
    envelope = Envelope.wrap(event, source="/test")
    lost = await handlers.draft_document(event, envelope, press=press, unit_of_work=lambda: uow)
    await deliver_drafted(uow, other, press)

    await deliver_drafted(uow, event, press)

    assert lost is not None
    numbers = {document.request_id: document.number for document in uow.issued}
    assert numbers == {event.request_id: lost.document.number, other.request_id: f"KK/3602/{THIS_YEAR}/000002"}
    assert uow.documents.counters == {("KK", THIS_YEAR): 2} and uow.documents.reservations == {}


async def test_a_number_reserved_meanwhile_by_another_delivery_of_the_approval_is_the_one_used() -> None:
    class ReservedMeanwhile(FakeDocumentRepository):
        """The same approval's other delivery commits its reservation just before this one reserves."""

        async def reserve_number(self, request_id: uuid.UUID, kind: DocumentKind, at: datetime) -> NumberReservation:
            if not self.reservations:
                self.reservations[request_id] = NumberReservation(request_id, kind, issue_year(at), 7, at)
            return await super().reserve_number(request_id, kind, at)

    uow = FakeDocumentsUnitOfWork()
    uow.documents = ReservedMeanwhile()
    event = approval()
    draft = await handlers.draft_document(
        event, Envelope.wrap(event, source="/test"), press=a_press(), unit_of_work=lambda: uow
    )
    assert draft is not None and draft.document.number.endswith("/000007")
    assert uow.documents.counters == {}, "the number taken in the lost race was given back"


async def test_a_redelivered_approval_draws_nothing_and_issues_nothing_more() -> None:
    uow, renderer = FakeDocumentsUnitOfWork(), FakeRenderer()
    press = a_press(renderer=renderer)
    event = approval()
    await deliver_drafted(uow, event, press)
    files = dict(storage_of(press).files)

    envelope = Envelope.wrap(event, source="/test")
    assert await handlers.draft_document(event, envelope, press=press, unit_of_work=lambda: uow) is None
    await deliver_drafted(uow, event, press)

    assert len(uow.issued) == 1 and len(uow.outbox.events) == 1
    assert len(renderer.rendered) == 1 and storage_of(press).files == files


async def test_drawing_an_approval_for_a_type_never_issued_here_is_a_permanent_failure() -> None:
    uow = FakeDocumentsUnitOfWork()
    event = approval("ktp_el")
    with pytest.raises(PermanentFailure):
        await handlers.draft_document(
            event, Envelope.wrap(event, source="/test"), press=a_press(), unit_of_work=lambda: uow
        )


# --- revocation and correction ---


async def test_a_revocation_withdraws_the_document_and_announces_it() -> None:
    uow, _, document = await one_document()
    revoked = await handlers.revoke_document(document.id, reason="Diterbitkan keliru", approved_by="kabid", uow=uow)

    assert revoked.status is DocumentStatus.revoked and revoked.revoked_by == "kabid"
    [stored] = uow.issued
    assert stored.status is DocumentStatus.revoked and stored.revocation_reason == "Diterbitkan keliru"
    _, event = uow.outbox.events
    assert isinstance(event, DocumentRevoked)
    assert (event.request_id, event.document_id, event.document_number) == (
        document.request_id, document.id, document.number,
    )  # fmt: skip
    assert (event.reason, event.revoked_by, event.superseded_by) == ("Diterbitkan keliru", "kabid", None)


async def test_only_a_valid_document_can_be_revoked_or_corrected() -> None:
    uow, press, document = await one_document()
    await handlers.revoke_document(document.id, reason="keliru", approved_by="kabid", uow=uow)
    with pytest.raises(DocumentNotCurrent, match="already revoked"):
        await handlers.revoke_document(document.id, reason="lagi", approved_by="kabid", uow=uow)
    with pytest.raises(DocumentNotCurrent):
        await handlers.correct_document(
            document.id,
            changes={"reason": "data_change"},
            holder=None,
            reason="r",
            approved_by="k",
            uow=uow,
            press=press,
        )
    with pytest.raises(handlers.DocumentNotFound):
        await handlers.revoke_document(uuid.uuid4(), reason="x", approved_by="k", uow=uow)
    assert len(uow.outbox.events) == 2 and len(uow.issued) == 1


async def test_a_revocation_that_lost_a_race_is_refused() -> None:
    uow, _, document = await one_document()
    stale = copy.deepcopy(uow.documents.committed[document.id])
    uow.documents.committed[document.id].status = DocumentStatus.revoked  # another operator got there first

    async def read_before_the_other_commit(document_id: uuid.UUID | None) -> Document | None:
        return copy.deepcopy(stale)

    uow.documents.get = read_before_the_other_commit  # type: ignore[method-assign]
    with pytest.raises(DocumentNotCurrent):
        await handlers.revoke_document(document.id, reason="lagi", approved_by="kabid", uow=uow)
    assert len(uow.outbox.events) == 1


async def test_a_correction_supersedes_the_document_with_a_new_number_and_announces_both() -> None:
    uow, press, old = await one_document("akta_kematian", details=DEATH)
    superseded, new = await handlers.correct_document(
        old.id,
        changes={"place_of_death": "Rumah duka, Kp. Cibeureum", "cause_category": None},
        holder=Person.model_validate({**APPLICANT, "name": "Siti Aminah Lestari"}),
        reason="Tempat kematian salah tulis",
        approved_by="kabid.capil",
        uow=uow,
        press=press,
    )

    assert superseded.status is DocumentStatus.superseded and superseded.superseded_by == new.id
    assert new.status is DocumentStatus.valid and new.supersedes == old.id
    assert (new.request_id, new.type) == (old.request_id, old.type)
    assert old.number.endswith("/000001") and new.number.endswith("/000002") and new.number.startswith("AKM/")
    assert isinstance(new.details, AktaKematianDetails)
    assert new.details.place_of_death == "Rumah duka, Kp. Cibeureum" and new.details.cause_category is None
    assert new.details.witnesses == [NamedPerson.model_validate(witness) for witness in DEATH["witnesses"]]
    assert new.holder.name == "Siti Aminah Lestari"
    assert new.verification_token != old.verification_token and new.storage_key != old.storage_key
    files = storage_of(press).files
    assert old.matches(files[old.storage_key]) and new.matches(files[new.storage_key])
    assert b"Rumah duka" in files[new.storage_key]
    assert press.signer.verify(new.signed_payload(), new.signature, new.signing_key_id)

    _, revoked, issued = uow.outbox.events
    assert isinstance(revoked, DocumentRevoked) and isinstance(issued, DocumentIssued)
    assert (revoked.document_id, revoked.superseded_by, revoked.revoked_by) == (old.id, new.id, "kabid.capil")
    assert (issued.document_id, issued.document_number, issued.request_id) == (new.id, new.number, old.request_id)
    assert issued.applicant.name == "Siti Aminah Lestari" and issued.delivery.method == "pickup"
    assert (issued.supersedes, issued.supersedes_number) == (old.id, old.number), "shipping sends it as a correction"
    assert [d.number for d in await handlers.list_documents(old.request_id, uow=uow)] == [old.number, new.number]


async def test_a_failed_correction_leaves_the_old_document_valid() -> None:
    uow, press, old = await one_document()
    broken = a_press(storage=FakeStorage(fail=True), signer=press.signer)
    with pytest.raises(OSError):
        await handlers.correct_document(
            old.id, changes={"reason": "data_change"}, holder=None, reason="r", approved_by="k", uow=uow, press=broken
        )
    [document] = uow.issued
    assert document.status is DocumentStatus.valid and len(uow.outbox.events) == 1


# --- verification ---


async def test_a_genuine_document_verifies_as_valid_with_the_holder_masked() -> None:
    uow, press, document = await one_document("akta_kematian", details=DEATH)

    verification = await handlers.verify_document(
        document.verification_token, uow=uow, storage=press.storage, signer=press.signer
    )
    assert verification.genuine and verification.signature_valid and verification.status is DocumentStatus.valid
    assert verification.document_number == document.number and verification.document_type == "akta_kematian"
    # A death certificate is about the deceased.
    assert (verification.holder_name_masked, verification.nik_masked) == ("S******", "360214******0002")
    assert verification.verification_count == 1 and verification.message == "Genuine and in force."


async def test_every_verification_is_counted() -> None:
    uow, press, document = await one_document()
    counts = [
        (
            await handlers.verify_document(
                document.verification_token, uow=uow, storage=press.storage, signer=press.signer
            )
        ).verification_count
        for _ in range(3)
    ]
    assert counts == [1, 2, 3]
    assert uow.issued[0].verification_count == 3


async def test_a_tampered_or_missing_file_or_a_forged_signature_is_not_genuine() -> None:
    uow, press, document = await one_document()
    files = storage_of(press).files

    async def verify() -> bool:
        result = await handlers.verify_document(
            document.verification_token, uow=uow, storage=press.storage, signer=press.signer
        )
        return result.genuine

    original = files[document.storage_key]
    files[document.storage_key] = original.replace(b"KK/", b"KX/")
    assert not await verify()
    files[document.storage_key] = original
    assert await verify()

    # Someone with the database: a new file and its checksum, but no office key to sign them.
    tampered = original + b"%% edited"
    stored = uow.documents.committed[document.id]
    stored.checksum_sha256 = hashlib.sha256(tampered).hexdigest()
    files[document.storage_key] = tampered
    assert not await verify()
    del files[document.storage_key]
    assert not await verify()


async def test_a_document_signed_by_an_unknown_key_is_not_genuine() -> None:
    uow, press, document = await one_document()
    stranger = FakeSigner(key=b"someone else", key_id="fake-key-1")
    verification = await handlers.verify_document(
        document.verification_token, uow=uow, storage=press.storage, signer=stranger
    )
    assert not verification.genuine and not verification.signature_valid
    assert "cannot be confirmed" in verification.message


async def test_a_revoked_document_verifies_as_genuine_but_revoked() -> None:
    uow, press, document = await one_document()
    await handlers.revoke_document(document.id, reason="keliru", approved_by="kabid", uow=uow)
    verification = await handlers.verify_document(
        document.verification_token, uow=uow, storage=press.storage, signer=press.signer
    )
    assert verification.genuine and verification.status is DocumentStatus.revoked
    assert verification.revoked_at is not None and verification.superseded_by_number is None
    assert "revoked" in verification.message and "dicabut" in verification.message_id


async def test_a_corrected_document_verifies_as_superseded_naming_its_replacement() -> None:
    uow, press, old = await one_document()
    _, new = await handlers.correct_document(
        old.id, changes={"reason": "data_change"}, holder=None, reason="r", approved_by="k", uow=uow, press=press
    )
    answers = {
        token: await handlers.verify_document(token, uow=uow, storage=press.storage, signer=press.signer)
        for token in (old.verification_token, new.verification_token)
    }
    superseded, current = answers[old.verification_token], answers[new.verification_token]
    assert superseded.genuine and superseded.status is DocumentStatus.superseded
    assert superseded.superseded_by_number == new.number and new.number in superseded.message
    assert current.genuine and current.status is DocumentStatus.valid and current.superseded_by_number is None


async def test_an_unknown_code_is_refused_and_counts_nothing() -> None:
    uow, press, _ = await one_document()
    with pytest.raises(handlers.UnknownVerificationToken):
        await handlers.verify_document("forged-token", uow=uow, storage=press.storage, signer=press.signer)
    assert uow.issued[0].verification_count == 0


# --- the file ---


async def test_the_file_goes_to_staff_and_the_holder_only_and_only_as_issued() -> None:
    uow, press, document = await one_document()
    files = storage_of(press).files

    async def fetch(reader: Reader, document_id: uuid.UUID = document.id) -> bytes:
        _, content = await handlers.get_document_file(
            document_id, reader=reader, uow=uow, storage=press.storage, signer=press.signer
        )
        return content

    assert await fetch(Reader(staff=True)) == files[document.storage_key]
    assert await fetch(Reader(granted=document.id)) == files[document.storage_key]
    with pytest.raises(handlers.NotTheHolder):
        await fetch(Reader(granted=uuid.uuid4()))
    with pytest.raises(handlers.NotTheHolder):
        await fetch(Reader())

    files[document.storage_key] += b"tampered"
    with pytest.raises(handlers.DocumentFileUnavailable, match="checksum"):
        await fetch(Reader(staff=True))
    del files[document.storage_key]
    with pytest.raises(handlers.DocumentFileUnavailable, match="missing"):
        await fetch(Reader(staff=True))
    with pytest.raises(handlers.DocumentNotFound):
        await fetch(Reader(staff=True), uuid.uuid4())


async def test_documents_are_listed_by_request() -> None:
    uow, _, document = await one_document()
    assert [d.id for d in await handlers.list_documents(document.request_id, uow=uow)] == [document.id]
    assert await handlers.list_documents(uuid.uuid4(), uow=uow) == []


async def test_a_file_in_hand_is_genuine_only_as_issued_with_its_signature_and_its_status() -> None:
    uow, press, document = await one_document("akta_kematian", DEATH)
    content = storage_of(press).files[document.storage_key]

    async def check(file: bytes) -> handlers.FileVerification:
        return await handlers.verify_file(file, uow=uow, sealer=press.sealer, signer=press.signer)

    genuine = await check(content)
    assert (genuine.genuine, genuine.verdict.value, genuine.checksum_sha256) == (
        True,
        "genuine",
        document.checksum_sha256,
    )
    assert genuine.document is not None and genuine.document.document_number == document.number
    assert (genuine.document.holder_name_masked, genuine.document.verification_count) == ("S******", 1)
    assert (genuine.message, genuine.message_id) == ("Genuine and in force.", "Dokumen asli dan berlaku.")

    edited = await check(content.replace(b"Sarmadi", b"Sarmado"))
    assert (edited.genuine, edited.verdict.value, edited.document) == (False, "signature_invalid", None)
    appended = await check(content + b"% a line added after signing\n")
    assert (appended.genuine, appended.verdict.value) == (False, "signature_invalid")
    unknown = await check(b"%PDF-1.7 another office's document")
    assert (unknown.genuine, unknown.verdict.value, unknown.signature.present) == (False, "unknown_file", False)
    assert "not a document issued by Disdukcapil Kabupaten Lebak" in unknown.message
    with pytest.raises(handlers.NotAPdf):
        await check(b"GIF89a")
    assert uow.issued[0].verification_count == 1, "only a file that is a document counts as its verification"

    await handlers.revoke_document(document.id, reason="keliru", approved_by="kabid", uow=uow)
    revoked = await check(content)
    assert (revoked.genuine, revoked.document and revoked.document.status) == (True, DocumentStatus.revoked)
    assert revoked.message_id == "Dokumen asli, tetapi telah dicabut oleh Disdukcapil dan tidak berlaku lagi."


async def test_a_file_issued_before_documents_carried_a_signature_inside_is_told_to_use_its_qr_code() -> None:
    uow, press, document = await one_document()
    unsealed = b"%PDF-1.4 issued in 2025"
    stored = uow.documents.committed[document.id]
    stored.seal(unsealed)
    stored.signature = press.signer.sign(stored.signed_payload())

    answer = await handlers.verify_file(unsealed, uow=uow, sealer=press.sealer, signer=press.signer)

    assert (answer.genuine, answer.verdict.value) == (False, "signature_missing")
    assert document.number in answer.message and "QR" in answer.message and "kode QR" in answer.message_id
