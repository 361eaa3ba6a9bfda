"""The morning at a million vehicles: every figure of the morning in one run, beside one scan.

    python -m bench.morning [--vehicles 1000000] [--skip-daily] [--skip-replays]
    python -m bench.morning --vehicles 100000      # the same rows on a tenth, for quick checks

1. Generates (or reuses) the demo dealer group under ``bench/data/`` and imports it once
   into ``bench/data/work/morning-<vehicles>-<branch>.db`` (kept for later runs;
   ``--reimport`` redoes it).
2. Every measured command runs in its own child process; its seconds are the child's wall
   time (the query alone for the scans) and its peak RSS comes from ``os.wait4``. A child
   started with ``posix_spawn`` inherits its parent's peak as a floor, so the import runs in
   a child too and this process stays small (about 65 MiB).
3. Rows: the reference scan (``SELECT vin, max(date) FROM visits WHERE date <= :as_of
   GROUP BY vin``), planning the day (``revisit campaign plan``), ``campaign overview``, each
   campaign's preview, the whole ``campaign daily`` on the console channel (on a copy of the
   database taken before the day was planned, so the run plans it too), and every cohort
   replayed on a day before the latest visit (beside that day's scan).
4. The issue's target table: now / target / pass per row.

Rows measured by other benchmarks join through :data:`HOOKS`: ``module:function`` names,
each called with a :class:`Morning` and returning a :class:`Row` (or None when it cannot
measure here). A hook whose function does not exist yet prints as "not measured".
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.import_bench import DATA, RESULTS, demo_folder, revisit_import

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = "SELECT vin, max(date) FROM visits WHERE date <= :as_of GROUP BY vin"
REPLAY_DAY = dt.date(2026, 6, 1)

# --- hooks: rows other benchmarks provide --------------------------------------------------
#: (target row name, "module:function"). The function takes a :class:`Morning` and returns a
#: :class:`Row` or None.
HOOKS: list[tuple[str, str]] = [
    ("dispatch, console channel", "bench.dispatch:morning_row"),
    ("delta import (1% visits) incl. summary", "bench.delta:morning_row"),
]


@dataclass
class Row:
    """One measured figure: seconds, peak RSS in MiB (None when not measured), ``rate``
    for throughput rows (e.g. messages/s), and a note."""

    name: str
    seconds: float | None
    rss_mib: float | None = None
    rate: float | None = None
    note: str = ""
    scan: float | None = None  # the scan it is compared with (the replay day's, for replays)


@dataclass
class Morning:
    """What a hook gets: the database (a SQLite file with the demo group imported; copy it
    before writing), the demo folder, the day, the scan's seconds and the rows so far."""

    db: Path
    folder: Path
    as_of: dt.date
    scan_s: float
    vehicles: int = 1_000_000
    seed: int = 7
    rows: list[Row] = field(default_factory=list)


# --- children --------------------------------------------------------------------------------


def _env(db: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "REVISIT_"))}
    env["REVISIT_DATABASE_URL"] = f"sqlite:///{db}"
    env["REVISIT_CAMPAIGNS_DIR"] = str(ROOT / "campaigns")
    env["REVISIT_TEMPLATES_DIR"] = str(ROOT / "templates")
    env["REVISIT_OUTPUT_DIR"] = str(db.parent / f"{db.stem}-out")
    env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
    return env


def child(name: str, argv: list[str], db: Path) -> tuple[Row, str]:
    """Run ``argv`` in a child process: (its row, its stdout). The child is started with
    ``os.posix_spawn`` and reaped with ``os.wait4``, which gives its own peak RSS. The
    seconds are its wall time unless its last line is a JSON object with ``seconds``."""
    started = time.perf_counter()
    read, write = os.pipe()
    err_read, err_write = os.pipe()
    actions = [
        (os.POSIX_SPAWN_DUP2, write, 1),
        (os.POSIX_SPAWN_DUP2, err_write, 2),
        (os.POSIX_SPAWN_CLOSE, read),
        (os.POSIX_SPAWN_CLOSE, err_read),
    ]
    here = os.getcwd()
    os.chdir(ROOT)
    try:
        pid = os.posix_spawn(argv[0], argv, _env(db), file_actions=actions)
    finally:
        os.chdir(here)
    os.close(write)
    os.close(err_write)
    with os.fdopen(err_read) as errs, os.fdopen(read) as outs:
        import threading

        err_chunks: list[str] = []
        reader = threading.Thread(target=lambda: err_chunks.append(errs.read()))
        reader.start()
        out = outs.read()
        reader.join()
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{name}: exit {status}\n{''.join(err_chunks).strip()[-2000:]}")
    seconds = wall
    last = out.strip().splitlines()[-1] if out.strip() else ""
    if last.startswith("{"):
        seconds = float(json.loads(last).get("seconds", wall))
    return Row(name, seconds, usage.ru_maxrss / 1024), out


