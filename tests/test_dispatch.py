"""The dispatcher against the fake Twilio on loopback, on SQLite and PostgreSQL: every
contact sent at most once whatever the provider or the process does."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from devtools.fake_twilio import FakeConfig, FakeTwilio, RunningFake, serve_fake_twilio
from revisit.campaigns.window import parse_window, window_check
from revisit.db.tables import CampaignRun, Contact, Customer, Message, OptOut
from revisit.delivery import outbox
from revisit.delivery.channels.base import Channel, OutgoingSms, ProviderMessage, SendResult
from revisit.delivery.channels.twilio import TwilioChannel, timeouts
from revisit.errors import ProviderError
from tests.dispatch_support import (
    contact_statuses,
    dispatch,
    kill_after,
    make_run,
    message_sids,
    start_worker,
    utcnow,
)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def fake() -> Iterator[RunningFake]:
    with serve_fake_twilio(FakeTwilio(FakeConfig(seed=7))) as running:
        yield running


def twilio(fake: RunningFake, read_timeout: float = 2.0, **settings: str) -> TwilioChannel:
    return TwilioChannel(fake.settings(**settings), timeout=timeouts(read_timeout))


def assert_exactly_once(engine: Engine, run_id: int, fake: RunningFake) -> None:
    """Every contact sent, each phone reached once, and our sids are the provider's."""
    statuses = contact_statuses(engine, run_id)
    assert set(statuses.values()) == {"sent"}, statuses
    assert fake.fake.duplicates() == {}
    assert set(fake.fake.per_phone()) == set(statuses)
    sids = message_sids(engine, run_id)
    assert sids == {m.to: m.sid for m in fake.fake.snapshot()}


def run_status(engine: Engine, run_id: int) -> CampaignRun:
    with Session(engine) as s:
        run = s.get(CampaignRun, run_id)
        assert run is not None
        return run


def test_sends_each_pending_contact_once_and_records_the_message(
    engine: Engine, fake: RunningFake
) -> None:
    long_body = "尊敬的客户，" + "您的爱车已到保养里程，" * 8  # > 70 UCS-2 units
    run_id = make_run(engine, 40, body=lambda i: long_body + str(i))
    summary = dispatch(engine, lambda: twilio(fake), run_id=run_id)
    assert (summary.status, summary.sent, summary.remaining) == ("done", 40, 0)
    assert_exactly_once(engine, run_id, fake)
    run = run_status(engine, run_id)
    assert run.status == "done" and run.finished_at is not None
    assert run.counts["dispatch"]["by_status"] == {"sent": 40}
    with Session(engine) as s:
        contact = s.exec(select(Contact).where(Contact.run_id == run_id)).first()
        assert contact is not None and contact.sent_at is not None and contact.claimed_by is None
    tokens = {m.idempotency_token for m in fake.fake.snapshot()}
    assert len(tokens) == 40 and all(t and t.startswith("revisit-contact-") for t in tokens)
    assert {m.num_segments for m in fake.fake.snapshot()} == {2}  # 86-87 UCS-2 units
    with Session(engine) as s:
        assert {m.segments for m in s.exec(select(Message))} == {2}


def test_rerun_of_a_finished_run_sends_nothing(engine: Engine, fake: RunningFake) -> None:
    run_id = make_run(engine, 10)
    dispatch(engine, lambda: twilio(fake), run_id=run_id)
    again = dispatch(engine, lambda: twilio(fake), run_id=run_id)
    assert (again.status, again.sent, again.reconciled_sent) == ("done", 0, 0)
    assert len(fake.fake.snapshot()) == 10


@pytest.mark.parametrize(
    "trouble",
    [
        {"fail_after_create_rate": 0.3},  # 500 although the message was created
        {"fail_rate": 0.3},  # 500 and nothing created
        {"timeout_rate": 0.2, "hang_seconds": 3.0},  # created, answer never comes
    ],
    ids=["500-after-create", "500-before-create", "timeout-after-create"],
)
def test_unknown_outcomes_are_reconciled_never_resent(
    engine: Engine, fake: RunningFake, trouble: dict[str, float]
) -> None:
    for key, value in trouble.items():
        setattr(fake.fake.config, key, value)
    run_id = make_run(engine, 60)
    summary = dispatch(
        engine,
        # well below the 3 s hang, well above an answer's time on a busy machine (a slow 500
        # read as a timeout would count as unknown, and be found sent)
        lambda: twilio(fake, read_timeout=1.5),
        run_id=run_id,
        max_consecutive_failures=1000,
    )
    assert summary.status == "done"
    assert summary.unknown > 0
    assert summary.reconciled_sent + summary.reconciled_pending == summary.unknown
    if "fail_rate" in trouble:
        assert summary.reconciled_sent == 0 and summary.reconciled_pending > 0
    else:
        assert summary.reconciled_sent > 0
    assert_exactly_once(engine, run_id, fake)


