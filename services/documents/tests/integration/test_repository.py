import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from dukcapil_documents.adapters import tables
from dukcapil_documents.adapters.layout import load_layouts
from dukcapil_documents.adapters.pades import PadesSealer
from dukcapil_documents.adapters.pdf import FpdfDocumentRenderer, Signatory
from dukcapil_documents.adapters.pki import development_certificate
from dukcapil_documents.adapters.repository import SqlDocumentsUnitOfWork
from dukcapil_documents.adapters.signing import Ed25519Signer
from dukcapil_documents.domain.model import (
    Document,
    DocumentKind,
    DocumentNotCurrent,
    DocumentStatus,
    NumberReservation,
    document_kind,
    issue_year,
)
from dukcapil_documents.service_layer import handlers
from dukcapil_documents.service_layer.handlers import Press, Reader
from dukcapil_documents.service_layer.unit_of_work import NumberAlreadyReserved, NumberState
from dukcapil_shared.contracts import Delivery, Envelope, KartuKeluargaDetails, Person, RequestApproved
from dukcapil_shared.db import create_engine, migrate
from dukcapil_shared.files import DirectoryFileStore

from ..fakes import FakeRenderer, FakeSealer

HOLDER = Person(nik="3602144107900001", name="Siti Aminah", birth_date="1990-07-01", sex="female")
PICKUP = Delivery(method="pickup", pickup_kecamatan_code="36.02.14")
SPLIT = KartuKeluargaDetails(reason="split", members=[{"nik": "3602140505150002", "name": "Budi"}])


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
async def engine(request: pytest.FixtureRequest, tmp_path: Path, postgres) -> AsyncIterator[AsyncEngine]:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path}/documents.db"
    else:
        url = await postgres.create()
    engine = create_engine(url)
    await migrate(engine, "dukcapil_documents:migrations")
    yield engine
    await engine.dispose()


def unit_of_work(engine: AsyncEngine) -> SqlDocumentsUnitOfWork:
    return SqlDocumentsUnitOfWork(engine, outbox_table=tables.outbox, inbox_table=tables.inbox, source="/test")


def a_press(
    tmp_path: Path, renderer: handlers.DocumentRenderer | None = None, sealer: handlers.PdfSealer | None = None
) -> Press:
    return Press(
        renderer=renderer or FakeRenderer(),
        signer=Ed25519Signer(Ed25519PrivateKey.generate()),
        sealer=sealer or FakeSealer(),
        storage=DirectoryFileStore(tmp_path / "files"),
        public_base_url="http://x",
    )


def a_document(number: str = "KK/3602/2026/000001", request_id: uuid.UUID | None = None) -> Document:
    request_id = request_id or uuid.uuid4()
    return Document(
        id=uuid.uuid4(), request_id=request_id, request_number="360214-20261128-0007", type="kartu_keluarga",
        number=number, holder=HOLDER, details=SPLIT,
        kecamatan_code="36.02.14", verification_token=uuid.uuid4().hex, storage_key=f"{request_id}.pdf",
        issued_at=datetime(2026, 11, 28, 3, 0, 0, 123000, tzinfo=UTC), checksum_sha256="ab" * 32, delivery=PICKUP,
        signature="c2lnbmF0dXJl", signing_key_id="0123456789abcdef",
    )  # fmt: skip


def an_approval(request_id: uuid.UUID | None = None) -> RequestApproved:
    return RequestApproved(
        request_id=request_id or uuid.uuid4(), request_number="360214-20261128-0007", request_type="kartu_keluarga",
        applicant=HOLDER, details={"reason": "split"}, delivery=PICKUP, kecamatan_code="36.02.14", reviewer="rina",
    )  # fmt: skip


async def issue(engine: AsyncEngine, press: Press, event: RequestApproved) -> Document:
    async with unit_of_work(engine) as uow:
        envelope = Envelope.wrap(event, source="/test")
        assert await uow.inbox.claim("dukcapil.documents.approvals", str(envelope.id))
        await handlers.issue_document(uow, event, envelope, press=press)
        await uow.commit()
    [document] = await handlers.list_documents(event.request_id, uow=unit_of_work(engine))
    return document


