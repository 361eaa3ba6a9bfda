"""Time-bound contacts expire (issue 10, item 3): every contact has a last useful day (the
birthday itself, a follow-up's window, a due reminder until its window closes, a campaign's
own ``valid_days``); a run resumed after it counts the contact ``expired`` and never sends it
or lists it. "Today" is the store's local date on the clock that judges the send window."""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from devtools.fake_twilio import FakeTwilio, serve_fake_twilio
from revisit.campaigns.config import CampaignDef, load_campaigns
from revisit.campaigns.plan import plan_campaign
from revisit.campaigns.statuses import ContactStatus, RunStatus
from revisit.cohorts.definitions import COHORTS
from revisit.cohorts.events import LAST_USEFUL, NO_LIMIT, ONE_DAY, last_useful_day
from revisit.cohorts.select import select_cohort
from revisit.db.tables import CONTACTS
from revisit.delivery import outbox
from revisit.entry.daily import resume_unsettled, run_daily
from revisit.entry.runs import RunOptions, pinned_clock, render_plan, run_campaign
from revisit.rendering import Renderer
from revisit.reports.campaigns import ReportFilter, campaign_report
from revisit.settings import Settings
from tests.factories import (
    make_customer,
    make_policy,
    make_store,
    make_upsell_item,
    make_vehicle,
    make_visit,
)
from tests.test_runs import AS_OF, ROOT, SHANGHAI, settings_for

CAMPAIGNS = load_campaigns(ROOT / "campaigns")
EVENING = dt.datetime(2026, 11, 23, 20, 30, tzinfo=SHANGHAI)  # after the 20:00 window end
NEXT_MORNING = dt.datetime(2026, 11, 24, 9, 30, tzinfo=SHANGHAI)
LATER = dt.timedelta(days=1)


def _run(engine: Engine, settings: Settings, c: CampaignDef, at: dt.datetime) -> Any:
    clock = pinned_clock(at)  # the wall clock too: a real send follows it
    return run_campaign(
        engine, campaign=c, campaigns=CAMPAIGNS | {c.name: c}, as_of=AS_OF, clock=clock,
        wall_clock=clock, settings=settings, options=RunOptions(rate=200, concurrency=4),
    )  # fmt: skip


def _contacts(engine: Engine, campaign: str) -> list[Any]:
    with engine.connect() as conn:
        query = select(CONTACTS).where(CONTACTS.c.campaign == campaign).order_by(CONTACTS.c.id)
        return list(conn.execute(query))


def _resume_next_morning(engine: Engine, settings: Settings) -> Any:
    """What the reconcile flow does: resume the last days' runs with SMS still waiting."""
    clock = pinned_clock(NEXT_MORNING)
    runner = functools.partial(run_campaign, wall_clock=clock)
    return resume_unsettled(engine, settings, since=AS_OF - dt.timedelta(days=3), clock=clock,
                            runner=runner)  # fmt: skip


# --- the instance: a birthday run deferred at 20:30, resumed the next morning --------


