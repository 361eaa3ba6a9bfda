"""The entry layer shared by the CLI and the flows: a broken campaign fails alone, a day's
campaigns are planned once, names that are not found say so, settings keep secrets."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine

from revisit.campaigns.config import load_campaign, read_campaigns
from revisit.campaigns.window import parse_window
from revisit.entry.context import load_settings
from revisit.entry.daily import launch, run_daily
from revisit.entry.lookup import day_of, find_campaign, find_cohort
from revisit.entry.runs import RunReport, pinned_clock, run_campaign
from revisit.errors import ConfigError, NotFoundError
from tests.test_runs import MORNING, ROOT, contacts, dealership, settings_for

AS_OF = dt.date(2026, 11, 23)


def campaigns_with(tmp_path: Path, name: str, replace: tuple[str, str]) -> Path:
    """A copy of the shipped campaign files with one of them edited."""
    folder = tmp_path / "campaigns"
    shutil.copytree(ROOT / "campaigns", folder)
    path = folder / f"{name}.yaml"
    text = path.read_text(encoding="utf-8")
    assert replace[0] in text
    path.write_text(text.replace(*replace), encoding="utf-8")
    return folder


def test_a_typo_in_one_campaign_file_fails_that_campaign_alone(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    """Regression (issue 11, item 10): `holdout_pc: 10` in the manual declined_c.yaml stopped
    every daily campaign."""
    dealership(engine)
    folder = campaigns_with(tmp_path, "declined_c", ("holdout_pct: 10", "holdout_pc: 10"))
    settings = settings_for(db_url, tmp_path / "out", campaigns_dir=folder)
    result = run_daily(engine, settings, as_of=AS_OF, clock=pinned_clock(MORNING))
    assert list(result.failures) == ["declined_c"] and result.failed
    line = next(
        i for i, text in enumerate((folder / "declined_c.yaml").read_text().splitlines(), 1)
        if text.startswith("holdout_pc")
    )  # fmt: skip
    assert result.failures["declined_c"] == (
        f"{folder / 'declined_c.yaml'}:{line}: holdout_pc: unknown field; did you mean holdout_pct?"
    )
    assert "maintenance_due" in [r.campaign for r in result.reports]
    assert contacts(engine, "maintenance_due").get("sent", 0) > 0
    # the campaign itself, run by name, says what is wrong with its file
    with pytest.raises(ConfigError, match="did you mean holdout_pct"):
        launch(engine, settings, name="declined_c", as_of=AS_OF, clock=pinned_clock(MORNING))


def test_a_failing_run_fails_its_campaign_alone(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    """Another instance of the kind: a template that does not render stops its campaign
    (nothing written for it), not the day."""
    dealership(engine)
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    (templates / "sms" / "maintenance_due.zh.j2").write_text("{{ customer.nickname }}您好")
    settings = settings_for(db_url, tmp_path / "out", templates=templates)
    result = run_daily(engine, settings, as_of=AS_OF, clock=pinned_clock(MORNING))
    assert list(result.failures) == ["maintenance_due"]
    assert "maintenance_due.zh.j2:1" in result.failures["maintenance_due"]
    assert contacts(engine, "maintenance_due") == {}
    assert [r.campaign for r in result.reports][:3] == [
        "declined_a", "repeat_repair", "post_service_followup",
    ]  # fmt: skip


def test_a_days_campaigns_are_planned_once(engine: Engine, db_url: str, tmp_path: Path) -> None:
    """The first run of the day plans every daily campaign in one pass; the runs after it
    read that plan (one planned_at per campaign, written before the first run's outbox)."""
    dealership(engine)
    settings = settings_for(db_url, tmp_path)
    planned: list[int] = []

    def runner(engine: Engine, **kw: Any) -> RunReport:
        with engine.connect() as conn:
            planned.append(conn.execute(text("SELECT count(*) FROM day_plans")).scalar_one())
        return run_campaign(engine, **kw)

    result = run_daily(engine, settings, as_of=AS_OF, clock=pinned_clock(MORNING), runner=runner)
    daily = len(result.reports)
    assert daily > 3 and planned[0] == 0 and len(set(planned[1:])) == 1 and planned[1] >= daily


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("holdout_pc: 10", "holdout_pc: unknown field; did you mean holdout_pct?"),
        ("send_window: {strat: '09:00'}", "send_window.strat: unknown field; did you mean start?"),
        ("quiet_hours: {ends: '20:00'}", "quiet_hours.ends: unknown field; did you mean end?"),
        ("frequency_cap: {max_smss: 2}",
         "frequency_cap.max_smss: unknown field; did you mean max_sms?"),
        ("colour: red", "colour: unknown field"),
    ],
)  # fmt: skip
def test_unknown_keys_are_named_with_their_line_and_a_close_match(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "lapsed_12_24.yaml"
    path.write_text(
        "cohort: lapsed_12_24\nchannel: sms\ntemplates: {zh: sms/lapsed_12_24.zh.j2}\n"
        f"priority: 30\n{text}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_campaign(path)
    assert str(info.value) == f"{path}:5: {message}"


@pytest.mark.parametrize(
    ("window", "start", "end"),
    [
        ("send_window: {start: 9:00, end: 20:00}", dt.time(9), dt.time(20)),
        ('send_window: {start: "9:00", end: "20:30"}', dt.time(9), dt.time(20, 30)),
        ("quiet_hours: {start: 8:05, end: '9:45'}", dt.time(8, 5), dt.time(9, 45)),
    ],
)
def test_a_send_window_takes_times_as_people_write_them(
    tmp_path: Path, window: str, start: dt.time, end: dt.time
) -> None:
    """Regression (issue 11, item 10): `start: "9:00"` was rejected; unquoted, YAML read
    9:00 as the number 540."""
    path = tmp_path / "birthday.yaml"
    path.write_text(
        f"cohort: birthday\nchannel: sms\ntemplates: {{zh: sms/birthday.zh.j2}}\npriority: 10\n"
        f"{window}\n"
    )
    c = load_campaign(path)
    assert (c.send_window.start, c.send_window.end) == (start, end)


def test_send_window_times_that_are_not_times_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "birthday.yaml"
    for bad in ("start: 9", "start: '25:00'", "start: nine"):
        path.write_text(
            "cohort: birthday\nchannel: sms\ntemplates: {zh: sms/birthday.zh.j2}\n"
            f"priority: 10\nsend_window: {{{bad}}}\n"
        )
        with pytest.raises(ConfigError, match=r"birthday\.yaml:5: send_window\.start: .*HH:MM"):
            load_campaign(path)
    assert parse_window("9:00-20:00").start == dt.time(9)  # the --window option alike
    with pytest.raises(ConfigError, match="'9-20'"):
        parse_window("9-20")


def test_read_campaigns_keeps_the_good_files(tmp_path: Path) -> None:
    folder = campaigns_with(tmp_path, "birthday", ("priority: 10", "priority: high"))
    files = read_campaigns(folder)
    assert list(files.broken) == ["birthday"] and "birthday" not in files.campaigns
    assert len(files.campaigns) == len(list((ROOT / "campaigns").glob("*.yaml"))) - 1
    with pytest.raises(ConfigError, match=r"birthday\.yaml:\d+: priority"):
        find_campaign(files, "birthday")


def test_lookups_that_find_nothing_say_so() -> None:
    files = read_campaigns(ROOT / "campaigns")
    with pytest.raises(
        NotFoundError,
        match=r"unknown campaign 'maintenance_du' \(did you mean maintenance_due\?\); known: ",
    ):
        find_campaign(files, "maintenance_du")
    with pytest.raises(
        NotFoundError,
        match=r"unknown cohort 'lapsed_12_25' \(did you mean lapsed_12_24\?\); known: ",
    ):
        find_cohort("lapsed_12_25")
    with pytest.raises(NotFoundError, match=r"unknown campaign 'zzz'; known: birthday, "):
        find_campaign(files, "zzz")


def test_the_day_of_a_run(tmp_path: Path) -> None:
    settings = settings_for("sqlite://", tmp_path)
    late = dt.datetime(2026, 11, 23, 17, 0, tzinfo=dt.UTC)  # 01:00 on the 24th in Shanghai
    assert day_of(settings, None, late) == dt.date(2026, 11, 24)
    assert day_of(settings, AS_OF, late) == AS_OF


def test_settings_keep_the_twilio_token_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "tok-very-secret")
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", "AC1")
    monkeypatch.setenv("TWILIO_FROM", "+15005550006")
    monkeypatch.setenv("REVISIT_STAFF_WEBHOOK_URL", "https://qyapi.example/send?key=robot-key")
    settings = load_settings(output_dir=Path("elsewhere"), database_url=None)
    assert "robot-key" not in repr(settings)
    assert settings.has_twilio and settings.output_dir == Path("elsewhere")
    assert "tok-very-secret" not in repr(settings) and "tok-very-secret" not in str(
        settings.model_dump()
    )
    assert settings.twilio_auth_token is not None
    assert settings.twilio_auth_token.get_secret_value() == "tok-very-secret"
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "")
    assert not load_settings().has_twilio


