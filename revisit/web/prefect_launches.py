"""Campaign launches as flow runs of the ``launch-campaign`` deployment (prefect.yaml), for
a web app whose settings name a Prefect API (:attr:`revisit.settings.Settings.prefect_api_url`).

A launch creates a flow run of the deployment through Prefect's client API
(``create_flow_run_from_deployment``: it returns at once, as ``run_deployment(...,
timeout=0)`` does) with the campaign, the day, ``dry_run`` false and the user as the
audited actor; a worker of the pool runs it through the same entry function as ``revisit
campaign run``, on the database of its own ``REVISIT_DATABASE_URL`` (the app's: no URL,
and no password, travels in the parameters). Its state is read back from the server each
time a page asks."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from revisit.errors import RevisitError
from revisit.settings import Settings
from revisit.web.launches import DONE, FAILED, RUNNING, LaunchState

#: The deployment a launch runs, as ``<flow name>/<deployment name>``.
DEPLOYMENT = "launch-campaign/launch-campaign"
_FAILED_STATES = ("FAILED", "CRASHED", "CANCELLED", "CANCELLING")


@dataclass
class PrefectLauncher:
    """Launches as flow runs of :data:`DEPLOYMENT` on the server at ``api_url``
    (``http://host:4200/api``): (campaign, day) → the flow run's id."""

    api_url: str
    deployment: str = DEPLOYMENT
    runs: dict[tuple[str, dt.date], uuid.UUID] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _client(self) -> Any:
        from prefect.client.orchestration import SyncPrefectClient

        return SyncPrefectClient(self.api_url)

    def start(
        self, engine: Engine, settings: Settings, *, name: str, day: dt.date,
        actor: str | None = None,
    ) -> bool:  # fmt: skip
        """Create a flow run of the deployment for ``name`` and ``day`` (see
        :meth:`revisit.web.launches.Launcher.start`). Raises :class:`RevisitError` (code
        ``prefect_unavailable``) when the server cannot be reached or has no such
        deployment."""
        key = (name, day)
        found = self.state(name, day)
        if found is not None and found.state == RUNNING:
            return False
        parameters = {"name": name, "as_of": day.isoformat(), "dry_run": False, "actor": actor}
        try:
            with self._client() as client:
                deployment = client.read_deployment_by_name(self.deployment)
                run = client.create_flow_run_from_deployment(
                    deployment.id, parameters=parameters, name=f"launch-campaign-{name}-{day}"
                )
        except Exception as exc:  # httpx, ObjectNotFound, …: one line, the rest in the log
            raise RevisitError(
                f"the Prefect server at {self.api_url} did not start deployment "
                f"{self.deployment}: {type(exc).__name__}: {exc}",
                code="prefect_unavailable",
                values={"deployment": self.deployment, "url": self.api_url},
            ) from exc
        with self.lock:
            self.runs[key] = run.id
        return True

    def state(self, name: str, day: dt.date) -> LaunchState | None:
        """The state of the flow run this process created for ``name`` and ``day`` (see
        :meth:`revisit.web.launches.Launcher.state`): running while it is scheduled,
        pending or running; done when completed; failed, with its state's message, when
        it failed, crashed or was cancelled. A server that cannot be reached is a failed
        state saying so (the flow run may still run)."""
        with self.lock:
            run_id = self.runs.get((name, day))
        if run_id is None:
            return None
        try:
            with self._client() as client:
                run = client.read_flow_run(run_id)
        except Exception as exc:
            error = RevisitError(
                f"the Prefect server at {self.api_url} cannot be reached: {exc}",
                code="prefect_unavailable",
                values={"deployment": self.deployment, "url": self.api_url},
            )  # fmt: skip
            return LaunchState(FAILED, error=error, flow_run=str(run_id))
        flow_state = run.state
        kind = flow_state.type.value if flow_state is not None else "SCHEDULED"
        label = flow_state.name if flow_state is not None else "Scheduled"
        if kind == "COMPLETED":
            return LaunchState(DONE, flow_run=run.name, flow_state=label)
        if kind in _FAILED_STATES:
            message = (flow_state.message if flow_state else None) or f"the flow run {label}"
            return LaunchState(FAILED, error=RevisitError(message), flow_run=run.name,
                               flow_state=label)  # fmt: skip
        return LaunchState(RUNNING, flow_run=run.name, flow_state=label)
