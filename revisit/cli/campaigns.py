"""Commands for cohorts and campaigns: ``cohort``, ``campaign list``, ``campaign preview``."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.table import Column, Table
from sqlmodel import Session

from revisit.campaigns.config import load_campaigns
from revisit.campaigns.plan import CampaignPlan, ReachCache, plan_campaign
from revisit.campaigns.statuses import ChannelKind, PlanDecision
from revisit.cli import app, console, engine_of, handles_errors, settings_of
from revisit.cohorts.select import (
    COHORTS,
    CohortMember,
    by_customer,
    cohort_sizes_by_store,
    select_cohort,
)
from revisit.errors import ConfigError
from revisit.rendering import Renderer, load_contexts, member_refs
from revisit.settings import Settings

campaign_app = typer.Typer(help="List campaigns and preview what a run would do.")
app.add_typer(campaign_app, name="campaign")


class Format(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


AsOf = Annotated[
    dt.datetime | None,
    typer.Option(
        "--as-of",
        formats=["%Y-%m-%d"],
        help="Evaluate as of this date (YYYY-MM-DD); data after it is ignored. "
        "Default: today in the default store time zone.",
    ),
]


def _as_of(ctx: typer.Context, value: dt.datetime | None) -> dt.date:
    """The given date, or today in the default store time zone."""
    if value is not None:
        return value.date()
    return settings_of(ctx).today()


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
        writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: ";".join(v) if isinstance(v, list) else v for k, v in row.items()})
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
    if name not in COHORTS:
        raise ConfigError(f"unknown cohort {name!r}; known: {', '.join(COHORTS)}")
    engine = engine_of(ctx)
    with Session(engine) as session:
        members = select_cohort(session, cohort=name, as_of=_as_of(ctx, as_of))
    members.sort(key=by_customer)
    _print_members(name, _member_rows(members), fmt)


@campaign_app.command("list")
@handles_errors
def list_command(ctx: typer.Context) -> None:
    """List the campaign files with cohort, channel, schedule and priority."""
    campaigns = load_campaigns(settings_of(ctx).campaigns_dir)
    table = Table(Column("name", no_wrap=True), "cohort", "channel", "schedule", "priority")
    table.add_column("holdout %")
    table.add_column("hours")
    for c in sorted(campaigns.values(), key=lambda c: c.rank()):
        hours = c.send_window.label()
        row = (c.name, c.cohort, c.channel, c.schedule, str(c.priority), f"{c.holdout_pct:g}")
        table.add_row(*row, hours)
    console.print(table)


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
    name: Annotated[str, typer.Argument(help="Campaign name (a file in the campaigns folder).")],
    as_of: AsOf = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the numbers as JSON instead of a table.")
    ] = False,
    sample: Annotated[
        int, typer.Option("--sample", min=0, help="Render this many messages as a sample.")
    ] = 3,
) -> None:
    """Show what a run would do: targeted, excluded by reason, suppressed, holdout, to contact.
    Nothing is written."""
    settings = settings_of(ctx)
    campaigns = load_campaigns(settings.campaigns_dir)
    if name not in campaigns:
        raise ConfigError(f"unknown campaign {name!r}; known: {', '.join(sorted(campaigns))}")
    engine = engine_of(ctx)
    with Session(engine) as session:
        plan = plan_campaign(
            session,
            campaign=campaigns[name],
            as_of=_as_of(ctx, as_of),
            now=dt.datetime.now(dt.UTC),
            all_campaigns=campaigns,
            default_timezone=settings.default_timezone,
        )
        samples = _samples(session, plan, settings, sample)
    if as_json:
        summary = plan.summary() | {"samples": [{"customer_id": c, "text": t} for c, t in samples]}
        typer.echo(json.dumps(summary, ensure_ascii=False, indent=1))
        return
    _print_plan(plan)
    for customer_id, text in samples:
        console.print(f"[bold]{customer_id}[/bold]: {text}", highlight=False, soft_wrap=True)


def _samples(
    session: Session, plan: CampaignPlan, settings: Settings, n: int
) -> list[tuple[str, str]]:
    """Rendered messages (or call sheets) for the first ``n`` customers to contact."""
    rows = plan.by_status(PlanDecision.TO_CONTACT)[:n]
    if not rows:
        return []
    c = plan.campaign
    refs = member_refs([m for row in rows for m in row.members])
    contexts = load_contexts(
        session, campaign_name=c.name, cohort=c.cohort, channel=c.channel, as_of=plan.as_of,
        members=refs,
    )  # fmt: skip
    renderer = Renderer(settings.templates_dir)
    out = []
    for customer_id, ctx in contexts.items():
        lang = str(ctx["language"])
        if c.channel == ChannelKind.SMS:
            sms = renderer.render_sms(c.name, lang, ctx, templates=c.templates)
            out.append((customer_id, f"{sms.text} [{sms.segments} segment(s), {sms.encoding}]"))
        else:
            sheet = renderer.render_call_sheet(c.name, lang, ctx, templates=c.templates)
            out.append((customer_id, f"call sheet of {len(sheet)} characters rendered"))
    return out


@campaign_app.command("overview")
@handles_errors
def overview_command(ctx: typer.Context, as_of: AsOf = None) -> None:
    """Every cohort's size per store, and what each campaign would do today (its preview
    numbers), before anything is sent."""
    settings = settings_of(ctx)
    campaigns = load_campaigns(settings.campaigns_dir)
    day = _as_of(ctx, as_of)
    engine = engine_of(ctx)
    with Session(engine) as session:
        sizes = cohort_sizes_by_store(session, as_of=day)
        plans = []
        reach: ReachCache = {}
        for c in sorted(campaigns.values(), key=lambda c: c.rank()):
            plan = plan_campaign(
                session, campaign=c, as_of=day, now=dt.datetime.now(dt.UTC),
                all_campaigns=campaigns, default_timezone=settings.default_timezone, reach=reach,
            )  # fmt: skip
            plans.append(plan)
    stores = sorted({s for per_store in sizes.values() for s in per_store})
    table = Table("cohort", title=f"Cohort sizes per store as of {day}")
    for name in (*stores, "total"):
        table.add_column(name, justify="right")
    for name, per_store in sizes.items():
        counts = [per_store.get(s, 0) for s in stores]
        table.add_row(name, *map(str, counts), str(sum(counts)))
    console.print(table)
    preview = Table("campaign", "channel", "schedule", title=f"Campaign previews as of {day}")
    for name in ("targeted", "excluded", "suppressed", "holdout", "to contact"):
        preview.add_column(name, justify="right")
    for plan in plans:
        s, c = plan.summary(), plan.campaign
        preview.add_row(
            c.name, c.channel, c.schedule, str(s["targeted"]),
            str(sum(s[PlanDecision.EXCLUDED].values())),
            str(sum(s[PlanDecision.SUPPRESSED].values())), str(s[PlanDecision.HOLDOUT]),
            str(s[PlanDecision.TO_CONTACT]),
        )  # fmt: skip
    console.print(preview)
