"""The demo's "month after": the repair orders of the 30 days after a day's campaigns, in
which contacted customers come back more often than the holdout — by a modest, documented
margin, not a fabricated result.

Every customer in the day's runs gets one draw: they come back within the month with
probability :data:`BASE_RETURN` of their campaign's cohort (what customers of that cohort do
on their own: the holdout's rate), multiplied by :data:`CONTACT_UPLIFT` when they were
contacted (an SMS accepted, or a call-list entry). Excluded, suppressed and failed contacts
return at the base rate. A customer in two runs of the day draws once per run, and the
first visit counts. The report then measures what these parameters imply, with the noise a
real month has: with a few dozen holdout members per campaign, most lifts are "not yet
significant".

Output is a pure function of the database's contacts, the seed and the day.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Engine

from revisit.campaigns.statuses import ContactStatus
from revisit.db.tables import CAMPAIGNS, CONTACTS
from revisit.demo.catalog import ADVISORS, TEAMS

#: Share of a cohort's customers who come back within 30 days without being contacted.
BASE_RETURN: dict[str, float] = {
    "first_service_due": 0.30,
    "maintenance_due": 0.18,
    "insurance_renewal": 0.10,
    "lapsed_6_12": 0.06,
    "lapsed_12_24": 0.04,
    "lapsed_24_plus": 0.02,
    "declined_a": 0.25,
    "declined_b": 0.12,
    "declined_c": 0.06,
    "post_service_followup": 0.04,
    "birthday": 0.05,
}
#: How much more often a contacted customer comes back (relative: 1.35 = 35% more often).
CONTACT_UPLIFT = 1.35
#: Days after the campaign day the returns spread over.
WINDOW_DAYS = 30
CONTACTED = (ContactStatus.SENT.value, ContactStatus.LISTED.value)
HEADER = ("visit_id", "vin", "date", "mileage_km", "type", "amount", "advisor", "team")
AMOUNTS = {"maintenance": (380, 1200), "repair": (600, 4800)}


def month_after_visits(engine: Engine, *, as_of: dt.date, seed: int) -> list[tuple[str, ...]]:
    """The month's repair orders (rows of :data:`HEADER`), one per returning customer."""
    c, k = CONTACTS.c, CAMPAIGNS.c
    query = (
        select(c.id, c.customer_id, c.vins, c.status, k.cohort)
        .join(CAMPAIGNS, k.name == c.campaign)
        .where(c.as_of == as_of, c.callback_of.is_(None))
        .order_by(c.id)
    )
    with engine.connect() as conn:
        contacts = conn.execute(query).all()
    r = random.Random(f"month-after:{seed}:{as_of.isoformat()}")
    came: set[str] = set()
    rows: list[tuple[str, ...]] = []
    for _, customer_id, vins, status, cohort in contacts:
        p = BASE_RETURN.get(cohort, 0.05) * (CONTACT_UPLIFT if status in CONTACTED else 1.0)
        if r.random() >= p or customer_id in came or not vins:
            continue
        came.add(customer_id)
        rows.append(_visit(r, len(rows) + 1, as_of, str(r.choice(list(vins)))))
    return rows


def _visit(r: random.Random, n: int, as_of: dt.date, vin: str) -> tuple[str, ...]:
    day = as_of + dt.timedelta(days=r.randint(0, WINDOW_DAYS - 1))
    kind = "maintenance" if r.random() < 0.7 else "repair"
    lo, hi = AMOUNTS[kind]
    advisors = ADVISORS[r.randrange(len(ADVISORS))]
    return (
        f"RA{as_of:%Y%m%d}{n:06d}", vin, day.isoformat(), "", kind,
        f"{r.randint(lo, hi)}.00", r.choice(advisors), r.choice(TEAMS[:3]),
    )  # fmt: skip


def write_month_after(engine: Engine, outdir: Path, *, as_of: dt.date, seed: int) -> Path:
    """Write the month's ``visits.csv`` into ``outdir`` (created if missing); its path."""
    outdir.mkdir(parents=True, exist_ok=True)
    path = outdir / "visits.csv"
    with path.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(HEADER)
        out.writerows(month_after_visits(engine, as_of=as_of, seed=seed))
    return path
