import copy
import hashlib
import hmac
import uuid
from datetime import datetime

from dukcapil_documents.domain.model import (
    Document,
    DocumentKind,
    DocumentStatus,
    EmbeddedSignature,
    NumberReservation,
    issue_year,
)
from dukcapil_documents.service_layer.handlers import Press
from dukcapil_documents.service_layer.ports import (
    DocumentRenderer,
    DocumentSigner,
    DocumentStorage,
    PdfSealer,
    PublicKey,
)
from dukcapil_documents.service_layer.unit_of_work import (
    DocumentRepository,
    DocumentsUnitOfWork,
    NumberAlreadyReserved,
    NumberState,
)
from dukcapil_testing import FakeUnitOfWork

BASE_URL = "https://dukcapil.lebakkab.go.id"


class FakeDocumentRepository(DocumentRepository):
    def __init__(self) -> None:
        self.committed: dict[uuid.UUID, Document] = {}
        self.pending: dict[uuid.UUID, Document] = {}
        self.counters: dict[tuple[str, int], int] = {}
        self.pending_counters: dict[tuple[str, int], int] = {}
        self.reservations: dict[uuid.UUID, NumberReservation] = {}
        self.pending_reservations: dict[uuid.UUID, NumberReservation | None] = {}

    async def add(self, document: Document) -> None:
        if document.is_current and any(
            existing.request_id == document.request_id and existing.is_current for existing in self._all()
        ):
            raise ValueError(f"a valid document for request {document.request_id} exists")
        self.pending[document.id] = copy.deepcopy(document)

    async def get(self, document_id: uuid.UUID | None) -> Document | None:
        return copy.deepcopy(self._view().get(document_id))  # type: ignore[arg-type]

    async def for_request(self, request_id: uuid.UUID) -> list[Document]:
        found = [copy.deepcopy(d) for d in self._all() if d.request_id == request_id]
        return sorted(found, key=lambda document: (document.issued_at, document.number))

    async def by_verification_token(self, token: str) -> Document | None:
        return next((copy.deepcopy(d) for d in self._all() if d.verification_token == token), None)

    async def by_checksum(self, checksum_sha256: str) -> Document | None:
        return next((copy.deepcopy(d) for d in self._all() if d.checksum_sha256 == checksum_sha256), None)

    async def next_sequence(self, type_code: str, year: int) -> int:
        key = (type_code, year)
        self.pending_counters[key] = self.pending_counters.get(key, self.counters.get(key, 0)) + 1
        return self.pending_counters[key]

    async def number_state(self, request_id: uuid.UUID) -> NumberState:
        issued = any(d.request_id == request_id for d in self._all())
        return NumberState(issued=issued, reservation=self._reservation(request_id))

    def _reservation(self, request_id: uuid.UUID) -> NumberReservation | None:
        if request_id in self.pending_reservations:
            return self.pending_reservations[request_id]
        return self.reservations.get(request_id)

    async def reserve_number(self, request_id: uuid.UUID, kind: DocumentKind, at: datetime) -> NumberReservation:
        sequence = await self.next_sequence(kind.code, issue_year(at))
        if self._reservation(request_id) is not None:
            raise NumberAlreadyReserved(str(request_id))
        reservation = NumberReservation(request_id, kind, issue_year(at), sequence, at)
        self.pending_reservations[request_id] = reservation
        return reservation

    async def release_reservation(self, request_id: uuid.UUID) -> None:
        self.pending_reservations[request_id] = None

    async def save_revocation(self, document: Document) -> bool:
        stored = self._view()[document.id]
        if stored.status is not DocumentStatus.valid:
            return False
        self.pending[document.id] = copy.deepcopy(document)
        return True

    async def count_verification(self, document_id: uuid.UUID, at: datetime) -> int:
        stored = copy.deepcopy(self._view()[document_id])
        stored.verification_count += 1
        self.pending[document_id] = stored
        return stored.verification_count

    def _view(self) -> dict[uuid.UUID, Document]:
        return {**self.committed, **self.pending}

    def _all(self) -> list[Document]:
        return list(self._view().values())


