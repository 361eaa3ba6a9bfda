"""Status-callback throughput of ``revisit serve``: ``python -m bench.webhooks``.

A database gets N sent messages; ``revisit serve`` runs in its own process (one uvicorn
worker, as deployed); a client posts, ``--concurrency`` at a time, a signed ``sent`` then a
signed ``delivered`` callback for every message, as Twilio does while a run is sending. The
figure is callbacks per second, with latency percentiles; afterwards every message must be
``delivered`` and nothing left pending.

    python -m bench.webhooks --messages 5000 [--pg postgresql+psycopg://…]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, insert, select
from twilio.request_validator import RequestValidator

from bench.dispatch import _free_port
from revisit.db.engine import create_db_engine
from revisit.db.tables import (
    CAMPAIGNS,
    CONTACTS,
    CUSTOMERS,
    MESSAGES,
    PENDING_CALLBACKS,
    RUNS,
)
from revisit.entry.engine import open_engine

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-auth-token"


def seed(url: str, n: int) -> list[str]:
    """N customers, each with one sent contact and its queued message; their SIDs."""
    engine = open_engine(url)
    now = dt.datetime.now(dt.UTC)
    sids = [f"SM{i:032d}" for i in range(n)]
    with engine.begin() as conn:
        conn.execute(
            insert(CAMPAIGNS).values(
                name="bench", cohort="maintenance_due", channel="sms", definition={}, updated_at=now
            )
        )
        run_id = conn.execute(
            insert(RUNS).values(campaign="bench", as_of=now.date(), status="done",
                                dry_run=False, started_at=now, counts={})
            .returning(RUNS.c.id)
        ).scalar_one()  # fmt: skip
        conn.execute(insert(CUSTOMERS), [
            {"customer_id": f"B{i:07d}", "name": "客户", "phone": f"+86139{i:08d}",
             "store_id": "default", "consent_sms": True, "language": "zh",
             "phone_invalid": False}
            for i in range(n)
        ])  # fmt: skip
        ids = conn.execute(
            insert(CONTACTS).returning(CONTACTS.c.id).values([
                {"run_id": run_id, "campaign": "bench", "as_of": now.date(),
                 "customer_id": f"B{i:07d}", "vins": [], "channel": "sms", "priority": 1,
                 "status": "sent", "attempts": 1, "created_at": now}
                for i in range(n)
            ])
        ).scalars().all()  # fmt: skip
        conn.execute(insert(MESSAGES), [
            {"contact_id": cid, "provider": "twilio", "provider_sid": sid,
             "to_phone": f"+86139{i:08d}", "body": "x", "segments": 1, "status": "queued",
             "created_at": now, "updated_at": now}
            for i, (cid, sid) in enumerate(zip(ids, sids, strict=True))
        ])  # fmt: skip
    engine.dispose()
    return sids


async def post_all(base: str, sids: list[str], concurrency: int) -> list[float]:
    validator = RequestValidator(TOKEN)
    url = f"{base}/twilio/status"
    latencies: list[float] = []
    queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
    for status in ("sent", "delivered"):
        for sid in sids:
            queue.put_nowait((sid, status))

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            sid, status = queue.get_nowait()
            form = {"MessageSid": sid, "MessageStatus": status, "AccountSid": "AC1"}
            headers = {"X-Twilio-Signature": validator.compute_signature(url, form)}
            started = time.perf_counter()
            resp = await client.post(url, data=form, headers=headers)
            latencies.append(time.perf_counter() - started)
            resp.raise_for_status()

    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return latencies


def run(url: str, n: int, concurrency: int) -> dict[str, Any]:
    sids = seed(url, n)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "REVISIT_DATABASE_URL": url, "TWILIO_AUTH_TOKEN": TOKEN,
           "REVISIT_PUBLIC_URL": base}  # fmt: skip
    proc = subprocess.Popen(
        [sys.executable, "-m", "revisit.cli", "serve", "--port", str(port)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        for _ in range(300):
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        started = time.perf_counter()
        latencies = asyncio.run(post_all(base, sids, concurrency))
        elapsed = time.perf_counter() - started
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    engine = create_db_engine(url)
    with engine.connect() as conn:
        delivered = conn.execute(
            select(func.count()).where(MESSAGES.c.status == "delivered")
        ).scalar_one()
        pending = conn.execute(select(func.count()).select_from(PENDING_CALLBACKS)).scalar_one()
    engine.dispose()
    q = statistics.quantiles(latencies, n=100)
    return {
        "database": url.split(":", 1)[0], "messages": n, "callbacks": len(latencies),
        "concurrency": concurrency, "seconds": round(elapsed, 2),
        "callbacks_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(q[49] * 1000, 1), "p95_ms": round(q[94] * 1000, 1),
        "delivered": delivered, "pending_left": pending,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--pg", help="an empty PostgreSQL database URL to measure too")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        print(run(f"sqlite:///{tmp}/bench.db", args.messages, args.concurrency))
    if args.pg:
        engine = create_db_engine(args.pg)
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP SCHEMA public CASCADE")
            conn.exec_driver_sql("CREATE SCHEMA public")
        engine.dispose()
        print(run(args.pg, args.messages, args.concurrency))


if __name__ == "__main__":
    main()
