"""Return attribution: the window, the first visit linked, revenue, holdout, idempotence, a
late import of an earlier visit, and each contact on its own."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from revisit.db.tables import OUTCOMES, Vehicle
from revisit.outcomes.attribution import attribute_returns
from tests.factories import make_vehicle, make_visit
from tests.outcome_support import add_visit, make_campaign_run

DAY = dt.date(2026, 10, 1)


def returns(engine: Engine) -> dict[int, tuple[str, float]]:
    o = OUTCOMES.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(o.contact_id, o.visit_id, o.amount).where(o.kind == "return")
        ).all()
    return {int(c): (v, float(a or 0)) for c, v, a in rows}


def test_window_bounds_first_visit_and_revenue(engine: Engine) -> None:
    run = make_campaign_run(engine, ["sent"] * 5, attribution_days=30)
    before = add_visit(engine, run.vins[0], DAY - dt.timedelta(days=1), 100)
    same_day = add_visit(engine, run.vins[1], DAY, 200)
    last_day = add_visit(engine, run.vins[2], DAY + dt.timedelta(days=30), 300)
    add_visit(engine, run.vins[3], DAY + dt.timedelta(days=31), 400)  # one day too late
    first = add_visit(engine, run.vins[4], DAY + dt.timedelta(days=3), 50.5)
    add_visit(engine, run.vins[4], DAY + dt.timedelta(days=10), 20)
    assert before
    assert attribute_returns(engine) == 3
    got = returns(engine)
    assert got == {
        run.contacts[1]: (same_day, 200.0),
        run.contacts[2]: (last_day, 300.0),
        run.contacts[4]: (first, 70.5),
    }


def test_any_vehicle_of_the_customer_counts(engine: Engine) -> None:
    run = make_campaign_run(engine, ["listed"], channel="call")
    with Session(engine) as s:
        owner = s.get(Vehicle, run.vins[0])
        assert owner is not None
        other = make_vehicle(s, customer_id=owner.customer_id)
        visit = make_visit(s, vehicle=other, date=DAY + dt.timedelta(days=5), amount=80)
        s.commit()
        visit_id = visit.visit_id
    attribute_returns(engine)
    assert returns(engine) == {run.contacts[0]: (visit_id, 80.0)}


def test_holdout_and_failed_are_attributed_excluded_and_suppressed_are_not(
    engine: Engine,
) -> None:
    run = make_campaign_run(engine, ["holdout", "failed", "excluded", "suppressed", "pending"])
    for vin in run.vins:
        add_visit(engine, vin, DAY + dt.timedelta(days=2), 10)
    attribute_returns(engine)
    assert set(returns(engine)) == {run.contacts[0], run.contacts[1], run.contacts[4]}


def test_idempotent_and_a_late_earlier_visit_moves_the_link(engine: Engine) -> None:
    run = make_campaign_run(engine, ["sent"])
    later = add_visit(engine, run.vins[0], DAY + dt.timedelta(days=20), 100)
    attribute_returns(engine)
    attribute_returns(engine)
    assert returns(engine) == {run.contacts[0]: (later, 100.0)}
    earlier = add_visit(engine, run.vins[0], DAY + dt.timedelta(days=4), 30)
    attribute_returns(engine)
    assert returns(engine) == {run.contacts[0]: (earlier, 130.0)}
    with engine.connect() as conn:
        n = conn.execute(select(OUTCOMES.c.id).where(OUTCOMES.c.kind == "return")).all()
    assert len(n) == 1


def test_each_contact_on_its_own_and_its_own_window(engine: Engine) -> None:
    short = make_campaign_run(engine, ["sent"], attribution_days=7)
    with Session(engine) as s:
        vehicle = s.get(Vehicle, short.vins[0])
        assert vehicle is not None
        customer_id = vehicle.customer_id
    # A second campaign reaching the same customer the same day, with a longer window.
    long = make_campaign_run(engine, ["sent"], attribution_days=30)
    with Session(engine) as s:
        moved = s.get(Vehicle, long.vins[0])
        assert moved is not None
        moved.customer_id = customer_id
        s.add(moved)
        s.commit()
    from sqlalchemy import update

    from revisit.db.tables import CONTACTS

    with engine.begin() as conn:
        conn.execute(
            update(CONTACTS)
            .where(CONTACTS.c.id == long.contacts[0])
            .values(customer_id=customer_id)
        )
    add_visit(engine, short.vins[0], DAY + dt.timedelta(days=5), 10)
    add_visit(engine, short.vins[0], DAY + dt.timedelta(days=20), 90)
    attribute_returns(engine)
    got = returns(engine)
    assert got[short.contacts[0]][1] == 10.0  # only the first visit is inside 7 days
    assert got[long.contacts[0]][1] == 100.0  # both count for the 30-day campaign
