"""Outbox rows and a dispatch helper for the channel and dispatch tests.

Runs and contacts are written directly (status pending, phone, body): selecting and
rendering them is the campaign side's business, not the dispatcher's.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from devtools.fake_twilio import RunningFake
from revisit.db.tables import Campaign, CampaignRun, Contact, Customer, Message
from revisit.delivery.channels.base import Channel
from revisit.delivery.dispatch import DispatchSummary, dispatch_run
from revisit.settings import DEFAULT_STORE_ID

_runs = itertools.count(1)
ALL_DAY = {"start": "00:00", "end": "23:59:59"}  # all but the day's last second


def phone(i: int, run: int = 0) -> str:
    return f"+86139{run:02d}{i:06d}"


def make_run(
    engine: Engine,
    n: int,
    *,
    body: Callable[[int], str] | None = None,
    phones: Callable[[int], str | None] | None = None,
    as_of: dt.date = dt.date(2025, 3, 1),
    send_window: dict[str, str] | None = ALL_DAY,
) -> int:
    """A campaign run with ``n`` pending SMS contacts, one customer each; returns its id.

    Its campaign sends at any hour (``send_window``) unless a test gives it a window: the
    send-window tests inject the clock they check it against."""
    k = next(_runs)
    campaign = f"maintenance_due_{k}"
    body = body or (lambda i: f"【服务站】尊敬的客户{i}，您的爱车保养已到期，欢迎预约。")
    phones = phones or (lambda i: phone(i, k))
    with engine.begin() as conn:
        conn.execute(
            insert(Campaign.__table__),  # type: ignore[attr-defined]
            [
                {
                    "name": campaign,
                    "cohort": "maintenance_due",
                    "channel": "sms",
                    "priority": 1,
                    "definition": {"send_window": send_window} if send_window else {},
                    "updated_at": dt.datetime.now(dt.UTC),
                }
            ],
        )
        run_id = conn.execute(
            insert(CampaignRun.__table__)  # type: ignore[attr-defined]
            .values(
                campaign=campaign,
                as_of=as_of,
                status="planned",
                dry_run=False,
                started_at=dt.datetime.now(dt.UTC),
                counts={},
            )
            .returning(CampaignRun.__table__.c.id)  # type: ignore[attr-defined]
        ).scalar_one()
        ids = [f"K{k:03d}C{i:06d}" for i in range(n)]
        conn.execute(
            insert(Customer.__table__),  # type: ignore[attr-defined]
            [
                {
                    "customer_id": cid,
                    "name": f"客户{i}",
                    "phone": phones(i),
                    "phone_type": "mobile",
                    "phone_invalid": False,
                    "store_id": DEFAULT_STORE_ID,
                    "consent_sms": True,
                    "language": "zh",
                }
                for i, cid in enumerate(ids)
            ],
        )
        conn.execute(
            insert(Contact.__table__),  # type: ignore[attr-defined]
            [
                {
                    "run_id": run_id,
                    "campaign": campaign,
                    "as_of": as_of,
                    "customer_id": cid,
                    "vins": [],
                    "channel": "sms",
                    "priority": 1,
                    "status": "pending",
                    "phone": phones(i),
                    "body": body(i),
                    "attempts": 0,
                    "created_at": dt.datetime.now(dt.UTC),
                }
                for i, cid in enumerate(ids)
            ],
        )
    return int(run_id)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def dispatch(engine: Engine, channel_factory: Callable[[], Channel], **kw: Any) -> DispatchSummary:
    """Run :func:`dispatch_run` to the end in a fresh event loop (closing the channel)."""
    kw.setdefault("clock", utcnow)
    kw.setdefault("rate", 500.0)
    kw.setdefault("concurrency", 20)
    kw.setdefault("lease_seconds", 2.0)
    kw.setdefault("settle_seconds", 0.3)

    async def go() -> DispatchSummary:
        channel = channel_factory()
        try:
            return await dispatch_run(engine, channel=channel, **kw)
        finally:
            await channel.aclose()

    return asyncio.run(go())


def contact_statuses(engine: Engine, run_id: int) -> dict[str, str]:
    """Phone → contact status for the run."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(col(Contact.phone), col(Contact.status)).where(Contact.run_id == run_id)
        ).all()
    return {str(p): str(s) for p, s in rows}


def message_sids(engine: Engine, run_id: int) -> dict[str, str]:
    """Phone → provider sid of the run's recorded messages (one per contact at most)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(col(Message.to_phone), col(Message.provider_sid))
            .join(Contact, col(Contact.id) == col(Message.contact_id))
            .where(Contact.run_id == run_id)
        ).all()
    out: dict[str, str] = {}
    for to, sid in rows:
        assert to not in out, f"two Message rows for {to}"
        out[str(to)] = str(sid)
    return out


ROOT = Path(__file__).resolve().parent.parent


def start_worker(db_url: str, fake: RunningFake, run_id: int) -> subprocess.Popen[bytes]:
    """``revisit dev dispatch-run`` for the run in a subprocess, against the fake."""
    env = {**os.environ, **fake.env(), "REVISIT_DATABASE_URL": db_url}
    args = ["--run-id", str(run_id), "--rate", "400", "--concurrency", "20",
            "--lease-seconds", "1", "--settle-seconds", "0.3", "--read-timeout", "0.5",
            # a loaded machine times out more answers: they are reconciled, not a reason to
            # pause the run these tests drive to the end
            "--max-consecutive-failures", "100000"]  # fmt: skip
    return subprocess.Popen(
        [sys.executable, "-m", "revisit.cli", "dev", "dispatch-run", *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def kill_after(proc: subprocess.Popen[bytes], fake: RunningFake, count: int) -> None:
    """SIGKILL the worker once the fake has accepted ``count`` messages."""
    deadline = time.monotonic() + 30
    while len(fake.fake.snapshot()) < count and time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
