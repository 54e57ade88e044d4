import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from dukcapil_documents.adapters import tables
from dukcapil_documents.adapters.repository import SqlDocumentsUnitOfWork
from dukcapil_documents.domain.model import Document
from dukcapil_documents.service_layer import handlers
from dukcapil_shared.contracts import Envelope, RequestApproved
from dukcapil_shared.db import create_engine, migrate
from dukcapil_shared.files import DirectoryFileStore

from ..fakes import FakeRenderer

HOLDER = {"nik": "3602144107900001", "name": "Siti Aminah", "birth_date": "1990-07-01", "sex": "female"}


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


def a_document(number: str = "KK/3602/2026/000001") -> Document:
    request_id = uuid.uuid4()
    return Document(
        id=uuid.uuid4(), request_id=request_id, request_number="360214-20261128-0007", type="kartu_keluarga",
        number=number, holder=HOLDER, details={"reason": "pisah KK", "members": [{"name": "Budi"}]},
        kecamatan_code="36.02.14", verification_token=uuid.uuid4().hex, storage_key=f"{request_id}.pdf",
        issued_at=datetime(2026, 11, 28, 3, 0, 0, 123000, tzinfo=UTC), checksum_sha256="ab" * 32,
    )  # fmt: skip


async def test_a_document_is_stored_and_found_by_id_request_and_token(engine: AsyncEngine) -> None:
    document = a_document()
    async with unit_of_work(engine) as uow:
        await uow.documents.add(document)
        await uow.commit()

    async with unit_of_work(engine) as uow:
        assert await uow.documents.get(document.id) == document
        assert await uow.documents.for_request(document.request_id) == document
        assert await uow.documents.by_verification_token(document.verification_token) == document
        assert await uow.documents.get(uuid.uuid4()) is None
        assert await uow.documents.for_request(uuid.uuid4()) is None
        assert await uow.documents.by_verification_token("unknown") is None


async def test_a_second_document_for_the_same_request_is_refused(engine: AsyncEngine) -> None:
    first = a_document("KK/3602/2026/000001")
    second = a_document("KK/3602/2026/000002")
    second.request_id = first.request_id
    async with unit_of_work(engine) as uow:
        await uow.documents.add(first)
        await uow.commit()
    with pytest.raises(IntegrityError):
        async with unit_of_work(engine) as uow:
            await uow.documents.add(second)


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


async def test_concurrent_approvals_of_one_request_issue_one_document_whose_file_matches(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    storage = DirectoryFileStore(tmp_path / "files")
    event = RequestApproved(
        request_id=uuid.uuid4(), request_number="360214-20261128-0007", request_type="kartu_keluarga",
        applicant=HOLDER, details={}, delivery={"method": "pickup", "pickup_kecamatan_code": "36.02.14"},
        kecamatan_code="36.02.14", reviewer="rina",
    )  # fmt: skip

    class SlowRenderer(FakeRenderer):
        async def render(self, document: Document, *, verification_url: str) -> bytes:
            await asyncio.sleep(0.2)
            return await super().render(document, verification_url=verification_url)

    async def consume() -> None:
        # As the consumer does, retrying a failed attempt once.
        for attempt in range(2):
            try:
                async with unit_of_work(engine) as uow:
                    envelope = Envelope.wrap(event, source="/test")
                    assert await uow.inbox.claim("dukcapil.documents.approvals", str(envelope.id))
                    await handlers.issue_document(
                        uow, event, envelope, renderer=SlowRenderer(), storage=storage, public_base_url="http://x"
                    )
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
    _, content = await handlers.get_document_file(uuid.UUID(document.id), uow=unit_of_work(engine), storage=storage)
    assert b"KK/3602/" in content
