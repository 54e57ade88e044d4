"""In-memory stand-ins for the messaging abstractions and the broker, and staff tokens, for the services' tests."""

import copy
import json
import uuid
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from faststream.rabbit import RabbitBroker, RabbitRouter, TestRabbitBroker

from dukcapil_shared.auth.access import MemoryAccessLog
from dukcapil_shared.auth.grants import DownloadGrants, GrantVerifier
from dukcapil_shared.auth.http import REASON_HEADER, StaffAuth, install_auth
from dukcapil_shared.auth.keys import PublishedKeys, SigningKey
from dukcapil_shared.auth.ratelimit import RateLimits
from dukcapil_shared.auth.roles import KECAMATAN_BOUND, Principal, Role
from dukcapil_shared.auth.tokens import LocalTokenVerifier, TokenIssuer
from dukcapil_shared.contracts import Envelope, Event
from dukcapil_shared.messaging import EventConsumer, RetryPolicy, ServiceTopology, Subscription
from dukcapil_shared.messaging.unit_of_work import Inbox, Outbox, UnitOfWork
from dukcapil_shared.ops.dead_letters import DeadLetter, DeadLetterStatus, LetterAlreadyResolved
from dukcapil_shared.ops.service import ReplayFailed, Republisher
from dukcapil_shared.ops.store import DeadLetterQuery, DeadLetterRepository, OpsUnitOfWork
from dukcapil_shared.settings import ServiceSettings


def minimal_pdf(pages: int = 1, *, size: int | None = None) -> bytes:
    """A small, valid PDF of blank A4 pages, made with the standard library: what a test uploads as a scan (intake
    parses every PDF, so a body that only starts with `%PDF-` is refused). With `size`, a comment pads it to exactly
    that many bytes."""
    content = _pdf(pages, 0)
    if size is not None and size != len(content):
        padding = max(size - len(content), 2)
        content = _pdf(pages, padding)
        content = _pdf(pages, padding + size - len(content))
        if len(content) != size:
            raise ValueError(f"no PDF of {pages} pages has exactly {size} bytes")
    return content


def _pdf(pages: int, padding: int) -> bytes:
    kids = " ".join(f"{3 + index} 0 R" for index in range(pages))
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>",
        *["<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>"] * pages,
    ]
    content = b"%PDF-1.4\n" + (b"%" + b"0" * (padding - 2) + b"\n" if padding else b"")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(content))
        content += f"{number} 0 obj\n{body}\nendobj\n".encode()
    xref = len(content)
    content += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    content += "".join(f"{offset:010d} 00000 n \n" for offset in offsets).encode()
    content += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return content


class UndeclaredEvent(AssertionError):
    """A handler added an event its unit of work does not declare in `publishes`."""


class FakeOutbox(Outbox):
    def __init__(self, declared: tuple[type[Event], ...] | None = None) -> None:
        self.pending: list[Envelope] = []
        self.committed: list[Envelope] = []
        self._declared = declared

    async def add(self, event: Event, *, traceparent: str | None = None) -> Envelope:
        if self._declared is not None and type(event) not in self._declared:
            raise UndeclaredEvent(
                f"{type(event).__name__} ({event.routing_key()}) is not in the unit of work's `publishes`: declare "
                "it there, so that the service's AsyncAPI document lists it, then run `make asyncapi`"
            )
        envelope = Envelope.wrap(event, source="/test", traceparent=traceparent)
        self.pending.append(envelope)
        return envelope

    @property
    def events(self) -> list[Event]:
        return [envelope.event() for envelope in self.committed]


class FakeInbox(Inbox):
    def __init__(self) -> None:
        self.seen: set[tuple[str, str]] = set()
        self.pending: set[tuple[str, str]] = set()

    async def claim(self, consumer: str, event_id: str) -> bool:
        key = (consumer, event_id)
        if key in self.seen or key in self.pending:
            return False
        self.pending.add(key)
        return True


class FakeUnitOfWork(UnitOfWork):
    """Subclasses keep their fake repositories' state across units of work and commit them in `commit`."""

    def __init__(self) -> None:
        self.outbox = FakeOutbox(declared=self.publishes)
        self.inbox = FakeInbox()
        self.commits = 0

    async def commit(self) -> None:
        self.outbox.committed += self.outbox.pending
        self.outbox.pending = []
        self.inbox.seen |= self.inbox.pending
        self.inbox.pending = set()
        self.commits += 1

    async def rollback(self) -> None:
        self.outbox.pending = []
        self.inbox.pending = set()


