"""A store's daily SMS budget: filled highest priority first (within a campaign, the most due
first), the rest ``suppressed: budget``, counted in the preview, the run summary and the
report; calls and the holdout spend nothing; each store has its own."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy.engine import Engine
from sqlmodel import Session

from revisit.campaigns.config import load_campaigns
from revisit.campaigns.dayplan import SmsBudget, apply_budget, daily_campaigns, plan_day
from revisit.campaigns.plan import CampaignPlan, PlanRow
from revisit.campaigns.statuses import ChannelKind, PlanDecision, SuppressionReason
from revisit.cohorts.select import CohortMember
from revisit.entry.daily import run_daily
from revisit.entry.preview import preview
from revisit.entry.runs import pinned_clock
from revisit.reports.campaigns import campaign_report
from tests.test_day_plan import AS_OF, demo, demo_folder  # noqa: F401 - fixtures
from tests.test_runs import MORNING, ROOT, settings_for

CAMPAIGNS = load_campaigns(ROOT / "campaigns")
SMS = CAMPAIGNS["maintenance_due"]
CALL = next(c for c in CAMPAIGNS.values() if c.channel == ChannelKind.CALL)


def _row(cid: str, store: str, due: int, status: PlanDecision = PlanDecision.TO_CONTACT) -> PlanRow:
    member = CohortMember(SMS.cohort, cid, f"VIN{cid}", store, due_date=AS_OF + dt.timedelta(due))
    return PlanRow(cid, store, (f"VIN{cid}",), status, None, (member,), MORNING, None)


def _plan(rows: list[PlanRow], campaign=SMS) -> CampaignPlan:  # type: ignore[no-untyped-def]
    return CampaignPlan(campaign=campaign, as_of=AS_OF, now=MORNING, rows=rows)


def _over(plan: CampaignPlan) -> list[str]:
    return [r.customer_id for r in plan.rows if r.reason == SuppressionReason.BUDGET]


@pytest.mark.parametrize(("budget", "over"), [(0, ["C", "A", "B"]), (2, ["C"]), (3, []), (4, [])])
def test_the_budget_takes_the_most_due_first(budget: int, over: list[str]) -> None:
    """Boundaries: none, one short, exactly enough, more than enough. C is due last."""
    plan = _plan([_row("C", "S1", 9), _row("A", "S1", -3), _row("B", "S1", 0)])
    spent: Counter[str] = Counter()
    apply_budget(plan, SmsBudget(default=budget), spent)
    assert _over(plan) == over
    assert [r.customer_id for r in plan.rows] == ["C", "A", "B"]  # the order is kept
    assert spent["S1"] == min(budget, 3)
    assert all(r.send_at is None for r in plan.rows if r.reason == SuppressionReason.BUDGET)


def test_a_higher_campaign_spends_first_and_stores_count_apart() -> None:
    spent: Counter[str] = Counter()
    budget = SmsBudget(default=2, per_store={"S2": 1})
    higher = _plan([_row("A", "S1", 0), _row("B", "S2", 0)])
    lower = _plan([_row("C", "S1", -9), _row("D", "S1", 0), _row("E", "S2", 0)])
    apply_budget(higher, budget, spent)
    apply_budget(lower, budget, spent)
    assert _over(higher) == [] and _over(lower) == ["D", "E"]
    assert spent == {"S1": 2, "S2": 1}


def test_calls_holdout_and_stores_without_budget_spend_nothing() -> None:
    spent: Counter[str] = Counter()
    calls = _plan([_row("A", "S1", 0)], campaign=CALL)
    apply_budget(calls, SmsBudget(default=0), spent)
    assert _over(calls) == [] and not spent
    held = _plan([_row("H", "S1", 0, PlanDecision.HOLDOUT), _row("B", "S1", 1)])
    apply_budget(held, SmsBudget(default=1), spent)
    assert _over(held) == [] and spent["S1"] == 1
    free = _plan([_row("C", "S9", 0), _row("D", "S1", 0)])
    apply_budget(free, SmsBudget(per_store={"S1": 1}), spent)
    assert _over(free) == ["D"]  # S1 spent its one; S9 has no budget


def test_a_negative_budget_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="0 or more"):
        settings_for("sqlite://", tmp_path, sms_budgets={"S1": -1})
    with pytest.raises(ValidationError):
        settings_for("sqlite://", tmp_path, sms_daily_budget=-5)


def _sms_to_contact(engine: Engine) -> Counter[str]:
    """store → SMS the day's daily plans contact without a budget."""
    with Session(engine) as s:
        plans = list(plan_day(s, campaigns=CAMPAIGNS, as_of=AS_OF, now=MORNING))
    return Counter(
        r.store_id
        for p in plans
        if p.campaign.channel == ChannelKind.SMS
        for r in p.by_status(PlanDecision.TO_CONTACT)
    )


def test_the_budget_in_the_preview_the_run_and_the_report(
    demo: Engine,  # noqa: F811 - the fixture
    db_url: str,
    tmp_path: Path,
) -> None:
    free = _sms_to_contact(demo)
    store, most = free.most_common(1)[0]
    other = next(s for s in free if s != store)
    settings = settings_for(
        db_url, tmp_path / "out", sms_daily_budget=most - 1, sms_budgets={other: free[other]}
    )
    names = [c.name for c in daily_campaigns(CAMPAIGNS) if c.channel == ChannelKind.SMS]
    shown = {
        n: preview(demo, settings, name=n, as_of=AS_OF, now=MORNING, samples=0).plan.summary()
        for n in names
    }
    budgeted = {n: s["suppressed"].get("budget", 0) for n, s in shown.items()}
    assert sum(budgeted.values()) >= 1  # the largest store is one short; `other` has enough
    lowest = [n for n in names if budgeted[n]][-1]
    result = run_daily(demo, settings, as_of=AS_OF, clock=pinned_clock(MORNING))
    summary = {r.campaign: r.plan for r in result.reports}
    assert {n: summary[n]["suppressed"].get("budget", 0) for n in names} == budgeted
    with demo.connect() as conn:
        report = {r["campaign"]: r for r in campaign_report(conn)}
    assert report[lowest]["suppressed"].get("budget", 0) == budgeted[lowest]
    with demo.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT cu.store_id, count(*) FROM contacts c JOIN customers cu "
            "ON cu.customer_id = c.customer_id WHERE c.channel = 'sms' AND c.status = 'sent' "
            "GROUP BY cu.store_id"
        ).all()
    per_store = {s: int(n) for s, n in rows}
    assert per_store[store] == most - 1
    assert per_store[other] == free[other]
    assert all(per_store[s] <= most - 1 for s in per_store if s != other)
