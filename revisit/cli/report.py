"""``revisit report``: the manager's campaign report, and its ``churn``, ``staff``,
``upsell`` and ``tickets`` siblings, as a table, JSON or CSV (README, Reports)."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich import box
from rich.table import Table

from revisit.campaigns.outcome_codes import label
from revisit.cli.app import app, console, engine_of, handles_errors, settings_of
from revisit.cli.options import parse_day
from revisit.entry.lookup import campaign_titles, check_known
from revisit.errors import RevisitError
from revisit.reports.calls import CallFilter, churn_report, staff_report
from revisit.reports.campaigns import (
    BREAKDOWNS,
    NOTES,
    ReportFilter,
    campaign_report,
    report_columns,
)
from revisit.reports.dashboard import PERIODS, DashboardFilter, dashboard_data
from revisit.reports.page import echarts_path, render_dashboard_file
from revisit.reports.page.labels import LANGUAGES
from revisit.reports.stats import significant
from revisit.reports.tickets import KEYS as TICKET_KEYS
from revisit.reports.tickets import TicketFilter, ticket_report
from revisit.reports.upsell import KEYS as UPSELL_KEYS
from revisit.reports.upsell import UPSELL_GROUPS, UpsellFilter, upsell_report
from revisit.sheets import SafeCsvWriter

report_app = typer.Typer(
    help="Reports for managers: returns and lift per campaign run; churn, staff, upsell, tickets.",
    invoke_without_command=True,
    no_args_is_help=False,
)
app.add_typer(report_app, name="report")

FORMATS = ("table", "json", "csv")
#: The campaign report also renders the dashboard: one self-contained HTML file.
REPORT_FORMATS = (*FORMATS, "html")
DateOpt = Annotated[dt.date | None, typer.Option(parser=parse_day, metavar="YYYY-MM-DD")]
Format = Annotated[str, typer.Option("--format", help="table, json or csv.")]
Output = Annotated[Path | None, typer.Option("--output", help="Write to this file.")]
Store = Annotated[str | None, typer.Option("--store", help="Customers of this store only.")]
Stores = Annotated[
    list[str] | None,
    typer.Option("--store", help="Customers of this store only (repeat for several)."),
]
CampaignOpt = Annotated[str | None, typer.Option("--campaign", help="One campaign only.")]


class ReportError(RevisitError):
    """A report option that cannot be used."""


def _rows(
    ctx: typer.Context,
    query: Callable[[Any, Any], list[dict[str, Any]]],
    f: Any,
    *,
    campaign: str | None = None,
    store: str | None = None,
) -> list[dict[str, Any]]:
    """The rows of one report query, once ``campaign`` and ``store`` are known names."""
    engine = engine_of(ctx)
    check_known(engine, campaign=campaign, store=store)
    with engine.connect() as conn:
        return query(conn, f)


def _check_format(fmt: str, known: Sequence[str] = FORMATS) -> None:
    if fmt not in known:
        raise ReportError(f"--format: unknown format {fmt!r}; use {', '.join(known)}")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return ";".join(f"{k}={v}" for k, v in value.items())
    return str(value)


def _csv_cell(value: Any) -> Any:
    """A number as a number (a negative lift is not a formula), anything else as text."""
    is_number = isinstance(value, int | float) and not isinstance(value, bool)
    return value if is_number else _cell(value)


def emit(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str],
    *,
    fmt: str,
    output: Path | None,
    table: Callable[[], Table],
    notes: Sequence[str] = (),
) -> None:
    """Print (or write to ``output``) the rows as JSON (a list of objects), CSV (a header of
    ``columns``) or a rich table with the notes below it."""
    if fmt == "table" and output is None:
        console.print(table())
        for note in notes:
            console.print(f"[dim]{note}[/dim]", highlight=False)
        return
    if fmt == "json":
        text = json.dumps(list(rows), ensure_ascii=False, indent=2) + "\n"
    elif fmt == "csv":
        buffer = io.StringIO()
        writer = SafeCsvWriter(buffer)  # no cell runs as a formula in Excel
        writer.writerow(columns)
        writer.writerows([_csv_cell(r.get(c)) for c in columns] for r in rows)
        text = buffer.getvalue()
    else:
        capture = io.StringIO()
        from rich.console import Console

        Console(file=capture, width=200).print(table())
        text = capture.getvalue() + "".join(f"{n}\n" for n in notes)
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8-sig" if fmt == "csv" else "utf-8")
        console.print(f"{len(rows)} row(s) written to {output}")


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}"


def lift_text(row: dict[str, Any]) -> str:
    """The lift and its interval in percentage points, marked when the interval contains 0."""
    if row["lift"] is None:
        return "—"
    low, high = row["lift_ci_low"], row["lift_ci_high"]
    text = f"{row['lift']:+.1%} [{low * 100:+.1f}, {high * 100:+.1f}]"
    if not significant(low, high):
        text += " not yet significant"
    return text


def _lift_cells(row: dict[str, Any]) -> tuple[str, str, str]:
    if row["lift"] is None:
        return "—", "", "" if row["contacted"] else "nothing sent yet"
    low, high = row["lift_ci_low"], row["lift_ci_high"]
    mark = "yes" if significant(low, high) else "[yellow]not yet[/yellow]"
    return f"{row['lift'] * 100:+.1f}", f"{low * 100:+.1f}…{high * 100:+.1f}", mark


def campaign_table(rows: Sequence[dict[str, Any]], by: str | None) -> Table:
    """The campaign report as a rich table (the counts a manager reads first; excluded and
    suppressed customers are in the JSON and CSV). Rates in %, lift in percentage points."""
    table = Table(title="Did the campaigns bring them back?", box=box.SIMPLE_HEAD,
                  collapse_padding=True, pad_edge=False,
                  caption="lift in percentage points; significant? = the 95% interval "
                  "excludes 0; expired = past their last useful day, never sent")  # fmt: skip
    heads = ["campaign", "day", *([by] if by else []), "tar-\ngeted", "hold-\nout",
             "con-\ntacted", "ex-\npired", "deliv-\nered", "reach-\ned", "booked", "re-\nturned",
             "return\n%", "hold-\nout %", "lift", "95% CI", "signif-\nicant?",
             "revenue"]  # fmt: skip
    for name in heads:
        left = name in ("campaign", "day", by, "signif-\nicant?")
        table.add_column(name, justify="left" if left else "right", no_wrap=True)
    counts = ("targeted", "holdout", "contacted", "expired", "delivered", "reached", "booked",
              "returned")  # fmt: skip
    for r in rows:
        table.add_row(
            r["campaign"], r["as_of"], *([str(r[by])] if by else []),
            *(f"{r[k]:,}" for k in counts),
            _pct(r["return_rate"]), _pct(r["holdout_return_rate"]), *_lift_cells(r),
            f"{r['revenue']:,.0f}",
        )  # fmt: skip
    return table


def _plain_table(title: str, rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> Table:
    table = Table(title=title)
    for name in columns:
        numeric = any(_numeric(r.get(name)) for r in rows)
        table.add_column(name, justify="right" if numeric else "left")
    for r in rows:
        table.add_row(*(_shown(c, r.get(c)) for c in columns))
    return table


def _numeric(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _shown(column: str, value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.1%}" if column.endswith(("rate", "share")) else f"{value:,.2f}"
    return _cell(value) if value is not None else "—"


@report_app.callback()
@handles_errors
def report_command(
    ctx: typer.Context,
    campaign: CampaignOpt = None,
    since: DateOpt = None,
    until: DateOpt = None,
    store: Stores = None,
    by: Annotated[
        str | None, typer.Option("--by", help=f"Break down by {'|'.join(BREAKDOWNS)}.")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="table, json, csv or html.")] = "table",
    output: Output = None,
    lang: Annotated[str, typer.Option("--lang", help="html: zh or en.")] = "zh",
    period: Annotated[str, typer.Option("--period", help="html: trend by week or month.")] = (
        "month"
    ),
) -> None:
    """Per campaign run: targeted, excluded, contacted, delivered, reached, booked, returned,
    return rate, holdout return rate and lift with its 95% interval, revenue. With
    ``--format html --output FILE``: the manager's dashboard as one self-contained page."""
    if ctx.invoked_subcommand is not None:
        return
    _check_format(fmt, REPORT_FORMATS)
    if by is not None and by not in BREAKDOWNS:
        raise ReportError(f"--by: unknown breakdown {by!r}; use {', '.join(BREAKDOWNS)}")
    stores = frozenset(store) if store else None
    if fmt == "html":
        dash = DashboardFilter(stores=stores, campaign=campaign, since=since, until=until,
                               period=period)  # fmt: skip
        write_dashboard(ctx, dash, by=by, lang=lang, output=output)
        return
    f = ReportFilter(campaign=campaign, since=since, until=until, stores=stores, by=by)
    engine = engine_of(ctx)
    check_known(engine, campaign=campaign, stores=store or ())
    with engine.connect() as conn:
        rows = campaign_report(conn, f)
    emit(rows, report_columns(by), fmt=fmt, output=output,
         table=lambda: campaign_table(rows, by), notes=NOTES)  # fmt: skip