class FakeDeadLetterRepository(DeadLetterRepository):
    def __init__(self) -> None:
        self.committed: dict[uuid.UUID, DeadLetter] = {}
        self.pending: dict[uuid.UUID, DeadLetter] = {}

    async def add(self, letter: DeadLetter) -> bool:
        if letter.id in self.committed or letter.id in self.pending:
            return False
        self.pending[letter.id] = copy.deepcopy(letter)
        return True

    async def get(self, letter_id: uuid.UUID) -> DeadLetter | None:
        found = self.pending.get(letter_id) or self.committed.get(letter_id)
        return copy.deepcopy(found)

    async def list(self, query: DeadLetterQuery) -> list[DeadLetter]:
        found = [
            letter
            for letter in sorted(self.committed.values(), key=lambda letter: (letter.parked_at, str(letter.id)))
            if (query.status is None or letter.status == query.status)
            and (query.original_queue is None or letter.original_queue == query.original_queue)
            and (query.routing_key is None or letter.routing_key == query.routing_key)
            and (query.subject is None or letter.subject == query.subject)
        ]
        return copy.deepcopy(found[query.offset : query.offset + query.limit])

    async def save_resolution(self, letter: DeadLetter) -> None:
        current = self.pending.get(letter.id) or self.committed[letter.id]
        if current.status != DeadLetterStatus.parked:
            raise LetterAlreadyResolved(copy.deepcopy(current))
        self.pending[letter.id] = copy.deepcopy(letter)

    def commit(self) -> None:
        self.committed |= self.pending
        self.pending = {}


class FakeOpsUnitOfWork(FakeUnitOfWork, OpsUnitOfWork):
    def __init__(self) -> None:
        super().__init__()
        self.dead_letters = FakeDeadLetterRepository()

    async def commit(self) -> None:
        await super().commit()
        self.dead_letters.commit()

    async def rollback(self) -> None:
        await super().rollback()
        self.dead_letters.pending = {}


class FakeRepublisher(Republisher):
    """Records what it would send back; set `failure` to make the broker refuse."""

    def __init__(self) -> None:
        self.sent: list[DeadLetter] = []
        self.failure: ReplayFailed | None = None

    async def republish(self, letter: DeadLetter) -> None:
        if self.failure is not None:
            raise self.failure
        self.sent.append(copy.deepcopy(letter))


class InMemoryEventBus:
    """A service's subscriptions on FastStream's in-memory TestRabbitBroker.

    `publish` delivers an event the way the topic exchange would: to the queue of every subscription bound to
    its routing key, through the real EventConsumer (parsing, inbox, handler, commit). Acks, retries and dead
    letters do nothing in memory; the real broker's tests cover them.
    """

    def __init__(self, service: str, subscriptions: list[Subscription[Any]], unit_of_work: Callable[[], Any]) -> None:
        self._broker = RabbitBroker()
        router = RabbitRouter()
        self._consumers = [
            EventConsumer(
                topology=ServiceTopology(service),
                subscription=subscription,
                unit_of_work=unit_of_work,
                broker=self._broker,
                retry=RetryPolicy(),
            )
            for subscription in subscriptions
        ]
        for consumer in self._consumers:
            consumer.attach(router)
        self._broker.include_router(router)
        self._test_broker = TestRabbitBroker(self._broker)

    async def __aenter__(self) -> "InMemoryEventBus":
        await self._test_broker.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self._test_broker.__aexit__(*exc_info)

    async def publish(self, event: Event) -> list[str]:
        """Deliver the event; returns the queues that received it (none if the service does not subscribe)."""
        envelope = Envelope.wrap(event, source="/test")
        queues = [c.queue.name for c in self._consumers if event.routing_key() in c.subscription.routing_keys]
        for queue in queues:
            await self._broker.publish(envelope.to_json(), queue=queue, message_id=str(envelope.id))
        return queues


# --- staff tokens for tests ---

_DEFAULTS = ServiceSettings.model_fields

TEST_SIGNING_KEY = SigningKey(Ed25519PrivateKey.generate())
"""The tests' own staff-token key (one per test run): tokens they mint are signed with it, and the services they
build or start check tokens with its public half (`auth_env_for_tests`)."""