def revisit(*args: str) -> list[str]:
    return [str(Path(sys.executable).parent / "revisit"), *args]


def python(*args: str) -> list[str]:
    return [sys.executable, "-m", "bench.morning", "--child", *args]


# --- what the children do --------------------------------------------------------------------


def _scan(url: str, day: str) -> dict[str, Any]:
    from sqlalchemy import text

    from revisit.entry.engine import open_existing

    engine = open_existing(url)
    with engine.connect() as conn:
        started = time.perf_counter()
        n = len(conn.execute(text(REFERENCE).bindparams(as_of=dt.date.fromisoformat(day))).all())
        seconds = time.perf_counter() - started
    return {"rows": n, "seconds": seconds}


def _import(folder: str, url: str) -> dict[str, Any]:
    """The demo group imported as ``revisit import`` does (in a child, so that the parent,
    whose peak every child it starts inherits as a floor, stays small)."""
    rows, seconds, rejected = revisit_import(Path(folder), url)
    return {"rows": rows, "seconds": seconds, "rejected": rejected}


def _cohort(url: str, name: str, day: str) -> dict[str, Any]:
    from sqlmodel import Session

    from revisit.cohorts.select import select_cohort
    from revisit.entry.engine import open_existing

    engine = open_existing(url)
    with Session(engine) as session:
        started = time.perf_counter()
        n = len(select_cohort(session, cohort=name, as_of=dt.date.fromisoformat(day)))
        seconds = time.perf_counter() - started
    return {"rows": n, "seconds": seconds}


def _daily(url: str, day: str, now: str) -> dict[str, Any]:
    """The whole daily run as ``revisit campaign daily`` does it (console channel), and how
    much of it the dispatchers took."""
    from zoneinfo import ZoneInfo

    from revisit.entry.daily import run_daily
    from revisit.entry.engine import open_existing
    from revisit.entry.runs import RunOptions, pinned_clock
    from revisit.settings import Settings

    settings = Settings()
    engine = open_existing(url)
    start = dt.datetime.fromisoformat(now).replace(tzinfo=ZoneInfo(settings.default_timezone))
    started = time.perf_counter()
    result = run_daily(
        engine, settings, as_of=dt.date.fromisoformat(day),
        clock=pinned_clock(start), options=RunOptions(),
    )  # fmt: skip
    seconds = time.perf_counter() - started
    dispatch = sum(float(r.dispatch.get("elapsed_s", 0.0)) for r in result.reports)
    sent = sum(int(r.dispatch.get("sent", 0)) for r in result.reports)
    calls = sum(int(r.outbox.get("listed", 0)) for r in result.reports)
    return {
        "seconds": seconds, "dispatch_s": dispatch, "sms": sent, "calls": calls,
        "failures": result.failures,
    }  # fmt: skip


CHILDREN: dict[str, Callable[..., dict[str, Any]]] = {
    "scan": _scan, "cohort": _cohort, "daily": _daily, "import": _import,
}  # fmt: skip


# --- the run -----------------------------------------------------------------------------------


