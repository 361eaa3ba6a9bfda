"""Commands for managers: ``revisit overview``."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from revisit.cli.app import app, console, engine_of, handles_errors, settings_of
from revisit.cli.options import AsOf
from revisit.dms.overview import LAPSE_MONTHS, Overview, dealership_overview


@app.command("overview")
@handles_errors
def overview_command(
    ctx: typer.Context,
    as_of: AsOf = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json.")] = "table",
) -> None:
    """The dealership at a glance: rows imported, vehicles per store, visits per month and
    customers not seen for 6, 12 and 24 months."""
    if fmt not in ("table", "json"):
        raise typer.BadParameter(f"{fmt!r}: use table or json", param_hint="--format")
    day = as_of or settings_of(ctx).today()
    with engine_of(ctx).connect() as conn:
        facts = dealership_overview(conn, as_of=day)
    if fmt == "json":
        console.print_json(json.dumps(facts.as_dict(), ensure_ascii=False))
    else:
        print_overview(facts)


def print_overview(facts: Overview) -> None:
    rows = Table(title=f"Imported (as of {facts.as_of})")
    rows.add_column("table")
    rows.add_column("rows", justify="right")
    for name, n in facts.rows.items():
        rows.add_row(name, f"{n:,}")
    for status, n in sorted(facts.vehicle_status.items()):
        rows.add_row(f"  vehicles {status}", f"{n:,}", style="dim")
    for kind, n in facts.phones.items():
        rows.add_row(f"  customers: {kind.replace('_', ' ')}", f"{n:,}", style="dim")
    console.print(rows)

    stores = Table(title="Stores: customers not seen for …")
    for name in ("store", "customers", "active vehicles", *(f"≥{m} months" for m in LAPSE_MONTHS)):
        stores.add_column(name, justify="left" if name == "store" else "right")
    for s in facts.stores:
        lapsed = (f"{s.not_seen.get(m, 0):,} ({s.share_not_seen(m):.0%})" for m in LAPSE_MONTHS)
        stores.add_row(
            f"{s.name} ({s.store_id})", f"{s.customers:,}", f"{s.active_vehicles:,}", *lapsed
        )
    console.print(stores)

    months = Table(title="Visits per month")
    months.add_column("month")
    months.add_column("visits", justify="right")
    months.add_column("")
    top = max((n for _, n in facts.visits_per_month), default=0) or 1
    for month, n in facts.visits_per_month:
        months.add_row(month, f"{n:,}", "█" * round(30 * n / top))
    console.print(months)