def test_429_storm_under_a_50_per_second_cap_delivers_each_once(
    engine: Engine, fake: RunningFake
) -> None:
    fake.fake.config.cap_per_second = 50
    run_id = make_run(engine, 150)
    summary = dispatch(engine, lambda: twilio(fake), run_id=run_id, rate=200, concurrency=40)
    assert summary.status == "done" and summary.throttled > 0
    assert fake.fake.throttled == summary.throttled
    assert fake.fake.stats()["max_per_second"] <= 50
    assert_exactly_once(engine, run_id, fake)


def test_permanent_errors_mark_opt_out_and_invalid_phones(
    engine: Engine, fake: RunningFake
) -> None:
    run_id = make_run(engine, 6)
    phones = sorted(contact_statuses(engine, run_id))
    fake.fake.config.error_numbers = {phones[0]: 21610, phones[1]: 21211, phones[2]: 21614}
    summary = dispatch(engine, lambda: twilio(fake), run_id=run_id)
    assert (summary.sent, summary.failed, summary.opted_out, summary.invalid_phone) == (3, 3, 1, 2)
    with Session(engine) as s:
        rows = {c.phone: c for c in s.exec(select(Contact))}
        assert [rows[p].error_code for p in phones[:3]] == ["21610", "21211", "21614"]
        assert {rows[p].status for p in phones[:3]} == {"failed"}
        opt = s.get(OptOut, rows[phones[0]].customer_id)
        assert opt is not None and opt.source == "provider"
        invalid = {c.phone for c in s.exec(select(Customer)) if c.phone_invalid}
        assert invalid == {phones[1], phones[2]}
    assert set(fake.fake.per_phone()) == set(phones[3:])


def test_opted_out_customers_are_excluded_before_sending(engine: Engine, fake: RunningFake) -> None:
    run_id = make_run(engine, 4)
    with Session(engine) as s:
        first = s.exec(select(Contact).where(Contact.run_id == run_id)).first()
        assert first is not None
        s.add(OptOut(customer_id=first.customer_id, source="reply", reason="退订"))
        s.commit()
        phone = str(first.phone)
    dispatch(engine, lambda: twilio(fake), run_id=run_id)
    assert contact_statuses(engine, run_id)[phone] == "excluded"
    assert phone not in fake.fake.per_phone() and len(fake.fake.snapshot()) == 3


def test_auth_failure_stops_at_once_and_leaves_contacts_pending(
    engine: Engine, fake: RunningFake
) -> None:
    run_id = make_run(engine, 200)
    with pytest.raises(ProviderError, match="credentials") as err:
        dispatch(
            engine,
            lambda: twilio(fake, TWILIO_AUTH_TOKEN="wrong"),
            run_id=run_id,
            rate=100,
            concurrency=5,
        )
    assert "wrong" not in str(err.value)
    assert fake.fake.snapshot() == []
    assert set(contact_statuses(engine, run_id).values()) == {"pending"}
    run = run_status(engine, run_id)
    assert run.status == "paused" and run.counts["dispatch"]["stop_reason"] == "auth_failed"
    with Session(engine) as s:
        attempted = s.exec(select(Contact).where(Contact.attempts > 0)).all()
    assert len(attempted) <= 5 + 40  # the requests in flight and the claimed batch, no more


def test_pauses_after_consecutive_failures_then_resumes_without_duplicates(
    engine: Engine, fake: RunningFake
) -> None:
    fake.fake.config.fail_after_create_rate = 1.0
    run_id = make_run(engine, 200)
    paused = dispatch(
        engine,
        lambda: twilio(fake),
        run_id=run_id,
        rate=100,
        concurrency=4,
        max_consecutive_failures=5,
    )
    assert (paused.status, paused.stop_reason) == ("paused", "consecutive_failures")
    went = len(fake.fake.snapshot())
    assert 5 <= went <= 5 + 4
    assert paused.remaining == 200 and paused.by_status.get("pending", 0) >= 200 - went - 40
    fake.fake.config.fail_after_create_rate = 0.0
    resumed = dispatch(engine, lambda: twilio(fake), run_id=run_id, rate=400)
    assert resumed.status == "done" and resumed.reconciled_sent == went
    assert_exactly_once(engine, run_id, fake)


def test_nothing_leaves_outside_the_send_window(engine: Engine, fake: RunningFake) -> None:
    run_id = make_run(engine, 20)
    at_23 = dt.datetime(2025, 3, 1, 15, 0, tzinfo=dt.UTC)  # 23:00 in Asia/Shanghai
    window = window_check(parse_window("09:00-20:00"), "Asia/Shanghai")
    summary = dispatch(
        engine, lambda: twilio(fake), run_id=run_id, clock=lambda: at_23, may_send=window
    )
    assert (summary.status, summary.sent) == ("deferred", 0)
    assert fake.fake.snapshot() == []
    assert set(contact_statuses(engine, run_id).values()) == {"pending"}


