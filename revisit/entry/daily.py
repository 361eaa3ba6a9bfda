"""Running campaigns: one campaign by name, the day's daily campaigns, the unsettled runs.

The CLI (``campaign run``, ``campaign daily``) and the flows (``launch-campaign``,
``daily-reminders``, ``reconcile-deliveries``) call these with an engine and the process's
settings; a flow passes its Prefect task as ``runner`` so that each campaign run is one task.
A campaign whose file is broken, or whose run fails with a :class:`~revisit.errors.RevisitError`
(a template error, say), fails alone: the other campaigns still run and the result says which
failed and why.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from revisit.access.audit import audit
from revisit.campaigns.config import CampaignDef
from revisit.campaigns.statuses import AuditAction
from revisit.delivery.dispatch import DispatchSummary
from revisit.delivery.outbox import unsettled_runs
from revisit.entry.lookup import campaign_files, find_campaign
from revisit.entry.runs import RunOptions, RunReport, daily_campaigns, run_campaign
from revisit.errors import RevisitError
from revisit.settings import Settings

Clock = Callable[[], dt.datetime]  # an aware "now" each time it is called
Progress = Callable[[DispatchSummary], None]


# What runs one campaign: :func:`revisit.entry.runs.run_campaign`, or a flow's task around it
# taking the same arguments.
Runner = Callable[..., RunReport]


@dataclass
class DailyResult:
    """The runs of a day's campaigns (highest rank first) and the campaigns that failed:
    campaign (or file stem) → the one-line error."""

    as_of: dt.date
    reports: list[RunReport] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)
    resumed: list[RunReport] = field(default_factory=list)  # earlier days' runs, resumed first

    @property
    def failed(self) -> bool:
        """True when any campaign failed (its file broken, or its run raised)."""
        return bool(self.failures)


def launch(
    engine: Engine,
    settings: Settings,
    *,
    name: str,
    as_of: dt.date,
    clock: Clock,
    options: RunOptions | None = None,
    progress: Progress | None = None,
    runner: Runner = run_campaign,
    actor: str | None = None,
) -> RunReport:
    """Run the campaign called ``name`` for ``as_of`` (see :func:`run_campaign`); with an
    ``actor`` (a person or a deployment), the launch is audited first.

    Raises :class:`~revisit.errors.NotFoundError` for an unknown name and the file's
    :class:`~revisit.errors.ConfigError` when that campaign's file is broken (other broken
    files do not matter)."""
    files = campaign_files(settings)
    campaign = find_campaign(files, name)
    if actor is not None:
        detail = {"as_of": as_of.isoformat(), "dry_run": bool(options and options.dry_run)}
        with engine.begin() as conn:
            audit(conn, actor=actor, action=AuditAction.CAMPAIGN_LAUNCHED, entity="campaign",
                  entity_id=campaign.name, detail=detail)  # fmt: skip
    return runner(
        engine, campaign=campaign, campaigns=files.campaigns, as_of=as_of, clock=clock,
        settings=settings, options=options, progress=progress,
    )  # fmt: skip


def run_daily(
    engine: Engine,
    settings: Settings,
    *,
    as_of: dt.date,
    clock: Clock,
    options: RunOptions | None = None,
    progress_for: Callable[[str], Progress] | None = None,
    runner: Runner = run_campaign,
    resume_days: int = 3,
) -> DailyResult:
    """Run every ``schedule: daily`` campaign for ``as_of``, highest rank first, each
    executing its part of the day's kept plan (planned once for them all, in one pass, by
    the first run or preview of the day). A broken file or a failed run is recorded in
    ``failures`` and the rest go on.

    First, the runs of the ``resume_days`` days before ``as_of`` that still have SMS waiting
    (deferred by the send window, paused, or left by a crash) are resumed
    (:func:`resume_unsettled`, into ``resumed``): their SMS go out, or expire past their last
    useful day, before today's plan counts their customers as already contacted. 0 skips it."""
    files = campaign_files(settings)
    result = DailyResult(as_of=as_of, failures={n: str(e) for n, e in files.broken.items()})
    if resume_days > 0:
        earlier = resume_unsettled(
            engine, settings, since=as_of - dt.timedelta(days=resume_days), before=as_of,
            clock=clock, runner=runner,
        )  # fmt: skip
        result.resumed = earlier.reports
        result.failures.update({f"{k} (resumed)": v for k, v in earlier.failures.items()})
    for campaign in daily_campaigns(files.campaigns):
        report = _run_alone(
            result, runner, engine, campaign=campaign, campaigns=files.campaigns, as_of=as_of,
            clock=clock, settings=settings, options=options,
            progress=progress_for(campaign.name) if progress_for else None,
        )  # fmt: skip
        if report is not None:
            result.reports.append(report)
    return result


def resume_unsettled(
    engine: Engine,
    settings: Settings,
    *,
    since: dt.date,
    clock: Clock,
    runner: Runner = run_campaign,
    before: dt.date | None = None,
) -> DailyResult:
    """Resume the runs of the days from ``since`` (and before ``before``, when given) that
    still have SMS waiting (deferred by the send window, paused after failures, or left by a
    crash); ``as_of`` of the result is ``since``."""
    files = campaign_files(settings)
    result = DailyResult(as_of=since)
    for name, day in unsettled_runs(engine, since=since, before=before):
        try:
            campaign = find_campaign(files, name)
        except RevisitError as exc:
            result.failures[f"{name} {day}"] = str(exc)
            continue
        report = _run_alone(
            result, runner, engine, campaign=campaign, campaigns=files.campaigns, as_of=day,
            clock=clock, settings=settings, options=RunOptions(),
        )  # fmt: skip
        if report is not None:
            result.reports.append(report)
    return result


def _run_alone(
    result: DailyResult, runner: Runner, engine: Engine, *, campaign: CampaignDef, **kw: Any
) -> RunReport | None:
    try:
        return runner(engine, campaign=campaign, **kw)
    except RevisitError as exc:
        result.failures[campaign.name] = str(exc)
        return None
