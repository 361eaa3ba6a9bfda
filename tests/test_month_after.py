"""The demo's month after: deterministic, inside the window, and contacted customers come
back at the documented rates (base rate × uplift), the holdout at the base rate."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

from sqlalchemy.engine import Engine

from revisit.demo.month_after import (
    BASE_RETURN,
    CONTACT_UPLIFT,
    WINDOW_DAYS,
    month_after_visits,
    write_month_after,
)
from revisit.dms.importing import import_paths
from revisit.reports.campaigns import ReportFilter, campaign_report
from tests.outcome_support import make_campaign_run

N = 400


def test_month_after_follows_its_parameters(engine: Engine, tmp_path: Path) -> None:
    run = make_campaign_run(engine, ["sent"] * N + ["holdout"] * N)
    rows = month_after_visits(engine, as_of=run.as_of, seed=7)
    assert rows == month_after_visits(engine, as_of=run.as_of, seed=7)
    assert rows != month_after_visits(engine, as_of=run.as_of, seed=8)
    days = {dt.date.fromisoformat(r[2]) for r in rows}
    assert min(days) >= run.as_of and max(days) < run.as_of + dt.timedelta(days=WINDOW_DAYS)
    contacted, holdout = set(run.vins[:N]), set(run.vins[N:])
    base = BASE_RETURN["maintenance_due"]
    for vins, p in ((contacted, base * CONTACT_UPLIFT), (holdout, base)):
        share = sum(1 for r in rows if r[1] in vins) / N
        assert abs(share - p) < 4 * math.sqrt(p * (1 - p) / N), (share, p)
    folder = write_month_after(engine, tmp_path / "after", as_of=run.as_of, seed=7).parent
    report = import_paths(engine, [folder], region="CN")
    assert report.rejected == 0 and report.rows == len(rows)
    from revisit.outcomes.attribution import attribute_returns

    attribute_returns(engine)
    with engine.connect() as conn:
        (row,) = campaign_report(conn, ReportFilter(campaign=run.campaign))
    assert row["returned"] == sum(1 for r in rows if r[1] in contacted)
    assert row["holdout_returned"] == sum(1 for r in rows if r[1] in holdout)
