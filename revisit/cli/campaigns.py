"""Commands for cohorts and campaigns: ``cohort``, ``campaign list``, ``campaign preview``."""

from __future__ import annotations

import datetime as dt
import io
import json
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.table import Column, Table

from revisit.campaigns.plan import CampaignPlan
from revisit.campaigns.statuses import PlanDecision
from revisit.cli.app import app, console, engine_of, err_console, handles_errors, settings_of
from revisit.cli.options import AsOf, CampaignName, Now, aware
from revisit.cohorts.select import COHORTS, CohortMember
from revisit.entry.lookup import campaign_files, day_of, find_cohort
from revisit.entry.plans import plan_the_day
from revisit.entry.preview import campaign_overview, cohort_members, preview
from revisit.sheets import SafeCsvWriter

campaign_app = typer.Typer(help="List campaigns and preview what a run would do.")
app.add_typer(campaign_app, name="campaign")


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value


def _member_rows(members: list[CohortMember]) -> list[dict[str, Any]]:
    return [{k: _jsonable(v) for k, v in m.public().items()} for m in members]


def _print_members(name: str, rows: list[dict[str, Any]], fmt: Format) -> None:
    columns = list(dict.fromkeys(k for row in rows for k in row)) or ["customer_id", "vin"]
    if fmt is Format.json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=1))
    elif fmt is Format.csv:
        buf = io.StringIO()
        ids = [i for i, c in enumerate(columns) if c in ("customer_id", "vin", "visit_id")]
        writer = SafeCsvWriter(buf, text_columns=ids, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            cells = (row.get(c) for c in columns)
            writer.writerow(";".join(v) if isinstance(v, list) else v for v in cells)
        typer.echo(buf.getvalue(), nl=False)
    else:
        table = Table(*columns, title=f"{name}: {len(rows)} members")
        for row in rows:
            table.add_row(*(str(row.get(c, "")) if row.get(c) is not None else "" for c in columns))
        console.print(table)


@app.command("cohort")
@handles_errors
def cohort_command(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help=f"Cohort name: {', '.join(COHORTS)}.")],
    as_of: AsOf = None,
    fmt: Annotated[
        Format, typer.Option("--format", help="Output: a rich table, a JSON list, or CSV.")
    ] = Format.table,
) -> None:
    """List a cohort's members (after sold/scrapped and do-not-contact exclusions)."""
    find_cohort(name)
    day = day_of(settings_of(ctx), as_of)
    members = cohort_members(engine_of(ctx), name=name, as_of=day)
    _print_members(name, _member_rows(members), fmt)


@campaign_app.command("list")
@handles_errors
def list_command(ctx: typer.Context) -> None:
    """List the campaign files with cohort, channel, schedule and priority (and the files
    that do not load, with their error; the command then exits 1)."""
    files = campaign_files(settings_of(ctx))
    campaigns = files.campaigns
    table = Table(Column("name", no_wrap=True), "cohort", "channel", "schedule", "priority")
    table.add_column("holdout %")
    table.add_column("hours")
    for c in sorted(campaigns.values(), key=lambda c: c.rank()):
        hours = c.send_window.label()
        row = (c.name, c.cohort, c.channel, c.schedule, str(c.priority), f"{c.holdout_pct:g}")
        table.add_row(*row, hours)
    console.print(table)
    _print_broken({n: str(e) for n, e in files.broken.items()})
    if files.broken:
        raise typer.Exit(1)


def _print_broken(broken: dict[str, str]) -> None:
    for name, error in broken.items():
        err_console.print(f"[red]broken:[/red] {name}: {error}", highlight=False, soft_wrap=True)


def _print_plan(plan: CampaignPlan) -> None:
    s = plan.summary()
    table = Table("", "customers", title=f"{plan.campaign.name} as of {s['as_of']}")
    table.add_row("targeted", str(s["targeted"]))
    for status in (PlanDecision.EXCLUDED, PlanDecision.SUPPRESSED):
        for reason, n in s[status].items():
            table.add_row(f"  {status}: {reason}", str(n))
    table.add_row("  holdout", str(s[PlanDecision.HOLDOUT]))
    table.add_row("  to contact", str(s[PlanDecision.TO_CONTACT]))
    if s["deferred"]:
        table.add_row("    of which deferred to the quiet-hours window", str(s["deferred"]))
    console.print(table)
    for reason, n in s["dropped_vehicles"].items():
        console.print(f"vehicles left out of a customer's contact ({reason}): {n}")