async def test_a_document_is_stored_and_found_by_id_request_and_token(engine: AsyncEngine) -> None:
    document = a_document()
    async with unit_of_work(engine) as uow:
        await uow.documents.add(document)
        await uow.commit()

    async with unit_of_work(engine) as uow:
        assert await uow.documents.get(document.id) == document
        assert await uow.documents.for_request(document.request_id) == [document]
        assert await uow.documents.by_verification_token(document.verification_token) == document
        assert await uow.documents.by_checksum(document.checksum_sha256) == document
        assert await uow.documents.by_checksum("cd" * 32) is None
        assert await uow.documents.get(uuid.uuid4()) is None
        assert await uow.documents.for_request(uuid.uuid4()) == []
        assert await uow.documents.by_verification_token("unknown") is None


async def test_a_request_has_one_valid_document_and_keeps_those_it_replaced(engine: AsyncEngine) -> None:
    first = a_document("KK/3602/2026/000001")
    second = a_document("KK/3602/2026/000002", request_id=first.request_id)
    async with unit_of_work(engine) as uow:
        await uow.documents.add(first)
        await uow.commit()
    with pytest.raises(IntegrityError):
        async with unit_of_work(engine) as uow:
            await uow.documents.add(second)

    first.revoke(reason="koreksi", by="kabid", at=datetime(2026, 12, 1, tzinfo=UTC), superseded_by=second.id)
    second.supersedes = first.id
    async with unit_of_work(engine) as uow:
        assert await uow.documents.save_revocation(first)
        await uow.documents.add(second)
        await uow.commit()
    async with unit_of_work(engine) as uow:
        assert await uow.documents.for_request(first.request_id) == [first, second]
        stored = await uow.documents.get(first.id)
    assert stored is not None and stored.status is DocumentStatus.superseded and stored.superseded_by == second.id
    assert (stored.revoked_by, stored.revocation_reason) == ("kabid", "koreksi")


async def test_a_revocation_is_saved_once(engine: AsyncEngine) -> None:
    document = a_document()
    async with unit_of_work(engine) as uow:
        await uow.documents.add(document)
        await uow.commit()
    document.revoke(reason="keliru", by="kabid", at=datetime(2026, 12, 1, tzinfo=UTC))
    async with unit_of_work(engine) as uow:
        assert await uow.documents.save_revocation(document)
        await uow.commit()
    async with unit_of_work(engine) as uow:
        assert not await uow.documents.save_revocation(document)


async def test_verifications_are_counted(engine: AsyncEngine) -> None:
    document = a_document()
    async with unit_of_work(engine) as uow:
        await uow.documents.add(document)
        await uow.commit()
    for expected in (1, 2, 3):
        async with unit_of_work(engine) as uow:
            assert await uow.documents.count_verification(document.id, datetime.now(UTC)) == expected
            await uow.commit()
    async with engine.connect() as connection:
        row = (await connection.execute(select(tables.documents))).one()
    assert row.verification_count == 3 and row.last_verified_at is not None


async def test_sequences_count_per_type_and_year_and_a_rollback_burns_no_number(engine: AsyncEngine) -> None:
    async def take(type_code: str, year: int, commit: bool = True) -> int:
        async with unit_of_work(engine) as uow:
            value = await uow.documents.next_sequence(type_code, year)
            if commit:
                await uow.commit()
        return value

    assert [await take("KK", 2026), await take("KK", 2026)] == [1, 2]
    assert await take("KK", 2027) == 1
    assert await take("AKM", 2026) == 1
    assert await take("KK", 2026, commit=False) == 3
    assert await take("KK", 2026) == 3


