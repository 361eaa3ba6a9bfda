"""One send rate for a provider account, shared by every dispatcher of every run and machine.

The provider limits the account, not a process: two workers each paced at 50/s would reach
it at 100/s. On PostgreSQL every dispatcher of one account reserves its start slots from one
row of ``send_rate`` (the account's next free slot, on the database's clock), so the slots
of all dispatchers lie on one grid ``1 / rate`` apart. A reservation takes a small block of
slots in one atomic ``UPDATE … RETURNING`` (one round trip per block, not per message); a
slot that has gone by before its dispatcher could use it is dropped, never used late, so a
dispatcher that fell behind cannot burst. Why a row in PostgreSQL rather than a Prefect
global concurrency limit: see README, One shared send rate.

SQLite has one dispatcher (README, Scaling out); there the process's own
:class:`~revisit.delivery.ratelimit.RateLimiter` paces it.
"""

from __future__ import annotations

import asyncio
import collections
import time
from typing import Protocol

from sqlalchemy import text
from sqlalchemy.engine import Engine

from revisit.delivery.ratelimit import RateLimiter

STALE_S = 0.02  # a slot is usable until 20 ms after its time, then dropped

_RESERVE = text(
    """
    WITH t AS (SELECT extract(epoch FROM clock_timestamp())::float8 AS now)
    UPDATE send_rate AS s
       SET next_at = greatest(s.next_at, t.now) + :span
      FROM t
     WHERE s.key = :key
 RETURNING s.next_at - :span - t.now
    """
)
_CREATE = text("INSERT INTO send_rate (key, next_at) VALUES (:key, 0) ON CONFLICT (key) DO NOTHING")


class Limiter(Protocol):
    """What the dispatcher waits on before each provider request."""

    async def acquire(self) -> float: ...


class SharedRateLimiter:
    """At most ``rate`` starts per second for ``key`` across every process using this
    PostgreSQL database: starts lie on one grid ``1 / rate`` apart and each within 20 ms of
    its slot (a later one is dropped), so no one-second window holds more than
    ``rate * 1.02 + 1`` of them.

    ``block`` slots are reserved per round trip (default: a tenth of a second's worth, at
    least 1, at most 20). ``acquire()`` returns the ``time.monotonic()`` slot it waited for.
    Raises :class:`ValueError` for a rate that is not positive."""

    def __init__(self, engine: Engine, *, key: str, rate: float, block: int | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.engine, self.key, self.rate = engine, key, rate
        self.interval = 1.0 / rate
        self.block = block or max(1, min(20, int(rate / 10)))
        self._slots: collections.deque[float] = collections.deque()
        self._lock = asyncio.Lock()
        self._ready = False

    def _reserve(self) -> tuple[float, float]:
        """Reserve ``block`` slots: (monotonic time of the first, seconds between them)."""
        span = self.block * self.interval
        with self.engine.begin() as conn:
            if not self._ready:
                conn.execute(_CREATE, {"key": self.key})
                self._ready = True
            wait = float(conn.execute(_RESERVE, {"key": self.key, "span": span}).scalar_one())
        return time.monotonic() + wait, self.interval

    async def acquire(self) -> float:
        async with self._lock:
            while True:
                while self._slots and self._slots[0] < time.monotonic() - STALE_S:
                    self._slots.popleft()  # gone by unused: never sent late, in a burst
                if self._slots:
                    slot = self._slots.popleft()
                    break
                first, step = await asyncio.to_thread(self._reserve)
                self._slots.extend(first + i * step for i in range(self.block))
            delay = slot - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
        return slot


def account_limiter(engine: Engine, *, key: str | None, rate: float) -> Limiter:
    """The limiter for a dispatcher: shared by ``key`` (the provider account) on PostgreSQL,
    the process's own on SQLite or when there is no account (the console channel)."""
    if key and engine.dialect.name == "postgresql":
        return SharedRateLimiter(engine, key=key, rate=rate)
    return RateLimiter(rate)
