"""The dashboard's data: the report functions' rows, summed per period and funnel stage
(never counted again), filtered by stores, campaign and period — and a store filter never
lets another store's customers into a single number."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from revisit.errors import ConfigError
from revisit.reports.calls import CallFilter, churn_report, staff_report
from revisit.reports.campaigns import ReportFilter, campaign_report
from revisit.reports.dashboard import (
    FUNNEL,
    DashboardFilter,
    dashboard_data,
    period_of,
    scoped_stores,
)
from revisit.reports.stats import newcombe_diff
from revisit.reports.upsell import UPSELL_GROUPS, UpsellFilter, upsell_report
from tests.dashboard_support import MONDAY, two_store_dealer


def _data(engine: Engine, **kw: Any) -> dict[str, Any]:
    with engine.connect() as conn:
        return dashboard_data(conn, DashboardFilter(**kw))


def test_the_dashboard_is_the_reports(engine: Engine) -> None:
    two_store_dealer(engine)
    data = _data(engine)
    with engine.connect() as conn:
        assert data["runs"] == campaign_report(conn, ReportFilter())
        assert data["churn"] == churn_report(conn, CallFilter())
        assert data["staff"] == staff_report(conn, CallFilter())
        for by in UPSELL_GROUPS:
            assert data["upsell"][by] == upsell_report(conn, UpsellFilter(by=by))
    assert len(data["runs"]) == 3
    funnel = {s["stage"]: s["count"] for s in data["funnel"]}
    assert list(funnel) == list(FUNNEL)
    assert funnel == {k: sum(r[k] for r in data["runs"]) for k in FUNNEL}
    # counted by hand from the dealer: 18 targeted; 9 SMS sent + 4 listed; 3 delivered; the
    # delivered SMS and 3 answered calls; 1 booked; returned 0, 2, 5, 6 (first run), 1
    # (second), the booked call
    assert list(funnel.values()) == [18, 13, 3, 6, 1, 6]
    assert [(r["reason"], r["declined"]) for r in data["reasons"]] == [
        ("distance", 1),
        ("price", 1),
    ]


def test_the_trend_sums_runs_per_period_and_recomputes_the_lift(engine: Engine) -> None:
    dealer = two_store_dealer(engine)
    months = _data(engine, period="month")["trend"]
    sms = [r for r in months if r["campaign"] == dealer.sms_campaign]
    assert [(r["period"], r["runs"]) for r in sms] == [("2026-09", 2)]
    (row,) = sms
    # first run: 6 sent + 4 holdout-or-excluded; second: 3 sent, 1 holdout
    assert (row["contacted"], row["holdout"], row["assigned"]) == (9, 4, 9)
    assert (row["returned"], row["holdout_returned"]) == (5, 2)
    assert row["return_rate"] == pytest.approx(5 / 9)
    assert row["holdout_return_rate"] == pytest.approx(2 / 4)
    assert row["lift"] == pytest.approx(5 / 9 - 2 / 4)
    assert (row["lift_ci_low"], row["lift_ci_high"]) == pytest.approx(newcombe_diff(5, 9, 2, 4))
    weeks = _data(engine, period="week")["trend"]
    assert [(r["campaign"], r["period"]) for r in weeks] == [
        (dealer.sms_campaign, "2026-W37"), (dealer.sms_campaign, "2026-W39"),
        (dealer.call_campaign, "2026-W41"),
    ]  # fmt: skip
    with pytest.raises(ValueError, match="unknown period 'day'"):
        _data(engine, period="day")


def _numbers(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "funnel": [s["count"] for s in data["funnel"]],
        "churn": sum(r["declined"] for r in data["churn"]),
        "staff": sum(r["listed"] for r in data["staff"]),
        "upsell": sum(r["work_orders"] for r in data["upsell"]["month"]),
        "revenue": round(sum(r["revenue"] for r in data["runs"]), 2),
    }


def test_a_store_filter_never_leaks_another_stores_counts(engine: Engine) -> None:
    two_store_dealer(engine)
    everyone = _data(engine)
    s1, s2 = _data(engine, stores=frozenset({"S1"})), _data(engine, stores=frozenset({"S2"}))
    # S1: 5 + 4 customers of the SMS runs, 2 of the call run; S2: 5 and 2
    assert (s1["funnel"][0]["count"], s2["funnel"][0]["count"]) == (11, 7)
    # every number of the two stores adds up to everyone's: nothing counted twice or lost
    a, b, both = _numbers(s1), _numbers(s2), _numbers(everyone)
    assert [x + y for x, y in zip(a["funnel"], b["funnel"], strict=True)] == both["funnel"]
    assert a["churn"] + b["churn"] == both["churn"] == 2
    assert a["staff"] + b["staff"] == both["staff"] == 4
    assert a["upsell"] + b["upsell"] == both["upsell"]
    assert a["revenue"] + b["revenue"] == pytest.approx(both["revenue"])
    assert {r["store"] for r in s1["churn"]} == {"S1"}
    assert [r["advisor"] for r in s1["upsell"]["advisor"]] == ["unknown", "李明"]
    assert "S2" not in json.dumps(s1, ensure_ascii=False)
    assert "陈静" not in json.dumps(s1, ensure_ascii=False)
    both_stores = _data(engine, stores=frozenset({"S1", "S2"}))
    assert both_stores["funnel"] == everyone["funnel"]
    nobody = _data(engine, stores=frozenset())
    assert [s["count"] for s in nobody["funnel"]] == [0] * len(FUNNEL)
    assert nobody["runs"] == nobody["churn"] == nobody["staff"] == nobody["trend"] == []
    assert all(rows == [] for by, rows in nobody["upsell"].items() if by != "grade")


def test_campaign_and_period_filters(engine: Engine) -> None:
    dealer = two_store_dealer(engine)
    calls = _data(engine, campaign=dealer.call_campaign)
    assert {r["campaign"] for r in calls["runs"]} == {dealer.call_campaign}
    assert calls["funnel"][0]["count"] == 4
    assert {r["campaign"] for r in calls["churn"]} == {dealer.call_campaign}
    later = _data(engine, since=MONDAY + dt.timedelta(days=1))
    assert [r["as_of"] for r in later["runs"]] == [d.isoformat() for d in dealer.days[1:]]
    assert later["upsell"]["month"][0]["work_orders"] >= 2
    first = _data(engine, until=MONDAY)
    assert [r["as_of"] for r in first["runs"]] == [MONDAY.isoformat()]
    assert first["staff"] == [] and first["upsell"]["month"] == []
    assert first["filter"] == {"stores": None, "campaign": None, "since": None,
                               "until": MONDAY.isoformat(), "period": "month"}  # fmt: skip


def test_an_empty_period_is_refused() -> None:
    with pytest.raises(ConfigError, match="the period is empty: since 2026-12-01"):
        DashboardFilter(since=dt.date(2026, 12, 1), until=dt.date(2026, 11, 1))


def test_scoped_stores_is_never_wider_than_allowed() -> None:
    s1 = frozenset({"S1"})
    assert scoped_stores(None, None) is None
    assert scoped_stores(None, s1) == s1
    assert scoped_stores(["S1", "S2"], s1) == s1
    assert scoped_stores(["S2"], s1) == frozenset()
    assert scoped_stores(["S2"], None) == frozenset({"S2"})


@pytest.mark.parametrize(
    ("day", "period", "key"),
    [("2026-09-07", "week", "2026-W37"), ("2027-01-01", "week", "2026-W53"),
     ("2026-12-31", "month", "2026-12"), (dt.date(2026, 1, 1), "week", "2026-W01")],
)  # fmt: skip
def test_period_of(day: Any, period: str, key: str) -> None:
    assert period_of(day, period) == key


def test_the_json_report_takes_several_stores(engine: Engine, db_url: str) -> None:
    from typer.testing import CliRunner

    from revisit.cli import app

    two_store_dealer(engine)

    def rows(*args: str) -> list[dict[str, Any]]:
        result = CliRunner().invoke(
            app, ["report", *args, "--format", "json"], env={"REVISIT_DATABASE_URL": db_url}
        )
        assert result.exit_code == 0, result.output
        parsed: list[dict[str, Any]] = json.loads(result.stdout)
        return parsed

    assert rows("--store", "S1", "--store", "S2") == rows()
    assert sum(r["targeted"] for r in rows("--store", "S1")) == 11
    assert rows("--store", "S2") == _data(engine, stores=frozenset({"S2"}))["runs"]