def write_dashboard(
    ctx: typer.Context, f: DashboardFilter, *, by: str | None, lang: str, output: Path | None
) -> None:
    """``revisit report --format html``: the dashboard of :mod:`revisit.reports.dashboard`
    (the numbers of the JSON report) written to ``output`` as one page that requests
    nothing. Raises ReportError for an option the page cannot use."""
    if output is None:
        raise ReportError("--format html: give --output FILE (the page is one file)")
    if by is not None:
        raise ReportError("--by: not with --format html (the dashboard has its own breakdowns)")
    if lang not in LANGUAGES:
        raise ReportError(f"--lang: unknown language {lang!r}; use {', '.join(LANGUAGES)}")
    if f.period not in PERIODS:
        raise ReportError(f"--period: unknown period {f.period!r}; use {', '.join(PERIODS)}")
    settings = settings_of(ctx)
    echarts = echarts_path(settings.echarts_js)
    engine = engine_of(ctx)
    check_known(engine, campaign=f.campaign, stores=f.stores or ())
    with engine.connect() as conn:
        data = dashboard_data(conn, f)
    generated = dt.datetime.now(ZoneInfo(settings.default_timezone))
    page = render_dashboard_file(data, lang=lang, echarts_js=echarts, generated=generated,
                                 campaign_names=campaign_titles(settings, lang))  # fmt: skip
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(page, encoding="utf-8")
    console.print(f"dashboard of {len(data['runs'])} run(s) written to {output}")


