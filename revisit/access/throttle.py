"""The sign-in throttle, counted per account name and, at a much higher limit, per address.

- Per name: after :data:`MAX_FAILURES` wrong passwords for one name within :data:`WINDOW`,
  the next tries of *that name* are refused until the window has passed since its last
  failure (issue 13: "a wrong password five times slows the next try").
- Per address: after :data:`MAX_ADDRESS_FAILURES` wrong passwords from one client address
  within the window — someone guessing many names — every try from that address is refused
  likewise. The limit is high because a store's office shares one address: five wrong
  passwords of one caller must not lock out her colleagues at the next desk.

The wrong try that reaches a limit is answered as a wrong password; the one after it is
the first refused. Kept in memory, per process (a restart forgets it): enough for one
``revisit serve`` process; several processes behind a balancer each count their own tries,
so an attacker gets at most the limit × processes tries per window.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import defaultdict, deque
from collections.abc import Callable

from revisit.db.tables import utcnow

#: Wrong passwords for one name within :data:`WINDOW` before that name waits.
MAX_FAILURES = 5
#: Wrong passwords from one address (any names) within :data:`WINDOW` before it waits.
MAX_ADDRESS_FAILURES = 50
WINDOW = dt.timedelta(minutes=15)


class LoginThrottle:
    """Failed sign-ins by key (``name:<name>``, ``ip:<address>``), thread-safe; a name key
    is limited at ``max_failures``, an address key at ``max_address_failures``; ``clock``
    (aware UTC) is what the sign-in route asks for "now"."""

    def __init__(
        self,
        max_failures: int = MAX_FAILURES,
        window: dt.timedelta = WINDOW,
        clock: Callable[[], dt.datetime] = utcnow,
        max_address_failures: int = MAX_ADDRESS_FAILURES,
    ) -> None:
        self.max_failures, self.window, self.clock = max_failures, window, clock
        self.max_address_failures = max_address_failures
        self._failures: dict[str, deque[dt.datetime]] = defaultdict(deque)
        self._lock = threading.Lock()

    @staticmethod
    def keys(name: str, address: str | None) -> list[str]:
        """The keys a try counts against: the name (case-folded) and the client address."""
        return [f"name:{name.strip().casefold()}", f"ip:{address or 'unknown'}"]

    def limit(self, key: str) -> int:
        """How many failures within the window ``key`` may have before it waits."""
        return self.max_address_failures if key.startswith("ip:") else self.max_failures

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
                if len(failures) >= self.limit(key):
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
