"""One send rate per provider account on PostgreSQL, whatever the number of dispatchers,
runs and processes (revisit.delivery.sharedrate)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from devtools.fake_twilio import (
    FakeConfig,
    FakeTwilio,
    RunningFake,
    max_in_window,
    serve_fake_twilio,
)
from revisit.delivery.ratelimit import RateLimiter
from revisit.delivery.sharedrate import SharedRateLimiter, account_limiter
from tests.dispatch_support import contact_statuses, make_run

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def pg(engine: Engine) -> Engine:
    if engine.dialect.name != "postgresql":
        pytest.skip("the shared send rate lives in PostgreSQL (SQLite has one dispatcher)")
    return engine


@pytest.fixture
def fake() -> Iterator[RunningFake]:
    with serve_fake_twilio(FakeTwilio(FakeConfig(seed=3, latency_ms=5))) as running:
        yield running


def test_limiters_of_one_account_share_its_rate(pg: Engine) -> None:
    async def go() -> list[float]:
        limiters = [SharedRateLimiter(pg, key="twilio:AC1", rate=100) for _ in range(3)]
        starts: list[float] = []

        async def use(limiter: SharedRateLimiter) -> None:
            for _ in range(60):
                await limiter.acquire()
                starts.append(time.monotonic())

        await asyncio.gather(*(use(lim) for lim in limiters))
        return sorted(starts)

    starts = asyncio.run(go())
    assert len(starts) == 180
    assert max_in_window(starts, 1.0) <= 105  # 100/s together, not 300/s
    assert starts[-1] - starts[0] >= 1.7  # 180 starts at 100/s take 1.8 s


def test_other_accounts_have_their_own_rate(pg: Engine) -> None:
    async def go() -> float:
        a = SharedRateLimiter(pg, key="twilio:AC-a", rate=50)
        b = SharedRateLimiter(pg, key="twilio:AC-b", rate=50)
        t0 = time.monotonic()
        await asyncio.gather(*(lim.acquire() for lim in (a, b) for _ in range(25)))
        return time.monotonic() - t0

    assert asyncio.run(go()) < 0.9  # 25 each at 50/s: half a second, not one


def test_slots_gone_by_are_dropped_not_sent_in_a_burst(pg: Engine) -> None:
    async def go() -> list[float]:
        limiter = SharedRateLimiter(pg, key="twilio:AC-late", rate=50, block=10)
        await limiter.acquire()  # reserves 10 slots, uses one
        await asyncio.sleep(0.5)  # the other nine go by unused
        starts = []
        for _ in range(10):
            await limiter.acquire()
            starts.append(time.monotonic())
        return starts

    starts = asyncio.run(go())
    # The nine missed slots are not caught up: 10 starts at 50/s span 9 slots of 20 ms, and
    # no 100 ms holds more than its 5 slots (+1 for a start a busy machine delayed past its
    # slot, which the next one then follows closely). A burst would put 9 in a few ms.
    assert starts[-1] - starts[0] >= 0.15, starts
    assert max_in_window(starts, 0.1) <= 6, starts


def test_without_an_account_or_on_sqlite_the_rate_is_the_process_own(engine: Engine) -> None:
    assert isinstance(account_limiter(engine, key=None, rate=50), RateLimiter)
    shared = account_limiter(engine, key="twilio:AC1", rate=50)
    assert isinstance(shared, SharedRateLimiter) == (engine.dialect.name == "postgresql")


def _worker(db_url: str, fake: RunningFake, run_id: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, **fake.env(), "REVISIT_DATABASE_URL": db_url}
    return subprocess.Popen(
        [sys.executable, "-m", "revisit.cli", "dev", "dispatch-run", "--run-id", str(run_id),
         "--rate", "50", "--concurrency", "20"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip


@pytest.mark.slow
def test_two_workers_asked_for_50_per_second_reach_the_provider_at_50(
    pg: Engine, db_url: str, fake: RunningFake
) -> None:
    runs = [make_run(pg, 200), make_run(pg, 200)]
    workers = [_worker(db_url, fake, run_id) for run_id in runs]
    for w in workers:
        _out, err = w.communicate(timeout=120)
        assert w.returncode == 0, err.decode()
    for run_id in runs:
        assert set(contact_statuses(pg, run_id).values()) == {"sent"}
    arrivals = sorted(m.arrived for m in fake.fake.snapshot())
    assert len(arrivals) == 400 and fake.fake.duplicates() == {}
    assert max_in_window(arrivals, 1.0) <= 55
