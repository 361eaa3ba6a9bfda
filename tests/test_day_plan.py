"""The day's plan, computed once: the plan a preview shows is the plan a run executes; the one
pass over the daily campaigns decides as planning each campaign alone does; an import, an
opt-out, an edited campaign file or new contact history makes the next reader plan again."""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from revisit.campaigns.config import load_campaigns
from revisit.campaigns.dayplan import daily_campaigns, plan_day
from revisit.campaigns.plan import plan_campaign
from revisit.campaigns.statuses import (
    LIVE_STATUSES,
    PLANNED_STATUS,
    ContactStatus,
    OptOutSource,
    PlanDecision,
)
from revisit.db.tables import DAY_PLAN_ROWS, DAY_PLANS
from revisit.demo.generator import write_demo_dealership
from revisit.dms.importing import import_paths
from revisit.entry.daily import launch, run_daily
from revisit.entry.plans import plan_the_day
from revisit.entry.preview import campaign_overview, preview
from revisit.entry.runs import pinned_clock
from revisit.outcomes.calls import CallOutcome, record_call_outcomes
from revisit.outcomes.optouts import add_opt_out
from revisit.settings import Settings
from tests.test_runs import MORNING, ROOT, settings_for

AS_OF = dt.date(2026, 11, 23)
VEHICLES = 1500


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    write_demo_dealership(folder, vehicles=VEHICLES, seed=7, as_of=AS_OF)
    return folder


@pytest.fixture
def demo(engine: Engine, demo_folder: Path) -> Engine:
    """The engine with the small demo dealer group imported."""
    import_paths(engine, [demo_folder])
    return engine


def kept_rows(engine: Engine, campaign: str) -> dict[str, tuple[str, str | None]]:
    """customer id → (decision, reason) of the kept plan of ``campaign``."""
    k = DAY_PLAN_ROWS.c
    query = select(k.customer_id, k.status, k.reason).where(
        k.as_of == AS_OF, k.campaign == campaign
    )
    with engine.connect() as conn:
        return {cid: (status, reason) for cid, status, reason in conn.execute(query)}


def written(engine: Engine, campaign: str) -> dict[str, tuple[str, str | None]]:
    """customer id → (decision, reason) of the contacts a run wrote (a sent, listed or
    pending contact is the plan's to_contact)."""
    decision = {str(v): str(k) for k, v in PLANNED_STATUS.items()}
    query = text("SELECT customer_id, status, reason FROM contacts WHERE campaign = :c")
    with engine.connect() as conn:
        rows = conn.execute(query, {"c": campaign}).all()
    return {
        cid: (PlanDecision.TO_CONTACT if status in LIVE_STATUSES else decision[status], reason)
        for cid, status, reason in rows
    }


def planned_at(engine: Engine) -> set[Any]:
    with engine.connect() as conn:
        return set(conn.execute(select(DAY_PLANS.c.planned_at).distinct()).scalars())


def preview_numbers(engine: Engine, settings: Settings, name: str) -> dict[str, Any]:
    return preview(engine, settings, name=name, as_of=AS_OF, now=MORNING, samples=2).plan.summary()


def test_the_plan_a_preview_shows_is_the_plan_the_run_executes(
    demo: Engine, db_url: str, tmp_path: Path
) -> None:
    settings = settings_for(db_url, tmp_path / "out")
    campaigns = load_campaigns(settings.campaigns_dir)
    names = [c.name for c in daily_campaigns(campaigns)]
    shown = {n: preview_numbers(demo, settings, n) for n in names}
    before = {n: kept_rows(demo, n) for n in names}
    stamp = planned_at(demo)
    assert sum(s["to_contact"] for s in shown.values()) > 50
    assert sum(len(rows) for rows in before.values()) == sum(s["targeted"] for s in shown.values())
    result = run_daily(demo, settings, as_of=AS_OF, clock=pinned_clock(MORNING))
    assert not result.failed
    assert planned_at(demo) == stamp  # the run read the plan; it did not plan again
    for report in result.reports:
        assert report.plan == shown[report.campaign], report.campaign
        assert written(demo, report.campaign) == before[report.campaign], report.campaign
    suppressed = Counter(r for rows in before.values() for _, r in rows.values() if r)
    assert suppressed["lower_priority"] > 0 and suppressed["no_sms_consent"] > 0


