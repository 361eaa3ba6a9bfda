"""One phone is one recipient: customers sharing a phone get one contact per run, and the
caps, the recontact window and priority arbitration count by phone as well as by customer."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from revisit.campaigns import rules
from revisit.campaigns.config import CampaignDef, load_campaigns
from revisit.campaigns.plan import CampaignPlan, plan_campaign
from revisit.db.tables import Campaign, CampaignRun, Contact
from revisit.entry.runs import pinned_clock, run_campaign
from tests.factories import make_customer, make_vehicle, make_visit
from tests.test_runs import MORNING, ROOT, settings_for

SHARED = "+8613912345678"
D = dt.date
RUN_DAY = D(2026, 11, 23)  # test_runs.MORNING's day
AS_OF = D(2024, 4, 20)  # purchase 2024-01-31 → first service due 2024-04-30
NOON = dt.datetime(2024, 4, 20, 4, 0, tzinfo=dt.UTC)


def campaigns() -> dict[str, CampaignDef]:
    """The shipped campaigns without holdout, so every case has one possible outcome."""
    shipped = load_campaigns(ROOT / "campaigns")
    return {n: c.model_copy(update={"holdout_pct": 0}) for n, c in shipped.items()}


def lapsed(s: Session, phone: str, vehicles: int = 1, **kw) -> str:
    """A customer whose vehicles were last serviced ~18 months before RUN_DAY."""
    c = make_customer(s, phone=phone, **kw)
    for _ in range(vehicles):
        v = make_vehicle(s, customer=c, purchase_date=D(2021, 3, 1))
        make_visit(s, vehicle=v, date=D(2025, 5, 20), type="maintenance")
    return c.customer_id


def first_service(s: Session, phone: str, **kw) -> str:
    c = make_customer(s, phone=phone, **kw)
    make_vehicle(s, customer=c, purchase_date=D(2024, 1, 31))
    return c.customer_id


def sent_before(s: Session, customer_id: str, phone: str, campaign: str, days: int, **kw) -> None:
    """A contact row of ``campaign`` to ``phone`` ``days`` before AS_OF (sent unless told)."""
    priority = kw.pop("priority", 0)
    if s.get(Campaign, campaign) is None:
        s.add(Campaign(name=campaign, cohort=campaign, channel="sms", priority=priority))
    as_of = AS_OF - dt.timedelta(days=days)
    run = CampaignRun(campaign=campaign, as_of=as_of)
    s.add(run)
    s.flush()
    values = {"status": "sent", "channel": "sms"} | kw
    s.add(
        Contact(
            run_id=run.id, campaign=campaign, as_of=as_of, customer_id=customer_id,
            phone=phone, priority=priority, **values,
        )
    )  # fmt: skip


def decisions(plan: CampaignPlan) -> dict[str, tuple[str, str | None]]:
    return {r.customer_id: (r.status, r.reason) for r in plan.rows}


def plan(s: Session, name: str, all_c: dict[str, CampaignDef], as_of: dt.date = AS_OF):
    return plan_campaign(s, campaign=all_c[name], as_of=as_of, now=NOON, all_campaigns=all_c)


def test_two_customers_one_phone_one_lapsed_sms(engine: Engine, db_url: str, tmp_path) -> None:
    """The instance: a family's two customers on one phone each got the lapsed SMS."""
    with Session(engine) as s:
        one_car = lapsed(s, SHARED, customer_id="C-A")
        two_cars = lapsed(s, SHARED, vehicles=2, customer_id="C-B")  # more vehicles: it wins
        own = lapsed(s, "+8613900000777", customer_id="C-C")
        s.commit()
    all_c = campaigns()
    report = run_campaign(
        engine, campaign=all_c["lapsed_12_24"], campaigns=all_c, as_of=RUN_DAY,
        clock=pinned_clock(MORNING), settings=settings_for(db_url, tmp_path),
    )  # fmt: skip
    assert report.plan["suppressed"] == {"shared_phone": 1}
    assert report.plan["to_contact"] == 2 and report.plan["targeted"] == 3
    lines = Path(report.sms_file).read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    with engine.connect() as conn:
        rows = conn.execute(
            text("SELECT customer_id, status, reason FROM contacts WHERE campaign = :c"),
            {"c": "lapsed_12_24"},
        ).all()
    got = {cid: (status, reason) for cid, status, reason in rows}
    assert got == {
        two_cars: ("sent", None),
        one_car: ("suppressed", "shared_phone"),
        own: ("sent", None),
    }


