"""Where the services get the time: one clock, built by each service's composition root and handed to whatever needs
"now" (handlers, consumers, routes, background loops). Domain functions still take `now` as a plain argument. The
standard library only: every layer may import this module."""

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def __call__(self) -> datetime:
        """The current moment, timezone-aware."""
        ...


class SystemClock:
    """The machine's clock, in UTC."""

    def __call__(self) -> datetime:
        return datetime.now(UTC)

    def __repr__(self) -> str:
        return "SystemClock()"


system_clock: Clock = SystemClock()
"""The default of a handler's `clock` argument; a composition root passes the one it built."""
