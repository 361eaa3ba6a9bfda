"""Flow control for dispatch: a smooth rate limiter and retry backoff with jitter."""

from __future__ import annotations

import asyncio
import collections
import random
import time
from collections.abc import Awaitable, Callable


class RateLimiter:
    """At most ``rate`` starts per second, evenly spaced, with no burst.

    Two rules together. Start slots lie on a grid of step ``1 / rate``, and a caller that
    arrives late does not get the missed slots back (the grid restarts at the present): that
    keeps starts evenly spaced. And a sliding log of the last ``floor(rate)`` start times,
    taken when the caller actually wakes, holds a start back until the oldest of them is a
    full second old: so no window of one second ever holds more than ``rate`` starts, even
    when the event loop wakes sleepers late and they would otherwise bunch up.
    """

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.interval = 1.0 / rate
        self._clock = clock
        self._sleep = sleep
        self._next: float | None = None
        self._recent: collections.deque[float] = collections.deque(maxlen=max(1, int(rate)))
        self._lock = asyncio.Lock()

    async def acquire(self) -> float:
        """Wait for the next slot; returns the clock time at which the caller may start."""
        async with self._lock:
            now = self._clock()
            slot = now if self._next is None or self._next < now else self._next
            if len(self._recent) == self._recent.maxlen:
                slot = max(slot, self._recent[0] + 1.0)
            if slot > now:
                await self._sleep(slot - now)
            started = max(slot, self._clock())
            self._next = slot + self.interval
            self._recent.append(started)
            return started


def backoff_delay(
    attempt: int,
    *,
    retry_after: float | None = None,
    base: float = 0.5,
    cap: float = 30.0,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before retry number ``attempt`` (1-based): exponential with full
    jitter on top of the provider's ``Retry-After``, which is a floor, never shortened."""
    rng = rng or random.Random()
    exp = min(cap, base * (2 ** (attempt - 1)))
    floor = retry_after or 0.0
    return floor + rng.uniform(0, exp)
