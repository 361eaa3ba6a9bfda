"""Flows ``daily-reminders``, ``launch-campaign`` and ``reconcile-deliveries`` (which also
polls delivery statuses).

Thin callers of the entry layer (:mod:`revisit.entry.daily`), as the CLI is: each flow run
builds its settings and engine once, passes them down, and runs each campaign as one task (the
run itself batches its contacts, so a run of 100,000 SMS is still one task). Runs are named
after their day (``daily-reminders-2026-11-23``). An expected failure — an unknown campaign, a
broken campaign file, a missing database — ends the flow run Failed with one clear message
instead of a traceback; the campaigns that could run have run.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.runtime import flow_run
from prefect.states import Failed, State
from prefect.utilities.annotations import quote
from sqlalchemy.engine import Engine

from flows.dispatch import fan_out
from revisit.campaigns.statuses import ContactStatus, PlanDecision
from revisit.entry.context import load_settings
from revisit.entry.daily import DailyResult, launch, resume_unsettled, run_daily
from revisit.entry.engine import open_existing
from revisit.entry.runs import RunOptions, RunReport, pinned_clock, real_clock, run_campaign
from revisit.entry.statuses import reconcile_statuses
from revisit.errors import RevisitError
from revisit.reports.campaigns import ReportFilter, artifact_rows, campaign_report
from revisit.settings import Settings


@task(name="run-campaign", cache_policy=NO_CACHE)
def run_campaign_task(engine: Engine, **kwargs: Any) -> RunReport | State:
    """One campaign run (:func:`revisit.entry.runs.run_campaign`) as a Prefect task; an
    expected failure (a template error, say) is a Failed task run with its one line."""
    try:
        return run_campaign(engine, **{k: v.unquote() if isinstance(v, quote) else v
                                       for k, v in kwargs.items()})  # fmt: skip
    except RevisitError as exc:
        return Failed(message=str(exc), data=exc)


def as_task(engine: Engine, **kwargs: Any) -> RunReport:
    """A runner for the entry layer that runs each campaign as a task (re-raising its
    expected failure, for the entry layer to record). Its arguments go in unvisited (quoted):
    Prefect would otherwise walk, and might copy, the campaign definitions and settings."""
    quoted = {k: quote(v) for k, v in kwargs.items()}
    state: State = run_campaign_task(engine, return_state=True, **quoted)  # type: ignore[assignment]
    outcome = state.result(raise_on_failure=False)
    if isinstance(outcome, RevisitError):
        raise outcome
    if not isinstance(outcome, RunReport):
        raise RevisitError(state.message or f"the run ended {state.type.value}")
    return outcome


def run_name(prefix: str) -> Callable[[], str]:
    """A flow-run namer: ``<prefix>-<as_of>`` (today in the default store time zone when the
    run has no ``as_of``)."""

    def name() -> str:
        as_of = flow_run.parameters.get("as_of")
        return f"{prefix}-{as_of or load_settings().today()}"

    return name


@contextmanager
def opened(database_url: str | None) -> Iterator[tuple[Settings, Engine]]:
    """The flow run's settings (with ``database_url`` when given) and an engine on the
    existing database, disposed of at the end."""
    settings = load_settings(database_url=database_url)
    engine = open_existing(settings.database_url)
    try:
        yield settings, engine
    finally:
        engine.dispose()


def publish_report(engine: Engine, reports: list[RunReport], key: str) -> list[dict]:
    """The report rows of these runs (README, Reports) as a table artifact; returns them."""
    ids = tuple(r.run_id for r in reports if r.run_id is not None)
    if not ids:
        return []
    with engine.connect() as conn:
        rows = artifact_rows(campaign_report(conn, ReportFilter(run_ids=ids)))
    create_table_artifact(key=key, table=rows, description="Report rows of the runs")
    return rows


def runs_markdown(reports: list[RunReport]) -> str:
    lines = [
        "| campaign | as of | targeted | to contact | sent | listed | expired | waiting | status |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in reports:
        box = r.outbox
        waiting = box.get(ContactStatus.PENDING, 0) + box.get(ContactStatus.UNKNOWN, 0)
        lines.append(
            f"| {r.campaign} | {r.as_of} | {r.plan.get('targeted', 0)} "
            f"| {r.plan.get(PlanDecision.TO_CONTACT, 0)} | {box.get(ContactStatus.SENT, 0)} "
            f"| {box.get(ContactStatus.LISTED, 0)} | {box.get(ContactStatus.EXPIRED, 0)} "
            f"| {waiting} | {r.status} |"
        )
    return "\n".join(lines)


def _outcome(key: str, result: DailyResult) -> list[dict] | State:
    runs = result.resumed + result.reports  # earlier days' runs resumed first, then the day's
    if runs:
        create_markdown_artifact(key=key, markdown=runs_markdown(runs))
    reports = [r.as_dict() for r in runs]
    if result.failed:
        failed = "; ".join(f"{name}: {error}" for name, error in result.failures.items())
        return Failed(message=f"{len(result.failures)} failed ({failed})", data=reports)
    return reports


@flow(name="daily-reminders", flow_run_name=run_name("daily-reminders"))
def daily_reminders(
    as_of: dt.date | None = None,
    database_url: str | None = None,
    rate: float | None = None,
    now: dt.datetime | None = None,
    dispatchers: int = 0,
    fan_out_above: int = 5000,
) -> list[dict] | State:
    """Run every ``schedule: daily`` campaign for the day, highest priority first, sharing
    the day's kept plan as ``revisit campaign daily`` does. ``now`` (aware) pins the run's
    clock for a replay, as ``campaign daily --now`` does; the wall clock otherwise. An SMS
    run with more than ``fan_out_above`` waiting is sent by ``dispatchers`` dispatch-run
    flow runs on the pool's workers (PostgreSQL, two or more; see flows/dispatch.py)."""
    try:
        with opened(database_url) as (settings, engine):
            spread = fan_out(dispatchers, above=fan_out_above, database_url=database_url,
                             now=now, rate=rate, concurrency=10)  # fmt: skip
            result = run_daily(
                engine, settings, as_of=as_of or settings.today(), clock=pinned_clock(now),
                options=RunOptions(rate=rate, fan_out=spread), runner=as_task,
            )  # fmt: skip
            publish_report(engine, result.resumed + result.reports, "daily-reminders-report")
    except RevisitError as exc:
        return Failed(message=str(exc))
    return _outcome("daily-reminders", result)


