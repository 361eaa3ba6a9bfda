"""Dispatch throughput and memory against the fake Twilio: ``python -m bench.dispatch``.

The fake runs in its own process (``revisit dev fake-twilio``) with a fixed latency; each
scenario dispatches a fresh run from a SQLite file in a child process, and the fake's arrival
timestamps give the sustained rate and the busiest one-second window. Memory: the peak
resident size of the dispatching process for 10,000 and 100,000 messages.

    python -m bench.dispatch                 # throughput grid + the acceptance scenario
    python -m bench.dispatch --memory        # adds the 10k / 100k memory comparison
    python -m bench.dispatch --console --messages 100000   # the dispatcher's own msg/s
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
ACCOUNT = "AC" + "f" * 32
TOKEN = "fake-auth-token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def fake_twilio(latency_ms: float, cap: float | None = None) -> Iterator[str]:
    port = _free_port()
    args = [
        sys.executable,
        "-c",
        "from revisit.cli import app; app()",
        "dev",
        "fake-twilio",
        "--port",
        str(port),
        "--latency-ms",
        str(latency_ms),
    ]
    if cap:
        args += ["--cap-per-second", str(cap)]
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            with contextlib.suppress(httpx.HTTPError):
                httpx.get(f"{url}/_fake/messages", timeout=1)
                break
            time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def _prepare(db: str, n: int) -> int:
    """In a child: make a run of ``n`` pending contacts; returns its id."""
    sys.path.insert(0, str(ROOT / "tests"))
    from dispatch_support import make_run  # type: ignore[import-not-found]

    from revisit.entry.engine import open_engine

    engine = open_engine(db)
    run_id = int(make_run(engine, n, body=lambda i: f"【服务站】客户{i}您好，您的爱车保养已到期。"))
    engine.dispose()
    return run_id


def _child(db: str, run_id: int, rate: float, concurrency: int) -> dict[str, Any]:
    """In a fresh child: dispatch the run; report the time and this process's peak RSS."""
    from revisit.delivery.worker import run_worker
    from revisit.entry.engine import open_engine
    from revisit.settings import Settings

    t0 = time.monotonic()
    summary = run_worker(
        open_engine(db), Settings(database_url=db), run_id=run_id, rate=rate,
        concurrency=concurrency,
    )  # fmt: skip
    return {
        "elapsed_s": round(time.monotonic() - t0, 2),
        "sent": summary.sent,
        "status": summary.status,
        "rss_peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def _heap(db: str, run_id: int) -> dict[str, Any]:
    """In a fresh child: dispatch through the console channel (no HTTP) under tracemalloc;
    the Python heap's peak is the dispatcher's own footprint."""
    import contextlib
    import tracemalloc

    from revisit.delivery.worker import run_worker
    from revisit.entry.engine import open_engine
    from revisit.settings import Settings

    tracemalloc.start()
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        summary = run_worker(
            open_engine(db),
            Settings(database_url=db, TWILIO_ACCOUNT_SID=None),  # type: ignore[call-arg]
            run_id=run_id,
            rate=20000,
            concurrency=100,
        )
    return {
        "sent": summary.sent,
        "py_heap_peak_mb": round(tracemalloc.get_traced_memory()[1] / 2**20, 1),
    }


def _console(db: str, run_id: int, rate: float, concurrency: int) -> dict[str, Any]:
    """In a fresh child: dispatch the run through the console channel into /dev/null with
    the rate set high; the elapsed time is the dispatcher's own cost (claims, the send
    window, the channel call, records, progress)."""
    from revisit.delivery.worker import run_worker
    from revisit.entry.engine import open_engine
    from revisit.settings import Settings

    engine = open_engine(db)
    settings = Settings(database_url=db, TWILIO_ACCOUNT_SID=None)  # type: ignore[call-arg]
    cpu0, t0 = time.process_time(), time.perf_counter()
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        summary = run_worker(engine, settings, run_id=run_id, rate=rate, concurrency=concurrency)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    return {
        "sent": summary.sent,
        "status": str(summary.status),
        "elapsed_s": round(elapsed, 2),
        "cpu_s": round(cpu, 2),
        "msg_per_s": round(summary.sent / elapsed, 1) if elapsed else 0.0,
        "rss_peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def console_rate(
    messages: int = 100_000, *, rate: float = 1_000_000.0, concurrency: int = 10
) -> dict[str, Any]:
    """Messages per second of the console channel for one run of ``messages`` pending SMS
    (SQLite, a fresh file), with the rate set high (``rate`` per second) so that nothing but
    the dispatcher's own work limits it. Runs in child processes; returns ``messages``,
    ``sent``, ``elapsed_s`` (wall), ``cpu_s`` (the dispatching process), ``msg_per_s``
    (sent / wall seconds) and ``rss_peak_mb``."""
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TWILIO_")}
        db = f"sqlite:///{tmp}/console.db"
        run_id = _python(f"_prepare({db!r}, {messages})", env)
        child = _python(f"_console({db!r}, {run_id}, {rate}, {concurrency})", env)
    return {"messages": messages, "rate": rate, "concurrency": concurrency, **child}


def morning_row(m: Any) -> Any:
    """The "dispatch, console channel" row of ``bench.morning`` (``m`` a
    :class:`bench.morning.Morning`): :func:`console_rate` for as many SMS as the daily run
    of that size sends, at most 100,000 (about a third of the vehicles; at least 10,000)."""
    from bench.morning import Row

    messages = max(10_000, min(100_000, m.vehicles // 3))
    r = console_rate(messages)
    note = f"{r['sent']:,} SMS, cpu {r['cpu_s']:.1f} s"
    return Row("dispatch, console channel", float(r["elapsed_s"]), float(r["rss_peak_mb"]),
               rate=float(r["msg_per_s"]), note=note)  # fmt: skip


def heap_scenario(n: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("TWILIO_")}
        db = f"sqlite:///{tmp}/h.db"
        run_id = _python(f"_prepare({db!r}, {n})", env)
        return {"messages": n, **_python(f"_heap({db!r}, {run_id})", env)}


def _python(code: str, env: dict[str, str]) -> Any:
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import json; import bench.dispatch as b; print(json.dumps(b.{code}))",
        ],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def scenario(url: str, n: int, rate: float, concurrency: int) -> dict[str, Any]:
    httpx.post(f"{url}/_fake/reset")
    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "TWILIO_ACCOUNT_SID": ACCOUNT,
            "TWILIO_AUTH_TOKEN": TOKEN,
            "TWILIO_FROM": "+15005550006",
            "REVISIT_TWILIO_BASE_URL": url,
        }
        db = f"sqlite:///{tmp}/b.db"
        run_id = _python(f"_prepare({db!r}, {n})", env)
        child = _python(f"_child({db!r}, {run_id}, {rate}, {concurrency})", env)
    data = httpx.get(f"{url}/_fake/messages", timeout=60).json()
    arrivals = sorted(m["arrived"] for m in data["messages"])
    span = arrivals[-1] - arrivals[0] if len(arrivals) > 1 else 0.0
    sustained = (len(arrivals) - 1) / span if span else 0.0
    return {
        "messages": n,
        "rate": rate,
        "concurrency": concurrency,
        "target": min(rate, concurrency / LATENCY_S),
        "sustained": round(sustained, 1),
        "max_1s_window": data["stats"]["max_per_second"],
        "duplicates": data["stats"]["duplicates"],
        "accepted": data["stats"]["accepted"],
        **child,
    }


LATENCY_S = 0.1


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--memory", action="store_true", help="also measure 10k vs 100k messages")
    p.add_argument("--quick", action="store_true", help="only the acceptance scenario")
    p.add_argument("--memory-only", action="store_true", help="only the memory comparison")
    p.add_argument(
        "--console", action="store_true", help="only the console channel's msg/s, rate set high"
    )
    p.add_argument("--messages", type=int, default=100_000, help="messages for --console")
    a = p.parse_args()
    if a.console:
        print(json.dumps(console_rate(a.messages)), flush=True)
        return
    grid = [(3000, 200, 40)]
    if not a.quick:
        grid = [(1000, 50, 10), (2000, 100, 20), (2000, 200, 10), *grid, (4000, 400, 80)]
    rows = []
    if a.memory_only:
        grid, a.memory = [], True
    with fake_twilio(LATENCY_S * 1000) as url:
        for n, rate, conc in grid:
            row = scenario(url, n, rate, conc)
            row["ratio"] = round(row["sustained"] / row["target"], 3)
            rows.append(row)
            print(json.dumps(row), flush=True)
    if a.memory:
        for n in (10_000, 100_000):
            print(json.dumps(heap_scenario(n)), flush=True)
        with fake_twilio(0) as url:
            for n in (10_000, 100_000):
                row = scenario(url, n, 2000, 100)
                rows.append(row)
                print(json.dumps(row), flush=True)
    print("\n| messages | rate | concurrency | target | sustained | ratio | max 1 s | RSS MB |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(
            f"| {r['messages']} | {r['rate']} | {r['concurrency']} | {r['target']:.0f} | "
            f"{r['sustained']} | {r.get('ratio', '')} | {r['max_1s_window']} | "
            f"{r['rss_peak_mb']} |"
        )


if __name__ == "__main__":
    main()