def test_one_pass_decides_as_each_campaign_planned_alone(demo: Engine) -> None:
    """Arbitration from the plans made before, not from each competitor's cohort selected
    again: the same decision and reason for every customer of every daily campaign."""
    campaigns = load_campaigns(ROOT / "campaigns")
    with Session(demo) as s:
        day = {p.campaign.name: p for p in plan_day(s, campaigns=campaigns, as_of=AS_OF,
                                                   now=MORNING)}  # fmt: skip
        assert list(day) == [c.name for c in daily_campaigns(campaigns)]
        for name, plan in day.items():
            alone = plan_campaign(
                s, campaign=campaigns[name], as_of=AS_OF, now=MORNING, all_campaigns=campaigns
            )
            assert plan.rows == alone.rows, name


def test_a_manual_campaign_is_planned_on_top_of_the_day(
    demo: Engine, db_url: str, tmp_path: Path
) -> None:
    """lapsed_24_plus (manual) loses to the daily campaigns above it as planning it alone
    does, and its kept plan is what its run writes."""
    settings = settings_for(db_url, tmp_path / "out")
    campaigns = load_campaigns(settings.campaigns_dir)
    shown = preview_numbers(demo, settings, "lapsed_24_plus")
    with Session(demo) as s:
        alone = plan_campaign(s, campaign=campaigns["lapsed_24_plus"], as_of=AS_OF, now=MORNING,
                              all_campaigns=campaigns)  # fmt: skip
    assert shown == alone.summary()
    expected = {r.customer_id: (str(r.status), r.reason) for r in alone.rows}
    assert kept_rows(demo, "lapsed_24_plus") == expected
    report = launch(demo, settings, name="lapsed_24_plus", as_of=AS_OF,
                    clock=pinned_clock(MORNING))  # fmt: skip
    assert report.plan == shown
    assert written(demo, "lapsed_24_plus") == expected


def test_the_overview_reads_the_kept_plan(demo: Engine, db_url: str, tmp_path: Path) -> None:
    settings = settings_for(db_url, tmp_path / "out")
    planned = {p.campaign.name: p.summary() for p in
               plan_the_day(demo, settings, as_of=AS_OF, now=MORNING).plans}  # fmt: skip
    stamp = planned_at(demo)
    facts = campaign_overview(demo, settings, as_of=AS_OF, now=MORNING)
    assert {p.campaign.name: p.summary() for p in facts.plans} == planned
    assert sum(facts.sizes["maintenance_due"].values()) > 0
    assert planned_at(demo) == stamp


