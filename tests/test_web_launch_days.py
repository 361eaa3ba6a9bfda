"""Which days a lead may launch a campaign for on the web: a day the campaign runs on (a
greeting's occasion, an offer's dates — the rule ``campaign run`` applies) and today in the
default store time zone; every other day's page says why, in the user's language, instead
of offering a launch, and a launch posted for it starts nothing. A launch that cannot start,
or fails, says so once, in the user's words when the error is an expected one."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.engine import Engine

from revisit.access.audit import audit_rows
from revisit.campaigns.statuses import AuditAction
from revisit.db.tables import RUNS
from revisit.entry.clocks import check_launch_day
from revisit.entry.lookup import campaign_files
from revisit.errors import ConfigError
from revisit.settings import Settings
from revisit.web.launches import RUNNING, LaunchState, ThreadLauncher
from tests.prefect_server import free_port
from tests.web_app_support import World, build_world, csrf_of, make_client, sign_in

USERS = {"lead12": ("lead", ["S1", "S2"])}
FESTIVAL = dt.date(2027, 2, 6)  # campaigns/festival.yaml's occasion
# 2027-02-05 17:00 UTC is 2027-02-06 01:00 in Asia/Shanghai: today differs from UTC's
EARLY_IN_SHANGHAI = dt.datetime(2027, 2, 5, 17, 0, tzinfo=dt.UTC)


@pytest.fixture
def world(engine: Engine, tmp_path: Path) -> World:
    return build_world(engine, tmp_path, USERS)


class RecordingLauncher:
    """A launcher that records what it is asked to start (the route's decision is under
    test here; the launch itself is the thread's or Prefect's, tested elsewhere)."""

    def __init__(self) -> None:
        self.started: list[tuple[str, dt.date, str | None]] = []

    def start(self, engine: Engine, settings: Settings, *, name: str, day: dt.date,
              actor: str | None = None) -> bool:  # fmt: skip
        self.started.append((name, day, actor))
        return True

    def state(self, name: str, day: dt.date) -> LaunchState | None:
        return LaunchState(RUNNING) if any(s[:2] == (name, day) for s in self.started) else None


def _lead(
    engine: Engine, world: World, settings: Settings | None = None, **app: object
) -> TestClient:
    client = make_client(engine, settings or world.settings, **app)
    return sign_in(client, "lead12", world.passwords["lead12"])


def _launch(client: TestClient, name: str, day: dt.date) -> str:
    """Post the launch of ``name`` for ``day``; where it answers to go."""
    token = csrf_of(client.get("/campaigns").text)
    answer = client.post(f"/campaigns/{name}/launch", data={"day": day.isoformat(),
                         "csrf_token": token}, follow_redirects=False)  # fmt: skip
    assert answer.status_code == 303, answer.text
    return str(answer.headers["location"])


def _runs(engine: Engine, name: str) -> list[int]:
    with engine.connect() as conn:
        return list(conn.execute(select(RUNS.c.id).where(RUNS.c.campaign == name)).scalars())


def test_the_run_day_rule_is_the_one_campaign_run_applies(world: World) -> None:
    campaigns = campaign_files(world.settings).campaigns
    festival, seasonal = campaigns["festival"], campaigns["seasonal"]
    days = festival.run_days()
    assert (days.first, days.last, days.one_day) == (FESTIVAL, FESTIVAL, True)
    assert (seasonal.run_days().first, seasonal.run_days().last) == (
        dt.date(2027, 4, 15), dt.date(2027, 6, 30))  # fmt: skip
    assert not campaigns["lapsed_12_24"].run_days().limited
    with pytest.raises(ConfigError) as refused:
        festival.check_run_day("festival", FESTIVAL + dt.timedelta(days=1))
    assert refused.value.code == "run_days_one" and "--as-of 2027-02-06" in str(refused.value)
    with pytest.raises(ConfigError) as late:
        check_launch_day(seasonal, as_of=dt.date(2027, 7, 1), now=EARLY_IN_SHANGHAI,
                         timezone="Asia/Shanghai")  # fmt: skip
    assert late.value.code == "run_days_range"
    assert late.value.values["last"] == dt.date(2027, 6, 30)


def test_a_greeting_offers_no_launch_on_another_day_and_says_which(
    engine: Engine, world: World
) -> None:
    lead = _lead(engine, world)
    page = lead.get("/campaigns/festival").text  # today, not the occasion
    assert "确认发起" not in page and 'action="/campaigns/festival/launch"' not in page
    assert page.count("仅在 2027-02-06 执行") == 1  # the campaign's days, under its name
    assert "春节问候 仅在 2027-02-06 当天执行,不能为" in page
    listed = lead.get("/campaigns").text
    assert "仅在 2027-02-06 执行" in listed and "仅在 2027-04-15 至 2027-06-30 期间执行" in listed
    english = lead.get("/campaigns/seasonal", headers={"Accept-Language": "en"}).text
    assert "runs from 2027-04-15 to 2027-06-30 only; it cannot be launched for" in english
    assert "Confirm the launch" not in english
    # a launch posted anyway starts nothing and lands on the page that says why, once
    target = _launch(lead, "festival", world.today)
    assert target == f"/campaigns/festival?day={world.today}"
    back = lead.get(target).text
    assert back.count("仅在 2027-02-06 当天执行") == 1 and 'class="flash"' not in back
    assert _runs(engine, "festival") == []
    with engine.connect() as conn:
        assert audit_rows(conn, action=AuditAction.CAMPAIGN_LAUNCHED) == []


def test_today_is_the_store_time_zones_and_past_and_later_days_are_refused(
    engine: Engine, world: World
) -> None:
    launcher = RecordingLauncher()
    lead = _lead(engine, world, clock=lambda: EARLY_IN_SHANGHAI, launcher=launcher)
    # 2027-02-06 in Shanghai while UTC still says 02-05: the greeting's day is today
    confirm = lead.get("/campaigns/festival?day=2027-02-06").text
    assert "发起日期(时区 北京时间)" in confirm
    assert '<b class="launch-day">2027-02-06' in confirm
    assert "确认发起" in confirm and "位客户发送短信,仅在发送时段 09:00–20:00 内发出" in confirm
    assert _launch(lead, "festival", FESTIVAL) == "/campaigns/festival/2027-02-06/run"
    assert launcher.started == [("festival", FESTIVAL, "lead12")]
    # yesterday (UTC's today) and tomorrow: said on the page, refused when posted
    yesterday, tomorrow = FESTIVAL - dt.timedelta(days=1), FESTIVAL + dt.timedelta(days=1)
    for day, words in ((yesterday, "已经过去(今天是 2027-02-06)"),
                       (tomorrow, "尚未到来(今天是 2027-02-06)")):  # fmt: skip
        page = lead.get(f"/campaigns/lapsed_12_24?day={day}").text
        assert page.count(words) == 1 and "确认发起" not in page
        assert _launch(lead, "lapsed_12_24", day) == f"/campaigns/lapsed_12_24?day={day}"
        assert words in lead.get("/campaigns", params={"day": day.isoformat()}).text
    english = lead.get("/campaigns/lapsed_12_24?day=2027-02-05", headers={"Accept-Language": "en"})
    assert "2027-02-05 is a past day (today is 2027-02-06) and cannot be launched" in english.text
    assert launcher.started == [("festival", FESTIVAL, "lead12")]


def test_the_confirmation_says_what_the_launch_will_do(engine: Engine, world: World) -> None:
    lead = _lead(engine, world)  # the real clock: the world's today
    calls = lead.get("/campaigns/post_service_followup").text
    assert "将生成 6 条电话任务,进入回访员的今日待拨。" in calls
    sms = lead.get("/campaigns/maintenance_due", headers={"Accept-Language": "en"}).text
    assert "2 SMS will be sent, only inside the send window 09:00–20:00." in sms
    assert f'<b class="launch-day">{world.today}</b>' in sms


def test_a_launcher_that_cannot_start_says_so_once_in_the_users_words(
    engine: Engine, world: World
) -> None:
    nowhere = world.settings.model_copy(
        update={"prefect_api_url": f"http://127.0.0.1:{free_port()}/api"}
    )
    lead = _lead(engine, world, nowhere)
    target = _launch(lead, "lapsed_12_24", world.today)
    assert target == f"/campaigns/lapsed_12_24?day={world.today}"
    page = lead.get(target).text
    assert page.count("无法通过 Prefect 发起(launch-campaign/launch-campaign)") == 1
    assert "ConnectError" not in page and _runs(engine, "lapsed_12_24") == []


def test_a_failed_launch_is_told_once(engine: Engine, world: World, tmp_path: Path) -> None:
    campaigns = tmp_path / "campaigns"
    shutil.copytree(world.settings.campaigns_dir, campaigns)
    path = campaigns / "lapsed_12_24.yaml"
    path.write_text(path.read_text().replace("sms/lapsed_12_24.zh.j2", "sms/missing.zh.j2"))
    broken = world.settings.model_copy(update={"campaigns_dir": campaigns})
    lead = _lead(engine, world, broken)
    target = _launch(lead, "lapsed_12_24", world.today)
    launcher: ThreadLauncher = lead.app.state.launches  # type: ignore[attr-defined]
    launcher.join()
    found = launcher.state("lapsed_12_24", world.today)
    assert found is not None and found.state == "failed" and found.error is not None
    page = lead.get(target).text
    assert page.count("发起失败:") == 1 and "missing.zh.j2" in page
    assert "data-poll" not in page  # nothing polls to tell it again
    state = lead.get(f"{target}.json").json()
    assert state["state"] == "failed" and state["error"].startswith("发起失败:")
