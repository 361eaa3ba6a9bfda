"""``revisit reconcile-status``: delivery statuses by polling the provider, for deployments
without webhooks (the fake Twilio on loopback; SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

import pytest
from sqlalchemy import insert, select, update
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from devtools.fake_twilio import FakeConfig, FakeTwilio, RunningFake, serve_fake_twilio
from revisit.cli import app
from revisit.db.tables import CUSTOMERS, MESSAGES, PENDING_CALLBACKS
from revisit.delivery.channels.twilio import TwilioChannel, timeouts
from revisit.entry.statuses import reconcile_statuses
from revisit.errors import ConfigError
from revisit.settings import Settings
from tests.dispatch_support import dispatch, make_run, message_sids


@pytest.fixture
def fake() -> Iterator[RunningFake]:
    with serve_fake_twilio(FakeTwilio(FakeConfig(seed=7))) as running:
        yield running


def _statuses(engine: Engine) -> dict[str, tuple[str, str | None]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(MESSAGES.c.provider_sid, MESSAGES.c.status, MESSAGES.c.error_code)
        )
        return {str(sid): (str(s), code) for sid, s, code in rows}


def _send(engine: Engine, fake: RunningFake, n: int) -> list[str]:
    run_id = make_run(engine, n)
    dispatch(engine, lambda: TwilioChannel(fake.settings(), timeout=timeouts(2.0)), run_id=run_id)
    return sorted(message_sids(engine, run_id).values())


def _age(engine: Engine, hours: float) -> None:
    """Make every message look ``hours`` old."""
    with engine.begin() as conn:
        conn.execute(
            update(MESSAGES).values(created_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=hours))
        )


def test_polling_moves_statuses_forward_and_leaves_final_ones_alone(
    engine: Engine, fake: RunningFake
) -> None:
    sids = _send(engine, fake, 4)
    assert {s for s, _c in _statuses(engine).values()} == {"queued"}
    fake.fake.advance(sids[0], "delivered")
    fake.fake.advance(sids[1], "undelivered", 30003)
    fake.fake.advance(sids[2], "failed", 30008)
    # sids[3] stays "sent" at the provider (no delivery report from the carrier)
    settings = fake.settings()
    young = reconcile_statuses(engine, settings, hours=6)
    assert young.checked == 0  # nothing is 6 hours old yet
    _age(engine, 7)
    summary = reconcile_statuses(engine, settings, hours=6)
    assert (summary.checked, summary.updated, summary.invalid_phones) == (4, 4, 1)
    assert _statuses(engine) == {
        sids[0]: ("delivered", None), sids[1]: ("undelivered", "30003"),
        sids[2]: ("failed", "30008"), sids[3]: ("sent", None),
    }  # fmt: skip
    with engine.connect() as conn:
        assert sorted(conn.execute(select(CUSTOMERS.c.phone_invalid)).scalars()) == [
            False, False, False, True,
        ]  # fmt: skip
    # The provider's late word never moves a final status back; only sids[3] is asked again.
    fake.fake.advance(sids[0], "sent")
    again = reconcile_statuses(engine, settings, hours=6)
    assert (again.checked, again.updated, again.unchanged) == (1, 0, 1)
    assert _statuses(engine)[sids[0]] == ("delivered", None)
    _age(engine, 24 * 8)  # past --max-days: given up on
    assert reconcile_statuses(engine, settings, hours=6).checked == 0


def test_a_message_the_provider_does_not_know_or_cannot_report(
    engine: Engine, fake: RunningFake
) -> None:
    sids = _send(engine, fake, 2)
    _age(engine, 7)
    with fake.fake._lock:  # the provider lost one (e.g. another account's message)
        del fake.fake._by_sid[sids[0]]
    summary = reconcile_statuses(engine, fake.settings(), hours=6)
    assert (summary.missing, summary.checked) == (1, 1)
    down = fake.settings(twilio_base_url="http://127.0.0.1:9")  # nothing listens there
    failed = reconcile_statuses(engine, down, hours=6)
    assert (
        failed.errors == 2 and failed.first_error and "could not be reached" in failed.first_error
    )


def test_bad_windows_are_refused(engine: Engine, fake: RunningFake) -> None:
    with pytest.raises(ConfigError, match="--hours 200"):
        reconcile_statuses(engine, fake.settings(), hours=200, max_days=7)


def test_cli_reconcile_status(engine: Engine, db_url: str, fake: RunningFake) -> None:
    sids = _send(engine, fake, 1)
    fake.fake.advance(sids[0], "delivered")
    _age(engine, 3)
    env = {**fake.env(), "REVISIT_DATABASE_URL": db_url}
    result = CliRunner().invoke(app, ["reconcile-status", "--hours", "2"], env=env)
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["updated"] == 1
    assert _statuses(engine)[sids[0]] == ("delivered", None)
    # The console channel (no Twilio) has nothing to report: nothing changes.
    console = {"REVISIT_DATABASE_URL": db_url, "TWILIO_ACCOUNT_SID": ""}
    result = CliRunner().invoke(app, ["reconcile-status", "--hours", "0"], env=console)
    assert result.exit_code == 0, result.output
    assert Settings(TWILIO_ACCOUNT_SID="").has_twilio is False


def test_callbacks_for_messages_never_recorded_are_purged_after_max_days(
    engine: Engine, fake: RunningFake
) -> None:
    """A status callback for a SID revisit never records (another system's message on the
    same account) was kept in pending_callbacks for ever; the poll deletes those older than
    --max-days and keeps the young ones, which a send may still record."""
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(PENDING_CALLBACKS),
            [
                {"provider_sid": sid, "status": status, "received_at": now - age}
                for sid, status, age in (
                    ("SMold", "delivered", dt.timedelta(days=8)),
                    ("SMyoung", "sent", dt.timedelta(hours=1)),
                )
            ],
        )
    summary = reconcile_statuses(engine, fake.settings(), hours=6, max_days=7, now=now)
    assert summary.purged == 1
    with engine.connect() as conn:
        kept = conn.execute(select(PENDING_CALLBACKS.c.provider_sid)).scalars().all()
    assert kept == ["SMyoung"]