def auth_env_for_tests() -> dict[str, str]:
    """The environment under which services accept the tests' tokens, and intake signs its own with the same key."""
    pem = TEST_SIGNING_KEY.private_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return {"AUTH_JWKS": json.dumps(TEST_SIGNING_KEY.jwks()), "INTAKE_SIGNING_KEY": pem}


def development_token(role: Role, *, kecamatan: str | None = None, username: str | None = None) -> str:
    """A token as intake issues it, signed with the tests' key (which every service under `auth_env_for_tests`
    accepts), in a session of its own."""
    if role in KECAMATAN_BOUND and kecamatan is None:
        kecamatan = "36.02.14"  # Rangkasbitung
    issuer = TokenIssuer(
        key=TEST_SIGNING_KEY,
        issuer=_DEFAULTS["auth_token_issuer"].default,
        audience=_DEFAULTS["auth_token_audience"].default,
        lifetime=timedelta(hours=2),
    )
    principal = Principal(username=username or f"test.{role.value}", role=role, kecamatan_code=kecamatan)
    return issuer.issue(principal, session_id=uuid.uuid4()).access_token


def staff_headers(
    role: Role, *, kecamatan: str | None = None, reason: str | None = "testing", username: str | None = None
) -> dict[str, str]:
    """Authorization (and, unless reason is None, X-Access-Reason) headers for a member of staff in `role`."""
    headers = {"Authorization": f"Bearer {development_token(role, kecamatan=kecamatan, username=username)}"}
    if reason is not None:
        headers[REASON_HEADER] = reason
    return headers


class NoEndedSessions:
    async def ended(self, session_id: str) -> bool:
        return False


def install_test_auth(app: FastAPI, *, citizen_rate: str = "1000/minute") -> MemoryAccessLog:
    """Staff authentication as the services run it, with the access log kept in memory for the test to read."""
    access_log = MemoryAccessLog()
    install_auth(
        app,
        StaffAuth(
            verifier=LocalTokenVerifier(
                keys=PublishedKeys(document=json.dumps(TEST_SIGNING_KEY.jwks())),
                issuer=_DEFAULTS["auth_token_issuer"].default,
                audience=_DEFAULTS["auth_token_audience"].default,
                sessions=NoEndedSessions(),
            ),
            access_log=access_log,
            rate_limits=RateLimits(),
            citizen_rate=citizen_rate,
        ),
    )
    return access_log


def download_grants_for_tests() -> DownloadGrants:
    """Download grants as intake signs them, with the key the test tokens are signed with."""
    return DownloadGrants(key=TEST_SIGNING_KEY, issuer=_DEFAULTS["auth_token_issuer"].default)


def grant_verifier_for_tests() -> GrantVerifier:
    """Documents' check of download grants, trusting the test key."""
    return GrantVerifier(
        keys=PublishedKeys(document=json.dumps(TEST_SIGNING_KEY.jwks())), issuer=_DEFAULTS["auth_token_issuer"].default
    )


# --- the operators' command line against apps in this test ---


async def run_ops_cli(
    apps: Mapping[str, FastAPI], *argv: str, environ: Mapping[str, str] | None = None
) -> tuple[int, str, str]:
    """Runs `dukcapil-ops argv` in a thread, its HTTP calls answered on this test's event loop by the app whose
    base URL (a key of `apps`) they go to; others get 404. Returns the exit status, what it printed, and its
    error output."""
    import asyncio
    import contextlib
    import io

    import httpx

    from dukcapil_shared.ops import cli

    loop = asyncio.get_running_loop()
    clients = {url: httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) for url, app in apps.items()}

    def send(method: str, url: str, headers: Mapping[str, str], data: bytes | None, timeout: float) -> cli.Response:
        client = next((client for base, client in clients.items() if url.startswith(base + "/")), None)
        if client is None:
            return cli.Response(404, {"error": {"code": "not_found", "message": f"nothing at {url} in this test"}})
        call = client.request(method, url, headers=dict(headers), content=data, timeout=timeout)
        answer = asyncio.run_coroutine_threadsafe(call, loop).result()
        return cli.Response(answer.status_code, answer.json() if answer.content else None)

    out, err = io.StringIO(), io.StringIO()

    def run() -> int:
        with contextlib.redirect_stderr(err):
            return cli.main(list(argv), environ=environ or {}, send=send, out=out)

    status = await asyncio.to_thread(run)
    for client in clients.values():
        await client.aclose()
    return status, out.getvalue(), err.getvalue()