def test_window_closing_mid_run_defers_the_rest_and_resume_finishes(
    engine: Engine, fake: RunningFake
) -> None:
    run_id = make_run(engine, 60)
    answers = iter([True] * 25)
    closed_at: list[float] = []

    def may_send(_now: dt.datetime) -> bool:
        ok = next(answers, False)
        if not ok and not closed_at:
            closed_at.append(time.monotonic())
        return ok

    summary = dispatch(
        engine, lambda: twilio(fake), run_id=run_id, rate=300, concurrency=5, may_send=may_send
    )
    assert summary.status == "deferred" and 0 < summary.sent < 60
    assert len(fake.fake.snapshot()) == summary.sent
    late = [m for m in fake.fake.snapshot() if m.arrived > closed_at[0] + 0.05]
    assert late == []
    done = dispatch(engine, lambda: twilio(fake), run_id=run_id)
    assert done.status == "done"
    assert_exactly_once(engine, run_id, fake)


def test_contacts_left_sending_by_a_dead_worker_are_reconciled(
    engine: Engine, fake: RunningFake
) -> None:
    run_id = make_run(engine, 10)
    past = utcnow() - dt.timedelta(seconds=5)
    claimed = outbox.claim(
        engine, run_id=run_id, worker="dead", now=past, lease_until=past, limit=10
    )
    delivered = claimed[:4]  # these went out just before the crash
    for c in delivered:
        assert c.phone and c.body
        fake.fake._create({"To": c.phone, "Body": c.body, "From": "+1"}, time.monotonic(), None)
    summary = dispatch(engine, lambda: twilio(fake), run_id=run_id)
    assert (summary.reconciled_sent, summary.reconciled_pending, summary.sent) == (4, 6, 6)
    assert_exactly_once(engine, run_id, fake)


class _ListingDown:
    """The real channel for sends, with the provider's listing failing."""

    name = "twilio"

    def __init__(self, inner: Channel) -> None:
        self.inner = inner

    async def send(self, sms: OutgoingSms) -> SendResult:
        return await self.inner.send(sms)

    async def find_sent(self, *, to: str, since: dt.datetime, body: str) -> list[ProviderMessage]:
        raise ProviderError("listing unavailable")

    async def aclose(self) -> None:
        await self.inner.aclose()


def test_unknown_is_not_resent_while_the_provider_cannot_be_asked(
    engine: Engine, fake: RunningFake
) -> None:
    run_id = make_run(engine, 3)
    fake.fake.config.fail_after_create_rate = 1.0
    first = dispatch(
        engine, lambda: _ListingDown(twilio(fake)), run_id=run_id, max_consecutive_failures=6
    )
    fake.fake.config.fail_after_create_rate = 0.0
    assert first.status == "paused" and first.unknown == 3
    assert len(fake.fake.snapshot()) == 3
    assert set(contact_statuses(engine, run_id).values()) == {"unknown"}
    dispatch(engine, lambda: twilio(fake), run_id=run_id)
    assert_exactly_once(engine, run_id, fake)


def test_two_workers_sharing_a_run_never_double_send(engine: Engine, fake: RunningFake) -> None:
    fake.fake.config.latency_ms = 5
    run_id = make_run(engine, 400)
    results = []

    def worker() -> None:
        results.append(
            dispatch(
                engine, lambda: twilio(fake), run_id=run_id, rate=300, concurrency=10, batch_size=20
            )
        )

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 2 and all(r.sent > 0 for r in results)
    assert sum(r.sent for r in results) == 400
    assert_exactly_once(engine, run_id, fake)


@pytest.mark.slow
def test_sigkill_twice_mid_dispatch_then_rerun(
    db_url: str, engine: Engine, fake: RunningFake
) -> None:
    fake.fake.config.latency_ms = 20
    fake.fake.config.fail_after_create_rate = 0.02
    fake.fake.config.timeout_rate = 0.01
    fake.fake.config.hang_seconds = 2
    run_id = make_run(engine, 1500)
    kill_after(start_worker(db_url, fake, run_id), fake, 300)
    kill_after(start_worker(db_url, fake, run_id), fake, 800)
    left = contact_statuses(engine, run_id)
    assert "sending" in left.values() or "unknown" in left.values()
    final = start_worker(db_url, fake, run_id)
    out, err = final.communicate(timeout=180)
    assert final.returncode == 0, err.decode()
    assert '"status": "done"' in out.decode(), out.decode()
    assert_exactly_once(engine, run_id, fake)
    assert len(fake.fake.snapshot()) == 1500
