"""Commands for getting data in: ``revisit import``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from revisit.cli.app import (
    app,
    console,
    creating_engine_of,
    err_console,
    handles_errors,
    settings_of,
)
from revisit.dms.importing import ImportProgress, ImportReport, Problem, import_paths
from revisit.outcomes.attribution import attribute_returns

SHOWN_PROBLEMS = 50


class _Bar(ImportProgress):
    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task: TaskID | None = None

    def start(self, path: Path, size: int) -> None:
        if self.task is not None:
            self.progress.update(self.task, completed=self.progress.tasks[self.task].total or 0)
        self.task = self.progress.add_task(path.name, total=size)

    def advance(self, done: int) -> None:
        if self.task is not None:
            self.progress.update(self.task, completed=done)

    def stage(self, description: str) -> None:
        if self.task is not None:
            self.progress.update(self.task, completed=self.progress.tasks[self.task].total or 0)
        self.task = self.progress.add_task(description, total=None)


class _ProblemPrinter:
    """Prints every problem (or the first ones, when they also go to a file)."""

    def __init__(self, out: Path | None, limit: int | None) -> None:
        if out:
            out.parent.mkdir(parents=True, exist_ok=True)
        self.file = out.open("w", encoding="utf-8") if out else None
        self.limit, self.shown = limit, 0

    def __call__(self, problem: Problem) -> None:
        if self.file:
            self.file.write(f"{problem}\n")
        if self.limit is None or self.shown < self.limit:
            colour = "red" if problem.rejected else "yellow"
            label = "rejected" if problem.rejected else "warning"
            err_console.print(
                f"[{colour}]{label}[/{colour}] {problem}", highlight=False, soft_wrap=True
            )
            self.shown += 1

    def close(self) -> None:
        if self.file:
            self.file.close()


@app.command("import")
@handles_errors
def import_command(
    ctx: typer.Context,
    paths: Annotated[
        list[Path], typer.Argument(help="Export files (.csv, .xlsx) or folders holding them.")
    ],
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit 1 on field warnings too, not only rejections.")
    ] = False,
    problems: Annotated[
        Path | None,
        typer.Option(
            "--problems",
            help=f"Write every rejection and warning to this file and show only the first "
            f"{SHOWN_PROBLEMS} here.",
        ),
    ] = None,
    region: Annotated[
        str | None, typer.Option(help="Region for phones written without a country code.")
    ] = None,
) -> None:
    """Import a DMS export (stores, customers, vehicles, visits, policies, upsell items).

    Good rows load even when others are bad; every rejected row and field warning is named
    as file:line: field: reason. Exits 1 when any row was rejected.
    """
    settings = settings_of(ctx)
    engine = creating_engine_of(ctx)  # the one command that may create the database
    printer = _ProblemPrinter(problems, SHOWN_PROBLEMS if problems else None)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    try:
        with Progress(*columns, console=err_console, transient=True) as progress:
            report = import_paths(
                engine,
                paths,
                region=region or settings.default_region,
                on_problem=printer,
                progress=_Bar(progress),
            )
    finally:
        printer.close()
    attribute_returns(engine)
    _print_report(report, problems)
    if report.failed(strict=strict):
        raise typer.Exit(1)


def _print_report(report: ImportReport, problems: Path | None) -> None:
    for note in report.notes:
        err_console.print(f"[dim]note[/dim] {note}", highlight=False, soft_wrap=True)
    for error in report.file_errors:
        err_console.print(f"[red]error[/red] {error}", highlight=False, soft_wrap=True)
    table = Table(title="Import")
    for name in ("file", "kind", "read", "inserted", "updated", "rejected", "warnings"):
        if name in ("file", "kind"):
            table.add_column(name, overflow="fold")
        else:
            table.add_column(name, justify="right")
    for f in report.files:
        table.add_row(
            f.path, f.kind, *(f"{n:,}" for n in (f.read, f.inserted, f.updated)),
            f"[red]{f.rejected:,}[/red]" if f.rejected else "0",
            f"[yellow]{f.warnings:,}[/yellow]" if f.warnings else "0",
        )  # fmt: skip
    console.print(table)
    if problems and (report.rejected or report.warnings):
        console.print(f"Every rejection and warning is listed in {problems}.")