def test_within_a_run_the_most_due_customer_keeps_the_phone(engine) -> None:
    """Earliest due date first, whatever the customer ids; calls too: one entry per phone."""
    all_c = campaigns()
    with Session(engine, expire_on_commit=False) as s:
        later = first_service(s, SHARED, customer_id="C-1")
        c = make_customer(s, phone=SHARED, customer_id="C-2")
        make_vehicle(s, customer=c, purchase_date=D(2024, 1, 20))  # due 10 days earlier
        alone = first_service(s, "+8613900000888", customer_id="C-3")
        s.commit()
        for channel in ("sms", "call"):
            all_c["first_service_due"] = all_c["first_service_due"].model_copy(
                update={"channel": channel}
            )
            got = decisions(plan(s, "first_service_due", all_c))
            assert got == {
                c.customer_id: ("to_contact", None),
                later: ("suppressed", "shared_phone"),
                alone: ("to_contact", None),
            }, channel


def test_shared_phone_two_campaigns_one_day_one_sms(engine) -> None:
    """The birthday SMS yields to the first-service SMS another customer on the phone gets."""
    all_c = campaigns()
    with Session(engine, expire_on_commit=False) as s:
        due = first_service(s, SHARED)
        birthday = make_customer(s, phone=SHARED, birthday=D(1980, 4, 20)).customer_id
        other = make_customer(s, birthday=D(1981, 4, 20)).customer_id  # own phone
        s.commit()
        assert decisions(plan(s, "birthday", all_c)) == {
            birthday: ("suppressed", "lower_priority"),
            other: ("to_contact", None),
        }
        assert decisions(plan(s, "first_service_due", all_c)) == {due: ("to_contact", None)}


def test_a_higher_contact_today_to_the_phone_suppresses(engine) -> None:
    """A live contact row of a higher campaign today, to another customer on the phone."""
    all_c = campaigns()
    with Session(engine, expire_on_commit=False) as s:
        here = first_service(s, SHARED)
        own = first_service(s, "+8613900000999")
        sibling = make_customer(s, phone=SHARED).customer_id
        sent_before(s, sibling, SHARED, "insurance_renewal", 0, priority=80, status="pending")
        elsewhere = make_customer(s, phone="+8613900000111").customer_id
        sent_before(s, elsewhere, "+8613900000111", "insurance_renewal", 0, priority=80)
        s.commit()
        assert decisions(plan(s, "first_service_due", all_c)) == {
            here: ("suppressed", "lower_priority"),
            own: ("to_contact", None),
        }


@pytest.mark.parametrize(("days", "capped"), [(3, True), (7, False)])
def test_an_sms_to_the_other_customer_caps_the_phone(engine, days, capped) -> None:
    all_c = campaigns()
    with Session(engine, expire_on_commit=False) as s:
        here = first_service(s, SHARED)
        own = first_service(s, "+8613900000555")
        sibling = make_customer(s, phone=SHARED).customer_id
        sent_before(s, sibling, SHARED, "birthday", days)
        s.commit()
        got = decisions(plan(s, "first_service_due", all_c))
    assert got[here] == (("suppressed", "frequency_cap") if capped else ("to_contact", None))
    assert got[own] == ("to_contact", None)


def test_a_lapsed_sms_to_the_other_customer_holds_the_recontact_window(engine) -> None:
    all_c = campaigns()
    as_of = D(2026, 11, 23)
    with Session(engine, expire_on_commit=False) as s:
        here = lapsed(s, SHARED)
        own = lapsed(s, "+8613900000444")
        sibling = make_customer(s, phone=SHARED).customer_id
        gap = (AS_OF - as_of).days + 20  # 20 days before as_of: past the cap, in the window
        sent_before(s, sibling, SHARED, "lapsed_6_12", gap)
        s.commit()
        got = decisions(plan(s, "lapsed_12_24", all_c, as_of))
    assert got == {here: ("suppressed", "recontact_window"), own: ("to_contact", None)}


def test_reachable_phones(engine) -> None:
    """The competitor lookup by phone: the phones a campaign reaches, or those among some."""
    all_c = campaigns()
    with Session(engine, expire_on_commit=False) as s:
        first_service(s, SHARED)
        first_service(s, "+8613900000333")
        first_service(s, "+8613900000222", consent_sms=False)
        s.commit()
        fs = all_c["first_service_due"]
        got = rules.reachable_customers(s, campaign=fs, as_of=AS_OF, by="phone")
        assert got == {SHARED, "+8613900000333"}
        some = {SHARED, "+8613900000222"}
        got = rules.reachable_customers(s, campaign=fs, as_of=AS_OF, among=some, by="phone")
        assert got == {SHARED}
