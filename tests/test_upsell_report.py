"""Upsell KPIs (增修率, 增修成功率) by month, grade, advisor and team against an independent
count of a random dataset, and the call reports (churn, staff)."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session

from revisit.outcomes.attribution import attribute_returns
from revisit.outcomes.calls import CallOutcome, record_call_outcomes
from revisit.reports.calls import CallFilter, churn_report, staff_report
from revisit.reports.upsell import UpsellFilter, upsell_report
from tests.factories import make_store, make_upsell_item, make_vehicle, make_visit
from tests.outcome_support import add_visit, make_campaign_run


def random_shop(engine: Engine, seed: int) -> list[dict[str, Any]]:
    """Visits over three months, some with graded items; returns what was written."""
    rng = random.Random(seed)
    written: list[dict[str, Any]] = []
    with Session(engine) as s:
        for _ in range(12):
            vehicle = make_vehicle(s)
            for _ in range(rng.randint(1, 4)):
                day = dt.date(2026, rng.randint(8, 10), rng.randint(1, 28))
                advisor = rng.choice(["陈明", "李娜", None])
                team = rng.choice(["一组", "二组"])
                visit = make_visit(s, vehicle=vehicle, date=day, advisor=advisor, team=team)
                items = []
                for _ in range(rng.choice([0, 0, 1, 2, 3])):
                    status = rng.choice(["accepted", "declined"])
                    amount = rng.choice([None, 120.0, 80.5])
                    item = make_upsell_item(s, visit=visit, grade=rng.choice("ABC"),
                                            status=status, amount=amount)  # fmt: skip
                    items.append((item.grade, status, amount))
                written.append({"month": day.strftime("%Y-%m"), "advisor": advisor or "unknown",
                                "team": team, "items": items})  # fmt: skip
        s.commit()
    return written


def independent(visits: list[dict[str, Any]], by: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = defaultdict(lambda: defaultdict(float))
    grades = {g for v in visits for g, _, _ in v["items"]}
    for v in visits:
        keys = sorted({g for g, _, _ in v["items"]}) if by == "grade" else [v[by]]
        for key in keys:
            row = out[key]
            chosen = [i for i in v["items"] if by != "grade" or i[0] == key]
            row["work_orders_with_items"] += 1 if chosen else 0
            row["items"] += len(chosen)
            row["accepted"] += sum(1 for _, s, _ in chosen if s == "accepted")
            row["accepted_amount"] += sum(a or 0 for _, s, a in chosen if s == "accepted")
        if by != "grade":
            out[v[by]]["work_orders"] += 1
    if by == "grade":
        for g in grades:
            out[g]["work_orders"] = len(visits)
    return out


@pytest.mark.parametrize("by", ["month", "grade", "advisor", "team"])
def test_upsell_kpis_equal_an_independent_count(engine: Engine, by: str) -> None:
    visits = random_shop(engine, seed=["month", "grade", "advisor", "team"].index(by))
    with engine.connect() as conn:
        rows = upsell_report(conn, UpsellFilter(by=by))
    expected = independent(visits, by)
    assert {r[by] for r in rows} == set(expected)
    for r in rows:
        e = expected[r[by]]
        assert r["work_orders"] == e["work_orders"]
        assert r["work_orders_with_items"] == e["work_orders_with_items"]
        assert r["items"] == e["items"] and r["accepted"] == e["accepted"]
        assert r["upsell_rate"] == pytest.approx(e["work_orders_with_items"] / e["work_orders"])
        rate = r["upsell_success_rate"]
        assert rate == (pytest.approx(e["accepted"] / e["items"]) if e["items"] else None)
        assert r["accepted_amount"] == pytest.approx(e["accepted_amount"])


def test_upsell_filters_by_period_and_store(engine: Engine) -> None:
    with Session(engine) as s:
        make_store(s, store_id="XM", name="厦门店")
        here = make_vehicle(s)
        there = make_vehicle(s)
        there_owner = there.customer_id
        s.commit()
        from revisit.db.tables import Customer

        owner = s.get(Customer, there_owner)
        assert owner is not None
        owner.store_id = "XM"
        s.add(owner)
        v1 = make_visit(s, vehicle=here, date=dt.date(2026, 9, 3))
        make_upsell_item(s, visit=v1, status="accepted", amount=10)
        make_visit(s, vehicle=there, date=dt.date(2026, 9, 4))
        make_visit(s, vehicle=here, date=dt.date(2026, 10, 4))
        s.commit()
    f = UpsellFilter(by="month", since=dt.date(2026, 9, 1), until=dt.date(2026, 9, 30))
    with engine.connect() as conn:
        (sept,) = upsell_report(conn, f)
        (xm,) = upsell_report(conn, UpsellFilter(by="month", store="XM"))
    assert (sept["work_orders"], sept["work_orders_with_items"]) == (2, 1)
    assert sept["upsell_rate"] == 0.5 and sept["upsell_success_rate"] == 1.0
    assert (xm["month"], xm["work_orders"], xm["items"]) == ("2026-09", 1, 0)
    assert xm["upsell_success_rate"] is None


def test_churn_and_staff_reports(engine: Engine) -> None:
    run = make_campaign_run(engine, ["listed"] * 5, channel="call")
    c = run.contacts
    outcomes = [
        CallOutcome(c[0], "declined", "price"),
        CallOutcome(c[1], "declined", "price"),
        CallOutcome(c[2], "declined", "distance"),
        CallOutcome(c[3], "not_reached", "no_answer"),
        CallOutcome(c[4], "booked"),
    ]
    with engine.begin() as conn:
        record_call_outcomes(conn, outcomes)
    add_visit(engine, run.vins[4], run.as_of + dt.timedelta(days=2), 100)
    attribute_returns(engine)
    with engine.connect() as conn:
        churn = churn_report(conn, CallFilter(campaign=run.campaign))
        (staff,) = staff_report(conn)
    assert [(r["reason"], r["declined"]) for r in churn] == [("price", 2), ("distance", 1)]
    assert churn[0]["share"] == pytest.approx(2 / 3)
    assert staff["staff"] == "王芳"
    counts = [staff[k] for k in ("listed", "called", "reached", "booked", "returned")]
    assert counts == [5, 5, 4, 1, 1]