@flow(name="launch-campaign", flow_run_name=run_name("launch-campaign"))
def launch_campaign(
    name: str,
    as_of: dt.date | None = None,
    dry_run: bool = False,
    rate: float | None = None,
    concurrency: int = 10,
    database_url: str | None = None,
    dispatchers: int = 0,
    fan_out_above: int = 5000,
    now: dt.datetime | None = None,
    actor: str | None = None,
) -> dict | State:
    """Run one campaign (a manual one, typically) for a day; a large SMS run fans out
    as in ``daily-reminders``; ``now`` pins the run's clock as there. A launch that sends
    is audited as ``actor``'s (the web app passes the user who launched it), else as
    ``prefect:launch-campaign``."""
    try:
        with opened(database_url) as (settings, engine):
            spread = fan_out(dispatchers, above=fan_out_above, database_url=database_url,
                             now=now, rate=rate, concurrency=concurrency)  # fmt: skip
            options = RunOptions(rate=rate, concurrency=concurrency, dry_run=dry_run,
                                 fan_out=spread)  # fmt: skip
            report = launch(
                engine, settings, name=name, as_of=as_of or settings.today(),
                clock=pinned_clock(now),
                options=options, runner=as_task,
                actor=None if dry_run else (actor or "prefect:launch-campaign"),
            )  # fmt: skip
            publish_report(engine, [report], "launch-campaign-report")
    except RevisitError as exc:
        return Failed(message=str(exc))
    create_markdown_artifact(key="launch-campaign", markdown=runs_markdown([report]))
    return report.as_dict()


@task(name="poll-delivery-statuses", cache_policy=NO_CACHE)
def poll_delivery_statuses(engine: Engine, settings: Settings, hours: float) -> dict[str, Any]:
    """Ask the provider about messages with no final delivery status after ``hours``
    (:func:`revisit.entry.statuses.reconcile_statuses`)."""
    return reconcile_statuses(engine, settings, hours=hours).as_dict()


@flow(name="reconcile-deliveries")
def reconcile_deliveries(
    days: int = 3, database_url: str | None = None, status_hours: float = 6.0
) -> list[dict] | State:
    """Resume the runs of the last ``days`` days that still have SMS waiting: deferred by the
    send window, paused after failures, or left by a crash (their unknown outcomes are
    reconciled with the provider before anything is resent); then poll the provider for
    messages with no final delivery status after ``status_hours`` (for deployments that
    cannot receive status callbacks), a table artifact."""
    try:
        with opened(database_url) as (settings, engine):
            since = settings.today() - dt.timedelta(days=days)
            result = resume_unsettled(
                engine, settings, since=since, clock=real_clock, runner=as_task
            )
            polled = poll_delivery_statuses(engine, settings, status_hours)
            publish_report(engine, result.reports, "reconcile-deliveries-report")
    except RevisitError as exc:
        return Failed(message=str(exc))
    create_table_artifact(key="delivery-statuses", table=[polled])
    return _outcome("reconcile-deliveries", result)
