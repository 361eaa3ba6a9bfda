"""The rate limiter and the retry backoff: properties on a virtual clock, and the rate as the
fake provider measures it."""

from __future__ import annotations

import asyncio
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from devtools.fake_twilio import FakeConfig, FakeTwilio, max_in_window, serve_fake_twilio
from revisit.delivery.channels.twilio import TwilioChannel
from revisit.delivery.ratelimit import RateLimiter, backoff_delay
from tests.dispatch_support import dispatch, make_run


class VirtualClock:
    """Time that only moves when someone sleeps, plus a late wake-up to mimic a busy loop."""

    def __init__(self, oversleep: list[float]) -> None:
        self.t = 0.0
        self.oversleep = oversleep

    def __call__(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        extra = self.oversleep.pop() if self.oversleep else 0.0
        self.t += max(0.0, seconds) + extra
        await asyncio.sleep(0)


def grant_times(rate: float, gaps: list[float], oversleep: list[float]) -> list[float]:
    clock = VirtualClock(list(oversleep))
    limiter = RateLimiter(rate, clock=clock, sleep=clock.sleep)

    async def go() -> list[float]:
        out = []
        for gap in gaps:
            clock.t += gap  # the caller shows up after some idle time
            out.append(await limiter.acquire())
        return out

    return asyncio.run(go())


@settings(max_examples=200, deadline=None)
@given(
    rate=st.sampled_from([1.0, 3.0, 10.0, 50.0, 200.0]),
    gaps=st.lists(
        st.sampled_from([0.0, 0.0, 0.0, 0.001, 0.05, 0.3, 1.5]), min_size=1, max_size=400
    ),
    oversleep=st.lists(st.floats(0, 0.02), max_size=400),
)
def test_no_one_second_window_holds_more_than_rate(
    rate: float, gaps: list[float], oversleep: list[float]
) -> None:
    times = grant_times(rate, gaps, oversleep)
    assert times == sorted(times)
    # Starts exactly one second apart are in different half-open windows; 1 ns of float slack.
    assert max_in_window(times, 1.0 - 1e-9) <= int(rate)


@given(rate=st.sampled_from([5.0, 20.0, 200.0]), n=st.integers(2, 600))
def test_back_to_back_callers_get_the_full_rate(rate: float, n: int) -> None:
    times = grant_times(rate, [0.0] * n, [])
    assert times[-1] - times[0] == pytest.approx((n - 1) / rate)


def test_rate_must_be_positive() -> None:
    with pytest.raises(ValueError):
        RateLimiter(0)


@given(
    attempt=st.integers(1, 12),
    retry_after=st.one_of(st.none(), st.floats(0, 60)),
    seed=st.integers(0, 2**32),
)
def test_backoff_honours_retry_after_and_is_capped(
    attempt: int, retry_after: float | None, seed: int
) -> None:
    delay = backoff_delay(
        attempt, retry_after=retry_after, base=0.5, cap=30.0, rng=random.Random(seed)
    )
    floor = retry_after or 0.0
    assert floor <= delay <= floor + min(30.0, 0.5 * 2 ** (attempt - 1))


def test_backoff_is_jittered() -> None:
    rng = random.Random(1)
    assert len({round(backoff_delay(4, rng=rng), 6) for _ in range(20)}) > 15


def test_rate_measured_at_the_provider(engine: Engine) -> None:
    """Concurrent tasks on the real loop: the fake sees every message and no one-second window
    above the rate (a little slack for the network). How close to the rate a run comes is a
    throughput figure, measured by ``bench.dispatch``; the limiter granting back-to-back callers
    the full rate is checked on the virtual clock above."""
    with serve_fake_twilio(FakeTwilio(FakeConfig(latency_ms=20))) as fake:
        run_id = make_run(engine, 240)
        dispatch(
            engine, lambda: TwilioChannel(fake.settings()), run_id=run_id, rate=80, concurrency=10
        )
        arrivals = sorted(m.arrived for m in fake.fake.snapshot())
    assert len(arrivals) == 240
    assert max_in_window(arrivals, 1.0) <= 80 + 4
