"""``revisit optout import``: opt-out lists where customers cannot reply by SMS."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from revisit.cli.app import app, console, engine_of, err_console, handles_errors, settings_of
from revisit.dms.importing.loader import Problem
from revisit.outcomes.optout_import import import_opt_outs

optout_app = typer.Typer(help="The do-not-contact list: opt-out lists from outside SMS.")
app.add_typer(optout_app, name="optout")


def _print_problem(problem: Problem) -> None:
    colour, label = ("red", "rejected") if problem.rejected else ("yellow", "warning ")
    err_console.print(f"[{colour}]{label}[/{colour}] {problem}", highlight=False, soft_wrap=True)


@optout_app.command("import")
@handles_errors
def optout_import(
    ctx: typer.Context,
    path: Annotated[
        Path, typer.Argument(help="A CSV or .xlsx file with phone and/or customer_id columns.")
    ],
    region: Annotated[
        str | None, typer.Option(help="Region for phones written without a country code.")
    ] = None,
) -> None:
    """Put the customers a list names (by customer id, or every customer with a phone) on
    the do-not-contact list, source "import".

    Bad rows are named as file:line: field: reason and the good rows load; exits 1 when any
    row was rejected. Importing the same file again changes nothing.
    """
    settings = settings_of(ctx)
    report = import_opt_outs(
        engine_of(ctx),
        path,
        region=region or settings.default_region,
        on_problem=_print_problem,
    )
    table = Table(title="Opt-out import")
    for name in ("file", "rows", "opted out", "already", "rejected", "warnings"):
        table.add_column(name, justify="left" if name == "file" else "right")
    table.add_row(
        report.path,
        *(f"{n:,}" for n in (report.read, report.added, report.already)),
        f"[red]{report.rejected:,}[/red]" if report.rejected else "0",
        f"[yellow]{report.warnings:,}[/yellow]" if report.warnings else "0",
    )
    console.print(table)
    if report.rejected:
        raise typer.Exit(1)
