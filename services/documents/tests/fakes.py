import copy
import uuid

from dukcapil_documents.domain.model import Document
from dukcapil_documents.service_layer.ports import DocumentRenderer, DocumentStorage
from dukcapil_documents.service_layer.unit_of_work import DocumentRepository, DocumentsUnitOfWork
from dukcapil_shared.testing import FakeUnitOfWork


class FakeDocumentRepository(DocumentRepository):
    def __init__(self) -> None:
        self.committed: dict[uuid.UUID, Document] = {}
        self.pending: dict[uuid.UUID, Document] = {}
        self.counters: dict[tuple[str, int], int] = {}
        self.pending_counters: dict[tuple[str, int], int] = {}

    async def add(self, document: Document) -> None:
        if any(existing.request_id == document.request_id for existing in self._all()):
            raise ValueError(f"duplicate request_id {document.request_id}")
        self.pending[document.id] = copy.deepcopy(document)

    async def get(self, document_id: uuid.UUID) -> Document | None:
        return copy.deepcopy(self.pending.get(document_id) or self.committed.get(document_id))

    async def for_request(self, request_id: uuid.UUID) -> Document | None:
        return next((copy.deepcopy(d) for d in self._all() if d.request_id == request_id), None)

    async def by_verification_token(self, token: str) -> Document | None:
        return next((copy.deepcopy(d) for d in self._all() if d.verification_token == token), None)

    async def next_sequence(self, type_code: str, year: int) -> int:
        key = (type_code, year)
        self.pending_counters[key] = self.pending_counters.get(key, self.counters.get(key, 0)) + 1
        return self.pending_counters[key]

    def _all(self) -> list[Document]:
        return [*self.committed.values(), *self.pending.values()]


class FakeDocumentsUnitOfWork(FakeUnitOfWork, DocumentsUnitOfWork):
    def __init__(self) -> None:
        super().__init__()
        self.documents = FakeDocumentRepository()

    async def commit(self) -> None:
        await super().commit()
        self.documents.committed.update(self.documents.pending)
        self.documents.counters.update(self.documents.pending_counters)
        self.documents.pending = {}
        self.documents.pending_counters = {}

    async def rollback(self) -> None:
        await super().rollback()
        self.documents.pending = {}
        self.documents.pending_counters = {}

    @property
    def issued(self) -> list[Document]:
        return list(self.documents.committed.values())


class FakeRenderer(DocumentRenderer):
    def __init__(self) -> None:
        self.rendered: list[tuple[str, str]] = []

    async def render(self, document: Document, *, verification_url: str) -> bytes:
        self.rendered.append((document.number, verification_url))
        return f"%PDF-fake {document.number} {verification_url}".encode()


class FakeStorage(DocumentStorage):
    def __init__(self, *, fail: bool = False) -> None:
        self.files: dict[str, bytes] = {}
        self.fail = fail

    async def save(self, key: str, content: bytes) -> None:
        if self.fail:
            raise OSError("disk full")
        self.files[key] = content

    async def load(self, key: str) -> bytes | None:
        return self.files.get(key)
