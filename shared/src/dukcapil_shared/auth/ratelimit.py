"""Rate limits for the endpoints anyone may call (following a request, verifying a document, signing in).

Counted per client address in a moving window, in memory by default (so per process: with N replicas a client
gets up to N times the limit), or in Redis or Memcached when `RATE_LIMIT_STORAGE_URL` says so (e.g.
`async+redis://redis:6379`, which needs the redis package). The address is the proxy's forwarded one when
the request came through a trusted proxy (see the services' `forwarded_allow_ips`).
"""

import math
import time

from limits import RateLimitItem, parse
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

from dukcapil_shared.web import ApiError


class RateLimits:
    def __init__(self, storage_url: str = "async+memory://") -> None:
        self._limiter = MovingWindowRateLimiter(storage_from_string(storage_url))  # type: ignore[arg-type]

    async def hit(self, name: str, rate: str, key: str) -> None:
        """Counts one call; raises 429 with Retry-After once the rate is exceeded."""
        item: RateLimitItem = parse(rate)
        if await self._limiter.hit(item, name, key):
            return
        stats = await self._limiter.get_window_stats(item, name, key)
        retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        raise ApiError(
            429,
            "too_many_requests",
            f"Too many requests from your address (at most {rate}); try again in {retry_after} s.",
            headers={"Retry-After": str(retry_after)},
        )
