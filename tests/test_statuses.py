"""Every status, reason, channel and source revisit stores is one of the enums of
revisit.campaigns.statuses: real runs write the database, then every distinct value is
checked against them (regression: the dispatcher wrote ``phone_invalid`` where the rules
say ``invalid_phone``)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select, update

from devtools.fake_twilio import FakeTwilio, serve_fake_twilio
from revisit.campaigns.config import CampaignDef, load_campaigns
from revisit.campaigns.statuses import (
    CONTACT_REASONS,
    ChannelKind,
    ContactStatus,
    OptOutSource,
    RunStatus,
)
from revisit.cohorts.definitions import DueBasis
from revisit.db.tables import CampaignRun, Contact, Customer, OptOut
from revisit.entry.runs import RunOptions, pinned_clock, run_campaign
from revisit.settings import Settings
from tests.factories import make_customer, make_store, make_vehicle, make_visit
from tests.test_runs import AS_OF, MORNING, NIGHT, ROOT


def _dealership(engine: Engine) -> None:
    """Customers due for maintenance, some not reachable by SMS; the first also back from
    the shop two days ago (a follow-up call), the last also sent a first-service SMS the
    day before (its frequency cap)."""
    with Session(engine) as s:
        store = make_store(s, store_id="QZ", name="泉州店", phone="0595-22881234")
        special: dict[int, dict[str, Any]] = {
            1: {"consent_sms": False}, 2: {"phone_type": "landline"}, 3: {"phone": None},
        }  # fmt: skip
        for i in range(40):
            c = make_customer(s, store_id=store.store_id, **special.get(i, {}))
            status = "sold" if i == 4 else "active"
            v = make_vehicle(s, customer=c, purchase_date=dt.date(2022, 1, 10), status=status)
            make_visit(s, vehicle=v, date=dt.date(2026, 6, 1), type="maintenance", advisor="陈明")
            if i == 0:
                other = make_vehicle(s, customer=c, purchase_date=dt.date(2023, 3, 1))
                make_visit(s, vehicle=other, date=AS_OF - dt.timedelta(days=2), type="repair",
                           advisor="李娜")  # fmt: skip
            if i == 39:  # its first service window closes the day before as_of
                make_vehicle(s, customer=c, purchase_date=AS_OF - dt.timedelta(days=121))
        s.commit()


def _distinct(engine: Engine, table: str, column: str) -> set[Any]:
    with engine.connect() as conn:
        return set(conn.execute(text(f"SELECT DISTINCT {column} FROM {table}")).scalars())


def _run(engine: Engine, settings: Settings, c: CampaignDef, day: dt.date, at: dt.datetime) -> Any:
    campaigns = load_campaigns(settings.campaigns_dir) | {c.name: c}
    clock = pinned_clock(at)  # the wall clock too: a real send follows it
    return run_campaign(
        engine, campaign=c, campaigns=campaigns, as_of=day, clock=clock, wall_clock=clock,
        settings=settings, options=RunOptions(rate=200, concurrency=4),
    )  # fmt: skip


def _pending_phones(engine: Engine, campaign: str) -> list[str]:
    with engine.connect() as conn:
        query = "SELECT phone FROM contacts WHERE campaign = :c AND status = 'pending'"
        return sorted(conn.execute(text(query), {"c": campaign}).scalars())


def test_only_enum_values_reach_the_database(engine: Engine, db_url: str, tmp_path: Path) -> None:
    _dealership(engine)
    campaigns = load_campaigns(ROOT / "campaigns")
    maintenance = campaigns["maintenance_due"].model_copy(update={"holdout_pct": 50})
    with serve_fake_twilio(FakeTwilio()) as fake:
        settings = fake.settings(
            database_url=db_url, campaigns_dir=ROOT / "campaigns",
            templates_dir=ROOT / "templates", output_dir=tmp_path,
        )  # fmt: skip
        yesterday = AS_OF - dt.timedelta(days=1)
        # no holdout: the last customer's SMS must go out whatever its id hashes to
        first_service = campaigns["first_service_due"].model_copy(update={"holdout_pct": 0})
        _run(engine, settings, first_service, yesterday, MORNING - dt.timedelta(days=1))
        calls = _run(engine, settings, campaigns["post_service_followup"], AS_OF, MORNING)
        night = _run(engine, settings, maintenance, AS_OF, NIGHT)
        assert (calls.status, night.status) == (RunStatus.DONE, RunStatus.DEFERRED)
        # before the morning: one number found dead, one customer opts out by phone, and
        # the provider refuses two more (opted out, not a valid number)
        dead, opted, stop, invalid, *_ = _pending_phones(engine, "maintenance_due")
        with Session(engine) as s:
            s.exec(update(Customer).where(col(Customer.phone) == dead).values(phone_invalid=True))
            who = s.exec(select(Customer).where(Customer.phone == opted)).one()
            s.add(OptOut(customer_id=who.customer_id, source=OptOutSource.STAFF))
            s.commit()
        fake.fake.config.error_numbers = {stop: 21610, invalid: 21211}
        morning = _run(engine, settings, maintenance, AS_OF, MORNING + dt.timedelta(hours=1))
        assert morning.resumed and morning.status == RunStatus.DONE

    statuses = _distinct(engine, "contacts", "status")
    reasons = _distinct(engine, "contacts", "reason") - {None}
    assert statuses <= set(ContactStatus), statuses
    assert reasons <= CONTACT_REASONS, reasons
    assert _distinct(engine, "contacts", "channel") == set(ChannelKind)
    assert _distinct(engine, "campaign_runs", "status") <= set(RunStatus)
    assert _distinct(engine, "opt_outs", "source") <= set(OptOutSource)
    with Session(engine) as s:
        details = [d for c in s.exec(select(Contact)) for d in c.details]
    bases = {d["due_by"] for d in details if "due_by" in d}
    assert bases and bases <= set(DueBasis), bases
    # the runs above did write what the check is about
    assert statuses >= {"sent", "failed", "listed", "excluded", "suppressed", "holdout"}
    assert reasons >= {
        "invalid_phone", "do_not_contact", "no_sms_consent", "not_mobile", "no_phone",
        "vehicle_sold", "lower_priority", "frequency_cap",
    }  # fmt: skip
    assert _distinct(engine, "opt_outs", "source") == {"staff", "provider"}


def test_table_defaults_are_enum_members() -> None:
    """The table models sit below the enums' layer and spell their defaults out."""
    run = CampaignRun(campaign="c", as_of=AS_OF)
    contact = Contact(run_id=1, campaign="c", as_of=AS_OF, customer_id="C1", channel="sms")
    assert run.status == RunStatus.PLANNED and contact.status == ContactStatus.PENDING
