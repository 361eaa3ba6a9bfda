"""Commands for getting data in: ``revisit import``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, TextIO

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
from revisit.dms.importing import (
    ImportProgress,
    ImportReport,
    Problem,
    import_paths,
    parse_mapping,
)
from revisit.outcomes.attribution import attribute_returns
from revisit.sheets import SafeCsvWriter, write_table

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


PROBLEM_COLUMNS = ("file", "line", "field", "reason", "rejected")


class _ProblemPrinter:
    """Prints every problem (or the first ones, when they also go to a file: one line per
    problem, or a table when the file is named ``.csv`` or ``.xlsx``, written safely for
    Excel by :mod:`revisit.sheets` — a reason quotes the cell, which may be a formula)."""

    def __init__(self, out: Path | None, limit: int | None) -> None:
        self.out, self.rows = out, list[tuple[object, ...]]()
        self.file: TextIO | None = None
        self.csv: SafeCsvWriter | None = None
        if out and out.suffix.lower() == ".csv":
            out.parent.mkdir(parents=True, exist_ok=True)
            self.file = out.open("w", encoding="utf-8-sig", newline="")
            self.csv = SafeCsvWriter(self.file)
            self.csv.writerow(PROBLEM_COLUMNS)
        elif out and out.suffix.lower() != ".xlsx":
            out.parent.mkdir(parents=True, exist_ok=True)
            self.file = out.open("w", encoding="utf-8")
        self.limit, self.shown = limit, 0

    def __call__(self, problem: Problem) -> None:
        row = (problem.path, problem.line, problem.field, problem.reason, problem.rejected)
        if self.csv:
            self.csv.writerow(row)
        elif self.file:
            self.file.write(f"{problem}\n")
        elif self.out:
            self.rows.append(row)
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
        elif self.out:
            write_table(self.out, PROBLEM_COLUMNS, self.rows, text_columns=("file",))


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
    maps: Annotated[
        list[str] | None,
        typer.Option(
            "--map",
            metavar="HEADER=COLUMN",
            help="Read a header of yours as a column, e.g. --map 交车日期=purchase_date "
            "(KIND.HEADER=COLUMN for one kind only). Repeatable.",
        ),
    ] = None,
    map_files: Annotated[
        list[Path] | None,
        typer.Option(
            "--map-file",
            help="A YAML file of HEADER: column lines (or KIND: {HEADER: column}), one per DMS.",
        ),
    ] = None,
    skip_unknown: Annotated[
        bool,
        typer.Option(
            "--skip-unknown",
            help="Note and skip files that are not a DMS export of a known kind, instead of "
            "failing.",
        ),
    ] = False,
) -> None:
    """Import a DMS export (stores, customers, vehicles, visits, policies, upsell items).

    Good rows load even when others are bad; every rejected row and field warning is named
    as file:line: field: reason. Exits 1 when any row was rejected or a file could not be
    read or placed (a call list, an export of another kind).
    """
    settings = settings_of(ctx)
    mapping = parse_mapping(maps or (), map_files or ())
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
                mapping=mapping,
                skip_unknown=skip_unknown,
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
    # "superseded": rows whose id a later row of the same file names (shown when there are any).
    superseded = any(f.superseded for f in report.files)
    counts = ["read", "inserted", "updated", "unchanged"] + (["superseded"] if superseded else [])
    for name in ("file", "kind", *counts, "rejected", "warnings"):
        if name in ("file", "kind"):
            table.add_column(name, overflow="fold")
        else:
            table.add_column(name, justify="right")
    for f in report.files:
        table.add_row(
            f.path, f.kind, *(f"{getattr(f, name):,}" for name in counts),
            f"[red]{f.rejected:,}[/red]" if f.rejected else "0",
            f"[yellow]{f.warnings:,}[/yellow]" if f.warnings else "0",
        )  # fmt: skip
    console.print(table)
    if problems and (report.rejected or report.warnings):
        console.print(f"Every rejection and warning is listed in {problems}.")
