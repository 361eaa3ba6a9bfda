"""What Prefect costs, and what a second worker buys: ``python -m bench.prefect_overhead``
(``make bench-prefect``).

1. Overhead: a console campaign of about 20,000 contacts (``maintenance_due``: 22,200
   customers of a generated DMS export imported into SQLite, less the holdout) run by the
   ``launch-campaign`` flow and by the same domain call without Prefect
   (:func:`revisit.entry.daily.launch`), each on a fresh copy of the database, alternating,
   ``--repeat`` times in one process; medians. The ephemeral Prefect server's start-up is
   measured apart (once per process, not per run).
2. Scale-out: one, then two dispatch workers (``revisit dev dispatch-run``) on one run in
   PostgreSQL, against the fake Twilio at 100 ms latency, with a shared rate (400/s) above
   what one worker's concurrency (10 requests in flight: at most 100/s) reaches. Needs a
   PostgreSQL database the bench may wipe: ``--pg-url`` or ``REVISIT_BENCH_PG_URL``.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.dispatch import ACCOUNT, ROOT, TOKEN, fake_twilio

AS_OF = dt.date(2026, 11, 23)
MORNING = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))
CAMPAIGN = "maintenance_due"


def write_export(folder: Path, n: int) -> None:
    """A DMS export of ``n`` customers, each with one car due for maintenance on AS_OF."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = {
        "customers.csv": (["customer_id", "name", "phone"],
                          [[f"C{i:06d}", f"客户{i}", f"139{i:08d}"] for i in range(n)]),
        "vehicles.csv": (["vin", "customer_id", "plate", "model", "purchase_date"],
                         [[f"LVIN{i:013d}", f"C{i:06d}", f"闽C{i:05d}", "Sedan", "2022-01-10"]
                          for i in range(n)]),
        "visits.csv": (["visit_id", "vin", "date", "type", "advisor"],
                       [[f"RO{i:07d}", f"LVIN{i:013d}", "2026-06-01", "maintenance", "陈明"]
                        for i in range(n)]),
    }  # fmt: skip
    for name, (header, body) in rows.items():
        with (folder / name).open("w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows([header, *body])


def prepare(tmp: Path, n: int) -> Path:
    from revisit.dms.importing import import_paths
    from revisit.entry.engine import open_engine

    write_export(tmp / "export", n)
    db = tmp / "template.db"
    engine = open_engine(f"sqlite:///{db}")
    import_paths(engine, [tmp / "export"])
    engine.dispose()
    return db


def settings_env(out: Path) -> None:
    os.environ.update({
        "REVISIT_OUTPUT_DIR": str(out), "REVISIT_CAMPAIGNS_DIR": str(ROOT / "campaigns"),
        "REVISIT_TEMPLATES_DIR": str(ROOT / "templates"), "TWILIO_ACCOUNT_SID": "",
    })  # fmt: skip


def domain_run(db: Path) -> tuple[float, int]:
    from revisit.entry.context import load_settings
    from revisit.entry.daily import launch
    from revisit.entry.engine import open_existing
    from revisit.entry.runs import pinned_clock

    settings = load_settings(database_url=f"sqlite:///{db}")
    t0 = time.perf_counter()
    engine = open_existing(settings.database_url)
    report = launch(engine, settings, name=CAMPAIGN, as_of=AS_OF, clock=pinned_clock(MORNING))
    engine.dispose()
    return time.perf_counter() - t0, int(report.outbox.get("sent", 0))


def flow_run(db: Path) -> tuple[float, int]:
    from flows.campaigns import launch_campaign

    t0 = time.perf_counter()
    report = launch_campaign(CAMPAIGN, as_of=AS_OF, now=MORNING, database_url=f"sqlite:///{db}")
    assert isinstance(report, dict), report
    return time.perf_counter() - t0, int(report["outbox"].get("sent", 0))


def overhead(n: int, repeat: int) -> dict[str, Any]:
    from prefect import flow

    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        settings_env(tmp / "out")
        template = prepare(tmp, n)

        @flow
        def hello() -> int:
            return 1

        t0 = time.perf_counter()
        hello()
        startup = time.perf_counter() - t0
        times: dict[str, list[float]] = {"domain": [], "flow": []}
        sent: set[int] = set()
        for i in range(repeat + 1):  # the first pair warms caches and is not counted
            for kind, fn in (("domain", domain_run), ("flow", flow_run)):
                db = tmp / f"{kind}{i}.db"
                shutil.copy(template, db)
                seconds, count = fn(db)
                sent.add(count)
                if i:
                    times[kind].append(seconds)
                db.unlink()
        dom, flo = statistics.median(times["domain"]), statistics.median(times["flow"])
        return {
            "contacts_sent": sorted(sent), "repeat": repeat,
            "domain_s": round(dom, 2), "flow_s": round(flo, 2),
            "overhead_pct": round(100 * (flo - dom) / dom, 1),
            "ephemeral_server_startup_s": round(startup, 2),
            "all_domain_s": [round(t, 2) for t in times["domain"]],
            "all_flow_s": [round(t, 2) for t in times["flow"]],
        }  # fmt: skip


def _reset_pg(url: str) -> None:
    from revisit.db.engine import create_db_engine, upgrade_schema

    engine = create_db_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA public CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA public")
    upgrade_schema(engine)
    engine.dispose()


def _make_run(url: str, n: int) -> int:
    sys.path.insert(0, str(ROOT / "tests"))
    from dispatch_support import make_run  # type: ignore[import-not-found]

    from revisit.entry.engine import open_engine

    engine = open_engine(url)
    run_id = int(make_run(engine, n))
    engine.dispose()
    return run_id


def scale_out(pg_url: str, n: int, workers: int, fake_url: str) -> dict[str, Any]:
    _reset_pg(pg_url)
    run_id = _make_run(pg_url, n)
    httpx.post(f"{fake_url}/_fake/reset")
    env = {**os.environ, "TWILIO_ACCOUNT_SID": ACCOUNT, "TWILIO_AUTH_TOKEN": TOKEN,
           "TWILIO_FROM": "+15005550006", "REVISIT_TWILIO_BASE_URL": fake_url,
           "REVISIT_DATABASE_URL": pg_url}  # fmt: skip
    args = [sys.executable, "-m", "revisit.cli", "dev", "dispatch-run", "--run-id", str(run_id),
            "--rate", "400", "--concurrency", "10"]  # fmt: skip
    procs = [subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL)
             for _ in range(workers)]  # fmt: skip
    for p in procs:
        if p.wait(600) != 0:
            raise SystemExit(f"a dispatch worker failed (exit {p.returncode})")
    data = httpx.get(f"{fake_url}/_fake/messages", timeout=60).json()
    arrivals = sorted(m["arrived"] for m in data["messages"])
    span = arrivals[-1] - arrivals[0]
    return {
        "workers": workers, "messages": len(arrivals),
        "duplicates": data["stats"]["duplicates"],
        "sustained_per_s": round((len(arrivals) - 1) / span, 1),
        "max_1s_window": data["stats"]["max_per_second"],
    }  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--customers", type=int, default=22200, help="about 20,000 contacted")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--messages", type=int, default=3000, help="SMS of the scale-out run")
    p.add_argument("--pg-url", default=os.environ.get("REVISIT_BENCH_PG_URL"),
                   help="a PostgreSQL database the bench may wipe (scale-out)")  # fmt: skip
    p.add_argument("--skip-overhead", action="store_true")
    a = p.parse_args()
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    result: dict[str, Any] = {}
    if not a.skip_overhead:
        result["overhead"] = overhead(a.customers, a.repeat)
        print(json.dumps({"overhead": result["overhead"]}), flush=True)
    if a.pg_url:
        with fake_twilio(100.0) as url:
            rows = [scale_out(a.pg_url, a.messages, w, url) for w in (1, 2)]
        speed_up = round(rows[1]["sustained_per_s"] / rows[0]["sustained_per_s"], 2)
        result["scale_out"] = [*rows, {"speed_up": speed_up}]
        print(json.dumps({"scale_out": result["scale_out"]}), flush=True)
    else:
        print("scale-out skipped: give --pg-url or REVISIT_BENCH_PG_URL (a database to wipe)")


if __name__ == "__main__":
    main()
