"""Dispatch in batches: a fixed set of senders rather than a task per message, claims sized
by the rate, outcomes recorded per group, and a sender's own fault stopping the run without
ever resending the contact it held."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from revisit.campaigns.statuses import ContactStatus
from revisit.delivery import outbox
from revisit.delivery.channels.base import OutgoingSms, SendResult
from revisit.delivery.channels.console import ConsoleChannel
from revisit.delivery.dispatch import dispatch_run
from revisit.delivery.run_state import Tuning, recorded
from tests.dispatch_support import contact_statuses, make_run, utcnow


def _run(engine: Engine, run_id: int, channel: ConsoleChannel, **kw: Any) -> tuple[Any, int]:
    """Dispatch to the end; returns the summary and how many tasks the event loop made."""
    made = 0

    def factory(loop: asyncio.AbstractEventLoop, coro: Any, **task_kw: Any) -> asyncio.Task[Any]:
        nonlocal made
        made += 1
        return asyncio.Task(coro, loop=loop, **task_kw)

    async def go() -> Any:
        asyncio.get_running_loop().set_task_factory(factory)
        return await dispatch_run(engine, run_id=run_id, channel=channel, clock=utcnow, **kw)

    summary = asyncio.run(go())
    return summary, made


def _counting(monkeypatch: pytest.MonkeyPatch, name: str) -> list[int]:
    calls: list[int] = []
    real: Callable[..., Any] = getattr(outbox, name)

    def counted(*args: Any, **kw: Any) -> Any:
        result = real(*args, **kw)
        calls.append(len(result) if isinstance(result, list) else len(kw.get("outcomes", ())))
        return result

    monkeypatch.setattr(outbox, name, counted)
    return calls


def test_senders_are_a_fixed_few_tasks_not_one_per_message(engine: Engine) -> None:
    run_id = make_run(engine, 600)
    stream = io.StringIO()
    summary, tasks = _run(engine, run_id, ConsoleChannel(stream), rate=100_000, concurrency=5)
    assert summary.sent == 600
    assert set(contact_statuses(engine, run_id).values()) == {"sent"}
    assert stream.getvalue().count("[sms ") == 600
    assert tasks <= 5 + 10  # the senders, lease renewal and the flusher; never per message


def test_claims_follow_the_rate_and_outcomes_are_recorded_per_group(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    claims, records = _counting(monkeypatch, "claim"), _counting(monkeypatch, "record")
    run_id = make_run(engine, 1200)
    summary, _ = _run(engine, run_id, ConsoleChannel(io.StringIO()), rate=5000, concurrency=10)
    assert summary.sent == 1200
    assert claims[:3] == [500, 500, 200]  # a tenth of a second's worth each
    assert set(claims[3:]) == {0} and len(claims) <= 5  # then none left
    assert sum(records) == 1200 and len(records) < 1200 / 10


@pytest.mark.parametrize(
    ("rate", "concurrency", "size"),
    # a slow run claims what its requests in flight can take, no more: a pause stops it there
    [(50, 10, 20), (400, 80, 160), (5000, 10, 500), (1e6, 10, 500), (0.2, 1, 2), (5, 3, 6)],
)
def test_claim_size_is_a_tenth_of_a_second_or_two_per_request(
    rate: float, concurrency: int, size: int
) -> None:
    tuning = Tuning.of(
        rate=rate, concurrency=concurrency, batch_size=500, max_retries=8,
        max_consecutive_failures=20, lease_seconds=30, settle_seconds=30,
    )  # fmt: skip
    assert tuning.claim_size == size


class _FaultyConsole(ConsoleChannel):
    """Sends like the console, but its own code fails on the ``bad``-th message."""

    def __init__(self, bad: int) -> None:
        super().__init__(io.StringIO())
        self.bad, self.calls = bad, 0

    async def send(self, sms: OutgoingSms) -> SendResult:
        self.calls += 1
        if self.calls == self.bad:
            raise RuntimeError("a fault in the channel")
        return await super().send(sms)


def test_a_fault_in_a_sender_stops_the_run_and_its_contact_is_never_resent(
    engine: Engine,
) -> None:
    run_id = make_run(engine, 300)
    with pytest.raises(RuntimeError, match="a fault in the channel"):
        _run(engine, run_id, _FaultyConsole(bad=50), rate=100_000, concurrency=4)
    statuses = list(contact_statuses(engine, run_id).values())
    # The faulty one keeps its lease (reconciled later, not resent); the rest are sent or
    # back in the queue, never lost.
    assert statuses.count("sending") == 1
    assert set(statuses) <= {"sent", "pending", "sending"}
    assert statuses.count("sent") >= 49
    later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5)
    again = outbox.claim_for_reconcile(engine, run_id=run_id, worker="w2", now=later,
                                       lease_until=later, limit=10)  # fmt: skip
    assert [c.status for c in again] == ["sending"]


def test_a_worker_never_reconciles_its_own_contacts_in_flight(engine: Engine) -> None:
    """A lease renewal that came late lets a claim's lease expire while its worker still
    holds it: that worker must not ask the provider about it (the request may not be
    recorded there yet, and a "not found" would send it again); another worker may, as
    it does a dead worker's. Its own settled ``unknown`` rows it reconciles itself."""
    run_id = make_run(engine, 6)
    now = dt.datetime.now(dt.UTC)
    held = outbox.claim(engine, run_id=run_id, worker="w1", now=now,
                        lease_until=now + dt.timedelta(seconds=1), limit=4)  # fmt: skip
    assert len(held) == 4
    outbox.record(engine, outcomes=[recorded(held[0], ContactStatus.UNKNOWN, None,
                                             settle_until=now)],
                  worker="w1", provider="console", now=now)  # fmt: skip
    later = now + dt.timedelta(minutes=5)
    own = outbox.claim_for_reconcile(engine, run_id=run_id, worker="w1", now=later,
                                     lease_until=later, limit=10)  # fmt: skip
    assert [c.id for c in own] == [held[0].id]  # its settled unknown only
    other = outbox.claim_for_reconcile(engine, run_id=run_id, worker="w2", now=later,
                                       lease_until=later, limit=10)  # fmt: skip
    assert sorted(c.id for c in other) == sorted(c.id for c in held[1:])
