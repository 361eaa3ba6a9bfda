"""The send window is enforced where the provider is called, against the real clock, for
every path; a pinned ``--now`` and a later ``--as-of`` serve dry runs and the console only.

Regression: ``revisit dev dispatch-run --run-id N`` without ``--window`` sent at any hour;
``campaign run --now 2026-11-30T10:00`` at 06:20 real time really sent (the pinned clock
moved the window check); a future ``--as-of`` was accepted for a real send.

Clocks are injected through the interface (``now`` of the dispatcher, ``clock`` of a run and
of the worker); one end-to-end check runs the worker under libfaketime.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text, update
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from devtools.fake_twilio import FakeConfig, FakeTwilio, RunningFake, serve_fake_twilio
from revisit.campaigns.config import load_campaigns
from revisit.cli import app
from revisit.db.tables import STORES
from revisit.delivery.channels.console import ConsoleChannel
from revisit.delivery.channels.twilio import TwilioChannel
from revisit.delivery.worker import run_worker
from revisit.entry.runs import RunOptions, RunReport, pinned_clock, run_campaign
from revisit.errors import ConfigError
from revisit.settings import DEFAULT_STORE_ID, Settings
from tests.dispatch_support import contact_statuses, dispatch, make_run
from tests.test_runs import ROOT, dealership, settings_for

SH = ZoneInfo("Asia/Shanghai")
AT_0620 = dt.datetime(2026, 11, 23, 6, 20, tzinfo=SH)
AT_1000 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=SH)
AT_2030 = dt.datetime(2026, 11, 23, 20, 30, tzinfo=SH)


def fixed(at: dt.datetime) -> Callable[[], dt.datetime]:
    return lambda: at


@pytest.fixture
def fake() -> Iterator[RunningFake]:
    with serve_fake_twilio(FakeTwilio(FakeConfig(seed=5))) as running:
        yield running


# --- the dispatcher: the run's campaign's window, always ------------------------------------


@pytest.mark.parametrize("at", [AT_0620, AT_2030], ids=["06:20", "20:30"])
def test_the_dispatcher_applies_the_campaigns_window_without_being_asked(
    engine: Engine, fake: RunningFake, at: dt.datetime
) -> None:
    run_id = make_run(engine, 10, send_window=None)  # the campaign's default 09:00–20:00
    summary = dispatch(
        engine, lambda: TwilioChannel(fake.settings()), run_id=run_id, clock=fixed(at)
    )
    assert (summary.status, summary.stop_reason, summary.sent) == ("deferred", "quiet_hours", 0)
    assert fake.fake.snapshot() == []
    assert set(contact_statuses(engine, run_id).values()) == {"pending"}
    later = dispatch(engine, lambda: TwilioChannel(fake.settings()), run_id=run_id,
                     clock=fixed(AT_1000))  # fmt: skip
    assert (later.status, later.sent) == ("done", 10)


def test_the_window_follows_each_stores_time_zone(engine: Engine, fake: RunningFake) -> None:
    run_id = make_run(engine, 5, send_window=None)
    with engine.begin() as conn:
        conn.execute(
            update(STORES)
            .where(STORES.c.store_id == DEFAULT_STORE_ID)
            .values(timezone="America/Los_Angeles")
        )
    noon_in_shanghai = dt.datetime(2026, 11, 23, 12, 0, tzinfo=SH)  # 20:00 in Los Angeles
    summary = dispatch(engine, lambda: TwilioChannel(fake.settings()), run_id=run_id,
                       clock=fixed(noon_in_shanghai))  # fmt: skip
    assert (summary.status, summary.sent) == ("deferred", 0)


def test_the_window_closing_on_the_clock_stops_the_next_send(
    engine: Engine, fake: RunningFake
) -> None:
    run_id = make_run(engine, 40, send_window=None)
    ticks = iter(range(10_000))
    closing = dt.datetime(2026, 11, 23, 19, 59, 59, tzinfo=SH)

    def clock() -> dt.datetime:  # each reading moves 0.05 s: 20:00 comes mid-run
        return closing + dt.timedelta(seconds=0.05 * next(ticks))

    summary = dispatch(engine, lambda: TwilioChannel(fake.settings()), run_id=run_id, clock=clock,
                       rate=500, concurrency=1)  # fmt: skip
    assert summary.status == "deferred" and 0 < summary.sent < 40
    assert len(fake.fake.snapshot()) == summary.sent


def test_a_pinned_window_clock_is_refused_for_a_provider_and_allowed_for_the_console(
    engine: Engine, fake: RunningFake
) -> None:
    run_id = make_run(engine, 3, send_window=None)
    with pytest.raises(ConfigError, match="pinned clock"):
        dispatch(engine, lambda: TwilioChannel(fake.settings()), run_id=run_id,
                 clock=fixed(AT_0620), window_clock=fixed(AT_1000))  # fmt: skip
    assert fake.fake.snapshot() == []
    out = io.StringIO()
    replay = dispatch(engine, lambda: ConsoleChannel(out), run_id=run_id, clock=fixed(AT_0620),
                      window_clock=fixed(AT_1000))  # fmt: skip
    assert replay.sent == 3 and len(out.getvalue().splitlines()) == 3


# --- the worker (revisit dev dispatch-run) ------------------------------------------------


@pytest.mark.parametrize(
    ("at", "window", "sent"),
    [
        (AT_0620, None, 0),  # the issue: no --window, 06:20
        (AT_0620, "00:00-23:59", 0),  # --window cannot widen the campaign's
        (AT_1000, "11:00-12:00", 0),  # it narrows it
        (AT_1000, None, 4),
    ],
)
def test_the_worker_uses_the_runs_campaign_window(
    engine: Engine, db_url: str, fake: RunningFake, at: dt.datetime, window: str | None, sent: int
) -> None:
    run_id = make_run(engine, 4, send_window=None)
    summary = run_worker(
        engine, fake.settings(database_url=db_url), run_id=run_id, rate=100, concurrency=2,
        window=window, clock=fixed(at),
    )  # fmt: skip
    assert summary.sent == sent == len(fake.fake.snapshot())


@pytest.mark.skipif(not shutil.which("faketime"), reason="libfaketime is not installed")
@pytest.mark.parametrize(("utc", "sent"), [("2026-11-29 22:20:00", 0), ("2026-11-30 02:00:00", 3)])
def test_dispatch_run_under_faketime(
    engine: Engine, db_url: str, fake: RunningFake, utc: str, sent: int
) -> None:
    """End to end: the worker's real clock is 06:20 (then 10:00) in Shanghai."""
    run_id = make_run(engine, 3, send_window=None)
    env = {**os.environ, **fake.env(), "REVISIT_DATABASE_URL": db_url, "TZ": "UTC",
           "FAKETIME_DONT_FAKE_MONOTONIC": "1"}  # fmt: skip
    args = ["faketime", "-f", f"@{utc}", sys.executable, "-m", "revisit.cli", "dev", "dispatch-run",
            "--run-id", str(run_id), "--rate", "50"]  # fmt: skip
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr.decode()
    assert len(fake.fake.snapshot()) == sent
    assert ('"status": "deferred"' in done.stdout.decode()) is (sent == 0)


