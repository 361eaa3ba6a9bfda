"""A day's delta import and replays on an imported demo dealership, beside one scan of visits.

    python -m bench.delta --db bench/data/work/delta-1m.db [--day 2026-11-23] [--share 0.01]
                          [--replay 2026-06-01 [--cohorts a,b] [--no-delta]] [--pg URL]

1. The database (an import of ``bench.import_bench.demo_folder``) is copied to a scratch file
   (``<db>.scratch``): the delta import changes it.
2. The day's repair orders, ``revisit.demo.day_after`` (1% of the visits, their upsell items,
   the corrections), are written under bench/data/work and imported with ``import_paths``, as
   ``revisit import`` does, timed whole (files, summary, statistics); return attribution,
   which ``revisit import`` runs after, is timed apart.
3. The reference scan, ``SELECT vin, max(date) FROM visits WHERE date <= :as_of GROUP BY vin``,
   on the same database, best of three.
4. ``--replay DAY``: every cohort as of that day (before the latest visit), best of three,
   beside the scan as of that day.

``delta_import`` and ``replays`` return the figures as dicts (for ``bench.morning``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from bench.cohorts import REFERENCE, best_of
from bench.import_bench import DATA, RESULTS
from revisit.cohorts.select import COHORTS, select_cohort
from revisit.db.tables import SUMMARY
from revisit.demo.day_after import DAY_SHARE, write_day_after
from revisit.dms.importing import import_paths
from revisit.dms.visit_summary import summary_source
from revisit.entry.engine import open_engine
from revisit.outcomes.attribution import attribute_returns

WORK = DATA / "work"


def scan_seconds(engine: Engine, as_of: dt.date, repeat: int = 3) -> float:
    """The reference: one grouped scan of visits up to ``as_of``, best of ``repeat``."""
    query = text(REFERENCE).bindparams(as_of=as_of)
    with engine.connect() as conn:
        return best_of(repeat, lambda: len(conn.execute(query).all()))[1]


def scratch_copy(db: Path) -> Path:
    """A copy of the SQLite database ``db`` (its WAL too) to change freely."""
    target = db.with_name(db.name + ".scratch")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
        if Path(f"{db}{suffix}").exists():
            shutil.copyfile(f"{db}{suffix}", f"{target}{suffix}")
    return target


def delta_import(
    url: str, *, day: dt.date, seed: int = 7, share: float = DAY_SHARE, folder: Path | None = None
) -> dict[str, Any]:
    """Import one day's repair orders into the database at ``url`` (which it changes: pass
    a copy) and return the figures: rows, seconds (the whole import), summary seconds and
    the vehicles whose summary rows were rebuilt, attribution seconds, the scan as of
    ``day`` and the import's multiple of it."""
    engine = open_engine(url)
    folder = folder or WORK / f"day-after-{day.isoformat()}-{seed}"
    export = write_day_after(engine, folder, day=day, seed=seed, share=share)
    scan = scan_seconds(engine, day)
    started = time.perf_counter()
    report = import_paths(engine, [folder])
    seconds = time.perf_counter() - started
    started = time.perf_counter()
    attribute_returns(engine)
    attribution = time.perf_counter() - started
    engine.dispose()
    return {
        "rows": report.rows, "rejected": report.rejected, "corrections": export.corrected,
        "seconds": seconds, "summary_seconds": report.summary_seconds,
        "summary_rebuilt": report.summary_rebuilt, "attribution_seconds": attribution,
        "scan_seconds": scan, "x_scan": seconds / scan,
    }  # fmt: skip


