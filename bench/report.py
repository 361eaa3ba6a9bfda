"""Return attribution and the reports on the demo dealership, on SQLite (and PostgreSQL).

    python -m bench.report --vehicles 200000 [--days 60] [--share 0.02] [--pg URL]

1. Generates and imports the demo dealership (cached under bench/data/, like bench.cohorts).
2. Writes ``--days`` campaign runs, one per day before the export date, each with a random
   ``--share`` of the customers as contacts (90% sent, 10% holdout): a stand-in for two months
   of daily campaigns, whose returns are the demo's own visit history.
3. Times ``attribute_returns`` (twice: the second pass replaces the first), the campaign
   report, the report by store, and the upsell report by month.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import time
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import Engine

from bench.import_bench import DATA, demo_folder, reset_pg, revisit_import
from revisit.db.tables import CAMPAIGNS, CONTACTS, CUSTOMERS, OUTCOMES, RUNS, VEHICLES, utcnow
from revisit.entry.engine import open_engine
from revisit.outcomes.attribution import attribute_returns
from revisit.reports.campaigns import ReportFilter, campaign_report
from revisit.reports.upsell import UpsellFilter, upsell_report

CAMPAIGN = "bench_maintenance_due"


def write_runs(engine: Engine, as_of: dt.date, days: int, share: float) -> int:
    """The stand-in campaign runs; returns the number of contacts written."""
    with engine.begin() as conn:
        conn.execute(delete(OUTCOMES))
        conn.execute(delete(CONTACTS).where(CONTACTS.c.campaign == CAMPAIGN))
        conn.execute(delete(RUNS).where(RUNS.c.campaign == CAMPAIGN))
        conn.execute(delete(CAMPAIGNS).where(CAMPAIGNS.c.name == CAMPAIGN))
        conn.execute(insert(CAMPAIGNS).values(
            name=CAMPAIGN, cohort="maintenance_due", channel="sms", priority=1,
            definition={"attribution_days": 30}, updated_at=utcnow()))  # fmt: skip
        owners = conn.execute(
            select(CUSTOMERS.c.customer_id, func.min(VEHICLES.c.vin))
            .join(VEHICLES, VEHICLES.c.customer_id == CUSTOMERS.c.customer_id)
            .group_by(CUSTOMERS.c.customer_id)
        ).all()
        r, total = random.Random(7), 0
        for d in range(1, days + 1):
            day = as_of - dt.timedelta(days=d)
            run = insert(RUNS).values(campaign=CAMPAIGN, as_of=day, status="done",
                                      dry_run=False, started_at=utcnow(), counts={})  # fmt: skip
            key = conn.execute(run).inserted_primary_key
            assert key is not None
            run_id = key[0]
            chosen = r.sample(owners, max(1, int(len(owners) * share)))
            rows: list[dict[str, Any]] = [
                {"run_id": run_id, "campaign": CAMPAIGN, "as_of": day, "customer_id": cid,
                 "vins": [vin], "channel": "sms", "priority": 1, "attempts": 0,
                 "status": "holdout" if r.random() < 0.1 else "sent", "created_at": utcnow()}
                for cid, vin in chosen
            ]  # fmt: skip
            conn.execute(insert(CONTACTS), rows)
            total += len(rows)
    return total


def timed(label: str, fn: Any) -> Any:
    started = time.perf_counter()
    result = fn()
    print(f"  {label:<28} {time.perf_counter() - started:7.2f} s", flush=True)
    return result


def measure(url: str, as_of: dt.date, days: int, share: float) -> None:
    engine = open_engine(url)
    n = timed("write runs", lambda: write_runs(engine, as_of, days, share))
    print(f"  {n:,} contacts in {days} runs")
    returned = timed("attribute_returns", lambda: attribute_returns(engine))
    timed("attribute_returns (again)", lambda: attribute_returns(engine))
    print(f"  {returned:,} returned contacts")
    with engine.connect() as conn:
        rows = timed("report", lambda: campaign_report(conn, ReportFilter(campaign=CAMPAIGN)))
        by = ReportFilter(campaign=CAMPAIGN, by="store")
        timed("report --by store", lambda: campaign_report(conn, by))
        timed("report upsell --by month", lambda: upsell_report(conn, UpsellFilter()))
    print(f"  {len(rows)} report rows; first: returned {rows[0]['returned']:,} of "
          f"{rows[0]['contacted']:,}")  # fmt: skip
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date(2026, 11, 23))
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--share", type=float, default=0.02)
    parser.add_argument("--pg", help="also measure on this PostgreSQL database (emptied)")
    args = parser.parse_args()
    folder = demo_folder(args.vehicles, args.seed, args.as_of)
    db = DATA / "work" / f"report-{args.vehicles}.db"
    if not db.exists():
        db.parent.mkdir(parents=True, exist_ok=True)
        revisit_import(folder, f"sqlite:///{db}")
    print(f"SQLite ({args.vehicles:,} vehicles)")
    measure(f"sqlite:///{db}", args.as_of, args.days, args.share)
    if args.pg:
        reset_pg(args.pg)
        revisit_import(folder, args.pg)
        print("PostgreSQL")
        measure(args.pg, args.as_of, args.days, args.share)


if __name__ == "__main__":
    main()
