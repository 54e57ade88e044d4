"""Server-side sessions: the cookie carries only a signed random id; what the session holds stays on the server.

Why not a cookie that holds the data (Starlette's SessionMiddleware): a session holds the access codes of the
requests a citizen follows, and a code in a cookie, even signed, travels with every request and outlives a
"forget" on the server. So the cookie holds a 256-bit random id signed with itsdangerous (a forged or truncated
cookie is told apart from an expired session without a lookup), and the data lives in memory (one process, for
`make run`) or in Redis (every replica), encrypted with Fernet under a key derived from the portal's secret, so a
Redis dump shows no access code; the key in Redis is a digest of the id, so reading Redis gives no usable cookie.
A session unused for `idle` seconds is gone.
"""

import base64
import hashlib
import json
import secrets
import time
from collections import OrderedDict
from typing import Any, Protocol

import structlog
from cryptography.fernet import Fernet, InvalidToken
from itsdangerous import BadSignature, Signer

log = structlog.get_logger(__name__)


class SessionStore(Protocol):
    async def load(self, key: str) -> bytes | None: ...
    async def save(self, key: str, value: bytes, idle_seconds: int) -> None: ...
    async def delete(self, key: str) -> None: ...
    async def ping(self) -> bool: ...
    async def close(self) -> None: ...


class MemorySessionStore:
    """One process's sessions, the least recently used dropped beyond `max_sessions`."""

    def __init__(self, max_sessions: int = 10_000) -> None:
        self._items: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._max = max_sessions

    async def load(self, key: str) -> bytes | None:
        item = self._items.get(key)
        if item is None:
            return None
        expires, value = item
        if expires < time.monotonic():
            del self._items[key]
            return None
        return value

    async def save(self, key: str, value: bytes, idle_seconds: int) -> None:
        self._items[key] = (time.monotonic() + idle_seconds, value)
        self._items.move_to_end(key)
        while len(self._items) > self._max:
            self._items.popitem(last=False)

    async def delete(self, key: str) -> None:
        self._items.pop(key, None)

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        self._items.clear()


class RedisSessionStore:
    def __init__(self, url: str, *, prefix: str = "dukcapil:web:session:") -> None:
        from redis.asyncio import Redis

        self._redis = Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
        self._prefix = prefix

    async def load(self, key: str) -> bytes | None:
        return await self._redis.get(self._prefix + key)

    async def save(self, key: str, value: bytes, idle_seconds: int) -> None:
        await self._redis.set(self._prefix + key, value, ex=idle_seconds)

    async def delete(self, key: str) -> None:
        await self._redis.delete(self._prefix + key)

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except Exception:  # any failure means not ready
            return False

    async def close(self) -> None:
        await self._redis.aclose()


def session_store(url: str, *, max_in_memory: int = 10_000) -> SessionStore:
    if url.startswith("memory"):
        return MemorySessionStore(max_in_memory)
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisSessionStore(url)
    raise ValueError(f"WEB_SESSION_STORE_URL must be memory:// or redis://..., not {url.split(':', 1)[0]}://")


class Session(dict[str, Any]):
    """A session's data; `modified` when anything was set, `rotated` when it must get a new id (after it came to
    hold an access code, so that an id seen before cannot ride on it)."""

    def __init__(self, data: dict[str, Any] | None = None, *, session_id: str | None = None) -> None:
        super().__init__(data or {})
        self.session_id = session_id
        self.modified = False
        self.rotated = False
        self.cleared = False

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self.modified = True

    def __delitem__(self, key: str) -> None:
        super().__delitem__(key)
        self.modified = True

    def pop(self, key: str, *default: Any) -> Any:  # type: ignore[override]
        self.modified = self.modified or key in self
        return super().pop(key, *default)

    def rotate(self) -> None:
        self.rotated = True
        self.modified = True

    def clear(self) -> None:
        super().clear()
        self.cleared = True
        self.modified = True


class Sessions:
    """Loads and saves sessions by their signed cookie value."""

    def __init__(self, store: SessionStore, *, secret: str, idle_seconds: int) -> None:
        self.store = store
        self.idle_seconds = idle_seconds
        self._signer = Signer(secret, salt="dukcapil-web-session")
        key = hashlib.sha256(b"dukcapil-web-session-encryption\x00" + secret.encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(key))

    def _key(self, session_id: str) -> str:
        return hashlib.blake2b(session_id.encode(), digest_size=20, person=b"dukcapil-web").hexdigest()

    async def load(self, cookie: str | None) -> Session:
        if not cookie:
            return Session()
        try:
            session_id = self._signer.unsign(cookie).decode()
        except BadSignature:
            return Session()
        try:
            stored = await self.store.load(self._key(session_id))
        except Exception as error:  # the store is away: the citizen gets a fresh session, not an error page
            log.error("session_store_unavailable", error=type(error).__name__)
            return Session()
        if stored is None:
            return Session()
        try:
            data = json.loads(self._fernet.decrypt(stored))
        except (InvalidToken, ValueError):
            return Session()
        return Session(data, session_id=session_id)

    async def save(self, session: Session) -> str | None:
        """Stores the session and answers the cookie value to set, or None when nothing needs setting."""
        if not session.modified:
            return None
        if session.session_id is not None and (session.rotated or session.cleared):
            await self.store.delete(self._key(session.session_id))
            session.session_id = None
        if session.cleared and not session:
            return ""
        if session.session_id is None:
            session.session_id = secrets.token_urlsafe(32)
        payload = self._fernet.encrypt(json.dumps(dict(session), separators=(",", ":")).encode())
        await self.store.save(self._key(session.session_id), payload, self.idle_seconds)
        return self._signer.sign(session.session_id).decode()

    async def touch(self, session: Session) -> None:
        """Keeps a session that was only read alive for another idle period."""
        if session.session_id is not None and not session.modified:
            payload = self._fernet.encrypt(json.dumps(dict(session), separators=(",", ":")).encode())
            await self.store.save(self._key(session.session_id), payload, self.idle_seconds)
