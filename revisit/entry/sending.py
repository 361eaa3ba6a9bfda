"""Sending a campaign run's SMS outbox: in this process, or fanned out to other dispatchers.

:func:`send_sms` is the SMS half of a campaign run (:func:`revisit.entry.runs.run_campaign`);
:func:`dispatch_existing` sends an existing run's outbox by run id alone, for a dispatcher
started beside others (the ``dispatch-run`` flow). Both pace the provider with the account's
shared rate (:mod:`revisit.delivery.sharedrate`) and honour the campaign's send window in
every store of the run.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TextIO

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from revisit.campaigns.config import CampaignDef
from revisit.campaigns.window import within_send_window
from revisit.db.tables import CONTACTS, CUSTOMERS, RUNS, STORES
from revisit.delivery.channels import open_sms_channel
from revisit.delivery.dispatch import DispatchSummary, dispatch_run
from revisit.delivery.outbox import status_counts
from revisit.entry.lookup import campaign_files, find_campaign
from revisit.errors import NotFoundError
from revisit.settings import Settings

Clock = Callable[[], dt.datetime]
# Has run ``run_id``'s outbox sent by dispatchers elsewhere (the dispatch-run flow runs of a
# flow's fan-out) and returns, when they have finished, what goes in the report; or returns
# None at once, and the run is sent here (a run too small to share, say).
FanOut = Callable[[int], dict[str, Any] | None]
WAITING = ("pending", "sending", "unknown")


@dataclass
class Sent:
    """How a run's SMS went: the run's ``status`` (done | deferred | paused), the dispatch
    summary as a dict (or what the fan-out reported), and the console file when there is no
    Twilio account."""

    status: str
    dispatch: dict[str, Any] = field(default_factory=dict)
    sms_file: str | None = None


def real_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def store_zones(engine: Engine, run_id: int, default: str) -> set[str]:
    """The time zones of the stores whose customers wait in this run's outbox."""
    stores, customers, contacts = STORES, CUSTOMERS, CONTACTS
    query = (
        select(stores.c.timezone)
        .join_from(contacts, customers, customers.c.customer_id == contacts.c.customer_id)
        .join(stores, stores.c.store_id == customers.c.store_id)
        .where(contacts.c.run_id == run_id, contacts.c.status == "pending")
        .distinct()
    )
    with Session(engine) as session:
        return {tz or default for tz in session.execute(query).scalars()} or {default}


def waiting(engine: Engine, run_id: int) -> int:
    """Contacts of the run still to send or to settle (pending, sending, unknown)."""
    counts = status_counts(engine, run_id=run_id)
    return sum(counts.get(s, 0) for s in WAITING)


def send_sms(
    engine: Engine,
    *,
    campaign: CampaignDef,
    run_id: int,
    as_of: dt.date,
    clock: Clock,
    settings: Settings,
    rate: float | None,
    concurrency: int,
    progress: Callable[[DispatchSummary], None] | None = None,
    fan_out: FanOut | None = None,
) -> Sent:
    """Send run ``run_id``'s waiting SMS here, or through ``fan_out`` (then the run's status
    is the one its dispatchers stored, ``done`` when nothing waits any more)."""
    if not waiting(engine, run_id):
        return Sent("done")
    report = fan_out(run_id) if fan_out is not None else None
    if report is not None:
        if not waiting(engine, run_id):
            return Sent("done", report)
        with engine.connect() as conn:
            status = conn.execute(select(RUNS.c.status).where(RUNS.c.id == run_id)).scalar()
        return Sent(status if status in ("deferred", "paused") else "paused", report)
    path = settings.output_dir / "sms" / f"{campaign.name}_{as_of}.txt"
    out = None
    if not settings.has_twilio:
        path.parent.mkdir(parents=True, exist_ok=True)
        out = path.open("a", encoding="utf-8")
    try:
        summary = _dispatch(engine, campaign=campaign, run_id=run_id, clock=clock,
                            settings=settings, rate=rate, concurrency=concurrency,
                            progress=progress, out=out)  # fmt: skip
    finally:
        if out is not None:
            out.close()
    return Sent(summary.status, summary.as_dict(), None if out is None else str(path))


def _dispatch(
    engine: Engine,
    *,
    campaign: CampaignDef,
    run_id: int,
    clock: Clock,
    settings: Settings,
    rate: float | None,
    concurrency: int,
    progress: Callable[[DispatchSummary], None] | None,
    out: TextIO | None,
) -> DispatchSummary:
    zones = store_zones(engine, run_id, settings.default_timezone)

    def may_send(_real: dt.datetime) -> bool:
        # Quiet hours follow the run's clock (pinned with --now in a replay), in every
        # store of the run; leases and the provider reconciliation use the real clock, which
        # is the one the provider's timestamps are compared with.
        at = clock()
        return all(within_send_window(at, tz, campaign.send_window) for tz in zones)

    async def go() -> DispatchSummary:
        channel = open_sms_channel(settings, max_connections=concurrency + 4, console_stream=out)
        try:
            return await dispatch_run(
                engine, run_id=run_id, channel=channel,
                rate=rate or (50.0 if settings.has_twilio else 5000.0), concurrency=concurrency,
                clock=real_clock, may_send=may_send, progress=progress,
                rate_key=settings.sms_account,
            )  # fmt: skip
        finally:
            await channel.aclose()

    return asyncio.run(go())


def dispatch_existing(
    engine: Engine,
    settings: Settings,
    *,
    run_id: int,
    clock: Clock,
    rate: float | None = None,
    concurrency: int = 10,
) -> Sent:
    """Send the waiting SMS of campaign run ``run_id`` as one of possibly several
    dispatchers (PostgreSQL; see README, Scaling out), under its campaign's send window.

    Raises :class:`~revisit.errors.NotFoundError` when there is no such run and the
    campaign's :class:`~revisit.errors.ConfigError` or NotFoundError when its file is broken
    or gone."""
    with engine.connect() as conn:
        row = conn.execute(select(RUNS.c.campaign, RUNS.c.as_of).where(RUNS.c.id == run_id)).first()
    if row is None:
        raise NotFoundError(f"no campaign run with id {run_id} (see the campaign_runs table)")
    campaign = find_campaign(campaign_files(settings), row.campaign)
    return send_sms(
        engine, campaign=campaign, run_id=run_id, as_of=row.as_of, clock=clock,
        settings=settings, rate=rate, concurrency=concurrency,
    )  # fmt: skip
