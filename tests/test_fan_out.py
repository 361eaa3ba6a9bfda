"""A run shared by several dispatchers (the fan-out of flows/dispatch.py): one dispatcher
killed with SIGKILL mid-run, the other finishes the run, every message sent exactly once."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from devtools.fake_twilio import FakeConfig, FakeTwilio, RunningFake, serve_fake_twilio
from revisit.campaigns.config import load_campaigns
from revisit.entry.runs import RunOptions, pinned_clock, run_campaign
from revisit.entry.sending import waiting
from tests.dispatch_support import dispatch, make_run
from tests.dispatch_support import kill_after as _kill_after
from tests.dispatch_support import start_worker as _worker
from tests.test_dispatch import assert_exactly_once, twilio


@pytest.fixture
def fake() -> Iterator[RunningFake]:
    with serve_fake_twilio(FakeTwilio(FakeConfig(seed=11))) as running:
        yield running


@pytest.mark.slow
def test_one_of_two_dispatchers_killed_the_survivor_finishes_exactly_once(
    db_url: str, engine: Engine, fake: RunningFake
) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("several dispatchers share a run on PostgreSQL only (SQLite has one)")
    fake.fake.config.latency_ms = 20
    run_id = make_run(engine, 1200)
    survivor = _worker(db_url, fake, run_id)
    victim = _worker(db_url, fake, run_id)
    _kill_after(victim, fake, 400)  # SIGKILL: its leased contacts are left sending
    _out, err = survivor.communicate(timeout=120)
    assert survivor.returncode == 0, err.decode()
    assert_exactly_once(engine, run_id, fake)
    assert len(fake.fake.snapshot()) == 1200
    assert waiting(engine, run_id) == 0


def _run(engine: Engine, fake: RunningFake, out: Path, fan_out: Any) -> Any:
    from tests.test_runs import AS_OF, MORNING, ROOT, dealership

    dealership(engine, n_due=8)
    settings = fake.settings(
        campaigns_dir=ROOT / "campaigns", templates_dir=ROOT / "templates", output_dir=out
    )
    campaigns = load_campaigns(settings.campaigns_dir)
    clock = pinned_clock(MORNING)  # the wall clock too: a real send follows it
    return run_campaign(
        engine, campaign=campaigns["maintenance_due"], campaigns=campaigns, as_of=AS_OF,
        clock=clock, wall_clock=clock, settings=settings, options=RunOptions(fan_out=fan_out),
    )  # fmt: skip


def test_a_run_handed_to_a_fan_out_is_sent_by_its_dispatchers(
    engine: Engine, fake: RunningFake, tmp_path: Path
) -> None:
    """The entry layer hands the written outbox to the fan-out and takes the run's status
    from what its dispatchers left."""
    handed: list[int] = []

    def two_dispatchers(run_id: int) -> dict[str, Any]:
        handed.append(run_id)
        threads = [
            threading.Thread(target=dispatch, args=(engine, lambda: twilio(fake)),
                             kwargs={"run_id": run_id, "rate_key": "twilio:test"})
            for _ in range(2)
        ]  # fmt: skip
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        return {"dispatchers": 2}

    report = _run(engine, fake, tmp_path, two_dispatchers)
    assert handed == [report.run_id] and report.status == "done"
    assert report.dispatch == {"dispatchers": 2}
    assert waiting(engine, report.run_id) == 0
    assert fake.fake.duplicates() == {}
    assert len(fake.fake.snapshot()) == report.plan["to_contact"] > 0


def test_a_fan_out_that_declines_leaves_the_run_to_send_itself(
    engine: Engine, fake: RunningFake, tmp_path: Path
) -> None:
    report = _run(engine, fake, tmp_path, lambda _run_id: None)
    assert report.status == "done" and report.dispatch["sent"] == report.plan["to_contact"] > 0


def test_a_fan_out_whose_dispatchers_died_leaves_the_run_paused(
    engine: Engine, fake: RunningFake, tmp_path: Path
) -> None:
    report = _run(engine, fake, tmp_path, lambda _run_id: {"dispatchers": 0})
    assert report.status == "paused" and waiting(engine, report.run_id) > 0
    assert fake.fake.snapshot() == []