def morning_row(m: Any) -> Any:
    """The "delta import (1% visits) incl. summary" row of ``bench.morning`` (``m`` a
    :class:`bench.morning.Morning`): :func:`delta_import` of the repair orders of ``m.as_of`` into a
    scratch copy of its database, in a child process (its peak RSS), beside the scan of
    that copy."""
    from bench.morning import child

    scratch = scratch_copy(m.db)
    day = m.as_of  # as `python -m bench.delta` does by default
    folder = WORK / f"day-after-{m.vehicles}-{day.isoformat()}-{m.seed}"
    code = (
        "import datetime as dt, json; from pathlib import Path; from bench.delta import "
        f"delta_import; print(json.dumps(delta_import('sqlite:///{scratch}', "
        f"day=dt.date.fromisoformat('{day.isoformat()}'), seed={m.seed}, "
        f"folder=Path('{folder}'))))"
    )
    try:
        row, out = child("delta import (1% visits) incl. summary", [sys.executable, "-c", code],
                         scratch)  # fmt: skip
    finally:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{scratch}{suffix}").unlink(missing_ok=True)
    r = json.loads(out.strip().splitlines()[-1])
    row.scan = r["scan_seconds"]
    row.note = (
        f"{r['rows']:,} rows, summary {r['summary_seconds']:.2f} s for "
        f"{r['summary_rebuilt']:,} vehicles; scan of its copy {r['scan_seconds']:.2f} s"
    )
    return row


def replays(
    url: str, as_of: dt.date, repeat: int = 3, cohorts: list[str] | None = None
) -> dict[str, Any]:
    """Every cohort (or those named) as of ``as_of`` (a day before the latest visit: a
    replay), best of ``repeat``, beside the scan as of that day: {"scan_seconds",
    "cohorts": {name: {"members", "seconds", "x_scan"}}, "patched": whether the summary
    was read}."""
    engine = open_engine(url)
    scan = scan_seconds(engine, as_of, repeat)
    out: dict[str, Any] = {"as_of": as_of.isoformat(), "scan_seconds": scan, "cohorts": {}}
    with Session(engine) as session:
        source = summary_source(session, as_of)
        out["patched"] = source is not None and source is not SUMMARY
        for name in cohorts or list(COHORTS):

            def run(name: str = name) -> int:
                return len(select_cohort(session, cohort=name, as_of=as_of))

            n, seconds = best_of(repeat, run)
            out["cohorts"][name] = {"members": n, "seconds": seconds, "x_scan": seconds / scan}
            print(f"  {name:24s} {n:9,d} members {seconds:6.2f} s {seconds / scan:5.2f}×")
    engine.dispose()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--db", type=Path, required=True, help="an imported SQLite database")
    parser.add_argument("--day", type=dt.date.fromisoformat, default=dt.date(2026, 11, 23))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--share", type=float, default=DAY_SHARE)
    parser.add_argument("--replay", type=dt.date.fromisoformat, help="replay every cohort")
    parser.add_argument("--cohorts", help="replay these (comma-separated) only")
    parser.add_argument("--no-delta", action="store_true", help="replays only")
    parser.add_argument("--pg", help="also import the day into this PostgreSQL database")
    args = parser.parse_args()

    results: dict[str, Any] = {}
    if args.replay:
        print(f"replays as of {args.replay} (SQLite)", flush=True)
        names = args.cohorts.split(",") if args.cohorts else None
        results["replay (SQLite)"] = replays(f"sqlite:///{args.db}", args.replay, 3, names)
        print(f"  scan {results['replay (SQLite)']['scan_seconds']:.2f} s", flush=True)
    urls = {} if args.no_delta else {"SQLite": f"sqlite:///{scratch_copy(args.db)}"}
    if args.pg:
        urls["PostgreSQL"] = args.pg
    for name, url in urls.items():
        r = delta_import(url, day=args.day, seed=args.seed, share=args.share)
        results[f"delta import ({name})"] = r
        print(
            f"delta import ({name}): {r['rows']:,} rows ({r['corrections']} corrections) in "
            f"{r['seconds']:.2f} s = {r['x_scan']:.2f}× the scan ({r['scan_seconds']:.2f} s); "
            f"summary {r['summary_seconds']:.2f} s for {r['summary_rebuilt']:,} vehicles; "
            f"attribution after it {r['attribution_seconds']:.2f} s",
            flush=True,
        )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "delta.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
