"""The plan's member details survive into the outbox: a contact keeps, per vehicle, the due
date its cohort found and why, and call sheets and SMS are rendered from them."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from revisit.campaigns.config import load_campaigns
from revisit.cohorts.definitions import DueBasis
from revisit.cohorts.select import CohortMember, select_cohort
from revisit.db.tables import Contact
from revisit.entry.runs import RunOptions, pinned_clock, run_campaign
from revisit.rendering import load_contexts, member_refs, refs_from_details
from tests.factories import make_customer, make_policy, make_store, make_vehicle, make_visit
from tests.test_runs import AS_OF, MORNING, ROOT, settings_for

MILEAGE_DUE = dt.date(2026, 10, 31)  # 10,000 km at 10,000 km per 122 days after 2026-07-01
INTERVAL_DUE = dt.date(2026, 12, 28)  # 180 days after 2026-07-01: not yet in the window
CALL_CAMPAIGN = """\
name: maintenance_call
description: maintenance reminders by phone
cohort: maintenance_due
channel: call
templates: {zh: calls/maintenance_due.zh.j2, en: calls/maintenance_due.en.j2}
priority: 5
"""


def _customer_due_by_mileage(engine: Engine) -> str:
    """A car driven 10,000 km in the 122 days before its last service: due again 122 days
    after it, long before the 180-day interval."""
    with Session(engine) as s:
        store = make_store(s, store_id="QZ", name="泉州店", phone="0595-22881234")
        customer = make_customer(s, store_id=store.store_id)
        car = make_vehicle(s, customer=customer, purchase_date=dt.date(2024, 1, 1))
        make_visit(s, vehicle=car, date=dt.date(2026, 3, 1), type="maintenance", mileage_km=5000)
        make_visit(s, vehicle=car, date=dt.date(2026, 7, 1), type="maintenance",
                   mileage_km=15000, advisor="陈明")  # fmt: skip
        s.commit()
        return customer.customer_id


def _contact(engine: Engine, campaign: str) -> Contact:
    with Session(engine) as s:
        return s.exec(select(Contact).where(Contact.campaign == campaign)).one()


def test_mileage_due_date_reaches_the_call_sheet_and_the_sms(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    """Regression: call sheets re-estimated due dates from the visits (180 days after the
    last service), so a car selected by its mileage estimate got the wrong date."""
    customer_id = _customer_due_by_mileage(engine)
    folder = tmp_path / "campaigns"
    shutil.copytree(ROOT / "campaigns", folder)
    (folder / "maintenance_call.yaml").write_text(CALL_CAMPAIGN, encoding="utf-8")
    settings = settings_for(db_url, tmp_path / "out", campaigns_dir=folder)
    campaigns = load_campaigns(folder)

    def run(name: str) -> Any:  # alone (the SMS campaign would outrank the calls), no holdout
        c = campaigns[name].model_copy(update={"holdout_pct": 0})
        return run_campaign(
            engine, campaign=c, campaigns={name: c}, as_of=AS_OF, clock=pinned_clock(MORNING),
            settings=settings, options=RunOptions(),
        )  # fmt: skip

    calls = run("maintenance_call")
    contact = _contact(engine, "maintenance_call")
    (vin,) = contact.vins
    assert contact.status == "listed"
    assert contact.details == [
        {"vin": vin, "due_date": "2026-10-31", "due_by": "mileage", "last_visit_date": "2026-07-01"}
    ]
    html = next(Path(p) for p in calls.call_lists if p.endswith(".html")).read_text("utf-8")
    assert "2026年10月31日(按行驶里程估算)" in html and "平时的行驶里程" in html
    assert "2026年12月28日" not in html
    csv_text = next(Path(p) for p in calls.call_lists if p.endswith(".csv")).read_text("utf-8-sig")
    assert MILEAGE_DUE.isoformat() in csv_text and INTERVAL_DUE.isoformat() not in csv_text

    sms = run("maintenance_due")
    contact = _contact(engine, "maintenance_due")
    assert contact.status == "sent" and "2026年10月31日" in str(contact.body)
    assert "2026年10月31日" in Path(str(sms.sms_file)).read_text("utf-8")
    with Session(engine) as s:
        refs = refs_from_details(contact.customer_id, contact.vins, contact.details)
        (ctx,) = load_contexts(
            s, campaign_name="maintenance_due", cohort="maintenance_due", channel="sms",
            as_of=AS_OF, members=refs,
        ).values()  # fmt: skip
    assert ctx["customer"]["customer_id"] == customer_id
    assert (ctx["due_date"], ctx["due_by"]) == (MILEAGE_DUE, DueBasis.MILEAGE)
    assert [(v["due_date"], v["due_by"]) for v in ctx["vehicles"]] == [(MILEAGE_DUE, "mileage")]


@pytest.mark.parametrize(
    ("cohort", "visits", "due", "why"),
    [
        ("first_service_due", [], dt.date(2026, 11, 29), DueBasis.PURCHASE),
        ("maintenance_due", [(dt.date(2026, 6, 1), None)], dt.date(2026, 11, 28), "interval"),
        ("maintenance_due", [(dt.date(2026, 3, 1), 5000), (dt.date(2026, 7, 1), 15000)],
         MILEAGE_DUE, "mileage"),
        ("insurance_renewal", [], dt.date(2026, 12, 20), "policy_expiry"),
    ],
)  # fmt: skip
def test_cohorts_say_why_a_vehicle_is_due(
    engine: Engine, cohort: str, visits: list[tuple[dt.date, int | None]], due: dt.date, why: str
) -> None:
    with Session(engine) as s:
        purchase = dt.date(2026, 8, 31) if cohort == "first_service_due" else dt.date(2024, 1, 1)
        car = make_vehicle(s, purchase_date=purchase)
        for day, km in visits:
            make_visit(s, vehicle=car, date=day, type="maintenance", mileage_km=km)
        make_policy(s, vehicle=car, expiry_date=dt.date(2026, 12, 20))
        s.commit()
        (member,) = select_cohort(s, cohort=cohort, as_of=AS_OF)
    assert (member.due_date, member.due_by) == (due, why)


def test_details_give_the_references_the_cohort_gives() -> None:
    """What the outbox keeps renders the same as the cohort's members themselves."""
    members = [
        CohortMember("maintenance_due", "C1", "V1", "S", dt.date(2026, 11, 20), "mileage",
                     dt.date(2026, 7, 1)),
        CohortMember("maintenance_due", "C1", "V2", "S", dt.date(2026, 12, 1), "interval"),
        CohortMember("insurance_renewal", "C1", "V3", "S", policy_id="P1",
                     expiry_date=dt.date(2026, 12, 5)),
        CohortMember("declined_b", "C1", "V4", "S", item_ids=("U1", "U2")),
    ]  # fmt: skip
    details = [m.details() for m in members]
    assert refs_from_details("C1", ["V1", "V2", "V3", "V4"], details) == member_refs(members)
    old = refs_from_details("C1", ["V1"], None)  # a contact written before details were kept
    assert [(r.vins, r.details["due_dates"]) for r in old] == [(["V1"], {})]