async def test_a_reserved_number_is_taken_once_per_request_and_ends_with_its_release(engine: AsyncEngine) -> None:
    kind, request, at = document_kind("kartu_keluarga"), uuid.uuid4(), datetime(2026, 12, 3, 8, tzinfo=UTC)
    async with unit_of_work(engine) as uow:
        assert await uow.documents.number_state(request) == NumberState(issued=False, reservation=None)
        reserved = await uow.documents.reserve_number(request, kind, at)
        await uow.commit()
    assert (reserved.number, reserved.reserved_at) == ("KK/3602/2026/000001", at)

    async with unit_of_work(engine) as uow:
        assert await uow.documents.number_state(request) == NumberState(issued=False, reservation=reserved)
        with pytest.raises(NumberAlreadyReserved):
            await uow.documents.reserve_number(request, kind, at)
    async with unit_of_work(engine) as uow:
        assert await uow.documents.next_sequence("KK", 2026) == 2, "the refused reservation gave its number back"
        await uow.documents.release_reservation(request)
        await uow.commit()
    async with unit_of_work(engine) as uow:
        assert await uow.documents.number_state(request) == NumberState(issued=False, reservation=None)


async def test_a_requests_number_state_says_whether_it_has_a_document_and_its_reservation(engine: AsyncEngine) -> None:
    kind, at = document_kind("kartu_keluarga"), datetime(2026, 12, 3, 8, tzinfo=UTC)
    document = a_document()
    async with unit_of_work(engine) as uow:
        reserved = await uow.documents.reserve_number(document.request_id, kind, at)
        await uow.documents.add(document)
        await uow.commit()
    async with unit_of_work(engine) as uow:
        assert await uow.documents.number_state(document.request_id) == NumberState(issued=True, reservation=reserved)
        assert await uow.documents.number_state(uuid.uuid4()) == NumberState(issued=False, reservation=None)


async def reserve_by(
    how: str, uow: SqlDocumentsUnitOfWork, request: uuid.UUID, kind: DocumentKind
) -> NumberReservation:
    """A number reserved the way `how` names: `reserve_number`, or `reserve_unless_taken` (its state's reservation)."""
    if how == "reserve_number":
        return await uow.documents.reserve_number(request, kind, datetime.now(UTC))
    state = await uow.documents.reserve_unless_taken(request, kind, datetime.now(UTC))
    assert state.reservation is not None
    return state.reservation


@pytest.mark.parametrize("how", ["reserve_number", "reserve_unless_taken"])
async def test_two_deliveries_of_one_approval_reserving_at_once_get_one_number(engine: AsyncEngine, how: str) -> None:
    kind, request = document_kind("biodata_wni"), uuid.uuid4()
    entered = asyncio.Event()

    async def reserve(first: bool) -> NumberReservation:
        try:
            async with unit_of_work(engine) as uow:
                if not first:
                    await entered.wait()
                reservation = await reserve_by(how, uow, request, kind)
                if first:
                    entered.set()
                    await asyncio.sleep(0.2)  # the second one now waits on the counter, or on the database
                await uow.commit()
                return reservation
        except NumberAlreadyReserved:
            async with unit_of_work(engine) as uow:
                found = (await uow.documents.number_state(request)).reservation
                assert found is not None
                return found

    first, second = await asyncio.gather(reserve(True), reserve(False))
    assert first == second
    async with unit_of_work(engine) as uow:
        assert await uow.documents.next_sequence("BIO", issue_year(datetime.now(UTC))) == 2, "no number was lost"


async def test_a_number_is_reserved_unless_the_request_has_one_or_its_document_and_the_document_ends_it(
    engine: AsyncEngine,
) -> None:
    kind, at = document_kind("kartu_keluarga"), datetime(2026, 12, 3, 8, tzinfo=UTC)
    document = a_document()
    request = document.request_id
    async with unit_of_work(engine) as uow:
        state = await uow.documents.reserve_unless_taken(request, kind, at)
        await uow.commit()
    reserved = NumberReservation(request, kind, 2026, 1, at)
    assert state == NumberState(issued=False, reservation=reserved)
    async with unit_of_work(engine) as uow:
        later = datetime(2026, 12, 3, 9, tzinfo=UTC)
        assert await uow.documents.reserve_unless_taken(request, kind, later) == state, "the same number again"
        await uow.commit()
    async with unit_of_work(engine) as uow:
        await uow.documents.add_reserved(document)
        await uow.commit()
    async with unit_of_work(engine) as uow:
        assert await uow.documents.number_state(request) == NumberState(issued=True, reservation=None)
        assert await uow.documents.reserve_unless_taken(request, kind, at) == NumberState(issued=True, reservation=None)
        await uow.commit()
    async with unit_of_work(engine) as uow:
        assert await uow.documents.next_sequence("KK", 2026) == 2, "no number was taken for a request that had one"


