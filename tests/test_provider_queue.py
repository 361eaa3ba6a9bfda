"""Reconciliation finds every message the provider accepted, in any state — above all the
ones still in its queue (no DateSent yet), which a ``DateSent>=`` listing misses: a run
killed twice while the provider queued for minutes once sent 64 duplicates out of 1,353.

The fake Twilio models the queue: an accepted message stays ``queued`` (``accepted``
through a Messaging Service) with no ``date_sent`` for ``queue_seconds``, or behind a
sender limited to ``sender_per_second``; ``DateSent`` filters leave those out.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy.engine import Engine

from devtools.fake_twilio import FakeConfig, FakeTwilio, RunningFake, serve_fake_twilio
from revisit.delivery import outbox
from revisit.delivery.channels.base import ProviderMessage
from revisit.delivery.channels.twilio import TwilioChannel, timeouts
from tests.dispatch_support import (
    contact_statuses,
    dispatch,
    kill_after,
    make_run,
    message_sids,
    start_worker,
    utcnow,
)

PHONE = "+8613912345678"
MINUTES = 600.0  # a provider queue of ten minutes: nothing leaves it during a test


class Clock:
    """Simulated time for the fake: starts at ``start`` and moves only when told."""

    def __init__(self, start: dt.datetime) -> None:
        self.at = start

    def __call__(self) -> dt.datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += dt.timedelta(seconds=seconds)


@pytest.fixture
def queued_fake() -> Iterator[RunningFake]:
    with serve_fake_twilio(FakeTwilio(FakeConfig(seed=3, queue_seconds=MINUTES))) as running:
        yield running


def api(fake: RunningFake) -> httpx.Client:
    cfg = fake.fake.config
    return httpx.Client(
        base_url=f"{fake.base_url}/2010-04-01/Accounts/{cfg.account_sid}",
        auth=(cfg.account_sid, cfg.auth_token),
    )


def find(fake: RunningFake, *, to: str, since: dt.datetime, body: str) -> list[ProviderMessage]:
    channel = TwilioChannel(fake.settings())

    async def go() -> list[ProviderMessage]:
        try:
            return await channel.find_sent(to=to, since=since, body=body)
        finally:
            await channel.aclose()

    return asyncio.run(go())


# --- the fake behaves like Twilio ---------------------------------------------------------


def test_an_accepted_message_stays_queued_without_date_sent_until_it_leaves() -> None:
    clock = Clock(dt.datetime(2026, 11, 30, 2, 0, tzinfo=dt.UTC))
    fake = FakeTwilio(FakeConfig(queue_seconds=300), clock=clock)
    with serve_fake_twilio(fake) as running, api(running) as c:
        made = c.post("/Messages.json", data={"To": PHONE, "From": "+15005550006", "Body": "你好"})
        assert made.status_code == 201
        assert (made.json()["status"], made.json()["date_sent"]) == ("queued", None)
        sid = made.json()["sid"]
        by_day = {"To": PHONE, "DateSent>": "2026-11-30"}
        assert c.get("/Messages.json", params=by_day).json()["messages"] == []
        [listed] = c.get("/Messages.json", params={"To": PHONE}).json()["messages"]
        assert (listed["sid"], listed["status"], listed["date_sent"]) == (sid, "queued", None)
        clock.advance(299)
        assert c.get(f"/Messages/{sid}.json").json()["status"] == "queued"
        clock.advance(1)
        fetched = c.get(f"/Messages/{sid}.json").json()
        assert fetched["status"] == "sent" and fetched["date_sent"].endswith("02:05:00 +0000")
        assert [m["sid"] for m in c.get("/Messages.json", params=by_day).json()["messages"]] == [
            sid
        ]
        assert running.fake.queued() == []


def test_a_rate_limited_sender_builds_a_backlog_and_a_service_message_is_accepted() -> None:
    clock = Clock(dt.datetime(2026, 11, 30, 2, 0, tzinfo=dt.UTC))
    fake = FakeTwilio(FakeConfig(sender_per_second=0.5), clock=clock)  # one every 2 s
    with serve_fake_twilio(fake) as running, api(running) as c:
        for i in range(3):
            form = {"To": f"+861391234567{i}", "MessagingServiceSid": "MG" + "a" * 32, "Body": "x"}
            assert c.post("/Messages.json", data=form).json()["status"] == "accepted"
        assert len(running.fake.queued()) == 2  # the first left at once, two wait
        statuses = [m["status"] for m in c.get("/Messages.json").json()["messages"]]
        assert sorted(statuses) == ["accepted", "accepted", "sent"]
        clock.advance(2)
        assert len(running.fake.queued()) == 1
        clock.advance(2)
        assert running.fake.queued() == []


# --- the channel finds queued messages ----------------------------------------------------


@pytest.mark.parametrize(
    "case",
    ["queued", "accepted-by-a-messaging-service", "queued-since-before-gmt-midnight", "page-3"],
)
def test_find_sent_finds_a_message_still_in_the_queue(case: str) -> None:
    start = dt.datetime(2026, 11, 29, 23, 59, 30, tzinfo=dt.UTC)
    clock = Clock(start)
    fake = FakeTwilio(FakeConfig(queue_seconds=4 * 3600), clock=clock)  # hours of backlog
    with serve_fake_twilio(fake) as running:
        sender = {"MessagingServiceSid": "MG" + "b" * 32} if "service" in case else {"From": "+1"}
        old = running.fake._create({"To": PHONE, "Body": "保养提醒", **sender}, 0.0, None)
        old.created -= dt.timedelta(days=3)  # the same text, sent days ago: not this run's
        old.queued_for = dt.timedelta(0)
        target = running.fake._create({"To": PHONE, "Body": "保养提醒", **sender}, 0.0, None)
        clock.advance(60)  # past GMT midnight: DateSent>=today would never list it
        if case == "page-3":  # a shared phone with many newer messages
            for i in range(230):
                running.fake._create({"To": PHONE, "Body": f"其他{i}", "From": "+1"}, 0.0, None)
        found = find(running, to=PHONE, since=start - dt.timedelta(seconds=5), body="保养提醒")
        assert [m.sid for m in found] == [target.sid]
        assert found[0].status in ("queued", "accepted") and found[0].sent_at is None


def test_find_sent_stops_paging_once_it_reaches_before_the_run() -> None:
    fake = FakeTwilio(FakeConfig(queue_seconds=MINUTES))
    with serve_fake_twilio(fake) as running:
        for i in range(250):  # history of that phone, all before the run
            m = running.fake._create({"To": PHONE, "Body": f"旧{i}", "From": "+1"}, 0.0, None)
            m.created -= dt.timedelta(days=1)
        since = utcnow()
        target = running.fake._create({"To": PHONE, "Body": "新", "From": "+1"}, 0.0, None)
        found = find(running, to=PHONE, since=since - dt.timedelta(seconds=1), body="新")
        assert [m.sid for m in found] == [target.sid]
        assert running.fake.list_requests == 1


# --- the dispatcher never sends twice while the provider queues ------------------------------


def assert_each_phone_once(engine: Engine, run_id: int, fake: RunningFake) -> None:
    statuses = contact_statuses(engine, run_id)
    assert set(statuses.values()) == {"sent"}, statuses
    assert fake.fake.duplicates() == {}
    assert set(fake.fake.per_phone()) == set(statuses)
    assert message_sids(engine, run_id) == {m.to: m.sid for m in fake.fake.snapshot()}


def test_a_dead_workers_sends_still_queued_are_reconciled_not_resent(
    engine: Engine, queued_fake: RunningFake
) -> None:
    run_id = make_run(engine, 10)
    past = utcnow() - dt.timedelta(seconds=5)
    claimed = outbox.claim(
        engine, run_id=run_id, worker="dead", now=past, lease_until=past, limit=10
    )
    for c in claimed[:4]:  # accepted just before the crash, still in the provider's queue
        assert c.phone and c.body
        queued_fake.fake._create({"To": c.phone, "Body": c.body, "From": "+1"}, 0.0, None)
    assert len(queued_fake.fake.queued()) == 4
    summary = dispatch(engine, lambda: TwilioChannel(queued_fake.settings()), run_id=run_id)
    assert (summary.reconciled_sent, summary.reconciled_pending, summary.sent) == (4, 6, 6)
    assert_each_phone_once(engine, run_id, queued_fake)


@pytest.mark.parametrize(
    "trouble",
    [{"fail_after_create_rate": 0.3}, {"timeout_rate": 0.2, "hang_seconds": 3.0}],
    ids=["500-after-create", "timeout-after-create"],
)
def test_unknown_outcomes_are_found_in_the_queue_never_resent(
    engine: Engine, queued_fake: RunningFake, trouble: dict[str, float]
) -> None:
    for key, value in trouble.items():
        setattr(queued_fake.fake.config, key, value)
    run_id = make_run(engine, 60)
    summary = dispatch(
        engine,
        lambda: TwilioChannel(queued_fake.settings(), timeout=timeouts(0.4)),
        run_id=run_id,
        max_consecutive_failures=1000,
    )
    assert summary.status == "done" and summary.reconciled_sent > 0
    assert len(queued_fake.fake.queued()) == 60  # none had left the queue
    assert_each_phone_once(engine, run_id, queued_fake)


@pytest.mark.slow
def test_killed_twice_while_the_provider_queues_for_minutes_sends_no_duplicate(
    db_url: str, engine: Engine, queued_fake: RunningFake
) -> None:
    fake = queued_fake.fake
    fake.config.latency_ms = 20
    fake.config.fail_after_create_rate = 0.02
    fake.config.timeout_rate = 0.01
    fake.config.hang_seconds = 2
    run_id = make_run(engine, 1353)
    kill_after(start_worker(db_url, queued_fake, run_id), queued_fake, 300)
    kill_after(start_worker(db_url, queued_fake, run_id), queued_fake, 800)
    left = contact_statuses(engine, run_id)
    assert "sending" in left.values() or "unknown" in left.values()
    started = time.monotonic()
    final = start_worker(db_url, queued_fake, run_id)
    out, err = final.communicate(timeout=180)
    assert final.returncode == 0, err.decode()
    assert '"status": "done"' in out.decode(), out.decode()
    assert time.monotonic() - started < MINUTES  # so every message was still queued
    assert len(fake.queued()) == len(fake.snapshot()) == 1353
    assert_each_phone_once(engine, run_id, queued_fake)