class FakeDocumentsUnitOfWork(FakeUnitOfWork, DocumentsUnitOfWork):
    def __init__(self) -> None:
        super().__init__()
        self.documents = FakeDocumentRepository()

    async def commit(self) -> None:
        await super().commit()
        self.documents.committed.update(self.documents.pending)
        self.documents.counters.update(self.documents.pending_counters)
        for request_id, reservation in self.documents.pending_reservations.items():
            if reservation is None:
                self.documents.reservations.pop(request_id, None)
            else:
                self.documents.reservations[request_id] = reservation
        self.documents.pending = {}
        self.documents.pending_counters = {}
        self.documents.pending_reservations = {}

    async def rollback(self) -> None:
        await super().rollback()
        self.documents.pending = {}
        self.documents.pending_counters = {}
        self.documents.pending_reservations = {}

    @property
    def issued(self) -> list[Document]:
        return sorted(self.documents.committed.values(), key=lambda document: document.number)


class FakeRenderer(DocumentRenderer):
    def __init__(self) -> None:
        self.rendered: list[tuple[str, str]] = []

    async def render(self, document: Document, *, verification_url: str) -> bytes:
        self.rendered.append((document.number, verification_url))
        return f"%PDF-fake {document.number} {document.details} {verification_url}".encode()


class FakeSigner(DocumentSigner):
    """HMAC in place of a public-key signature: the same contract, no key files."""

    def __init__(self, key: bytes = b"office-key", key_id: str = "fake-key-1") -> None:
        self._keys = {key_id: key}
        self._key_id = key_id

    @property
    def key_id(self) -> str:
        return self._key_id

    def sign(self, payload: bytes) -> str:
        return hmac.new(self._keys[self._key_id], payload, hashlib.sha256).hexdigest()

    def verify(self, payload: bytes, signature: str, key_id: str) -> bool:
        key = self._keys.get(key_id)
        expected = hmac.new(key, payload, hashlib.sha256).hexdigest() if key else ""
        return bool(key) and hmac.compare_digest(expected, signature)

    def public_keys(self) -> list[PublicKey]:
        return [PublicKey(key_id=self._key_id, algorithm="HMAC-SHA256", pem="(secret)", current=True)]


class FakeSealer(PdfSealer):
    """An HMAC of the file appended as its last line in place of a PAdES signature: the same contract, no
    certificates. Bytes changed before the line break it; bytes added after it leave it intact but not covering
    the whole file."""

    MARK = b"\n%fake-seal "

    def __init__(self, key: bytes = b"office-certificate") -> None:
        self._key = key
        self.sealed = 0

    async def seal(self, content: bytes) -> bytes:
        self.sealed += 1
        return content + self.MARK + self._mac(content) + b"\n"

    async def examine(self, content: bytes) -> EmbeddedSignature:
        signed, mark, rest = content.rpartition(self.MARK)
        if not mark:
            return EmbeddedSignature()
        mac, _, after = rest.partition(b"\n")
        intact = hmac.compare_digest(mac, self._mac(signed))
        return EmbeddedSignature(
            present=True,
            intact=intact,
            whole_file=not after,
            trusted=intact,
            by_office=True,
            signer="CN=Fake office certificate",
        )

    def _mac(self, content: bytes) -> bytes:
        return hmac.new(self._key, content, hashlib.sha256).hexdigest().encode()


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

    async def delete(self, key: str) -> None:
        self.files.pop(key, None)


def a_press(
    *,
    storage: FakeStorage | None = None,
    renderer: DocumentRenderer | None = None,
    signer: DocumentSigner | None = None,
    sealer: PdfSealer | None = None,
) -> Press:
    return Press(
        renderer=renderer or FakeRenderer(),
        signer=signer or FakeSigner(),
        sealer=sealer or FakeSealer(),
        storage=storage or FakeStorage(),
        public_base_url=BASE_URL,
    )