async def test_a_reserved_document_and_its_announcement_are_stored_together(engine: AsyncEngine) -> None:
    """On PostgreSQL with the reservation's release, in one statement (no INSERT INTO outbox of its own)."""
    kind, at = document_kind("kartu_keluarga"), datetime(2026, 12, 3, 8, tzinfo=UTC)
    document = a_document()
    statements: list[str] = []
    async with unit_of_work(engine) as uow:
        await uow.documents.reserve_unless_taken(document.request_id, kind, at)
        await uow.commit()
    async with unit_of_work(engine) as uow:
        connection = uow.documents._connection.sync_connection  # type: ignore[attr-defined]
        event.listen(connection, "before_cursor_execute", lambda *call: statements.append(call[2]))
        announced = await uow.outbox.add(handlers._issued(document))
        await uow.documents.add_reserved(document)
        await uow.commit()
    separate = [statement for statement in statements if statement.startswith("INSERT INTO outbox")]
    assert len(separate) == (0 if engine.dialect.name == "postgresql" else 1)
    async with engine.connect() as connection:
        assert list((await connection.execute(select(tables.outbox.c.id))).scalars()) == [str(announced.id)]
    async with unit_of_work(engine) as uow:
        assert await uow.documents.number_state(document.request_id) == NumberState(issued=True, reservation=None)


async def test_a_consumers_claim_goes_with_the_document_it_issues(postgres) -> None:  # type: ignore[no-untyped-def]
    """PostgreSQL: the consumer defers its inbox claim (dukcapil_shared.messaging.consumer), and the statement that
    stores the reserved document writes it: no INSERT INTO inbox of its own."""
    engine = create_engine(await postgres.create())
    await migrate(engine, "dukcapil_documents:migrations")
    kind, at = document_kind("kartu_keluarga"), datetime(2026, 12, 3, 8, tzinfo=UTC)
    document, approval = a_document(), str(uuid.uuid4())
    statements: list[str] = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *call: statements.append(call[2]))
    try:
        async with unit_of_work(engine) as uow:
            assert uow.inbox.defer_claim("dukcapil.documents.reviews", approval)
            await uow.documents.reserve_unless_taken(document.request_id, kind, at)
            await uow.documents.add_reserved(document)
            await uow.commit()
        assert [statement for statement in statements if statement.startswith("INSERT INTO inbox")] == []
        async with unit_of_work(engine).reading() as uow:
            assert await uow.inbox.has_claimed("dukcapil.documents.reviews", approval)
            assert await uow.documents.number_state(document.request_id) == NumberState(issued=True, reservation=None)
    finally:
        await engine.dispose()