# --- campaign runs: --now and --as-of ----------------------------------------------------


def twilio_settings(fake: RunningFake, db_url: str, out: Path) -> Settings:
    return fake.settings(database_url=db_url, campaigns_dir=ROOT / "campaigns",
                         templates_dir=ROOT / "templates", output_dir=out)  # fmt: skip


def campaign_run(
    engine: Engine, settings: Settings, *, now: dt.datetime, wall: dt.datetime,
    as_of: dt.date | None = None, dry_run: bool = False,
) -> RunReport:  # fmt: skip
    campaigns = load_campaigns(settings.campaigns_dir)
    return run_campaign(
        engine, campaign=campaigns["maintenance_due"], campaigns=campaigns,
        as_of=as_of or wall.date(), clock=pinned_clock(now), wall_clock=pinned_clock(wall),
        settings=settings, options=RunOptions(rate=100, dry_run=dry_run),
    )  # fmt: skip


def contacts_written(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM contacts")).scalar_one())


def test_a_pinned_now_is_refused_for_a_real_send(
    engine: Engine, db_url: str, tmp_path: Path, fake: RunningFake
) -> None:
    dealership(engine)
    settings = twilio_settings(fake, db_url, tmp_path)
    with pytest.raises(ConfigError, match=r"--now .* pins the clock"):
        campaign_run(engine, settings, now=AT_1000, wall=AT_0620)
    assert fake.fake.snapshot() == [] and contacts_written(engine) == 0
    dry = campaign_run(engine, settings, now=AT_1000, wall=AT_0620, dry_run=True)
    assert dry.status == "dry_run" and dry.plan["to_contact"] > 0


def test_a_later_as_of_is_refused_for_a_real_send(
    engine: Engine, db_url: str, tmp_path: Path, fake: RunningFake
) -> None:
    dealership(engine)
    settings = twilio_settings(fake, db_url, tmp_path)
    tomorrow = AT_1000.date() + dt.timedelta(days=1)
    with pytest.raises(ConfigError, match="after today"):
        campaign_run(engine, settings, now=AT_1000, wall=AT_1000, as_of=tomorrow)
    assert fake.fake.snapshot() == [] and contacts_written(engine) == 0


def test_a_new_run_for_a_past_day_is_refused_for_a_real_send(
    engine: Engine, db_url: str, tmp_path: Path, fake: RunningFake
) -> None:
    """Regression: `campaign run X --as-of yesterday` after today's run opened a new run whose
    plan could not see today's SMS (the frequency cap counts days up to as_of): the same
    customers got the same text twice within minutes. A past day's run still deferred
    (below) may be finished."""
    dealership(engine)
    settings = twilio_settings(fake, db_url, tmp_path)
    today = campaign_run(engine, settings, now=AT_1000, wall=AT_1000)
    sent = len(fake.fake.snapshot())
    assert today.status == "done" and sent > 0
    yesterday = AT_1000.date() - dt.timedelta(days=1)
    with pytest.raises(ConfigError, match="before today"):
        campaign_run(engine, settings, now=AT_1000, wall=AT_1000, as_of=yesterday)
    assert len(fake.fake.snapshot()) == sent
    dry = campaign_run(engine, settings, now=AT_1000, wall=AT_1000, as_of=yesterday, dry_run=True)
    assert dry.status == "dry_run"


def test_a_real_send_at_0620_waits_for_the_window_then_goes(
    engine: Engine, db_url: str, tmp_path: Path, fake: RunningFake
) -> None:
    dealership(engine)
    settings = twilio_settings(fake, db_url, tmp_path)
    early = campaign_run(engine, settings, now=AT_0620, wall=AT_0620)
    assert early.status == "deferred" and fake.fake.snapshot() == []
    later = campaign_run(engine, settings, now=AT_1000, wall=AT_1000, as_of=AT_0620.date())
    assert later.status == "done" and len(fake.fake.snapshot()) == early.plan["to_contact"]


def test_the_console_channel_replays_a_pinned_day_at_any_real_hour(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    dealership(engine)
    replay = campaign_run(engine, settings_for(db_url, tmp_path), now=AT_1000, wall=AT_0620)
    assert replay.status == "done" and replay.dispatch["sent"] == replay.plan["to_contact"] > 0


def test_cli_refuses_now_for_a_real_send_in_one_line(
    engine: Engine, db_url: str, tmp_path: Path, fake: RunningFake
) -> None:
    dealership(engine)
    env = {**fake.env(), "REVISIT_DATABASE_URL": db_url, "REVISIT_OUTPUT_DIR": str(tmp_path),
           "REVISIT_CAMPAIGNS_DIR": str(ROOT / "campaigns"),
           "REVISIT_TEMPLATES_DIR": str(ROOT / "templates")}  # fmt: skip
    far = (dt.datetime.now(SH) - dt.timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M")
    result = CliRunner().invoke(app, ["campaign", "run", "maintenance_due", "--now", far], env=env)
    assert result.exit_code == 2
    assert "pins the clock" in result.output and "Traceback" not in result.output
    assert fake.fake.snapshot() == [] and contacts_written(engine) == 0


def test_cli_daily_refuses_now_before_any_campaign_writes(
    engine: Engine, db_url: str, tmp_path: Path, fake: RunningFake
) -> None:
    dealership(engine)
    env = {**fake.env(), "REVISIT_DATABASE_URL": db_url, "REVISIT_OUTPUT_DIR": str(tmp_path),
           "REVISIT_CAMPAIGNS_DIR": str(ROOT / "campaigns"),
           "REVISIT_TEMPLATES_DIR": str(ROOT / "templates")}  # fmt: skip
    far = (dt.datetime.now(SH) - dt.timedelta(hours=5)).strftime("%Y-%m-%dT%H:%M")
    result = CliRunner().invoke(app, ["campaign", "daily", "--now", far], env=env)
    # each campaign of the day fails alone, in one line, before writing anything
    assert result.exit_code == 1 and "pins the clock" in result.output
    assert "Traceback" not in result.output
    assert contacts_written(engine) == 0 and not (tmp_path / "calls").exists()
