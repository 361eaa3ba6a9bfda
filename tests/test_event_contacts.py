"""One contact per event per campaign: a visit, a declined item, a due date is contacted
once by a campaign, whatever the day (suppression ``already_contacted``)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from revisit.campaigns.config import load_campaigns
from revisit.cohorts.definitions import COHORTS
from revisit.cohorts.events import EVENT_KEYS, event_key, joined_key, split_key
from revisit.cohorts.select import CohortMember
from revisit.db.tables import Vehicle
from revisit.entry.runs import RunOptions, pinned_clock, run_campaign
from tests.factories import make_customer, make_store, make_upsell_item, make_vehicle, make_visit
from tests.test_runs import SHANGHAI, settings_for

DAY = dt.date(2026, 11, 29)


def _run(engine: Engine, settings: Any, name: str, day: dt.date) -> Any:
    campaigns = load_campaigns(settings.campaigns_dir)
    at = dt.datetime(day.year, day.month, day.day, 10, 0, tzinfo=SHANGHAI)
    return run_campaign(
        engine, campaign=campaigns[name], campaigns={name: campaigns[name]}, as_of=day,
        clock=pinned_clock(at), settings=settings, options=RunOptions(),
    )  # fmt: skip


def _listed(engine: Engine, campaign: str, day: dt.date, status: str) -> set[str]:
    query = "SELECT customer_id FROM contacts WHERE campaign = :c AND as_of = :d AND status = :s"
    with engine.connect() as conn:
        rows = conn.execute(text(query), {"c": campaign, "d": day, "s": status}).scalars()
        return set(rows)


def _reasons(engine: Engine, campaign: str, day: dt.date) -> dict[str, str | None]:
    query = "SELECT customer_id, reason FROM contacts WHERE campaign = :c AND as_of = :d"
    with engine.connect() as conn:
        return {cid: why for cid, why in conn.execute(text(query), {"c": campaign, "d": day})}


def _shop(engine: Engine, n: int, *, visit_day: dt.date, declined: bool = False) -> list[Any]:
    """``n`` customers each back from the shop on ``visit_day`` (declining a grade A item)."""
    with Session(engine) as s:
        store = make_store(s, store_id="QZ", name="泉州店", phone="0595-22881234",
                           callers="王芳;张伟")  # fmt: skip
        cars = []
        for _ in range(n):
            c = make_customer(s, store_id=store.store_id)
            v = make_vehicle(s, customer=c, purchase_date=dt.date(2022, 1, 10))
            visit = make_visit(s, vehicle=v, date=visit_day, type="repair", advisor="陈明")
            if declined:
                make_upsell_item(s, visit=visit, grade="A")
            cars.append(v)
        s.commit()
        return [(car.customer_id, car.vin) for car in cars]


def test_follow_up_calls_on_consecutive_days_list_nobody_twice(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    cars = _shop(engine, 4, visit_day=DAY - dt.timedelta(days=1))
    settings = settings_for(db_url, tmp_path)
    first = _run(engine, settings, "post_service_followup", DAY)
    assert first.status == "done"
    listed = _listed(engine, "post_service_followup", DAY, "listed")
    assert listed == {cid for cid, _ in cars}
    nxt = DAY + dt.timedelta(days=1)
    second = _run(engine, settings, "post_service_followup", nxt)
    assert second.plan["suppressed"] == {"already_contacted": 4}
    assert second.call_lists == [] and not _listed(engine, "post_service_followup", nxt, "listed")


def test_a_new_visit_is_a_new_event(engine: Engine, db_url: str, tmp_path: Path) -> None:
    cars = _shop(engine, 2, visit_day=DAY - dt.timedelta(days=1))
    settings = settings_for(db_url, tmp_path)
    _run(engine, settings, "post_service_followup", DAY)
    back_again, _ = cars[0]
    with Session(engine) as s:
        car = s.get(Vehicle, cars[0][1])
        assert car is not None
        make_visit(s, vehicle=car, date=DAY, type="repair", advisor="陈明")
        s.commit()
    nxt = DAY + dt.timedelta(days=1)
    _run(engine, settings, "post_service_followup", nxt)
    assert _listed(engine, "post_service_followup", nxt, "listed") == {back_again}
    assert _reasons(engine, "post_service_followup", nxt)[cars[1][0]] == "already_contacted"


def test_declined_items_are_called_about_once(engine: Engine, db_url: str, tmp_path: Path) -> None:
    cars = _shop(engine, 3, visit_day=DAY - dt.timedelta(days=1), declined=True)
    settings = settings_for(db_url, tmp_path)
    _run(engine, settings, "declined_a", DAY)
    assert _listed(engine, "declined_a", DAY, "listed") == {cid for cid, _ in cars}
    for later in (1, 2):
        day = DAY + dt.timedelta(days=later)
        report = _run(engine, settings, "declined_a", day)
        assert report.plan["suppressed"] == {"already_contacted": 3}
        assert not _listed(engine, "declined_a", day, "listed")


def test_maintenance_due_twice_in_one_window_sends_once(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    with Session(engine) as s:
        store = make_store(s, store_id="QZ", name="泉州店", phone="0595-22881234")
        for _ in range(5):
            c = make_customer(s, store_id=store.store_id)
            v = make_vehicle(s, customer=c, purchase_date=dt.date(2022, 1, 10))
            make_visit(s, vehicle=v, date=dt.date(2026, 6, 1), type="maintenance")
        s.commit()
    settings = settings_for(db_url, tmp_path)
    first = _run(engine, settings, "maintenance_due", DAY)
    sent = _listed(engine, "maintenance_due", DAY, "sent")
    assert sent and len(sent) == first.plan["to_contact"]
    later = DAY + dt.timedelta(days=8)  # past the 7-day SMS cap, inside the due window
    second = _run(engine, settings, "maintenance_due", later)
    assert second.plan["suppressed"] == {"already_contacted": len(sent)}
    assert not _listed(engine, "maintenance_due", later, "sent")


def test_every_cohort_with_an_event_is_a_real_cohort() -> None:
    assert set(EVENT_KEYS) <= set(COHORTS)
    assert set(COHORTS) - set(EVENT_KEYS) == {"active_customers"}


def test_event_keys() -> None:
    visit = CohortMember("post_service_followup", "C1", "VIN1", "S1", visit_id="V9")
    assert event_key(visit, DAY) == "VIN1/visit:V9"
    born = CohortMember("birthday", "C1", None, "S1")
    assert event_key(born, DAY) == "birthday:2026"
    assert event_key(born, dt.date(2027, 11, 29)) == "birthday:2027"
    items = CohortMember("declined_a", "C1", "VIN1", "S1", item_ids=("U2", "U1"))
    assert event_key(items, DAY) == "VIN1/items:U1,U2"
    lapsed = CohortMember("lapsed_6_12", "C1", "VIN1", "S1", last_visit_date=dt.date(2026, 1, 2))
    assert event_key(lapsed, DAY) == "VIN1/lapse:2026-01-02"
    assert event_key(CohortMember("active_customers", "C1", None, "S1"), DAY) is None
    both = joined_key([items, visit], DAY)
    assert split_key(both) == {"VIN1/items:U1,U2", "VIN1/visit:V9"}
    assert split_key(None) == set()
