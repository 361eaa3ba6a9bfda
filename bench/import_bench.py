"""Import throughput on the demo dealership, beside the machine's bare SQLite limit.

    python -m bench.import_bench --vehicles 1000000

1. Generates the demo dealership (cached under bench/data/).
2. The bare figure: the same CSV rows read with ``csv`` and written with ``sqlite3``'s
   ``executemany`` in batches of 5,000 into tables with only a primary key, with the import's
   own SQLite settings (WAL, ``synchronous=NORMAL``, its page cache, memory-mapped I/O,
   temporary data in memory) and one transaction per file, as the import commits.
3. ``revisit import`` of the same files into a fresh revisit database (all indexes, foreign
   keys, validation, phone normalisation, reference checks, upsert).
4. With ``--pg URL``, the revisit import into PostgreSQL as well.

``--repeat N`` runs the SQLite pair N times, alternating, and keeps the best of each (the
machine is shared: the best run is the one least slowed by others).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import sqlite3
import time
from pathlib import Path

from revisit.db.engine import MMAP_BYTES, create_db_engine
from revisit.demo.generator import write_demo_dealership
from revisit.dms.importing import IMPORT_CACHE_KIB, import_paths
from revisit.dms.importing.formats import KINDS
from revisit.entry.engine import open_engine

DATA = Path(__file__).parent / "data"
RESULTS = Path(__file__).parent / "results"
BATCH = 5000


def demo_folder(vehicles: int, seed: int, as_of: dt.date) -> Path:
    folder = DATA / f"demo-{vehicles}-{seed}-{as_of.isoformat()}"
    if not (folder / "upsell_items.csv").exists():
        started = time.perf_counter()
        write_demo_dealership(folder, vehicles=vehicles, seed=seed, as_of=as_of)
        print(f"generated {folder} in {time.perf_counter() - started:.1f} s")
    return folder


def bare_sqlite(folder: Path, db: Path) -> tuple[int, float]:
    """Rows and seconds for csv + executemany into primary-key-only tables, on a connection
    set up as the import's (same PRAGMAs), one transaction per file."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    conn = sqlite3.connect(db, isolation_level=None)
    for pragma in (
        "journal_mode=WAL",
        "synchronous=NORMAL",
        f"cache_size=-{IMPORT_CACHE_KIB}",
        f"mmap_size={MMAP_BYTES}",
        "temp_store=MEMORY",
        "foreign_keys=OFF",
    ):
        conn.execute(f"PRAGMA {pragma}")
    rows = 0
    started = time.perf_counter()
    for kind in KINDS:
        path = folder / f"{kind.name}.csv"
        if not path.exists():
            continue
        with path.open(encoding="utf-8", newline="") as f:
            reader = csv.reader(f)
            header = next(reader)
            cols = ", ".join(f'"{h}"' for h in header[1:])
            conn.execute("BEGIN")
            conn.execute(f'CREATE TABLE "{kind.name}" ("{header[0]}" TEXT PRIMARY KEY, {cols})')
            sql = f'INSERT INTO "{kind.name}" VALUES ({", ".join("?" * len(header))})'
            batch: list[list[str]] = []
            for row in reader:
                batch.append(row)
                if len(batch) == BATCH:
                    conn.executemany(sql, batch)
                    rows += len(batch)
                    batch = []
            conn.executemany(sql, batch)
            rows += len(batch)
            conn.execute("COMMIT")
    seconds = time.perf_counter() - started
    conn.close()
    return rows, seconds


def revisit_import(folder: Path, url: str) -> tuple[int, float, int]:
    """Rows read, seconds and rejected rows for ``revisit import`` into ``url``."""
    engine = open_engine(url)
    started = time.perf_counter()
    report = import_paths(engine, [folder])
    seconds = time.perf_counter() - started
    engine.dispose()
    summary = report.summary_seconds
    print(f"  {seconds:.1f} s, of which the visit summary {summary:.1f} s", flush=True)
    return report.rows, seconds, report.rejected


def _keep_best(results: dict[str, dict[str, float]], name: str, run: dict[str, float]) -> None:
    if name not in results or run["seconds"] < results[name]["seconds"]:
        results[name] = run


def reset_pg(url: str) -> None:
    engine = create_db_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date(2026, 11, 23))
    parser.add_argument("--pg", help="also import into this (emptied!) PostgreSQL database")
    parser.add_argument("--repeat", type=int, default=1, help="best of this many SQLite runs")
    args = parser.parse_args()

    folder = demo_folder(args.vehicles, args.seed, args.as_of)
    work = DATA / "work"
    work.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict[str, float]] = {}

    for _ in range(args.repeat):
        rows, seconds = bare_sqlite(folder, work / "bare.db")
        print(f"bare: {seconds:.1f} s", flush=True)
        _keep_best(results, "bare sqlite3 executemany", {"rows": rows, "seconds": seconds})
        target = work / "revisit.db"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        rows, seconds, rejected = revisit_import(folder, f"sqlite:///{target}")
        run = {"rows": rows, "seconds": seconds, "rejected": rejected}
        _keep_best(results, "revisit import (SQLite)", run)
    if args.pg:
        reset_pg(args.pg)
        rows, seconds, rejected = revisit_import(folder, args.pg)
        results["revisit import (PostgreSQL)"] = {
            "rows": rows, "seconds": seconds, "rejected": rejected,
        }  # fmt: skip

    bare_rate = (
        results["bare sqlite3 executemany"]["rows"] / results["bare sqlite3 executemany"]["seconds"]
    )
    print(f"\n{args.vehicles:,} vehicles, seed {args.seed}, as of {args.as_of}")
    print("| run | rows | seconds | rows/s | of bare |")
    print("|---|---:|---:|---:|---:|")
    for name, r in results.items():
        rate = r["rows"] / r["seconds"]
        print(
            f"| {name} | {int(r['rows']):,} | {r['seconds']:.1f} | {rate:,.0f} "
            f"| {rate / bare_rate:.0%} |"
        )
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"import-{args.vehicles}.json"
    out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