def test_a_birthday_run_resumed_the_next_day_expires_and_sends_nothing(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    with Session(engine) as s:
        for _ in range(5):
            make_customer(s, birthday=dt.date(1985, AS_OF.month, AS_OF.day))
        s.commit()
    with serve_fake_twilio(FakeTwilio()) as fake:
        settings = fake.settings(
            database_url=db_url, campaigns_dir=ROOT / "campaigns",
            templates_dir=ROOT / "templates", output_dir=tmp_path,
        )  # fmt: skip
        night = _run(engine, settings, CAMPAIGNS["birthday"], EVENING)
        assert night.status == RunStatus.DEFERRED and night.outbox == {"pending": 5}
        assert {c.last_useful_day for c in _contacts(engine, "birthday")} == {AS_OF}
        result = _resume_next_morning(engine, settings)
        assert not result.failures, result.failures
        sent = fake.fake.snapshot()
    assert sent == []  # "今天是您的生日" never goes out on the wrong day
    (report,) = result.reports
    assert report.resumed and report.status == RunStatus.DONE
    assert report.outbox == {"expired": 5}
    assert {c.status for c in _contacts(engine, "birthday")} == {ContactStatus.EXPIRED}
    with engine.connect() as conn:
        (row,) = campaign_report(conn, ReportFilter(campaign="birthday"))
    assert (row["expired"], row["contacted"], row["assigned"]) == (5, 0, 5)
    # nothing is left for the reconcile flow to resume
    assert outbox.unsettled_runs(engine, since=AS_OF - dt.timedelta(days=3)) == []


def test_a_due_reminder_resumed_within_its_window_still_goes_and_one_past_it_expires(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    """maintenance_due: due 180 days after the last service, in the cohort until due + 30
    days. One customer's window closes on the run day, the other's is open for a month."""
    with Session(engine) as s:
        for last_service in (AS_OF - dt.timedelta(days=210), AS_OF - dt.timedelta(days=180)):
            v = make_vehicle(s, customer=make_customer(s), purchase_date=dt.date(2020, 1, 1))
            make_visit(s, vehicle=v, date=last_service, type="maintenance")
        s.commit()
    with serve_fake_twilio(FakeTwilio()) as fake:
        settings = fake.settings(
            database_url=db_url, campaigns_dir=ROOT / "campaigns",
            templates_dir=ROOT / "templates", output_dir=tmp_path,
        )  # fmt: skip
        reminder = CAMPAIGNS["maintenance_due"].model_copy(update={"holdout_pct": 0})
        night = _run(engine, settings, reminder, EVENING)
        assert night.status == RunStatus.DEFERRED
        closing, open_ = _contacts(engine, "maintenance_due")
        assert (closing.last_useful_day, open_.last_useful_day) == (AS_OF, AS_OF + 30 * LATER)
        result = _resume_next_morning(engine, settings)
        sent = fake.fake.snapshot()
    assert [m.to for m in sent] == [open_.phone]
    assert result.reports[0].outbox == {"expired": 1, "sent": 1}
    closing, open_ = _contacts(engine, "maintenance_due")
    assert (closing.status, open_.status) == (ContactStatus.EXPIRED, ContactStatus.SENT)


# --- another instance: a 3DC call list resumed after its window ------------------------------


def _open_without_listing(engine: Engine, settings: Settings, c: CampaignDef) -> None:
    """Write the day's outbox and stop before the call lists (a crash in between)."""
    with Session(engine) as s:
        now = dt.datetime.combine(AS_OF, dt.time(9), SHANGHAI)
        plan = plan_campaign(s, campaign=c, as_of=AS_OF, now=now, all_campaigns=CAMPAIGNS)
        texts = render_plan(s, plan=plan, renderer=Renderer(settings.templates_dir))
        outbox.open_run(s, plan=plan, texts=texts)
        s.commit()


def test_a_follow_up_call_list_resumed_after_its_window_does_not_list_it(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    """post_service_followup calls visits of the last 3 days: a visit 3 days before the run
    day is past its window the next day; a visit of the day before still is not."""
    with Session(engine) as s:
        for days_ago in (3, 1):
            v = make_vehicle(s, customer=make_customer(s))
            make_visit(s, vehicle=v, date=AS_OF - days_ago * LATER, type="repair")
        s.commit()
    settings = settings_for(db_url, tmp_path)
    followup = CAMPAIGNS["post_service_followup"]
    _open_without_listing(engine, settings, followup)
    late, recent = _contacts(engine, followup.name)
    assert (late.last_useful_day, recent.last_useful_day) == (AS_OF, AS_OF + 2 * LATER)

    report = _run(engine, settings, followup, NEXT_MORNING)

    assert report.resumed and report.status == RunStatus.DONE
    assert report.outbox == {"expired": 1, "listed": 1}
    listed = "".join(Path(p).read_text(encoding="utf-8") for p in report.call_lists)
    assert recent.customer_id in listed and late.customer_id not in listed
    late, recent = _contacts(engine, followup.name)
    assert (late.status, recent.status) == (ContactStatus.EXPIRED, ContactStatus.LISTED)


def test_a_call_list_written_on_its_day_lists_everyone(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    """The same outbox handed out on its own day: nothing expires."""
    with Session(engine) as s:
        for days_ago in (3, 1):
            v = make_vehicle(s, customer=make_customer(s))
            make_visit(s, vehicle=v, date=AS_OF - days_ago * LATER, type="repair")
        s.commit()
    settings = settings_for(db_url, tmp_path)
    at = dt.datetime.combine(AS_OF, dt.time(23, 50), SHANGHAI)
    report = _run(engine, settings, CAMPAIGNS["post_service_followup"], at)
    assert report.outbox == {"listed": 2}


# --- a campaign's own limit --------------------------------------------------------------------


def test_valid_days_gives_an_evergreen_campaign_a_limit(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    """lapsed_6_12 has no limit of its own: its SMS still go the next morning, unless the
    campaign file says ``valid_days: 1`` (the run day only)."""
    with Session(engine) as s:
        v = make_vehicle(s, customer=make_customer(s), purchase_date=dt.date(2020, 1, 1))
        make_visit(s, vehicle=v, date=AS_OF - dt.timedelta(days=250))
        s.commit()
    lapsed = CAMPAIGNS["lapsed_6_12"].model_copy(update={"holdout_pct": 0})
    day_only = lapsed.model_copy(update={"valid_days": 1})
    with serve_fake_twilio(FakeTwilio()) as fake:
        settings = fake.settings(
            database_url=db_url, campaigns_dir=ROOT / "campaigns",
            templates_dir=ROOT / "templates", output_dir=tmp_path,
        )  # fmt: skip
        assert _run(engine, settings, day_only, EVENING).status == RunStatus.DEFERRED
        (contact,) = _contacts(engine, lapsed.name)
        assert contact.last_useful_day == AS_OF
        resumed = _run(engine, settings, day_only, NEXT_MORNING)
        assert resumed.outbox == {"expired": 1} and fake.fake.snapshot() == []
    with engine.begin() as conn:  # the same contact without the campaign's limit
        conn.execute(CONTACTS.update().values(status="pending", last_useful_day=None))
    with serve_fake_twilio(FakeTwilio()) as fake:
        settings = fake.settings(
            database_url=db_url, campaigns_dir=ROOT / "campaigns",
            templates_dir=ROOT / "templates", output_dir=tmp_path,
        )  # fmt: skip
        resumed = _run(engine, settings, lapsed, NEXT_MORNING)
        assert resumed.outbox == {"sent": 1} and len(fake.fake.snapshot()) == 1


def test_a_campaign_limit_is_its_valid_days_its_occasion_or_its_offer_end() -> None:
    base = CAMPAIGNS["lapsed_6_12"]
    assert base.last_useful_day(AS_OF) is None
    assert base.model_copy(update={"valid_days": 3}).last_useful_day(AS_OF) == AS_OF + 2 * LATER
    festival = CAMPAIGNS["festival"]
    assert festival.occasion is not None
    assert festival.last_useful_day(festival.occasion.date) == festival.occasion.date
    seasonal = CAMPAIGNS["seasonal"]
    assert seasonal.offer is not None
    start = seasonal.offer.valid_from
    assert seasonal.last_useful_day(start) == seasonal.offer.valid_until
    shorter = seasonal.model_copy(update={"valid_days": 2})
    assert shorter.last_useful_day(start) == min(start + LATER, seasonal.offer.valid_until)


def test_valid_days_is_checked_in_the_campaign_file(tmp_path: Path) -> None:
    from revisit.campaigns.config import load_campaign
    from revisit.errors import ConfigError

    text_ = (ROOT / "campaigns" / "lapsed_6_12.yaml").read_text(encoding="utf-8")
    path = tmp_path / "lapsed_6_12.yaml"
    path.write_text(text_ + "valid_days: 0\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"lapsed_6_12.yaml:\d+: valid_days"):
        load_campaign(path)
    path.write_text(text_ + "valid_days: 2\n", encoding="utf-8")
    assert load_campaign(path).valid_days == 2


# --- the time zone and the claim ------------------------------------------------------------


def test_today_is_each_stores_own_local_date(engine: Engine) -> None:
    """At 17:00 UTC it is already tomorrow in Shanghai but still today in Los Angeles: only
    the Shanghai store's contact is past its day."""
    with Session(engine) as s:
        east = make_store(s, timezone="Asia/Shanghai")
        west = make_store(s, timezone="America/Los_Angeles")
        for store in (east, west):
            make_customer(s, store_id=store.store_id, birthday=dt.date(1990, 11, 23))
        s.commit()
        plan = plan_campaign(
            s, campaign=CAMPAIGNS["birthday"], as_of=AS_OF,
            now=dt.datetime(2026, 11, 23, 10, tzinfo=dt.UTC), all_campaigns=CAMPAIGNS,
        )  # fmt: skip
        outbox.open_run(s, plan=plan, texts={r.customer_id: ("生日快乐", 1) for r in plan.rows})
        s.commit()
        run_id = s.execute(text("SELECT id FROM campaign_runs")).scalar_one()
    at = dt.datetime(2026, 11, 23, 17, 0, tzinfo=dt.UTC)
    days = {"Asia/Shanghai": dt.date(2026, 11, 24), "America/Los_Angeles": dt.date(2026, 11, 23)}
    from revisit.delivery.gate import local_days

    assert local_days(days, at) == days
    with engine.begin() as conn:
        n = outbox.expire_past(conn, run_id=run_id, days=days, default_timezone="UTC")
    assert n == 1
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT s.timezone, c.status FROM contacts c JOIN customers u ON "
                "u.customer_id = c.customer_id JOIN stores s ON s.store_id = u.store_id"
            )
        ).all()
    assert dict(rows) == {"Asia/Shanghai": "expired", "America/Los_Angeles": "pending"}


def test_the_claim_never_takes_a_contact_past_its_day(engine: Engine) -> None:
    """The claim's own guard, for a day that turns while a dispatcher is running."""
    with Session(engine) as s:
        make_customer(s, birthday=dt.date(1990, 11, 23))
        s.commit()
        plan = plan_campaign(
            s, campaign=CAMPAIGNS["birthday"], as_of=AS_OF,
            now=dt.datetime(2026, 11, 23, 2, tzinfo=dt.UTC), all_campaigns=CAMPAIGNS,
        )  # fmt: skip
        outbox.open_run(s, plan=plan, texts={r.customer_id: ("生日快乐", 1) for r in plan.rows})
        s.commit()
        run_id = s.execute(text("SELECT id FROM campaign_runs")).scalar_one()
    now = dt.datetime(2026, 11, 24, 2, tzinfo=dt.UTC)
    kw: dict[str, Any] = {"run_id": run_id, "worker": "w", "now": now, "limit": 10,
                          "lease_until": now + dt.timedelta(seconds=30)}  # fmt: skip
    assert outbox.claim(engine, today=AS_OF + LATER, **kw) == []
    assert len(outbox.claim(engine, today=AS_OF, **kw)) == 1


# --- every cohort's rule ----------------------------------------------------------------------


def test_every_cohort_has_a_decided_last_useful_day() -> None:
    decided = set(LAST_USEFUL) | ONE_DAY | NO_LIMIT
    assert decided == set(COHORTS), set(COHORTS) ^ decided
    assert not (set(LAST_USEFUL) & NO_LIMIT)


def _members_at(engine: Engine, cohort: str, day: dt.date) -> dict[str, Any]:
    with Session(engine) as s:
        return {m.vin: m for m in select_cohort(s, cohort=cohort, as_of=day)}


# cohort → how to give one vehicle a member's event, as of AS_OF
SETUPS: dict[str, Any] = {
    "post_service_followup": lambda s, v: make_visit(s, vehicle=v, date=AS_OF - LATER),
    "declined_a": lambda s, v: make_upsell_item(
        s, grade="A", visit=make_visit(s, vehicle=v, date=AS_OF - LATER)
    ),
    "declined_b": lambda s, v: make_upsell_item(
        s,
        grade="B",
        due_date=AS_OF + 5 * LATER,
        visit=make_visit(s, vehicle=v, date=AS_OF - 20 * LATER),
    ),
    "declined_c": lambda s, v: make_upsell_item(
        s, grade="C", visit=make_visit(s, vehicle=v, date=dt.date(2026, 2, 28))
    ),
    "insurance_renewal": lambda s, v: make_policy(
        s, vehicle=v, expiry_date=AS_OF + 20 * LATER, renewed=False
    ),
    "maintenance_due": lambda s, v: make_visit(s, vehicle=v, date=AS_OF - 170 * LATER),
    "first_service_due": lambda s, v: setattr(v, "purchase_date", AS_OF - 80 * LATER),
    "new_car_7dc": lambda s, v: setattr(v, "purchase_date", AS_OF - 7 * LATER),
    "new_car_care": lambda s, v: setattr(v, "purchase_date", AS_OF - 22 * LATER),
}


@pytest.mark.parametrize("cohort", sorted(SETUPS))
def test_the_last_useful_day_is_the_last_day_the_cohort_selects_the_member(
    engine: Engine, cohort: str
) -> None:
    """Checked against the cohort's own query: the member is selected as of its last useful
    day (with the same event) and no longer the day after."""
    assert set(SETUPS) == set(LAST_USEFUL)
    with Session(engine) as s:
        v = make_vehicle(s, purchase_date=dt.date(2020, 1, 1))
        SETUPS[cohort](s, v)
        s.add(v)
        s.commit()
        vin = v.vin
    member = _members_at(engine, cohort, AS_OF)[vin]
    last = last_useful_day(member, AS_OF, COHORTS[cohort].defaults)
    assert last is not None and last >= AS_OF
    on_last = _members_at(engine, cohort, last)
    assert vin in on_last
    assert last_useful_day(on_last[vin], last, COHORTS[cohort].defaults) == last
    assert vin not in _members_at(engine, cohort, last + LATER)


def test_a_contact_about_several_vehicles_lasts_while_any_does() -> None:
    from revisit.cohorts.events import contact_last_day
    from revisit.cohorts.select import CohortMember

    p = COHORTS["maintenance_due"].defaults
    soon, later = (
        CohortMember("maintenance_due", "C1", vin, "S", due_date=due)
        for vin, due in (("V1", AS_OF), ("V2", AS_OF + 10 * LATER))
    )
    assert contact_last_day([soon, later], AS_OF, p) == AS_OF + 40 * LATER
    lapsed = CohortMember("lapsed_6_12", "C1", "V3", "S")
    assert contact_last_day([lapsed], AS_OF, {}) is None
    birthday = CohortMember("birthday", "C1", None, "S")
    assert last_useful_day(birthday, AS_OF, {}) == AS_OF


# --- the next day's `campaign daily` resumes the evening's deferred runs first ---------------


def test_the_next_days_daily_run_resumes_the_deferred_runs_before_planning(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    """Regression: runs deferred by the send window at 20:30 stayed pending when the next
    day's `campaign daily` ran (only the reconcile flow resumed them), and the new day's plan
    counted their customers already contacted, so they got nothing. The daily run resumes
    them first: a birthday expires, a lapsed customer's SMS goes out once."""
    with Session(engine) as s:
        for _ in range(3):
            make_customer(s, birthday=dt.date(1985, AS_OF.month, AS_OF.day))
        lapsed = make_vehicle(s, customer=make_customer(s), purchase_date=dt.date(2019, 1, 1))
        make_visit(s, vehicle=lapsed, date=AS_OF - dt.timedelta(days=240), type="maintenance")
        s.commit()
    with serve_fake_twilio(FakeTwilio()) as fake:
        settings = fake.settings(
            database_url=db_url, campaigns_dir=ROOT / "campaigns",
            templates_dir=ROOT / "templates", output_dir=tmp_path,
        )  # fmt: skip

        def daily(day: dt.date, at: dt.datetime, **kw: Any) -> Any:
            clock = pinned_clock(at)
            runner = functools.partial(run_campaign, wall_clock=clock)
            return run_daily(engine, settings, as_of=day, clock=clock, runner=runner, **kw)

        evening = daily(AS_OF, EVENING)
        deferred = {r.campaign: r.outbox for r in evening.reports if r.outbox.get("pending")}
        assert deferred["birthday"] == {"pending": 3} and "lapsed_6_12" in deferred
        assert daily(AS_OF, EVENING, resume_days=0).resumed == []  # the same day: nothing
        morning = daily(AS_OF + LATER, NEXT_MORNING)
        assert not morning.failures, morning.failures
        sent = fake.fake.snapshot()
    resumed = {(r.campaign, r.as_of): r.outbox for r in morning.resumed}
    assert resumed[("birthday", AS_OF)] == {"expired": 3}
    assert resumed[("lapsed_6_12", AS_OF)] == {"sent": 1}
    assert len(sent) == 1  # the lapsed SMS, once: today's lapsed_6_12 sees it contacted
    assert outbox.unsettled_runs(engine, since=AS_OF - dt.timedelta(days=3)) == []
