"""The manager's dashboard as data: one dict built from the report functions, never from
queries of its own, so every number on the dashboard (in the app, or in the file written by
``revisit report --format html``) is the number ``revisit report --format json`` prints.

- ``runs``: :func:`revisit.reports.campaigns.campaign_report` rows, one per campaign run;
- ``trend``: those rows summed per campaign and week (ISO, ``2026-W48``) or month
  (``2026-11``) of the run day, with the return rate, the holdout's beside it and the lift
  with its 95% interval recomputed from the summed counts (:func:`set_lift`);
- ``funnel``: targeted → contacted → delivered → reached → booked → returned, summed over the
  runs (definitions: :mod:`revisit.reports.campaigns`);
- ``churn``: :func:`revisit.reports.calls.churn_report` rows and ``reasons``, their declines
  per reason over campaigns and stores;
- ``staff``: :func:`revisit.reports.calls.staff_report` rows;
- ``upsell``: :func:`revisit.reports.upsell.upsell_report` rows by month, grade, advisor and
  team (visits of the period; the upsell KPIs know no campaign).

Filters: a set of store ids (None: every store, an empty set: none — a user scoped to stores
sees their customers only, counts included), a campaign and a period of run days.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.engine import Connection

from revisit.dates import check_period
from revisit.reports.calls import CallFilter, churn_report, staff_report
from revisit.reports.campaigns import ReportFilter, campaign_report, set_lift
from revisit.reports.stats import rate
from revisit.reports.upsell import UPSELL_GROUPS, UpsellFilter, upsell_report

PERIODS = ("week", "month")
#: The funnel's stages, in order: keys of a campaign report row.
FUNNEL = ("targeted", "contacted", "delivered", "reached", "booked", "returned")
#: Counts summed per campaign and period in ``trend`` (rates and lift are recomputed).
SUMMED = ("targeted", "holdout", "assigned", "contacted", "delivered", "reached", "booked",
          "returned", "assigned_returned", "holdout_returned")  # fmt: skip


@dataclass(frozen=True)
class DashboardFilter:
    """What the dashboard shows: customers of ``stores`` (None: every store), one campaign
    (None: all), run days — and, for upsell, visit days — in [since, until], the trend by
    ``period`` (``week`` or ``month``)."""

    stores: frozenset[str] | None = None
    campaign: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None
    period: str = "month"

    def __post_init__(self) -> None:
        """Raises ConfigError for a period that holds no day (since after until)."""
        check_period(self.since, self.until)


def scoped_stores(
    requested: Iterable[str] | None, allowed: frozenset[str] | None
) -> frozenset[str] | None:
    """The stores a user may see of those asked for: ``requested`` (None: all) within
    ``allowed`` (None: every store, an admin). Never wider than ``allowed``."""
    if requested is None:
        return allowed
    asked = frozenset(requested)
    return asked if allowed is None else asked & allowed


def period_of(day: dt.date | str, period: str) -> str:
    """The week (ISO ``YYYY-Www``) or month (``YYYY-MM``) of a day (a date or ISO text).
    Raises ValueError for another period."""
    if period not in PERIODS:
        raise ValueError(f"period: unknown period {period!r}; use {', '.join(PERIODS)}")
    day = dt.date.fromisoformat(day) if isinstance(day, str) else day
    if period == "month":
        return f"{day:%Y-%m}"
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def trend(runs: Sequence[dict[str, Any]], period: str) -> list[dict[str, Any]]:
    """Campaign report rows summed per campaign and period (oldest period first, then by
    campaign): ``campaign, period, runs`` and :data:`SUMMED`, ``return_rate`` (returned /
    contacted), ``holdout_return_rate``, ``lift`` and its interval, ``revenue``."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for run in runs:
        key = (period_of(run["as_of"], period), run["campaign"])
        row = groups.setdefault(key, {"campaign": run["campaign"], "period": key[0], "runs": 0,
                                      **dict.fromkeys(SUMMED, 0), "revenue": 0.0})  # fmt: skip
        row["runs"] += 1
        for name in SUMMED:
            row[name] += run[name]
        row["revenue"] += run["revenue"]
    rows = [groups[key] for key in sorted(groups)]
    for row in rows:
        row["return_rate"] = rate(row["returned"], row["contacted"])
        row["holdout_return_rate"] = rate(row["holdout_returned"], row["holdout"])
        set_lift(row)
        row["revenue"] = round(row["revenue"], 2)
    return rows


def funnel(runs: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The funnel over the runs: ``[{"stage": "targeted", "count": n}, …]`` in :data:`FUNNEL`
    order."""
    return [{"stage": stage, "count": sum(r[stage] for r in runs)} for stage in FUNNEL]


def reasons(churn: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Declines per reason over every campaign and store: ``reason, declined, share``, most
    frequent first."""
    counts: Counter[str] = Counter()
    for row in churn:
        counts[row["reason"]] += row["declined"]
    total = sum(counts.values())
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return [{"reason": r, "declined": n, "share": n / total} for r, n in ordered]


def empty_data(
    stores: frozenset[str] | None,
    campaign: str | None,
    since: str | None,
    until: str | None,
    period: str,
) -> dict[str, Any]:
    """The dashboard with no data (every list empty) for filters that could not be read: the
    ``filter`` holds them as given (text, so a form can show them back)."""
    return {
        "filter": {
            "stores": None if stores is None else sorted(stores),
            "campaign": campaign,
            "since": since or None,
            "until": until or None,
            "period": period,
        },
        **{key: [] for key in ("runs", "trend", "funnel", "churn", "reasons", "staff")},
        "upsell": {by: [] for by in UPSELL_GROUPS},
    }


def dashboard_data(conn: Connection, f: DashboardFilter | None = None) -> dict[str, Any]:
    """The dashboard (see the module doc) as a JSON-ready dict with the keys ``filter``,
    ``runs``, ``trend``, ``funnel``, ``churn``, ``reasons``, ``staff`` and ``upsell`` (a dict
    of row lists by grouping). Raises ValueError for an unknown period."""
    f = f or DashboardFilter()
    if f.period not in PERIODS:
        raise ValueError(f"period: unknown period {f.period!r}; use {', '.join(PERIODS)}")
    runs = campaign_report(
        conn, ReportFilter(campaign=f.campaign, since=f.since, until=f.until, stores=f.stores)
    )
    calls = CallFilter(campaign=f.campaign, since=f.since, until=f.until, stores=f.stores)
    churn = churn_report(conn, calls)
    upsell = {
        by: upsell_report(conn, UpsellFilter(by=by, since=f.since, until=f.until, stores=f.stores))
        for by in UPSELL_GROUPS
    }
    return {
        "filter": {
            "stores": None if f.stores is None else sorted(f.stores),
            "campaign": f.campaign,
            "since": f.since.isoformat() if f.since else None,
            "until": f.until.isoformat() if f.until else None,
            "period": f.period,
        },
        "runs": runs,
        "trend": trend(runs, f.period),
        "funnel": funnel(runs),
        "churn": churn,
        "reasons": reasons(churn),
        "staff": staff_report(conn, calls),
        "upsell": upsell,
    }