def test_settings_that_do_not_validate_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVISIT_CAMPAIGNS_DIR", "")
    monkeypatch.setenv("REVISIT_DATABASE_URL", "sqlite:///x.db")
    load_settings()  # an empty path is a path
    monkeypatch.setenv("REVISIT_DEFAULT_TIMEZONE", "Asia/Shangai")
    with pytest.raises(ConfigError, match=r"REVISIT_DEFAULT_TIMEZONE: .*'Asia/Shangai' is not an"):
        load_settings()


def test_a_call_run_tells_staff_through_the_secret_webhook(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    """The webhook URL is a SecretStr setting; the run still posts to it."""
    import json
    from http.server import BaseHTTPRequestHandler

    from tests.test_calls import _serve

    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            answer = b'{"errcode":0,"errmsg":"ok"}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    dealership(engine)
    with _serve(Handler) as base:
        settings = settings_for(
            db_url, tmp_path, staff_webhook_url=f"{base}/cgi-bin/webhook/send?key=K"
        )
        assert "key=K" not in repr(settings)
        report = launch(
            engine, settings, name="post_service_followup", as_of=AS_OF,
            clock=pinned_clock(MORNING),
        )  # fmt: skip
    assert report.status == "done" and report.call_lists
    (body,) = received
    assert "post_service_followup" in body["markdown"]["content"]