def _branch() -> str:
    out = subprocess.run(
        ["git", "rev-parse", "--abbrev-ref", "HEAD"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    if not out or out == "HEAD":
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
    return out.replace("/", "-") or "local"


def database(folder: Path, vehicles: int, reimport: bool) -> Path:
    work = DATA / "work"
    work.mkdir(parents=True, exist_ok=True)
    target = work / f"morning-{vehicles}-{_branch()}.db"
    if reimport or not target.exists():
        for suffix in ("", "-wal", "-shm"):
            Path(f"{target}{suffix}").unlink(missing_ok=True)
        _, out = child("import", python("import", str(folder), f"sqlite:///{target}"), target)
        figures = json.loads(out.strip().splitlines()[-1])
        print(f"imported {figures['rows']:,} rows into {target} in {figures['seconds']:.0f} s",
              flush=True)  # fmt: skip
    return target


def copy_db(db: Path, to: Path) -> Path:
    """A copy of ``db`` (its WAL folded in first) at ``to``."""
    import sqlite3

    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for suffix in ("", "-wal", "-shm"):
        Path(f"{to}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(db, to)
    return to


def forget_plans(db: Path) -> None:
    """Drop the day plans an earlier run stored, so that planning is measured afresh."""
    import sqlite3

    with sqlite3.connect(db) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        for table in ("day_plan_rows", "day_plans"):
            if table in tables:
                conn.execute(f"DELETE FROM {table}")


def _say(row: Row, scan: float) -> None:
    ratio = f"{row.seconds / scan:6.1f}× scan" if row.seconds is not None else ""
    rss = f"{row.rss_mib:7.0f} MiB" if row.rss_mib is not None else ""
    seconds = f"{row.seconds:8.2f} s" if row.seconds is not None else "   (none)"
    print(f"  {row.name:44s} {seconds} {ratio} {rss} {row.note}", flush=True)


def campaign_names() -> list[str]:
    from revisit.campaigns.config import load_campaigns

    return sorted(load_campaigns(ROOT / "campaigns"))


def run(args: argparse.Namespace) -> Morning:
    folder = demo_folder(args.vehicles, args.seed, args.as_of)
    db = database(folder, args.vehicles, args.reimport)
    forget_plans(db)
    day, now = args.as_of.isoformat(), f"{args.as_of.isoformat()}T10:00:00"
    scan_row, _ = child("reference scan", python("scan", f"sqlite:///{db}", day), db)
    m = Morning(db=db, folder=folder, as_of=args.as_of, scan_s=scan_row.seconds or 1.0,
                vehicles=args.vehicles, seed=args.seed)  # fmt: skip
    m.rows.append(scan_row)
    _say(scan_row, m.scan_s)
    daily_db = copy_db(db, db.with_name(f"{db.stem}-daily.db")) if not args.skip_daily else None

    def add(name: str, argv: list[str], target: Path = db) -> Row:
        row, _ = child(name, argv, target)
        m.rows.append(row)
        _say(row, m.scan_s)
        return row

    add("plan the day (campaign plan)", revisit("campaign", "plan", "--as-of", day, "--now", now))
    add("campaign overview", revisit("campaign", "overview", "--as-of", day, "--now", now))
    for name in campaign_names():
        add(
            f"preview {name}",
            revisit("campaign", "preview", name, "--as-of", day, "--now", now, "--json"),
        )
    if daily_db is not None:
        row, out = child("campaign daily (console)", python("daily", f"sqlite:///{daily_db}",
                                                            day, now), daily_db)  # fmt: skip
        figures = json.loads(out.strip().splitlines()[-1])
        row.note = f"{figures['sms']:,} SMS, {figures['calls']:,} calls"
        m.rows.append(row)
        _say(row, m.scan_s)
        planned = Row(
            "plan + render + outbox (daily run − dispatch)",
            figures["seconds"] - figures["dispatch_s"],
            note=f"dispatch {figures['dispatch_s']:.1f} s",
        )
        m.rows.append(planned)
        _say(planned, m.scan_s)
        for suffix in ("", "-wal", "-shm"):
            Path(f"{daily_db}{suffix}").unlink(missing_ok=True)
    if not args.skip_replays:
        replay(m)
    for target, ref in HOOKS:
        m.rows.append(hooked(target, ref, m))
        _say(m.rows[-1], m.scan_s)
    return m


def replay(m: Morning) -> None:
    """Every cohort on :data:`REPLAY_DAY` (before the latest visit), beside that day's scan."""
    from revisit.cohorts.select import COHORTS

    url, day = f"sqlite:///{m.db}", REPLAY_DAY.isoformat()
    scan, _ = child(f"replay scan {day}", python("scan", url, day), m.db)
    m.rows.append(scan)
    _say(scan, m.scan_s)
    for name in COHORTS:
        row, _ = child(f"replay {name} {day}", python("cohort", url, name, day), m.db)
        row.scan = scan.seconds
        m.rows.append(row)
        _say(row, scan.seconds or 1.0)


def hooked(target: str, ref: str, m: Morning) -> Row:
    module, _, name = ref.partition(":")
    fn = getattr(importlib.import_module(module), name, None)
    row = fn(m) if fn is not None else None
    return row if row is not None else Row(target, None, note=f"not measured ({ref})")


# --- the target table ----------------------------------------------------------------------------


def _find(m: Morning, name: str) -> Row | None:
    return next((r for r in m.rows if r.name == name), None)


def targets(m: Morning) -> list[tuple[str, str, str, str]]:
    """(what, now, target, pass) for every row of the issue's table."""
    scan = m.scan_s
    previews = [r for r in m.rows if r.name.startswith("preview ")]
    out: list[tuple[str, str, str, str]] = []

    def ratio(what: str, row: Row | None, limit: float, extra: str = "") -> None:
        if row is None or row.seconds is None:
            out.append((what, "not measured", f"≤ {limit:g}×", "—"))
            return
        base = row.scan or scan
        x = row.seconds / base
        now = f"{x:.1f}× ({row.seconds:.1f} s){extra}"
        out.append((what, now, f"≤ {limit:g}×", "pass" if x <= limit else "FAIL"))

    ratio("campaign overview", _find(m, "campaign overview"), 5)
    largest = max(previews, key=lambda r: r.seconds or 0.0, default=None)
    name = f" — {largest.name}" if largest else ""
    ratio("preview of the largest campaign (slowest preview)", largest, 2, name)
    ratio("plan + render + outbox of every daily campaign",
          _find(m, "plan + render + outbox (daily run − dispatch)"), 25)  # fmt: skip
    ratio("whole daily run, console channel", _find(m, "campaign daily (console)"), 120)
    dispatch = _find(m, "dispatch, console channel")
    if dispatch is None or dispatch.rate is None:
        out.append(("dispatch, console channel", "not measured", "≥ 3,000 msg/s", "—"))
    else:
        ok = "pass" if dispatch.rate >= 3000 else "FAIL"
        out.append(("dispatch, console channel", f"{dispatch.rate:,.0f} msg/s", "≥ 3,000", ok))
    ratio("delta import (1% visits) incl. summary",
          _find(m, "delta import (1% visits) incl. summary"), 2)  # fmt: skip
    replays = [r for r in m.rows if r.name.startswith("replay ") and r.scan is not None]
    worst = max(replays, key=lambda r: (r.seconds or 0.0) / (r.scan or 1.0), default=None)
    ratio("replay cohorts (worst)", worst, 1.5, f" — {worst.name}" if worst else "")
    daily = _find(m, "campaign daily (console)")
    if daily is None or daily.rss_mib is None:
        out.append(("daily run peak RSS", "not measured", "≤ 1 GB", "—"))
    else:
        ok = "pass" if daily.rss_mib <= 1024 else "FAIL"
        out.append(("daily run peak RSS", f"{daily.rss_mib:,.0f} MiB", "≤ 1,024 MiB", ok))
    return out


def report(m: Morning, args: argparse.Namespace) -> None:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\n{args.vehicles:,} vehicles, as of {args.as_of}, SQLite; load average {load}")
    print("| what | seconds | × scan | peak RSS MiB | note |")
    print("|---|---:|---:|---:|---|")
    for r in m.rows:
        s = f"{r.seconds:.2f}" if r.seconds is not None else "—"
        x = f"{r.seconds / (r.scan or m.scan_s):.1f}" if r.seconds is not None else "—"
        rss = f"{r.rss_mib:,.0f}" if r.rss_mib is not None else "—"
        note = r.note + (f"; {r.rate:,.0f}/s" if r.rate is not None else "")
        print(f"| {r.name} | {s} | {x} | {rss} | {note} |")
    print("\n| what | now | target | pass |")
    print("|---|---|---|---|")
    for row in targets(m):
        print("| " + " | ".join(row) + " |")
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"morning-{args.vehicles}.json"
    out.write_text(json.dumps([r.__dict__ for r in m.rows], indent=2))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--vehicles", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--as-of", type=dt.date.fromisoformat, default=dt.date(2026, 11, 23))
    parser.add_argument("--reimport", action="store_true", help="rebuild the database")
    parser.add_argument("--skip-daily", action="store_true", help="leave the daily run out")
    parser.add_argument("--skip-replays", action="store_true", help="leave the replays out")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(CHILDREN[args.child[0]](*args.child[1:]), default=str))
        return
    report(run(args), args)


if __name__ == "__main__":
    main()