def test_a_manual_campaign_is_planned_only_on_a_day_it_can_run(
    demo: Engine, db_url: str, tmp_path: Path
) -> None:
    """The rule a run applies (a greeting on its occasion's date, an offer within its
    dates) decides what the day's plan and the overview plan: nothing the day cannot run."""
    folder = tmp_path / "campaigns"
    shutil.copytree(ROOT / "campaigns", folder)
    settings = settings_for(db_url, tmp_path / "out", campaigns_dir=folder)
    day = plan_the_day(demo, settings, as_of=AS_OF, now=MORNING)
    assert set(day.not_today) == {"festival", "seasonal"}
    assert "the greeting is for 春节 on 2027-02-06" in day.not_today["festival"]
    assert "its offer starts on 2027-05-15" in day.not_today["seasonal"]
    planned = [p.campaign.name for p in day.plans]
    assert "lapsed_24_plus" in planned and "declined_c" in planned  # manual, no dates
    assert not kept_rows(demo, "festival") and not kept_rows(demo, "seasonal")
    facts = campaign_overview(demo, settings, as_of=AS_OF, now=MORNING)
    assert [p.campaign.name for p in facts.plans] == planned
    assert facts.not_today == day.not_today
    shown = preview(demo, settings, name="festival", as_of=AS_OF, now=MORNING, samples=2)
    assert shown.not_today == day.not_today["festival"]
    assert shown.plan.summary()["targeted"] == 0 and not shown.samples
    assert not kept_rows(demo, "festival")
    # on its occasion's day the greeting is planned with the others
    path = folder / "festival.yaml"
    body = path.read_text(encoding="utf-8")
    path.write_text(body.replace("date: 2027-02-06", f"date: {AS_OF}"), encoding="utf-8")
    again = plan_the_day(demo, settings, as_of=AS_OF, now=MORNING)
    assert set(again.not_today) == {"seasonal"}
    assert "festival" in [p.campaign.name for p in again.plans]
    assert len(kept_rows(demo, "festival")) > 0


# --- what makes the next reader plan again ------------------------------------------------------


def _some_to_contact(engine: Engine, campaign: str) -> str:
    rows = kept_rows(engine, campaign)
    return min(cid for cid, (status, _) in rows.items() if status == PlanDecision.TO_CONTACT)


