"""A run's SMS outbox sent by several dispatchers: the fan-out hook of a campaign run, and
one dispatcher's share of an existing run.

A campaign run (:func:`revisit.entry.runs.run_campaign`) given a :data:`FanOut` hands its
written SMS outbox to it instead of its channel; the flows' fan-out starts dispatch-run flow
runs on the pool's workers, each of which calls :func:`dispatch_existing`. Every dispatcher
sends through the run's own SMS channel (:class:`revisit.delivery.channels.sms.SmsChannel`):
the campaign's send window in every store of the run, the account's one shared rate.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from contextlib import closing
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from revisit.campaigns.statuses import WAITING_STATUSES, RunStatus
from revisit.db.tables import RUNS
from revisit.delivery import outbox
from revisit.delivery.channels import open_channel
from revisit.delivery.channels.run import Delivered
from revisit.entry.lookup import campaign_files, find_campaign
from revisit.errors import NotFoundError
from revisit.rendering import Renderer
from revisit.settings import Settings

Clock = Callable[[], dt.datetime]
# Has run ``run_id``'s outbox sent by dispatchers elsewhere (the dispatch-run flow runs of a
# flow's fan-out) and returns, when they have finished, what goes in the report; or returns
# None at once, and the run's own channel sends it (a run too small to share, say).
FanOut = Callable[[int], dict[str, Any] | None]


def waiting(engine: Engine, run_id: int) -> int:
    """Contacts of the run still to send or to settle (pending, sending, unknown)."""
    counts = outbox.status_counts(engine, run_id=run_id)
    return sum(counts.get(s, 0) for s in WAITING_STATUSES)


def fanned_out(engine: Engine, run_id: int, report: dict[str, Any]) -> Delivered:
    """Where a run stands once its fan-out's dispatchers have finished: done when nothing
    waits, else the status its last dispatcher stored (deferred by the send window), paused
    otherwise (a dispatcher failed; ``reconcile-deliveries`` resumes the run)."""
    if not waiting(engine, run_id):
        return Delivered(RunStatus.DONE, dispatch=report)
    with engine.connect() as conn:
        stored = conn.execute(select(RUNS.c.status).where(RUNS.c.id == run_id)).scalar()
    deferred = stored == RunStatus.DEFERRED
    return Delivered(RunStatus.DEFERRED if deferred else RunStatus.PAUSED, dispatch=report)


def dispatch_existing(
    engine: Engine,
    settings: Settings,
    *,
    run_id: int,
    clock: Clock,
    rate: float | None = None,
    concurrency: int = 10,
) -> Delivered:
    """Send the waiting SMS of campaign run ``run_id`` as one of possibly several
    dispatchers (PostgreSQL; see README, Scaling out), under its campaign's send window.

    Raises :class:`~revisit.errors.NotFoundError` when there is no such run, and the
    campaign's :class:`~revisit.errors.ConfigError` or NotFoundError when its file is broken
    or gone."""
    with engine.connect() as conn:
        row = conn.execute(select(RUNS.c.campaign, RUNS.c.as_of).where(RUNS.c.id == run_id)).first()
    if row is None:
        raise NotFoundError(f"no campaign run with id {run_id} (see the campaign_runs table)")
    campaign = find_campaign(campaign_files(settings), row.campaign)
    channel = open_channel(
        campaign, settings=settings, as_of=row.as_of, clock=clock,
        renderer=Renderer(settings.templates_dir), rate=rate, concurrency=concurrency,
    )  # fmt: skip
    with closing(channel):
        if not channel.find(engine, run_id=run_id):
            return Delivered(RunStatus.DONE)
        return channel.send(engine, run_id=run_id)
