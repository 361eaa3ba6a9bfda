"""Commands that contact customers: ``campaign run``, ``campaign daily``, and ``campaign
pause|resume`` of a run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from revisit.campaigns.statuses import ContactStatus, PlanDecision, RunStatus
from revisit.cli.app import (
    cli_actor,
    console,
    engine_of,
    err_console,
    handles_errors,
    settings_of,
)
from revisit.cli.campaigns import campaign_app
from revisit.cli.options import AsOf, CampaignName, Concurrency, Now, Rate, day_and_clock
from revisit.delivery.dispatch import DispatchSummary
from revisit.entry.clocks import real_clock
from revisit.entry.daily import launch, run_daily
from revisit.entry.holds import lift_pause, pause
from revisit.entry.runs import RunOptions, RunReport


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
    name: CampaignName,
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
    day, clock = day_and_clock(settings, as_of, now)
    opts = RunOptions(rate=rate, concurrency=concurrency, dry_run=dry_run)
    engine = engine_of(ctx)
    with _progress() as progress:
        report = launch(
            engine, settings, name=name, as_of=day, clock=clock, options=opts,
            progress=_Bar(progress, name), actor=None if dry_run else cli_actor(),
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
    resume_days: Annotated[
        int,
        typer.Option(
            "--resume-days",
            min=0,
            help="Resume first the runs of this many days before with SMS waiting (0: none).",
        ),
    ] = 3,
) -> None:
    """Run every daily campaign for a day, highest priority first (what the daily-reminders
    deployment does on its schedule). First the runs of the --resume-days days before it that
    still have SMS waiting (deferred by the send window, paused) are resumed: they go out, or
    expire past their last useful day. A campaign whose file is broken, or whose run fails,
    fails alone: the others run, and the command then exits 1 naming it."""
    settings = settings_of(ctx)
    day, clock = day_and_clock(settings, as_of, now)
    engine = engine_of(ctx)
    with _progress() as progress:
        result = run_daily(
            engine, settings, as_of=day, clock=clock,
            options=RunOptions(rate=rate, concurrency=concurrency),
            progress_for=lambda name: _Bar(progress, name), resume_days=resume_days,
        )  # fmt: skip
    if result.resumed:
        print_reports(result.resumed, samples=False, title="Earlier days' runs, resumed")
    print_reports(result.reports, samples=False)
    for name, error in result.failures.items():
        err_console.print(f"[red]failed:[/red] {name}: {error}", highlight=False, soft_wrap=True)
    if result.failed:
        raise typer.Exit(1)


@campaign_app.command("pause")
@handles_errors
def pause_command(
    ctx: typer.Context,
    run_id: Annotated[int, typer.Argument(help="The run (its id in the run summary).")],
) -> None:
    """Pause a run that still has SMS to send: its dispatchers claim nothing more (what is
    in flight settles) until `campaign resume`."""
    ref = pause(engine_of(ctx), run_id=run_id, actor=cli_actor())
    console.print(f"run {run_id} ({ref.campaign} {ref.as_of}) paused", highlight=False)


@campaign_app.command("resume")
@handles_errors
def resume_command(
    ctx: typer.Context,
    run_id: Annotated[int, typer.Argument(help="The run to resume.")],
    rate: Rate = None,
    concurrency: Concurrency = 10,
) -> None:
    """Lift a run's pause and run its campaign again for its day: what is left is sent
    (within the send window)."""
    engine, settings = engine_of(ctx), settings_of(ctx)
    ref = lift_pause(engine, run_id=run_id, actor=cli_actor())
    opts = RunOptions(rate=rate, concurrency=concurrency)
    with _progress() as progress:
        report = launch(
            engine, settings, name=ref.campaign, as_of=ref.as_of, clock=real_clock, options=opts,
            progress=_Bar(progress, ref.campaign),
        )  # fmt: skip
    print_reports([report], samples=False)


def print_reports(reports: list[RunReport], *, samples: bool, title: str | None = None) -> None:
    """One row per campaign run: the plan's numbers, then what was sent or listed."""
    default = f"Campaign runs as of {reports[0].as_of}" if reports else "No runs"
    table = Table(title=title or default)
    heads = ("targeted", "excluded", "suppressed", "holdout", "to contact", "sent/listed",
             "failed", "expired", "waiting")  # fmt: skip
    table.caption = (
        "waiting: pending SMS (outside the send window, or a paused run); expired: past "
        "their last useful day, never sent"
    )
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
            box.get(ContactStatus.FAILED, 0), box.get(ContactStatus.EXPIRED, 0), waiting,
        )  # fmt: skip
        day = f" {r.as_of}" if title else ""  # a titled table may hold several days' runs
        table.add_row(f"{r.campaign}{day} ({r.channel})", *map(str, numbers), status)
    console.print(table)
    if reasons:
        text = ", ".join(f"{k} {v}" for k, v in sorted(reasons.items(), key=lambda kv: -kv[1]))
        console.print(f"Not contacted, by reason: {text}", highlight=False)
    for r in reports:
        if r.status == RunStatus.DEFERRED:
            console.print(
                f"{r.campaign}: outside the send window; the pending SMS wait for the next run."
            )
        if r.sms_file and r.dispatch.get("sent"):  # SMS sent (a DispatchSummary count)
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
