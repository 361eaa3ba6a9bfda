"""A dealer of two stores with a month of campaigns behind it: SMS runs whose customers
belong to both stores, a call run with outcomes, returns and upsell items in each store —
what the dashboard tests (data, CLI, browser) read."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from revisit.db.tables import CUSTOMERS, Vehicle
from revisit.outcomes.attribution import attribute_returns
from revisit.outcomes.calls import CallOutcome, record_call_outcomes
from tests.factories import make_store, make_upsell_item, make_visit
from tests.outcome_support import add_message, add_visit, make_campaign_run

MONDAY = dt.date(2026, 9, 7)


@dataclass
class Dealer:
    sms_campaign: str
    call_campaign: str
    days: tuple[dt.date, ...]


def _move(engine: Engine, customers: list[str], store: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(CUSTOMERS).where(CUSTOMERS.c.customer_id.in_(customers)).values(store_id=store)
        )


def two_store_dealer(engine: Engine) -> Dealer:
    """Stores S1 (福州) and S2 (厦门); campaign runs on three days of September–October 2026,
    each store's customers with their own returns, declines and upsell items."""
    with Session(engine) as s:
        make_store(s, store_id="S1", name="福州店")
        make_store(s, store_id="S2", name="厦门店")
        s.commit()
    first = make_campaign_run(
        engine,
        ["sent", "sent", "sent", "holdout", "excluded", "sent", "sent", "sent", "holdout",
         "holdout"],
        reasons=[None] * 4 + ["no_phone"] + [None] * 5,
        as_of=MONDAY, store_id="S1",
    )  # fmt: skip
    _move(engine, first.customers[5:], "S2")
    for i in (0, 1, 5):
        add_message(engine, first.contacts[i], "delivered")
    for i in (0, 2, 5, 6, 8, 3):
        add_visit(engine, first.vins[i], MONDAY + dt.timedelta(days=4), 100.0 + i)
    second_day = MONDAY + dt.timedelta(days=14)
    second = make_campaign_run(engine, ["sent", "sent", "holdout", "sent"], as_of=second_day,
                               campaign=first.campaign, store_id="S1")  # fmt: skip
    add_visit(engine, second.vins[1], second_day + dt.timedelta(days=2), 80.0)
    call_day = MONDAY + dt.timedelta(days=28)
    calls = make_campaign_run(engine, ["listed"] * 4, channel="call", as_of=call_day,
                              campaign="lapsed_6_12_t", store_id="S1")  # fmt: skip
    _move(engine, calls.customers[2:], "S2")
    c = calls.contacts
    with engine.begin() as conn:
        record_call_outcomes(conn, [
            CallOutcome(c[0], "declined", "price"), CallOutcome(c[1], "booked"),
            CallOutcome(c[2], "declined", "distance"), CallOutcome(c[3], "not_reached",
                                                                   "no_answer"),
        ])  # fmt: skip
    add_visit(engine, calls.vins[1], call_day + dt.timedelta(days=3), 300.0)
    _upsell(engine, first.vins[0], first.vins[5])
    attribute_returns(engine)
    return Dealer(first.campaign, calls.campaign, (MONDAY, second_day, call_day))


def _upsell(engine: Engine, s1_vin: str, s2_vin: str) -> None:
    with Session(engine) as s:
        for vin, items in ((s1_vin, ("accepted", "declined")), (s2_vin, ("accepted",))):
            vehicle = s.get(Vehicle, vin)
            assert vehicle is not None
            visit = make_visit(
                s,
                vehicle=vehicle,
                date=dt.date(2026, 9, 15),
                amount=500.0,
                advisor="李明" if vin == s1_vin else "陈静",
                team="A组",
            )
            for status in items:
                make_upsell_item(s, visit=visit, status=status, amount=120.0, grade="A")
        s.commit()
