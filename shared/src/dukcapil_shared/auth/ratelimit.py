"""Rate limits for what anyone may do: per client address, and per target (a request number, a NIK, a document,
a phone number), so that rotating addresses does not lift them.

Counted in a moving window, in memory by default (so per process: with N replicas a client gets up to N times the
limit; enough for `make run`), or in Redis when `RATE_LIMIT_STORAGE_URL` says so (`async+redis://redis:6379`),
shared by every replica. The address is the proxy's forwarded one only when the request came through a proxy the
service trusts (its `forwarded_allow_ips`).

When the store does not answer, the limits are let go (logged as an error each time), not the citizens: the
limits are a second line behind what they guard (an 80-bit access code, a person's own request), and refusing
every citizen while Redis restarts would be the worse failure.
"""

import bisect
import hashlib
import math
import time

import structlog
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string

from dukcapil_shared.web import ApiError

log = structlog.get_logger(__name__)


class RateLimits:
    def __init__(self, storage_url: str = "async+memory://", *, key_prefix: str = "dukcapil") -> None:
        if storage_url.split("://", 1)[0] == "async+memory":
            storage = SweptMemoryStorage(storage_url, wrap_exceptions=True)
        else:
            options = {"key_prefix": key_prefix} if storage_url.startswith("async+redis") else {}
            storage = storage_from_string(storage_url, wrap_exceptions=True, **options)
        self._limiter = MovingWindowRateLimiter(storage)  # type: ignore[arg-type]

    async def hit(self, name: str, rate: str, key: str, *, what: str = "from your address") -> None:
        """Counts one call; raises 429 with Retry-After once the rate is exceeded. `what` says whose count it is."""
        if not await self.allow(name, rate, key):
            retry_after = await self.retry_after(name, rate, key)
            raise ApiError(
                429,
                "too_many_requests",
                f"Too many requests {what} (at most {rate}); try again in {retry_after} s. / Terlalu banyak "
                f"permintaan; coba lagi dalam {retry_after} detik.",
                headers={"Retry-After": str(retry_after)},
            )

    async def allow(self, name: str, rate: str, key: str) -> bool:
        """Counts one event; False once the rate is exceeded (the caller decides what that means)."""
        try:
            return await self._limiter.hit(parse(rate), name, key)
        except StorageError as error:
            _unavailable(name, error)
            return True

    async def exhausted(self, name: str, rate: str, key: str) -> int | None:
        """Seconds until the next event would be allowed, or None if it would be now; counts nothing."""
        item: RateLimitItem = parse(rate)
        try:
            if await self._limiter.test(item, name, key):
                return None
        except StorageError as error:
            _unavailable(name, error)
            return None
        return await self.retry_after(name, rate, key)

    async def retry_after(self, name: str, rate: str, key: str) -> int:
        try:
            stats = await self._limiter.get_window_stats(parse(rate), name, key)
        except StorageError as error:
            _unavailable(name, error)
            return 60
        return max(1, math.ceil(stats.reset_time - time.time()))


class SweptMemoryStorage(MemoryStorage):
    """limits' in-memory store, cleared of expired entries a few keys at a time, in the event loop.

    limits (5.8) starts a sweep of every key after each hit whenever none is running, and hands each key's entries to a
    worker thread for one bisect: under steady load the sweeps run back to back, a thread hop per key. Measured: 1.5
    ms of CPU per hit with 10 keys, a whole core with a thousand (a citizen's NIK is a key). Here each count looks at
    the next SWEEP_STEP keys of a round over all of them: a bounded cost per count, no pause of the event loop however
    many keys there are, and keys are dropped faster than counts can make them."""

    SWEEP_STEP = 16

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions)
        self._round: list[str] = []

    # limits calls its private `__schedule_expiry` before every count; this is that name, mangled as Python does.
    # test_auth.py checks that limits' own sweep never starts.
    async def _MemoryStorage__schedule_expiry(self) -> None:
        self.sweep(time.time(), self.SWEEP_STEP)

    def sweep(self, now: float, keys: int | None = None) -> None:
        """Drops what expired among the next `keys` keys of the round (every key: None). No await in here, so no
        count can interleave: the per-key locks limits keeps need not be taken."""
        if keys is None:
            step, self._round = [*self.events, *self.expirations], []
        else:
            if not self._round:
                self._round = [*self.events, *self.expirations]
            step = self._round[-keys:]
            del self._round[-keys:]
        for key in step:
            if (entries := self.events.get(key)) is not None:
                live = entries[: bisect.bisect_left(entries, -now, key=lambda entry: -entry.expiry)]
                if live:
                    self.events[key] = live
                else:
                    del self.events[key]
                    self.locks.pop(key, None)
            if (expiry := self.expirations.get(key)) is not None and expiry <= now:
                self.storage.pop(key, None)
                del self.expirations[key]
                self.locks.pop(key, None)


def _unavailable(name: str, error: StorageError) -> None:
    log.error("rate_limit_store_unavailable", limit=name, error=type(error.storage_error).__name__)


def target_key(value: str) -> str:
    """The counter's key for a target that is personal data (a NIK, a phone number, an e-mail address): a digest,
    so that the limit store never holds the value itself."""
    return hashlib.blake2b(value.encode(), digest_size=16, person=b"dukcapil-limits").hexdigest()
