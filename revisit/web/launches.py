"""Campaign launches from the web app, behind one small interface (:class:`Launcher`) with
two implementations chosen from the settings (:func:`revisit.web.app.launcher_for`):

- :class:`ThreadLauncher` (no Prefect API configured): the launch runs in a background
  thread of this process through the same entry function as ``revisit campaign run``
  (:func:`revisit.entry.daily.launch`), so the page answers at once;
- :class:`~revisit.web.prefect_launches.PrefectLauncher` (``PREFECT_API_URL`` or
  ``REVISIT_PREFECT_API_URL`` set): the launch is a flow run of the ``launch-campaign``
  deployment, which a worker of the pool runs through that same function, and its state is
  read back from the server.

Either keeps in memory, per process, which launches it started: campaign and day →
:class:`LaunchState`."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy.engine import Engine

from revisit.entry.clocks import real_clock
from revisit.entry.daily import launch
from revisit.errors import RevisitError
from revisit.settings import Settings

_log = logging.getLogger(__name__)
RUNNING, DONE, FAILED = "running", "done", "failed"
#: What a page says of a failure that is a bug (the detail is in the log).
UNEXPECTED = RevisitError("the launch failed unexpectedly; the error is logged", code="error")


@dataclass(frozen=True)
class LaunchState:
    """Where a launch stands: ``state`` (``running``, ``done`` or ``failed``), the
    ``error`` of a failed one (its message, and a words ``code`` when it is an expected
    one), and for a Prefect launch its flow run's name and state name (``Scheduled``,
    ``Running``, ``Completed``, …)."""

    state: str
    error: RevisitError | None = None
    flow_run: str | None = None
    flow_state: str | None = None


class Launcher(Protocol):
    """Starts campaign launches and tells where each stands."""

    def start(
        self, engine: Engine, settings: Settings, *, name: str, day: dt.date,
        actor: str | None = None,
    ) -> bool:  # fmt: skip
        """Launch campaign ``name`` for ``day`` (audited as ``actor``'s when given); False
        when that launch is already running. Raises :class:`RevisitError` when the launch
        cannot be started at all (the Prefect server cannot be reached, say)."""
        ...

    def state(self, name: str, day: dt.date) -> LaunchState | None:
        """The state of the launch of ``name`` for ``day``, or None when never launched
        through this launcher."""
        ...


@dataclass
class ThreadLauncher:
    """Launches in background threads of this process: (campaign, day) → state."""

    states: dict[tuple[str, dt.date], LaunchState] = field(default_factory=dict)
    threads: list[threading.Thread] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def state(self, name: str, day: dt.date) -> LaunchState | None:
        """See :meth:`Launcher.state`."""
        return self.states.get((name, day))

    def start(
        self, engine: Engine, settings: Settings, *, name: str, day: dt.date,
        actor: str | None = None,
    ) -> bool:  # fmt: skip
        """Launch ``name`` for ``day`` in a thread (see :meth:`Launcher.start`)."""
        key = (name, day)
        with self.lock:
            found = self.states.get(key)
            if found is not None and found.state == RUNNING:
                return False
            self.states[key] = LaunchState(RUNNING)
        thread = threading.Thread(
            target=self._run, args=(engine, settings, key, actor), name=f"launch-{name}",
            daemon=True,
        )  # fmt: skip
        self.threads.append(thread)
        thread.start()
        return True

    def _run(
        self, engine: Engine, settings: Settings, key: tuple[str, dt.date], actor: str | None
    ) -> None:
        try:
            launch(engine, settings, name=key[0], as_of=key[1], clock=real_clock, actor=actor)
            result = LaunchState(DONE)
        except RevisitError as exc:
            result = LaunchState(FAILED, error=exc)
        except Exception:  # a bug: logged with its traceback, a generic line on the page
            _log.exception("launch of %s for %s failed", *key)
            result = LaunchState(FAILED, error=UNEXPECTED)
        with self.lock:
            self.states[key] = result

    def join(self, timeout: float | None = None) -> None:
        """Wait for every launch started so far (tests, shutdown)."""
        for thread in list(self.threads):
            thread.join(timeout)
