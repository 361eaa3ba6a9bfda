"""A campaign run written directly (campaign, run, one contact per customer with a given
status), and the visits that follow it: what the outcome, attribution and report tests need
without planning and sending a real campaign."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from revisit.db.tables import CAMPAIGNS, CONTACTS, MESSAGES, RUNS, utcnow
from tests.factories import make_customer, make_vehicle, make_visit

_seq = itertools.count(1)


@dataclass
class Run:
    run_id: int
    campaign: str
    as_of: dt.date
    customers: list[str] = field(default_factory=list)
    vins: list[str] = field(default_factory=list)
    contacts: list[int] = field(default_factory=list)


def make_campaign_run(
    engine: Engine,
    statuses: Sequence[str],
    *,
    as_of: dt.date = dt.date(2026, 10, 1),
    channel: str = "sms",
    attribution_days: int = 30,
    campaign: str | None = None,
    reasons: Sequence[str | None] | None = None,
    store_id: str = "default",
) -> Run:
    """A run whose contacts have ``statuses`` (one customer and vehicle each)."""
    name = campaign or f"maintenance_due_t{next(_seq)}"
    with Session(engine) as s:
        customers, vins = [], []
        for _ in statuses:
            c = make_customer(s, store_id=store_id)
            v = make_vehicle(s, customer=c)
            customers.append(c.customer_id)
            vins.append(v.vin)
        s.commit()
    with engine.begin() as conn:
        known = conn.execute(select(CAMPAIGNS.c.name).where(CAMPAIGNS.c.name == name)).first()
        if known is None:
            definition = {"attribution_days": attribution_days}
            conn.execute(
                insert(CAMPAIGNS).values(
                    name=name, cohort="maintenance_due", channel=channel, priority=1,
                    definition=definition, updated_at=utcnow(),
                )
            )  # fmt: skip
        run_id = conn.execute(
            insert(RUNS).values(
                campaign=name,
                as_of=as_of,
                status="done",
                dry_run=False,
                started_at=utcnow(),
                counts={},
            )
        ).inserted_primary_key[0]
        ids = []
        for i, status in enumerate(statuses):
            row: dict[str, Any] = {
                "run_id": run_id, "campaign": name, "as_of": as_of,
                "customer_id": customers[i], "vins": [vins[i]], "channel": channel,
                "priority": 1, "status": status, "attempts": 0, "created_at": utcnow(),
                "phone": f"+8613900{i:06d}", "caller": "王芳" if channel == "call" else None,
                "reason": reasons[i] if reasons else None,
            }  # fmt: skip
            ids.append(conn.execute(insert(CONTACTS).values(row)).inserted_primary_key[0])
    return Run(int(run_id), name, as_of, customers, vins, [int(i) for i in ids])


def add_message(engine: Engine, contact_id: int, status: str) -> None:
    with engine.begin() as conn:
        conn.execute(insert(MESSAGES).values(
            contact_id=contact_id, provider="twilio", provider_sid=f"SM{next(_seq):032d}",
            to_phone="+8613900000000", body="…", segments=1, status=status,
            created_at=utcnow(), updated_at=utcnow()))  # fmt: skip


def add_visit(engine: Engine, vin: str, day: dt.date, amount: float | None = None) -> str:
    with Session(engine) as s:
        from revisit.db.tables import Vehicle

        vehicle = s.get(Vehicle, vin)
        assert vehicle is not None
        visit = make_visit(s, vehicle=vehicle, date=day, amount=amount)
        s.commit()
        return visit.visit_id
