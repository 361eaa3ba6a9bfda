"""Every cohort on the demo dealership, beside one scan of visits, on SQLite and PostgreSQL.

    python -m bench.cohorts --vehicles 1000000 [--pg postgresql+psycopg://…/db]

1. Generates the demo dealership (cached under bench/data/) and imports it once into
   ``bench/data/work/cohorts-<vehicles>.db`` (kept for later runs; ``--reimport`` redoes it).
2. The reference: ``SELECT vin, max(date) FROM visits WHERE date <= :as_of GROUP BY vin``.
3. ``select_cohort`` for every cohort (members built as Python objects), best of ``--repeat``.
4. With ``--pg URL``, the same on PostgreSQL (the database is emptied, imported and
   vacuumed; ``--pg-keep`` measures what an earlier run imported).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlmodel import Session

from bench.import_bench import DATA, RESULTS, demo_folder, reset_pg, revisit_import
from revisit.cohorts.select import COHORTS, select_cohort
from revisit.db.engine import create_db_engine
from revisit.dms.visit_summary import refresh_visit_summary, summary_current_for, summary_stale
from revisit.entry.engine import open_engine

REFERENCE = "SELECT vin, max(date) FROM visits WHERE date <= :as_of GROUP BY vin"


def best_of(repeat: int, fn: Callable[[], int]) -> tuple[int, float]:
    best = float("inf")
    n = 0
    for _ in range(repeat):
        started = time.perf_counter()
        n = fn()
        best = min(best, time.perf_counter() - started)
    return n, best


def measure(url: str, as_of: dt.date, repeat: int) -> dict[str, dict[str, Any]]:
    engine = open_engine(url)
    out: dict[str, dict[str, Any]] = {}
    with Session(engine) as session:
        if summary_stale(session):  # a database imported before the summary existed
            started = time.perf_counter()
            refresh_visit_summary(session)
            session.commit()
            seconds = time.perf_counter() - started
            out["summary rebuild"] = {"rows": 0, "seconds": seconds}
            print(f"  rebuilt the visit summary in {seconds:.1f} s", flush=True)
        print(f"  summary current for {as_of}: {summary_current_for(session, as_of)}")
        ref = text(REFERENCE).bindparams(as_of=as_of)
        n, seconds = best_of(repeat, lambda: len(session.execute(ref).all()))
        out["reference scan"] = {"rows": n, "seconds": seconds}
        for name in COHORTS:

            def run(name: str = name) -> int:
                return len(select_cohort(session, cohort=name, as_of=as_of))

            n, seconds = best_of(repeat, run)
            out[name] = {"rows": n, "seconds": seconds}
            print(f"  {name:24s} {n:9,d} members {seconds:6.2f} s", flush=True)
    engine.dispose()
    return out


def sqlite_db(folder: Path, vehicles: int, reimport: bool) -> str:
    work = DATA / "work"
    work.mkdir(parents=True, exist_ok=True)
    target = work / f"cohorts-{vehicles}.db"
    if reimport or not target.exists():
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        rows, seconds, _ = revisit_import(folder, f"sqlite:///{target}")
        print(f"imported {rows:,} rows into {target} in {seconds:.0f} s", flush=True)
    return f"sqlite:///{target}"


def vacuum(url: str) -> None:
    """Statistics and the visibility map, as autovacuum would leave them after an import."""
    engine = create_db_engine(url).execution_options(isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.exec_driver_sql("VACUUM ANALYZE")
    engine.dispose()


def report(results: dict[str, dict[str, dict[str, Any]]]) -> None:
    names = [n for n in next(iter(results.values())) if n != "summary rebuild"]
    print("\n| cohort | " + " | ".join(f"{db} members | {db} s | ×scan" for db in results) + " |")
    print("|---|" + "---:|---:|---:|" * len(results))
    for name in names:
        cells = []
        for figures in results.values():
            r, ref = figures[name], figures["reference scan"]["seconds"]
            cells.append(f"{r['rows']:,} | {r['seconds']:.2f} | {r['seconds'] / ref:.1f}")
        print(f"| {name} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date(2026, 11, 23))
    parser.add_argument("--repeat", type=int, default=3, help="runs per query; the best counts")
    parser.add_argument("--pg", help="also run on this (emptied!) PostgreSQL database")
    parser.add_argument("--reimport", action="store_true", help="rebuild the SQLite database")
    parser.add_argument(
        "--pg-keep", action="store_true", help="measure the PostgreSQL data already imported"
    )
    args = parser.parse_args()

    folder = demo_folder(args.vehicles, args.seed, args.as_of)
    results = {}
    print(f"SQLite, {args.vehicles:,} vehicles, as of {args.as_of}", flush=True)
    url = sqlite_db(folder, args.vehicles, args.reimport)
    results["SQLite"] = measure(url, args.as_of, args.repeat)
    if args.pg:
        if not args.pg_keep:
            reset_pg(args.pg)
            rows, seconds, _ = revisit_import(folder, args.pg)
            print(f"PostgreSQL: imported {rows:,} rows in {seconds:.0f} s", flush=True)
        vacuum(args.pg)
        print("PostgreSQL", flush=True)
        results["PostgreSQL"] = measure(args.pg, args.as_of, args.repeat)
    report(results)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"cohorts-{args.vehicles}.json"
    out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