@report_app.command("churn")
@handles_errors
def churn_command(
    ctx: typer.Context,
    campaign: CampaignOpt = None,
    since: DateOpt = None,
    until: DateOpt = None,
    store: Store = None,
    fmt: Format = "table",
    output: Output = None,
) -> None:
    """Why customers decline: call outcomes' decline reasons by campaign and store."""
    _check_format(fmt)
    f = CallFilter(campaign=campaign, since=since, until=until, store=store)
    rows = _rows(ctx, churn_report, f, campaign=campaign, store=store)
    columns = ("campaign", "store", "reason", "declined", "share")
    emit(rows, columns, fmt=fmt, output=output,
         table=lambda: _plain_table("Decline reasons", rows, columns))  # fmt: skip


@report_app.command("staff")
@handles_errors
def staff_command(
    ctx: typer.Context,
    campaign: CampaignOpt = None,
    since: DateOpt = None,
    until: DateOpt = None,
    store: Store = None,
    fmt: Format = "table",
    output: Output = None,
) -> None:
    """Per caller: entries listed, called, reached, booked and returned."""
    _check_format(fmt)
    f = CallFilter(campaign=campaign, since=since, until=until, store=store)
    rows = _rows(ctx, staff_report, f, campaign=campaign, store=store)
    columns = ("staff", "listed", "called", "reached", "booked", "returned", "reach_rate",
               "return_rate")  # fmt: skip
    emit(rows, columns, fmt=fmt, output=output,
         table=lambda: _plain_table("Callers", rows, columns))  # fmt: skip


@report_app.command("upsell")
@handles_errors
def upsell_command(
    ctx: typer.Context,
    by: Annotated[str, typer.Option("--by", help=f"Group by {'|'.join(UPSELL_GROUPS)}.")] = "month",
    since: DateOpt = None,
    until: DateOpt = None,
    store: Store = None,
    fmt: Format = "table",
    output: Output = None,
) -> None:
    """增修率 (upsell rate) and 增修成功率 (upsell success rate) from the imported visits and
    upsell items."""
    _check_format(fmt)
    if by not in UPSELL_GROUPS:
        raise ReportError(f"--by: unknown grouping {by!r}; use {', '.join(UPSELL_GROUPS)}")
    f = UpsellFilter(by=by, since=since, until=until, store=store)
    rows = _rows(ctx, upsell_report, f, store=store)
    columns = (by, *UPSELL_KEYS)
    emit(rows, columns, fmt=fmt, output=output,
         table=lambda: _plain_table("Upsell (增修率 / 增修成功率)", rows, columns))  # fmt: skip


@report_app.command("tickets")
@handles_errors
def tickets_command(
    ctx: typer.Context,
    since: DateOpt = None,
    until: DateOpt = None,
    store: Store = None,
    fmt: Format = "table",
    output: Output = None,
) -> None:
    """Dissatisfied-customer tickets per store, advisor and category: open, in progress,
    resolved, and overdue (not resolved a day after it was opened)."""
    _check_format(fmt)
    f = TicketFilter(store=store, since=since, until=until)
    rows = _rows(ctx, ticket_report, f, store=store)
    emit(rows, TICKET_KEYS, fmt=fmt, output=output, table=lambda: _ticket_table(rows),
         notes=("overdue: not resolved a day after the ticket was opened",))  # fmt: skip


def _ticket_table(rows: Sequence[dict[str, Any]]) -> Table:
    # categories as `revisit tickets` shows them (their labels); JSON and CSV keep the codes
    shown = [row | {"category": label(row["category"])} for row in rows]
    table = _plain_table("Dissatisfied-customer tickets", shown, TICKET_KEYS)
    for i, row in enumerate(rows):
        if row["overdue"]:  # flag the row: a ticket nobody took up within a day
            table.rows[i].style = "red"
    return table
