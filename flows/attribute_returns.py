"""Flow ``attribute-returns``: recompute every contact's return (nightly, after the DMS
import) and publish the report rows of the runs of the last days as a table artifact."""

from __future__ import annotations

import datetime as dt

from prefect import flow, task
from prefect.artifacts import create_table_artifact
from prefect.states import Failed, State

from flows.retries import RETRIES, RETRY_DELAYS, transient_db_error
from revisit.entry.context import load_settings
from revisit.entry.engine import open_existing
from revisit.errors import RevisitError
from revisit.outcomes.attribution import attribute_returns
from revisit.reports.campaigns import ReportFilter, artifact_rows, campaign_report


@task(
    name="attribute-returns", retries=RETRIES, retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=transient_db_error,
)  # fmt: skip
def attribute(database_url: str) -> int:
    """Recompute the returns; the number of returned contacts."""
    engine = open_existing(database_url)
    try:
        return attribute_returns(engine)
    finally:
        engine.dispose()


@task(
    name="report-rows", retries=RETRIES, retry_delay_seconds=RETRY_DELAYS,
    retry_condition_fn=transient_db_error,
)  # fmt: skip
def report_rows(database_url: str, since: dt.date) -> list[dict]:
    """The campaign report's rows for the runs since ``since``."""
    engine = open_existing(database_url)
    try:
        with engine.connect() as conn:
            return campaign_report(conn, ReportFilter(since=since))
    finally:
        engine.dispose()


@flow(name="attribute-returns")
def attribute_returns_flow(days: int = 90, database_url: str | None = None) -> dict | State:
    """Attribute returns, then publish the report of the runs of the last ``days`` days (the
    ``campaign-returns`` table artifact). A database that is missing or cannot be reached
    ends the run Failed with one line."""
    try:
        settings = load_settings(database_url=database_url)
        url = settings.database_url
        returned = attribute(url)
        rows = report_rows(url, settings.today() - dt.timedelta(days=days))
    except RevisitError as exc:
        return Failed(message=str(exc))
    if rows:
        create_table_artifact(
            key="campaign-returns", table=artifact_rows(rows),
            description=f"Campaign runs of the last {days} days: returns, holdout and lift",
        )  # fmt: skip
    return {"returned": returned, "runs": len(rows)}
