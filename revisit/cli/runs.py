"""Commands that contact customers: ``campaign run`` and ``campaign daily``."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from revisit.campaigns.config import load_campaigns
from revisit.campaigns.plan import ReachCache
from revisit.campaigns.statuses import ContactStatus, PlanDecision, RunStatus
from revisit.cli import console, engine_of, handles_errors, settings_of
from revisit.cli.campaigns import campaign_app
from revisit.delivery.dispatch import DispatchSummary
from revisit.entry.runs import RunOptions, RunReport, daily_campaigns, pinned_clock, run_campaign
from revisit.errors import ConfigError
from revisit.settings import Settings

AsOf = Annotated[
    dt.datetime | None,
    typer.Option("--as-of", formats=["%Y-%m-%d"], help="The day to run for (default: today)."),
]
Now = Annotated[
    str | None,
    typer.Option(
        "--now",
        help="Pin the clock (ISO date-time; without an offset, in the default store time zone) "
        "for planning and quiet hours, as in a replay. Sends are still stamped with the real "
        "time, which is what the provider is reconciled against.",
    ),
]
Rate = Annotated[
    float | None,
    typer.Option("--rate", min=0.1, help="SMS per second (default 50 on Twilio)."),
]
Concurrency = Annotated[
    int, typer.Option("--concurrency", min=1, help="Provider requests in flight.")
]


def _clock(settings: Settings, now: str | None) -> dt.datetime | None:
    if now is None:
        return None
    try:
        value = dt.datetime.fromisoformat(now)
    except ValueError:
        raise typer.BadParameter(f"not an ISO date-time: {now!r}", param_hint="--now") from None
    return value if value.tzinfo else value.replace(tzinfo=ZoneInfo(settings.default_timezone))


def _day(settings: Settings, as_of: dt.datetime | None, start: dt.datetime) -> dt.date:
    if as_of is not None:
        return as_of.date()
    return start.astimezone(ZoneInfo(settings.default_timezone)).date()


class _Bar:
    def __init__(self, progress: Progress, name: str) -> None:
        self.progress, self.task = progress, progress.add_task(name, total=None)

    def __call__(self, s: DispatchSummary) -> None:
        done = s.sent + s.failed
        self.progress.update(self.task, completed=done, total=done + s.remaining)


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=console, transient=True,
    )  # fmt: skip


@campaign_app.command("run")
@handles_errors
def run_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Campaign name (a file in the campaigns folder).")],
    as_of: AsOf = None,
    now: Now = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Plan and render only; write and send nothing.")
    ] = False,
    rate: Rate = None,
    concurrency: Concurrency = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Run a campaign for a day: plan, render, write the outbox, then send the SMS (or write
    the call lists). Running it again for the same day resumes what is left, else does
    nothing; no customer is sent the same contact twice."""
    settings = settings_of(ctx)
    campaigns = load_campaigns(settings.campaigns_dir)
    if name not in campaigns:
        raise ConfigError(f"unknown campaign {name!r}; known: {', '.join(sorted(campaigns))}")
    clock = pinned_clock(_clock(settings, now))
    day = _day(settings, as_of, clock())
    opts = RunOptions(rate=rate, concurrency=concurrency, dry_run=dry_run)
    engine = engine_of(ctx)
    with _progress() as progress:
        report = run_campaign(
            engine, campaign=campaigns[name], campaigns=campaigns, as_of=day, now=clock,
            settings=settings, options=opts, progress=_Bar(progress, name),
        )  # fmt: skip
    if as_json:
        typer.echo(json.dumps(report.as_dict(), ensure_ascii=False, indent=1, default=str))
    else:
        print_reports([report], samples=True)


@campaign_app.command("daily")
@handles_errors
def daily_command(
    ctx: typer.Context,
    as_of: AsOf = None,
    now: Now = None,
    rate: Rate = None,
    concurrency: Concurrency = 10,
) -> None:
    """Run every daily campaign for a day, highest priority first (what the daily-reminders
    deployment does on its schedule)."""
    settings = settings_of(ctx)
    campaigns = load_campaigns(settings.campaigns_dir)
    clock = pinned_clock(_clock(settings, now))
    day = _day(settings, as_of, clock())
    engine = engine_of(ctx)
    reports = []
    reach: ReachCache = {}
    with _progress() as progress:
        for campaign in daily_campaigns(campaigns):
            report = run_campaign(
                engine, campaign=campaign, campaigns=campaigns, as_of=day, now=clock,
                settings=settings, options=RunOptions(rate=rate, concurrency=concurrency),
                progress=_Bar(progress, campaign.name), reach=reach,
            )  # fmt: skip
            reports.append(report)
    print_reports(reports, samples=False)


def print_reports(reports: list[RunReport], *, samples: bool) -> None:
    """One row per campaign run: the plan's numbers, then what was sent or listed."""
    table = Table(title=f"Campaign runs as of {reports[0].as_of}" if reports else "No runs")
    heads = ("targeted", "excluded", "suppressed", "holdout", "to contact", "sent/listed",
             "failed", "waiting")  # fmt: skip
    table.caption = "waiting: pending SMS (outside quiet hours, or a paused run)"
    table.add_column("campaign", no_wrap=True)
    for h in heads:
        table.add_column(h, justify="right")
    table.add_column("status", no_wrap=True)
    reasons: dict[str, int] = {}
    for r in reports:
        p, box = r.plan, r.outbox
        excluded = p.get(PlanDecision.EXCLUDED, {})
        suppressed = p.get(PlanDecision.SUPPRESSED, {})
        for reason, n in {**excluded, **suppressed}.items():
            reasons[reason] = reasons.get(reason, 0) + n
        status = r.status + (" (resumed)" if r.resumed else "")
        reached = box.get(ContactStatus.SENT, 0) + box.get(ContactStatus.LISTED, 0)
        waiting = box.get(ContactStatus.PENDING, 0) + box.get(ContactStatus.UNKNOWN, 0)
        numbers = (
            p.get("targeted", 0), sum(excluded.values()), sum(suppressed.values()),
            p.get(PlanDecision.HOLDOUT, 0), p.get(PlanDecision.TO_CONTACT, 0), reached,
            box.get(ContactStatus.FAILED, 0), waiting,
        )  # fmt: skip
        table.add_row(f"{r.campaign} ({r.channel})", *map(str, numbers), status)
    console.print(table)
    if reasons:
        text = ", ".join(f"{k} {v}" for k, v in sorted(reasons.items(), key=lambda kv: -kv[1]))
        console.print(f"Not contacted, by reason: {text}", highlight=False)
    for r in reports:
        if r.status == RunStatus.DEFERRED:
            console.print(
                f"{r.campaign}: outside quiet hours; the pending SMS wait for the next run."
            )
        if r.sms_file and r.dispatch.get("sent"):  # messages sent (a DispatchSummary field)
            console.print(f"{r.campaign}: SMS written to {r.sms_file} (console channel)")
        if r.call_lists:
            folder = Path(r.call_lists[0]).parent
            lists = len({Path(p).stem for p in r.call_lists})
            console.print(f"{r.campaign}: {lists} call lists (CSV and HTML) in {folder}/")
        if samples:
            for customer_id, text in r.samples:
                console.print(
                    f"[bold]{customer_id}[/bold]: {text}", highlight=False, soft_wrap=True
                )