async def test_documents_drawn_at_once_outside_their_transactions_get_unique_gapless_numbers_they_carry(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    class SlowRenderer(FakeRenderer):
        async def render(self, document: Document, *, verification_url: str) -> bytes:
            await asyncio.sleep(0.05)
            return await super().render(document, verification_url=verification_url)

    press = a_press(tmp_path, SlowRenderer())
    events = [an_approval() for _ in range(4)]

    async def consume(event: RequestApproved) -> None:
        # As the consumer does with the approvals subscription's preparer.
        envelope = Envelope.wrap(event, source="/test")
        draft = await handlers.draft_document(event, envelope, press=press, unit_of_work=lambda: unit_of_work(engine))
        async with unit_of_work(engine) as uow:
            assert await uow.inbox.claim("dukcapil.documents.approvals", str(envelope.id))
            await handlers.issue_document(uow, event, envelope, press=press, prepared=draft)
            await uow.commit()

    await asyncio.gather(*(consume(event) for event in events))

    issued = [(await handlers.list_documents(event.request_id, uow=unit_of_work(engine)))[0] for event in events]
    assert sorted(document.number[-6:] for document in issued) == ["000001", "000002", "000003", "000004"]
    for document in issued:
        _, content = await handlers.get_document_file(
            document.id, reader=Reader(staff=True), uow=unit_of_work(engine), storage=press.storage,
            signer=press.signer,
        )  # fmt: skip
        assert f"%PDF-fake {document.number} ".encode() in content, "the file carries the number recorded"


async def test_concurrent_approvals_of_one_request_issue_one_document_whose_file_matches(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    event = an_approval()

    class SlowRenderer(FakeRenderer):
        async def render(self, document: Document, *, verification_url: str) -> bytes:
            await asyncio.sleep(0.2)
            return await super().render(document, verification_url=verification_url)

    press = a_press(tmp_path, SlowRenderer())

    async def consume() -> None:
        # As the consumer does, retrying a failed attempt once.
        for attempt in range(2):
            try:
                async with unit_of_work(engine) as uow:
                    envelope = Envelope.wrap(event, source="/test")
                    assert await uow.inbox.claim("dukcapil.documents.approvals", str(envelope.id))
                    await handlers.issue_document(uow, event, envelope, press=press)
                    await uow.commit()
                return
            except IntegrityError:
                assert attempt == 0

    await asyncio.gather(consume(), consume())

    async with engine.connect() as connection:
        documents = (await connection.execute(select(tables.documents))).all()
        outbox = (await connection.execute(select(tables.outbox.c.routing_key))).scalars().all()
        counter = (await connection.execute(select(tables.document_counters.c.last_value))).scalar_one()
    assert len(documents) == 1 and outbox == ["document.issued.v1"] and counter == 1
    [document] = documents
    assert document.number.endswith("/000001")
    _, content = await handlers.get_document_file(
        uuid.UUID(document.id), reader=Reader(staff=True), uow=unit_of_work(engine), storage=press.storage,
        signer=press.signer,
    )  # fmt: skip
    assert b"KK/3602/" in content


async def test_two_drafts_of_one_approval_issue_one_document_the_second_stopped_by_the_first(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    """Two deliveries of one approval drafted side by side, under the one number reserved: the handler does not look
    for a document first (the draft's reservation did), so the second meets the first's document in its insert,
    and nothing of it is stored, its file included."""
    press = a_press(tmp_path, FakeRenderer())
    event = an_approval()
    envelope = Envelope.wrap(event, source="/test")
    drafts = [
        await handlers.draft_document(event, envelope, press=press, unit_of_work=lambda: unit_of_work(engine))
        for _ in range(2)
    ]
    assert drafts[0] is not None and drafts[1] is not None
    assert drafts[0].document.number == drafts[1].document.number, "one number reserved for the request"
    async with unit_of_work(engine) as uow:
        await handlers.issue_document(uow, event, envelope, press=press, prepared=drafts[0])
        await uow.commit()
    with pytest.raises(IntegrityError):
        async with unit_of_work(engine) as uow:
            await handlers.issue_document(uow, event, envelope, press=press, prepared=drafts[1])
            await uow.commit()
    async with engine.connect() as connection:
        documents = (await connection.execute(select(tables.documents.c.id))).scalars().all()
        outbox = (await connection.execute(select(tables.outbox.c.routing_key))).scalars().all()
    assert documents == [str(drafts[0].document.id)] and outbox == ["document.issued.v1"]
    stored = await press.storage.load(drafts[0].document.storage_key)
    assert stored is not None and drafts[0].document.matches(stored), "the file is the first draft's"


async def test_concurrent_corrections_of_one_document_issue_one_replacement(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    press = a_press(tmp_path)
    old = await issue(engine, press, an_approval())

    async def correct(place: str) -> Document | Exception:
        try:
            _, new = await handlers.correct_document(
                old.id, changes={"reason": place}, holder=None, reason="r", approved_by="k",
                uow=unit_of_work(engine), press=press,
            )  # fmt: skip
        except DocumentNotCurrent as error:
            return error
        return new

    results = await asyncio.gather(correct("data_change"), correct("lost_or_damaged"))

    [new] = [result for result in results if isinstance(result, Document)]
    assert sum(isinstance(result, DocumentNotCurrent) for result in results) == 1
    documents = await handlers.list_documents(old.request_id, uow=unit_of_work(engine))
    assert [(d.number, d.status) for d in documents] == [
        (old.number, DocumentStatus.superseded), (new.number, DocumentStatus.valid),
    ]  # fmt: skip
    assert documents[0].superseded_by == new.id and documents[1].supersedes == old.id
    async with engine.connect() as connection:
        outbox = (await connection.execute(select(tables.outbox.c.routing_key))).scalars().all()
        counter = (await connection.execute(select(tables.document_counters.c.last_value))).scalar_one()
    assert sorted(outbox) == ["document.issued.v1", "document.issued.v1", "document.revoked.v1"]
    assert counter == 2, "the losing correction's number went back with its rollback"
    assert sorted(path.name for path in (tmp_path / "files").iterdir()) == sorted([old.storage_key, new.storage_key]), (
        "the losing correction wrote no file"
    )


async def test_a_real_document_verifies_until_its_file_on_disk_is_edited(engine: AsyncEngine, tmp_path: Path) -> None:
    renderer = FpdfDocumentRenderer(layouts=load_layouts(), signatory=Signatory("Kepala Dinas", "197001011990011001"))
    press = a_press(tmp_path, renderer, PadesSealer(development_certificate(tmp_path / "pki")))
    document = await issue(engine, press, an_approval())

    async def verify(token: str = document.verification_token) -> tuple[bool, str, int]:
        answer = await handlers.verify_document(
            token, uow=unit_of_work(engine), storage=press.storage, signer=press.signer
        )
        return answer.genuine, answer.status.value, answer.verification_count

    assert await verify() == (True, "valid", 1)
    path = tmp_path / "files" / document.storage_key
    original = path.read_bytes()
    path.write_bytes(original.replace(b"/Title (", b"/Title (X", 1))
    assert await verify() == (False, "valid", 2)
    path.write_bytes(original)
    await handlers.revoke_document(document.id, reason="keliru", approved_by="kabid", uow=unit_of_work(engine))
    assert await verify() == (True, "revoked", 3)


async def test_a_real_pdf_in_hand_is_found_by_its_hash_and_proves_itself(engine: AsyncEngine, tmp_path: Path) -> None:
    renderer = FpdfDocumentRenderer(layouts=load_layouts(), signatory=Signatory("Kepala Dinas", "197001011990011001"))
    press = a_press(tmp_path, renderer, PadesSealer(development_certificate(tmp_path / "pki")))
    document = await issue(engine, press, an_approval())
    content = (tmp_path / "files" / document.storage_key).read_bytes()

    async def verify(file: bytes) -> tuple[bool, str, str | None, int | None]:
        answer = await handlers.verify_file(file, uow=unit_of_work(engine), sealer=press.sealer, signer=press.signer)
        count = answer.document.verification_count if answer.document else None
        return answer.genuine, answer.verdict.value, answer.document and answer.document.document_number, count

    assert document.checksum_sha256 == hashlib.sha256(content).hexdigest(), "the recorded hash is the signed file's"
    assert await verify(content) == (True, "genuine", document.number, 1)
    assert await verify(content.replace(b"/Title (", b"/Title (X", 1)) == (False, "signature_invalid", None, None)
    assert await verify(content + b"\n% edited\n") == (False, "signature_invalid", None, None)
    await handlers.revoke_document(document.id, reason="keliru", approved_by="kabid", uow=unit_of_work(engine))
    answer = await handlers.verify_file(content, uow=unit_of_work(engine), sealer=press.sealer, signer=press.signer)
    assert (answer.genuine, answer.document and answer.document.status) == (True, DocumentStatus.revoked)
