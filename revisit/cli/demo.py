"""``revisit demo-data``: write the CSV export of a synthetic dealer group."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from revisit.cli.app import app, console, handles_errors
from revisit.cli.options import parse_day
from revisit.demo.catalog import STORES
from revisit.demo.generator import write_demo_dealership


@app.command("demo-data")
@handles_errors
def demo_data(
    outdir: Path = typer.Argument(
        ...,
        help="Folder to write stores.csv, customers.csv, vehicles.csv, visits.csv, "
        "policies.csv and upsell_items.csv into (created if missing; files are overwritten).",
        file_okay=False,
    ),
    vehicles: int = typer.Option(
        20_000, "--vehicles", min=1, help="Number of vehicles in the dealer group."
    ),
    seed: int = typer.Option(
        7, "--seed", help="Random seed: the same seed, size and date give identical files."
    ),
    as_of: dt.date | None = typer.Option(
        None,
        "--as-of",
        parser=parse_day,
        metavar="YYYY-MM-DD",
        help="The export date (YYYY-MM-DD): no purchase or visit after it, and every cohort "
        "has members on it. Default: today in the stores' time zone (Asia/Shanghai).",
    ),
) -> None:
    """Write a synthetic dealer group's DMS export (CSV) for demos and benchmarks.

    Three stores in Quanzhou, their customers, vehicles, repair orders, insurance policies and
    upsell items, ready for `revisit import`, with members in every cohort on the export date.
    """
    day = as_of if as_of is not None else dt.datetime.now(ZoneInfo(STORES[0][2])).date()
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("vehicles", total=vehicles)
        summary = write_demo_dealership(
            outdir,
            vehicles=vehicles,
            seed=seed,
            as_of=day,
            progress=lambda done: bar.update(task, completed=done),
        )
    table = Table(title=f"Demo dealer group as of {day.isoformat()}", caption=str(outdir))
    table.add_column("file")
    table.add_column("rows", justify="right")
    for name, rows in summary.rows_by_file().items():
        table.add_row(name, f"{rows:,}")
    console.print(table)


@app.command("demo-month-after")
@handles_errors
def demo_month_after(
    ctx: typer.Context,
    outdir: Path = typer.Argument(
        ...,
        help="Folder to write the month's visits.csv into (created if missing).",
        file_okay=False,
    ),
    as_of: dt.date = typer.Option(
        ...,
        "--as-of",
        parser=parse_day,
        metavar="YYYY-MM-DD",
        help="The day whose campaign runs to follow.",
    ),
    seed: int = typer.Option(7, "--seed", help="Random seed: the same seed gives the same file."),
) -> None:
    """Write the repair orders of the month after a day's campaigns (for the demo's report):
    contacted customers come back more often than the holdout, by the documented
    parameters of revisit.demo.month_after."""
    from revisit.cli.app import engine_of
    from revisit.demo.month_after import BASE_RETURN, CONTACT_UPLIFT, write_month_after

    path = write_month_after(engine_of(ctx), outdir, as_of=as_of, seed=seed)
    rows = sum(1 for _ in path.open(encoding="utf-8")) - 1
    console.print(
        f"{rows:,} visits in the month after {as_of} written to {path} "
        f"(contacted customers return {CONTACT_UPLIFT:.2f}× as often as the base rates: "
        + ", ".join(f"{k} {v:.0%}" for k, v in BASE_RETURN.items())
        + ")",
        highlight=False,
    )


@app.command("demo-day-after")
@handles_errors
def demo_day_after(
    ctx: typer.Context,
    outdir: Path = typer.Argument(
        ...,
        help="Folder to write the day's visits.csv and upsell_items.csv into (created if "
        "missing; files are overwritten).",
        file_okay=False,
    ),
    day: dt.date = typer.Option(
        ...,
        "--day",
        parser=parse_day,
        metavar="YYYY-MM-DD",
        help="The day of the repair orders: the demo-data's --as-of continues its export "
        "(which holds the days before).",
    ),
    seed: int = typer.Option(7, "--seed", help="Random seed: the same seed gives the same files."),
    share: float = typer.Option(
        0.01,
        "--share",
        help="New repair orders as a share of the visits stored (0.01: 1%).",
    ),
) -> None:
    """Write one day's repair orders for the dealer group in the database (a daily DMS
    export): new visits and their upsell items, and a few corrections of stored visits (a
    mileage, a late repair order, a visit moved to another vehicle)."""
    from revisit.cli.app import engine_of
    from revisit.demo.day_after import write_day_after

    export = write_day_after(engine_of(ctx), outdir, day=day, seed=seed, share=share)
    new = len(export.visits) - export.corrected
    console.print(
        f"{new:,} repair orders of {day} ({len(export.items):,} upsell items) and "
        f"{export.corrected:,} corrections written to {outdir}",
        highlight=False,
    )