@campaign_app.command("preview")
@handles_errors
def preview_command(
    ctx: typer.Context,
    name: CampaignName,
    as_of: AsOf = None,
    now: Now = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the numbers as JSON instead of a table.")
    ] = False,
    sample: Annotated[
        int, typer.Option("--sample", min=0, help="Render this many messages as a sample.")
    ] = 3,
) -> None:
    """Show what a run would do: targeted, excluded by reason, suppressed, holdout, to contact.
    Nothing is written. A campaign the day cannot run (a greeting outside its date, an
    offer outside its dates) is not planned: the preview says why."""
    settings = settings_of(ctx)
    at = aware(settings, now)
    day = day_of(settings, as_of, at)
    result = preview(engine_of(ctx), settings, name=name, as_of=day, now=at, samples=sample)
    if as_json:
        samples = [{"customer_id": c, "text": t} for c, t in result.samples]
        extra = {"samples": samples} | ({"not_today": result.not_today} if result.not_today else {})
        typer.echo(json.dumps(result.plan.summary() | extra, ensure_ascii=False, indent=1))
        return
    _print_plan(result.plan)
    if result.not_today:
        console.print(f"not planned: {result.not_today}", markup=False, highlight=False)
    for customer_id, text in result.samples:
        console.print(f"[bold]{customer_id}[/bold]: {text}", highlight=False, soft_wrap=True)


def _print_plan_numbers(plans: list[CampaignPlan], title: str) -> None:
    table = Table("campaign", "channel", "schedule", title=title)
    for name in ("targeted", "excluded", "suppressed", "holdout", "to contact"):
        table.add_column(name, justify="right")
    for plan in plans:
        s, c = plan.summary(), plan.campaign
        table.add_row(
            c.name, c.channel, c.schedule, str(s["targeted"]),
            str(sum(s[PlanDecision.EXCLUDED].values())),
            str(sum(s[PlanDecision.SUPPRESSED].values())), str(s[PlanDecision.HOLDOUT]),
            str(s[PlanDecision.TO_CONTACT]),
        )  # fmt: skip
    console.print(table)


def _print_not_today(not_today: dict[str, str]) -> None:
    for why in not_today.values():
        console.print(f"not planned: {why}", markup=False, highlight=False)


@campaign_app.command("plan")
@handles_errors
def plan_command(ctx: typer.Context, as_of: AsOf = None, now: Now = None) -> None:
    """Plan the day once and keep it: every daily campaign in one pass (priorities, caps,
    holdout, the SMS budget), the manual campaigns the day can run on top (a greeting on
    its occasion's date, an offer within its dates; the others are named, not planned).
    Previews, the overview and the day's runs then read this plan; an import, an opt-out
    or an edited campaign file makes the next reader plan again. Broken campaign files
    are named (exit 1)."""
    settings = settings_of(ctx)
    at = aware(settings, now)
    day = day_of(settings, as_of, at)
    day_plan = plan_the_day(engine_of(ctx), settings, as_of=day, now=at)
    _print_plan_numbers(day_plan.plans, f"The plan of {day}, kept")
    _print_not_today(day_plan.not_today)
    broken = campaign_files(settings).broken
    _print_broken({n: str(e) for n, e in broken.items()})
    if broken:
        raise typer.Exit(1)


@campaign_app.command("overview")
@handles_errors
def overview_command(ctx: typer.Context, as_of: AsOf = None, now: Now = None) -> None:
    """Every cohort's size per store, and what each campaign would do today (its preview
    numbers), before anything is sent. Broken campaign files are named (exit 1)."""
    settings = settings_of(ctx)
    at = aware(settings, now)
    day = day_of(settings, as_of, at)
    facts = campaign_overview(engine_of(ctx), settings, as_of=day, now=at)
    stores = sorted({s for per_store in facts.sizes.values() for s in per_store})
    table = Table("cohort", title=f"Cohort sizes per store as of {day}")
    for name in (*stores, "total"):
        table.add_column(name, justify="right")
    for name, per_store in facts.sizes.items():
        counts = [per_store.get(s, 0) for s in stores]
        table.add_row(name, *map(str, counts), str(sum(counts)))
    console.print(table)
    _print_plan_numbers(facts.plans, f"Campaign previews as of {day}")
    _print_not_today(facts.not_today)
    _print_broken(facts.broken)
    if facts.broken:
        raise typer.Exit(1)
