"""The campaign report: its keys, its counts against a run written by hand, the lift's
interval against statsmodels, and (hypothesis) its arithmetic for random outcomes."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine
from sqlmodel import Session
from statsmodels.stats.proportion import confint_proportions_2indep

from revisit.db.tables import OPT_OUTS, utcnow
from revisit.entry.lookup import check_known
from revisit.errors import NotFoundError
from revisit.outcomes.attribution import attribute_returns
from revisit.reports.campaigns import KEYS, ReportFilter, campaign_report
from revisit.reports.stats import newcombe_diff, rate, wilson
from tests.factories import make_customer, make_store
from tests.outcome_support import add_message, add_visit, make_campaign_run

DAY = dt.date(2026, 10, 1)
INSIDE, OUTSIDE = DAY + dt.timedelta(days=3), DAY + dt.timedelta(days=45)


@pytest.mark.parametrize(
    ("k1", "n1", "k2", "n2"),
    [(30, 100, 20, 100), (0, 10, 0, 12), (5, 5, 0, 7), (1, 1000, 3, 80), (56, 70, 48, 80)],
)
def test_newcombe_matches_statsmodels(k1: int, n1: int, k2: int, n2: int) -> None:
    low, high = confint_proportions_2indep(k1, n1, k2, n2, method="newcomb", compare="diff")
    got = newcombe_diff(k1, n1, k2, n2)
    assert got is not None
    assert got == pytest.approx((low, high), abs=1e-9)


def test_rates_are_null_without_a_denominator() -> None:
    assert rate(0, 0) is None
    assert newcombe_diff(1, 3, 0, 0) is None
    with pytest.raises(ValueError, match="0 <= successes <= n"):
        wilson(4, 3)


def test_report_counts_a_run(engine: Engine) -> None:
    statuses = ["sent"] * 6 + ["failed", "holdout", "holdout", "holdout", "excluded"]
    statuses += ["suppressed"]
    reasons = [None] * 10 + ["no_phone", "frequency_cap"]
    run = make_campaign_run(engine, statuses, reasons=reasons)
    c, v = run.contacts, run.vins
    for i in (0, 1):
        add_message(engine, c[i], "delivered")
    add_message(engine, c[2], "undelivered")
    add_visit(engine, v[0], INSIDE, 100)  # contacted, returned
    add_visit(engine, v[1], OUTSIDE, 999)  # too late
    add_visit(engine, v[6], INSIDE, 50)  # failed send, returned: counts for the lift only
    add_visit(engine, v[7], INSIDE, 70)  # holdout, returned
    with engine.begin() as conn:
        conn.execute(OPT_OUTS.insert().values(customer_id=run.customers[3], source="reply",
                                              created_at=utcnow()))  # fmt: skip
    attribute_returns(engine)
    with engine.connect() as conn:
        (row,) = campaign_report(conn, ReportFilter(campaign=run.campaign))
    assert list(row) == list(KEYS)
    assert row["targeted"] == 12
    assert row["excluded"] == {"no_phone": 1}
    assert row["suppressed"] == {"frequency_cap": 1}
    assert (row["holdout"], row["assigned"], row["contacted"]) == (3, 7, 6)
    assert (row["delivered"], row["failed"], row["opted_out"]) == (2, 2, 1)
    assert (row["returned"], row["assigned_returned"], row["holdout_returned"]) == (1, 2, 1)
    assert row["return_rate"] == pytest.approx(1 / 6)
    assert row["holdout_return_rate"] == pytest.approx(1 / 3)
    assert row["lift"] == pytest.approx(2 / 7 - 1 / 3)
    low, high = confint_proportions_2indep(2, 7, 1, 3, method="newcomb", compare="diff")
    assert (row["lift_ci_low"], row["lift_ci_high"]) == pytest.approx((low, high))
    assert row["revenue"] == 100.0


def test_no_holdout_gives_null_rates_and_lift(engine: Engine) -> None:
    run = make_campaign_run(engine, ["sent", "sent"])
    attribute_returns(engine)
    with engine.connect() as conn:
        (row,) = campaign_report(conn, ReportFilter(campaign=run.campaign))
    assert row["holdout_return_rate"] is None
    assert row["lift"] is None and row["lift_ci_low"] is None
    assert row["return_rate"] == 0.0


def test_filters_and_breakdown(engine: Engine) -> None:
    early = make_campaign_run(engine, ["sent"], as_of=dt.date(2026, 9, 1))
    late = make_campaign_run(engine, ["sent", "sent"], as_of=DAY, campaign=early.campaign)
    with engine.connect() as conn:
        rows = campaign_report(conn, ReportFilter(campaign=early.campaign, since=DAY))
        by_store = campaign_report(conn, ReportFilter(campaign=early.campaign, by="store"))
        by_model = campaign_report(conn, ReportFilter(campaign=early.campaign, by="model"))
        by_age = campaign_report(conn, ReportFilter(campaign=early.campaign, by="car_age"))
        with pytest.raises(ValueError, match="unknown breakdown"):
            campaign_report(conn, ReportFilter(by="colour"))
    assert [r["run_id"] for r in rows] == [late.run_id]
    assert [(r["store"], r["targeted"]) for r in by_store] == [("default", 1), ("default", 2)]
    assert {r["model"] for r in by_model} == {"Sedan"}
    assert by_age[0]["car_age"] == "3-5 years"  # bought 2022-01-15, run 2026-09-01


outcome = st.sampled_from(["sent", "failed", "holdout", "excluded", "listed", "pending"])


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    statuses=st.lists(outcome, min_size=1, max_size=12),
    visits=st.lists(st.integers(min_value=-5, max_value=40), min_size=12, max_size=12),
)
def test_report_arithmetic_property(engine: Engine, statuses: list[str], visits: list[int]) -> None:
    run = make_campaign_run(engine, statuses, channel="sms")
    for vin, offset in zip(run.vins, visits, strict=False):
        add_visit(engine, vin, DAY + dt.timedelta(days=offset), 10)
    attribute_returns(engine)
    with engine.connect() as conn:
        (row,) = campaign_report(conn, ReportFilter(campaign=run.campaign))
    assert row["returned"] <= row["contacted"] <= row["assigned"] <= row["targeted"]
    assert row["holdout_returned"] <= row["holdout"]
    for name in ("return_rate", "holdout_return_rate"):
        assert row[name] is None or 0 <= row[name] <= 1
    expected = sum(1 for s, d in zip(statuses, visits, strict=False) if s in ("sent", "listed")
                   and 0 <= d <= 30)  # fmt: skip
    assert row["returned"] == expected
    if row["lift"] is not None:
        assert row["lift_ci_low"] <= row["lift"] <= row["lift_ci_high"]
        assert row["lift_ci_low"] >= -1 and row["lift_ci_high"] <= 1
    # a lift needs a treatment: contacted nobody (everything pending or failed) → none
    measurable = row["contacted"] and row["assigned"] and row["holdout"]
    assert (row["lift"] is not None) == bool(measurable)


def test_an_unknown_store_is_named_beside_the_stores_with_customers(engine: Engine) -> None:
    """Regression: `report --store S01` listed the empty default store among the known ones.
    The hint names stores that have customers; an empty store is still accepted by name."""
    with Session(engine) as s:
        make_store(s, store_id="QZFZ")
        make_store(s, store_id="QZEMPTY")
        make_customer(s, store_id="QZFZ")
        s.commit()
    with pytest.raises(NotFoundError) as info:
        check_known(engine, store="QZFX")
    assert str(info.value) == (
        "unknown store 'QZFX' (did you mean QZFZ?); stores with customers: QZFZ"
    )
    check_known(engine, store="QZEMPTY")  # known, just empty: no error
    check_known(engine, store="default")


def test_a_run_that_has_contacted_nobody_has_no_lift(engine: Engine) -> None:
    """Regression: a run whose SMS all still waited (deferred) printed a lift with an
    interval, as if it had gone out; so did one whose contacts all expired."""
    for statuses in (["pending"] * 3 + ["holdout"] * 2, ["expired"] * 3 + ["holdout"] * 2):
        run = make_campaign_run(engine, statuses, channel="sms")
        with engine.connect() as conn:
            (row,) = campaign_report(conn, ReportFilter(campaign=run.campaign))
        assert (row["assigned"], row["holdout"], row["contacted"]) == (3, 2, 0)
        assert (row["lift"], row["lift_ci_low"], row["lift_ci_high"]) == (None, None, None)
