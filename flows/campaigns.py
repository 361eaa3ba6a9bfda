"""Flows ``daily-reminders``, ``launch-campaign`` and ``reconcile-deliveries``.

Each campaign run is one task: the run itself batches its contacts (rendering a thousand at a
time, claiming and sending in small groups), so a run of 100,000 SMS is still one task.
"""

from __future__ import annotations

import datetime as dt

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact

from revisit.campaigns.config import load_campaigns
from revisit.campaigns.statuses import ContactStatus, PlanDecision
from revisit.delivery.outbox import unsettled_runs
from revisit.entry.engine import open_engine
from revisit.entry.runs import RunOptions, RunReport, daily_campaigns, pinned_clock, run_campaign
from revisit.settings import Settings


def _settings(database_url: str | None) -> Settings:
    settings = Settings()
    return settings.model_copy(update={"database_url": database_url}) if database_url else settings


def _day(settings: Settings, as_of: str | None) -> dt.date:
    if as_of:
        return dt.date.fromisoformat(as_of)
    return settings.today()


@task(name="run-campaign")
def run_one(settings: Settings, name: str, as_of: dt.date, options: RunOptions) -> RunReport:
    campaigns = load_campaigns(settings.campaigns_dir)
    engine = open_engine(settings.database_url)
    try:
        return run_campaign(
            engine, campaign=campaigns[name], campaigns=campaigns, as_of=as_of,
            now=pinned_clock(None), settings=settings, options=options,
        )  # fmt: skip
    finally:
        engine.dispose()


def runs_markdown(reports: list[RunReport]) -> str:
    lines = [
        "| campaign | as of | targeted | to contact | sent | listed | waiting | status |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for r in reports:
        box = r.outbox
        waiting = box.get(ContactStatus.PENDING, 0) + box.get(ContactStatus.UNKNOWN, 0)
        lines.append(
            f"| {r.campaign} | {r.as_of} | {r.plan.get('targeted', 0)} "
            f"| {r.plan.get(PlanDecision.TO_CONTACT, 0)} | {box.get(ContactStatus.SENT, 0)} "
            f"| {box.get(ContactStatus.LISTED, 0)} | {waiting} | {r.status} |"
        )
    return "\n".join(lines)


@flow(name="daily-reminders")
def daily_reminders(
    as_of: str | None = None, database_url: str | None = None, rate: float | None = None
) -> list[dict]:
    """Run every ``schedule: daily`` campaign for the day, highest priority first."""
    settings = _settings(database_url)
    day = _day(settings, as_of)
    campaigns = load_campaigns(settings.campaigns_dir)
    reports = [
        run_one(settings, c.name, day, RunOptions(rate=rate)) for c in daily_campaigns(campaigns)
    ]
    create_markdown_artifact(key="daily-reminders", markdown=runs_markdown(reports))
    return [r.as_dict() for r in reports]


@flow(name="launch-campaign")
def launch_campaign(
    name: str,
    as_of: str | None = None,
    dry_run: bool = False,
    rate: float | None = None,
    concurrency: int = 10,
    database_url: str | None = None,
) -> dict:
    """Run one campaign (a manual one, typically) for a day."""
    settings = _settings(database_url)
    options = RunOptions(rate=rate, concurrency=concurrency, dry_run=dry_run)
    report = run_one(settings, name, _day(settings, as_of), options)
    create_markdown_artifact(key="launch-campaign", markdown=runs_markdown([report]))
    return report.as_dict()


@flow(name="reconcile-deliveries")
def reconcile_deliveries(days: int = 3, database_url: str | None = None) -> list[dict]:
    """Resume the runs of the last ``days`` days that still have SMS waiting: deferred by
    quiet hours, paused after failures, or left by a crash (their unknown outcomes are
    reconciled with the provider before anything is resent)."""
    settings = _settings(database_url)
    engine = open_engine(settings.database_url)
    try:
        waiting = unsettled_runs(engine, since=_day(settings, None) - dt.timedelta(days=days))
    finally:
        engine.dispose()
    reports = [run_one(settings, name, day, RunOptions()) for name, day in waiting]
    if reports:
        create_markdown_artifact(key="reconcile-deliveries", markdown=runs_markdown(reports))
    return [r.as_dict() for r in reports]
