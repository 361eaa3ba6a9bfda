"""The sign-in throttle: after :data:`MAX_FAILURES` wrong passwords within
:data:`WINDOW` for one name, or from one address, the next tries are refused until the
window has passed since the last failure. The wrong try that reaches the limit is answered
as a wrong password (issue 13: "a wrong password five times slows the next try"); the one
after it is the first refused.

Kept in memory, per process (a restart forgets it): enough for one ``revisit serve``
process; several processes behind a balancer each count their own tries, so an attacker
gets at most ``MAX_FAILURES`` × processes tries per window.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import defaultdict, deque
from collections.abc import Callable

from revisit.db.tables import utcnow

MAX_FAILURES = 5
WINDOW = dt.timedelta(minutes=15)


class LoginThrottle:
    """Failed sign-ins by key (``name:<name>``, ``ip:<address>``), thread-safe; ``clock``
    (aware UTC) is what the sign-in route asks for "now"."""

    def __init__(
        self,
        max_failures: int = MAX_FAILURES,
        window: dt.timedelta = WINDOW,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.max_failures, self.window, self.clock = max_failures, window, clock
        self._failures: dict[str, deque[dt.datetime]] = defaultdict(deque)
        self._lock = threading.Lock()

    @staticmethod
    def keys(name: str, address: str | None) -> list[str]:
        """The keys a try counts against: the name (case-folded) and the client address."""
        return [f"name:{name.strip().casefold()}", f"ip:{address or 'unknown'}"]

    def _recent(self, key: str, now: dt.datetime) -> deque[dt.datetime]:
        failures = self._failures[key]
        while failures and now - failures[0] > self.window:
            failures.popleft()
        return failures

    def retry_after(self, keys: list[str], now: dt.datetime) -> dt.timedelta | None:
        """How long until a try with these keys is allowed again, or None when it is now."""
        with self._lock:
            waits = []
            for key in keys:
                failures = self._recent(key, now)
                if len(failures) >= self.max_failures:
                    waits.append(failures[-1] + self.window - now)
            return max(waits) if waits else None

    def failed(self, keys: list[str], now: dt.datetime) -> None:
        """Count one wrong password against every key."""
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)

    def succeeded(self, keys: list[str]) -> None:
        """A right password: the name's count starts over (the address keeps its count)."""
        with self._lock:
            for key in keys:
                if key.startswith("name:"):
                    self._failures.pop(key, None)