def test_an_import_plans_the_day_again(
    demo: Engine, demo_folder: Path, db_url: str, tmp_path: Path
) -> None:
    settings = settings_for(db_url, tmp_path / "out")
    preview_numbers(demo, settings, "maintenance_due")
    who = _some_to_contact(demo, "maintenance_due")
    export = tmp_path / "export"
    export.mkdir()
    with (demo_folder / "customers.csv").open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        row = next(r for r in reader if r["customer_id"] == who)
        fields = reader.fieldnames
    assert fields is not None
    with (export / "customers.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerow(row | {"consent_sms": "false"})
    import_paths(demo, [export])
    preview_numbers(demo, settings, "maintenance_due")
    assert kept_rows(demo, "maintenance_due")[who] == ("excluded", "no_sms_consent")


def test_an_opt_out_plans_the_day_again(demo: Engine, db_url: str, tmp_path: Path) -> None:
    settings = settings_for(db_url, tmp_path / "out")
    preview_numbers(demo, settings, "lapsed_6_12")
    who = _some_to_contact(demo, "lapsed_6_12")
    with demo.begin() as conn:
        add_opt_out(conn, customer_ids=[who], source=OptOutSource.STAFF, reason="told a caller")
    preview_numbers(demo, settings, "lapsed_12_24")  # any reader plans the day again
    assert kept_rows(demo, "lapsed_6_12")[who] == ("excluded", "do_not_contact")


def test_an_edited_campaign_file_plans_the_day_again(
    demo: Engine, db_url: str, tmp_path: Path
) -> None:
    folder = tmp_path / "campaigns"
    shutil.copytree(ROOT / "campaigns", folder)
    settings = settings_for(db_url, tmp_path / "out", campaigns_dir=folder)
    assert preview_numbers(demo, settings, "lapsed_6_12")["holdout"] > 0
    path = folder / "lapsed_6_12.yaml"
    body = path.read_text(encoding="utf-8")
    assert "holdout_pct: 10" in body
    path.write_text(body.replace("holdout_pct: 10", "holdout_pct: 0"), encoding="utf-8")
    assert preview_numbers(demo, settings, "lapsed_6_12")["holdout"] == 0


def test_a_run_of_another_day_plans_the_day_again(
    demo: Engine, db_url: str, tmp_path: Path
) -> None:
    """Contact history is read by the caps and the recontact window: yesterday's run, sent
    after today was planned, makes today's plan stale."""
    settings = settings_for(db_url, tmp_path / "out")
    before = preview_numbers(demo, settings, "lapsed_6_12")
    yesterday = AS_OF - dt.timedelta(days=1)
    launch(demo, settings, name="lapsed_6_12", as_of=yesterday,
           clock=pinned_clock(MORNING - dt.timedelta(days=1)))  # fmt: skip
    after = preview_numbers(demo, settings, "lapsed_6_12")
    assert sum(after["suppressed"].values()) > sum(before["suppressed"].values())
    assert after["to_contact"] < before["to_contact"]


def test_the_contact_statuses_of_todays_daily_runs_keep_the_plan(
    demo: Engine, db_url: str, tmp_path: Path
) -> None:
    """What the day's own daily runs write is the plan being executed: it stays kept."""
    settings = settings_for(db_url, tmp_path / "out")
    plan_the_day(demo, settings, as_of=AS_OF, now=MORNING)
    stamp = planned_at(demo)
    run_daily(demo, settings, as_of=AS_OF, clock=pinned_clock(MORNING))
    preview_numbers(demo, settings, "maintenance_due")
    assert planned_at(demo) == stamp
    with demo.connect() as conn:
        sent = conn.execute(
            text("SELECT count(*) FROM contacts WHERE status = :s"), {"s": ContactStatus.SENT}
        ).scalar()
    assert sent


def test_a_phone_a_caller_finds_dead_plans_the_day_again(
    demo: Engine, db_url: str, tmp_path: Path
) -> None:
    """Another writer of plan inputs: a call outcome ``wrong_number`` marks the phone dead."""
    settings = settings_for(db_url, tmp_path / "out")
    yesterday = AS_OF - dt.timedelta(days=1)
    launch(demo, settings, name="insurance_renewal", as_of=yesterday,
           clock=pinned_clock(MORNING - dt.timedelta(days=1)))  # fmt: skip
    preview_numbers(demo, settings, "insurance_renewal")
    today = kept_rows(demo, "insurance_renewal")
    with demo.connect() as conn:
        listed = conn.execute(
            text("SELECT id, customer_id FROM contacts WHERE status = 'listed' ORDER BY id")
        ).all()
    contact_id, who = next((i, c) for i, c in listed if c in today)
    assert today[who][0] != PlanDecision.EXCLUDED
    with demo.begin() as conn:
        record_call_outcomes(
            conn, [CallOutcome(contact_id, "not_reached", "wrong_number", staff="王芳")]
        )
    preview_numbers(demo, settings, "insurance_renewal")
    assert kept_rows(demo, "insurance_renewal")[who] == ("excluded", "invalid_phone")


def test_every_call_sheet_is_rendered_once_and_listed(
    demo: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run's call sheets are rendered once, by the call channel as it writes the lists
    (not once more when the outbox is written), and each one is on its caller's list."""
    from revisit.rendering import Renderer

    rendered: Counter[tuple[str, str]] = Counter()
    original = Renderer.render_call_sheet

    def counting(self: Renderer, campaign: str, lang: str, ctx: Any, **kw: Any) -> str:
        rendered[(campaign, str(ctx["customer"]["customer_id"]))] += 1
        return original(self, campaign, lang, ctx, **kw)

    monkeypatch.setattr(Renderer, "render_call_sheet", counting)
    settings = settings_for(db_url, tmp_path / "out")
    result = run_daily(demo, settings, as_of=AS_OF, clock=pinned_clock(MORNING))
    assert not result.failed
    listed = text("SELECT campaign, customer_id FROM contacts WHERE status = :s")
    with demo.connect() as conn:
        on_lists = {(c, cid) for c, cid in conn.execute(listed, {"s": ContactStatus.LISTED})}
    assert len(on_lists) > 10
    assert set(rendered) == on_lists and set(rendered.values()) == {1}
    pages = [Path(p) for r in result.reports for p in r.call_lists if p.endswith(".html")]
    sheets = sum(p.read_text(encoding="utf-8").count('class="call-sheet"') for p in pages)
    assert sheets == len(on_lists)
