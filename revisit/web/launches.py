"""Campaign launches from the web app, run in a background thread through the same entry
function as ``revisit campaign run`` (:func:`revisit.entry.daily.launch`) so the page can
answer at once and show the run's progress. Kept in memory per process: campaign and day →
``running``, ``done`` or the one-line error."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from revisit.entry.clocks import real_clock
from revisit.entry.daily import launch
from revisit.errors import RevisitError
from revisit.settings import Settings

_log = logging.getLogger(__name__)
RUNNING, DONE = "running", "done"


@dataclass
class Launches:
    """The launches this process started: (campaign, day) → state, and their threads."""

    states: dict[tuple[str, dt.date], str] = field(default_factory=dict)
    threads: list[threading.Thread] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def state(self, name: str, day: dt.date) -> str | None:
        """``running``, ``done``, an error line, or None when never launched here."""
        return self.states.get((name, day))

    def start(
        self,
        engine: Engine,
        settings: Settings,
        *,
        name: str,
        day: dt.date,
        actor: str | None = None,
    ) -> bool:
        """Launch ``name`` for ``day`` in a thread (audited as ``actor``'s when given);
        False when that launch is running."""
        key = (name, day)
        with self.lock:
            if self.states.get(key) == RUNNING:
                return False
            self.states[key] = RUNNING
        thread = threading.Thread(
            target=self._run,
            args=(engine, settings, key, actor),
            name=f"launch-{name}",
            daemon=True,
        )
        self.threads.append(thread)
        thread.start()
        return True

    def _run(
        self, engine: Engine, settings: Settings, key: tuple[str, dt.date], actor: str | None
    ) -> None:
        try:
            launch(engine, settings, name=key[0], as_of=key[1], clock=real_clock, actor=actor)
            result = DONE
        except RevisitError as exc:
            result = str(exc)
        except Exception:  # a bug: logged with its traceback, a generic line on the page
            _log.exception("launch of %s for %s failed", *key)
            result = "the launch failed unexpectedly; the error is logged"
        with self.lock:
            self.states[key] = result

    def join(self, timeout: float | None = None) -> None:
        """Wait for every launch started so far (tests, shutdown)."""
        for thread in list(self.threads):
            thread.join(timeout)
