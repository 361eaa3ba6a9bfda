"""Flow ``import-dms``: load a DMS export, then attribute returns.

The one flow that may create the database (as ``revisit import`` is the one command). An
expected failure — a database that cannot be reached, settings that do not validate — ends
the run Failed with one line; rejected rows end it Failed after every good row has loaded."""

from __future__ import annotations

from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact
from prefect.states import Failed, State

from flows.retries import RETRIES, RETRY_DELAYS, transient_db_error
from revisit.dms.importing import ImportReport, Problem, import_paths
from revisit.entry.context import load_settings
from revisit.entry.engine import open_engine
from revisit.errors import RevisitError
from revisit.outcomes.attribution import attribute_returns

LOGGED_PROBLEMS = 200


class RejectedRows(Exception):
    """Some rows of the export were rejected (the good ones loaded)."""


@task(
    name="import-files", retries=RETRIES, retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=transient_db_error,
)  # fmt: skip
def import_files(database_url: str, paths: list[str], region: str) -> ImportReport:
    logger = get_run_logger()
    logged = 0

    def log(problem: Problem) -> None:
        nonlocal logged
        if logged < LOGGED_PROBLEMS:
            (logger.error if problem.rejected else logger.warning)(str(problem))
        logged += 1

    engine = open_engine(database_url)
    try:
        return import_paths(engine, [Path(p) for p in paths], region=region, on_problem=log)
    finally:
        engine.dispose()


@task(
    name="attribute-returns", retries=RETRIES, retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=transient_db_error,
)  # fmt: skip
def attribute(database_url: str) -> int:
    engine = open_engine(database_url)
    try:
        return attribute_returns(engine)
    finally:
        engine.dispose()


def report_markdown(report: ImportReport) -> str:
    lines = [
        "| file | kind | read | inserted | updated | unchanged | superseded | rejected "
        "| warnings |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for f in report.files:
        lines.append(
            f"| {f.path} | {f.kind} | {f.read} | {f.inserted} | {f.updated} | {f.unchanged} "
            f"| {f.superseded} | {f.rejected} | {f.warnings} |"
        )
    lines += [f"\n**Error:** {e}" for e in report.file_errors]
    return "\n".join(lines)


@flow(name="import-dms")
def import_dms(
    paths: list[str], database_url: str | None = None, region: str = "CN"
) -> dict | State:
    """Import the export files or folders in ``paths``; fails (after loading every good row)
    when any row was rejected, so the run stands out."""
    try:
        url = load_settings(database_url=database_url).database_url
        open_engine(url).dispose()  # created or migrated here: a failure is the flow's line
        report = import_files(url, paths, region)
        attribute(url)
    except RevisitError as exc:
        return Failed(message=str(exc))
    create_markdown_artifact(
        key="dms-import", markdown=report_markdown(report), description="DMS import"
    )
    summary = {"rows": report.rows, "rejected": report.rejected, "warnings": report.warnings}
    if report.failed():
        raise RejectedRows(
            f"{report.rejected} rejected rows, {len(report.file_errors)} unreadable files "
            "(the good rows loaded; see the log and the dms-import artifact)"
        )
    return summary
