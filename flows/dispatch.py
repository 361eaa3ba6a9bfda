"""Flow ``dispatch-run``, and the fan-out that starts several of them for one large run.

A large SMS run is shared by the workers of the pool: once its outbox is written,
``daily-reminders`` (and ``launch-campaign``) submit ``dispatchers`` runs of the
``dispatch-run`` deployment for it and wait for them. Each claims batches of the run's
contacts with ``FOR UPDATE SKIP LOCKED``, paced by the account's one shared rate; a
dispatcher that dies leaves its leased contacts to the others, which reconcile them with the
provider before anything is resent. PostgreSQL only: on SQLite the run is sent by the flow
run itself, one dispatcher (README, Scaling out).
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from prefect import flow, get_client
from prefect.client.schemas.objects import FlowRun
from prefect.deployments import run_deployment
from prefect.states import Failed, State

from revisit.entry.context import load_settings
from revisit.entry.engine import open_existing
from revisit.entry.runs import pinned_clock
from revisit.entry.sending import FanOut, dispatch_existing, waiting
from revisit.errors import RevisitError

DEPLOYMENT = "dispatch-run/dispatch-run"
POLL_SECONDS = 2.0


@flow(name="dispatch-run", flow_run_name="dispatch-run-{run_id}")
def dispatch_run_flow(
    run_id: int,
    rate: float | None = None,
    concurrency: int = 10,
    now: dt.datetime | None = None,
    database_url: str | None = None,
) -> dict[str, Any] | State:
    """Send campaign run ``run_id``'s waiting SMS, beside any other dispatcher of that run;
    ``now`` pins the send window's clock as in the flow that fanned out. Not retried: a
    dispatcher may have sent; the run is resumed by ``reconcile-deliveries`` instead."""
    try:
        settings = load_settings(database_url=database_url)
        engine = open_existing(settings.database_url)
        try:
            sent = dispatch_existing(
                engine, settings, run_id=run_id, clock=pinned_clock(now), rate=rate,
                concurrency=concurrency,
            )  # fmt: skip
        finally:
            engine.dispose()
    except RevisitError as exc:
        return Failed(message=str(exc))
    return {"status": sent.status, **sent.dispatch}


def fan_out(
    dispatchers: int,
    *,
    above: int,
    database_url: str | None,
    now: dt.datetime | None,
    rate: float | None,
    concurrency: int,
) -> FanOut | None:
    """A fan-out for the entry layer: a run with more than ``above`` waiting SMS is sent by
    ``dispatchers`` runs of the ``dispatch-run`` deployment (waited for, polling every
    ``POLL_SECONDS``); a smaller one is sent by the calling flow run (None back). None when
    there is nothing to fan out to: fewer than two dispatchers, or SQLite."""
    url = load_settings(database_url=database_url).database_url
    if dispatchers < 2 or url.startswith("sqlite"):
        return None
    params = {"rate": rate, "concurrency": concurrency, "database_url": database_url,
              "now": now.isoformat() if now else None}  # fmt: skip

    def send(run_id: int) -> dict[str, Any] | None:
        engine = open_existing(url)
        try:
            if waiting(engine, run_id) <= above:
                return None
        finally:
            engine.dispose()
        started: list[FlowRun] = [
            run_deployment(DEPLOYMENT, parameters={"run_id": run_id, **params}, timeout=0)  # type: ignore[misc]
            for _ in range(dispatchers)
        ]
        return {"dispatchers": _wait([r.id for r in started])}

    return send


def _wait(ids: list[Any]) -> list[dict[str, str]]:
    """Poll the flow runs ``ids`` until each has a final state; their names and states."""
    with get_client(sync_client=True) as client:
        while True:
            runs = [client.read_flow_run(i) for i in ids]
            if all(r.state is not None and r.state.is_final() for r in runs):
                return [{"flow_run": r.name, "state": r.state.type.value} for r in runs if r.state]
            time.sleep(POLL_SECONDS)
