"""A lead's pages: campaigns with the day's preview numbers in their stores, the launch
confirmation and the launch itself (the same code as ``revisit campaign run``, audited), a
run's progress, and pausing and resuming a run (the web app and the CLI)."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from revisit.access.audit import audit_rows
from revisit.campaigns.statuses import AuditAction, ContactStatus
from revisit.cli import app as cli
from revisit.db.tables import CONTACTS, RUNS
from revisit.delivery.channels import console_sms_dir
from revisit.delivery.outbox import status_counts
from revisit.web.launches import ThreadLauncher
from tests.web_app_support import (
    PASSWORD,
    World,
    build_world,
    csrf_of,
    make_client,
    run_at,
    sign_in,
)

USERS = {"lead1": ("lead", ["S1"]), "lead12": ("lead", ["S1", "S2"]), "root": ("admin", [])}


@pytest.fixture
def world(engine: Engine, tmp_path: Path) -> World:
    return build_world(engine, tmp_path, USERS)


def _client(engine: Engine, world: World, name: str) -> TestClient:
    return sign_in(make_client(engine, world.settings), name, world.passwords[name])


def _post(client: TestClient, page: str, action: str, **form: str) -> object:
    token = csrf_of(client.get(page).text)
    return client.post(action, data=form | {"csrf_token": token}, follow_redirects=False)


def test_the_campaign_list_shows_each_campaigns_numbers_and_its_run(
    engine: Engine, world: World
) -> None:
    page = _client(engine, world, "lead12").get("/campaigns").text
    names = re.findall(r'data-campaign="(\w+)"', page)
    assert {"maintenance_due", "post_service_followup", "lapsed_12_24"} <= set(names)
    assert f'href="/runs/{world.call_run}"' in page and f'href="/runs/{world.sms_run}"' in page


def test_the_confirmation_shows_the_numbers_and_samples_of_the_users_stores(
    engine: Engine, world: World
) -> None:
    day = world.today.isoformat()
    lead = _client(engine, world, "lead12")
    preview = lead.get(f"/campaigns/maintenance_due?day={day}").text
    assert '<b class="n-to-contact">2</b>' in preview and "确认发起" in preview
    assert preview.count('class="length"') == 2  # the two S2 customers' texts, their length in zh
    only_s1 = _client(engine, world, "lead1").get(f"/campaigns/maintenance_due?day={day}").text
    assert '<b class="n-targeted">0</b>' in only_s1 and 'class="length"' not in only_s1
    assert "确认发起" not in only_s1 and "请管理员发起" in only_s1
    assert lead.get("/campaigns/no_such_campaign").status_code == 404
    assert lead.get("/campaigns/maintenance_due?day=2026-13-01").status_code == 400


def test_a_launch_runs_the_campaign_as_the_cli_does_and_is_audited(
    engine: Engine, world: World
) -> None:
    lead = _client(engine, world, "lead12")
    name = "lapsed_12_24"
    answer = _post(
        lead, f"/campaigns/{name}", f"/campaigns/{name}/launch", day=world.today.isoformat()
    )
    assert answer.status_code == 303  # type: ignore[attr-defined]
    target = answer.headers["location"]  # type: ignore[attr-defined]
    assert target == f"/campaigns/{name}/{world.today}/run"
    launches: ThreadLauncher = lead.app.state.launches  # type: ignore[attr-defined]
    launches.join()
    found = launches.state(name, world.today)
    assert found is not None and found.state == "done" and found.error is None
    with engine.connect() as conn:
        run_id = conn.execute(select(RUNS.c.id).where(RUNS.c.campaign == name)).scalar_one()
        audits = audit_rows(conn, action=AuditAction.CAMPAIGN_LAUNCHED)
    assert [(a["actor"], a["entity_id"], a["detail"]) for a in audits] == [
        ("lead12", name, {"as_of": world.today.isoformat(), "dry_run": False})
    ]
    landed = lead.get(target, follow_redirects=False)
    assert landed.status_code == 303 and landed.headers["location"] == f"/runs/{run_id}"
    status = lead.get(f"/runs/{run_id}.json").json()
    assert status["run_id"] == run_id and status["campaign"] == name
    assert lead.get(f"/campaigns/{name}/{world.today}/run.json").json()["run_id"] == run_id


def test_a_lead_cannot_launch_a_campaign_reaching_a_store_they_do_not_see(
    engine: Engine, world: World
) -> None:
    lead = _client(engine, world, "lead1")
    refused = _post(
        lead, "/campaigns", "/campaigns/lapsed_12_24/launch", day=world.today.isoformat()
    )
    assert refused.status_code == 404  # type: ignore[attr-defined]
    assert lead.get(f"/campaigns/lapsed_12_24/{world.today}/run").status_code == 404
    with engine.connect() as conn:
        assert conn.execute(select(RUNS.c.id).where(RUNS.c.campaign == "lapsed_12_24")).all() == []
        assert audit_rows(conn, action=AuditAction.CAMPAIGN_LAUNCHED) == []


def test_a_paused_run_sends_nothing_until_it_is_resumed(
    engine: Engine, world: World, tmp_path: Path
) -> None:
    day = world.today
    late = run_at(engine, world.settings, "lapsed_12_24", day, hour=22)  # outside the window
    assert late.run_id is not None
    waiting = status_counts(engine, run_id=late.run_id).get(ContactStatus.PENDING, 0)
    assert waiting > 0
    lead = _client(engine, world, "lead12")
    page = lead.get(f"/runs/{late.run_id}").text
    assert "暂停" in page
    paused = _post(lead, f"/runs/{late.run_id}", f"/runs/{late.run_id}/pause")
    assert paused.status_code == 303  # type: ignore[attr-defined]
    assert lead.get(f"/runs/{late.run_id}.json").json()["paused_by"] == "lead12"
    # a run of the campaign inside the window now sends nothing: the run stays paused
    again = run_at(engine, world.settings, "lapsed_12_24", day, hour=10)
    assert again.status == "paused" and again.dispatch.get("sent", 0) == 0
    assert status_counts(engine, run_id=late.run_id).get(ContactStatus.PENDING) == waiting
    # pausing twice says why
    twice = _post(lead, f"/runs/{late.run_id}", f"/runs/{late.run_id}/pause")
    assert "cannot be paused: paused by lead12" in lead.get(twice.headers["location"]).text  # type: ignore[attr-defined]
    # the S1-only lead may not touch it (it reaches S2)
    s1 = _client(engine, world, "lead1")
    page_s1 = s1.get(f"/runs/{late.run_id}")
    if page_s1.status_code == 200:
        assert "继续" not in page_s1.text
    assert _post(s1, "/campaigns", f"/runs/{late.run_id}/resume").status_code == 404  # type: ignore[attr-defined]
    # the CLI resumes it (the web app's resume runs on the real clock, in the background)
    env = {"REVISIT_DATABASE_URL": str(engine.url.render_as_string(hide_password=False)),
           "REVISIT_CAMPAIGNS_DIR": str(world.settings.campaigns_dir),
           "REVISIT_TEMPLATES_DIR": str(world.settings.templates_dir),
           "REVISIT_OUTPUT_DIR": str(tmp_path / "out"), "TWILIO_ACCOUNT_SID": ""}  # fmt: skip
    resumed = CliRunner().invoke(cli, ["campaign", "resume", str(late.run_id)], env=env)
    assert resumed.exit_code == 0, resumed.output
    with engine.connect() as conn:
        held = conn.execute(select(RUNS.c.paused_by).where(RUNS.c.id == late.run_id)).scalar()
        actions = [a["action"] for a in audit_rows(conn) if a["entity"] == "run"]
    assert held is None and actions == ["run_paused", "run_resumed"]
    finished = CliRunner().invoke(cli, ["campaign", "pause", str(late.run_id)], env=env)
    if status_counts(engine, run_id=late.run_id).get(ContactStatus.PENDING, 0) == 0:
        assert finished.exit_code == 1 and "cannot be paused" in finished.output


def test_a_finished_call_runs_page_offers_no_pause(engine: Engine, world: World) -> None:
    page = _client(engine, world, "root").get(f"/runs/{world.call_run}").text
    assert "listed" in page and "/pause" not in page
    with engine.connect() as conn:
        listed = conn.execute(select(CONTACTS.c.id).where(CONTACTS.c.run_id == world.call_run))
        assert len(listed.all()) == 6


@pytest.mark.parametrize("broken", ["{{ store.adress }}", "{% if %}"])
def test_a_broken_template_is_a_page_naming_the_problem_not_a_crash(
    engine: Engine, world: World, tmp_path: Path, broken: str
) -> None:
    """An undefined name and a syntax error in a campaign's template: the preview and the
    campaign list answer with the product's one line (409), never the generic 500."""
    import shutil

    templates = tmp_path / "templates"
    shutil.copytree(world.settings.templates_dir, templates)
    (templates / "sms" / "maintenance_due.zh.j2").write_text(broken + "\n", encoding="utf-8")
    settings = world.settings.model_copy(update={"templates_dir": templates})
    lead = sign_in(make_client(engine, settings), "lead12", world.passwords["lead12"])
    answer = lead.get(f"/campaigns/maintenance_due?day={world.today.isoformat()}")
    assert answer.status_code == 409, answer.text[:500]
    assert "maintenance_due.zh.j2" in answer.text and "Traceback" not in answer.text
    assert "无法完成" in answer.text


def _text(page: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def test_every_page_that_speaks_of_sending_says_when_sms_go_to_a_folder_not_to_phones(
    engine: Engine, world: World
) -> None:
    folder = str(world.settings.output_dir / "sms")
    day = world.today.isoformat()
    lead = _client(engine, world, "lead12")
    sms_pages = ["/campaigns", f"/campaigns/maintenance_due?day={day}", f"/runs/{world.sms_run}"]
    for url in sms_pages:
        zh = _text(lead.get(url).text)
        assert f"不会发到客户手机 — 短信写入 {folder}(未配置短信服务商)" in zh, url
        en = _text(lead.get(url, headers={"Accept-Language": "en"}).text)
        assert f"Not sent to phones — written to {folder} (no SMS provider set up)" in en, url
    # a call campaign sends no SMS: its pages say nothing of it
    for url in [f"/campaigns/post_service_followup?day={day}", f"/runs/{world.call_run}"]:
        assert 'class="sms-console"' not in lead.get(url).text, url
    # with an SMS provider set up, the same pages say nothing of a folder
    twilio = world.settings.model_copy(
        update={"twilio_account_sid": "AC" + "0" * 32, "twilio_auth_token": SecretStr("token"),
                "twilio_from": "+15005550006"}
    )  # fmt: skip
    assert console_sms_dir(twilio) is None and console_sms_dir(world.settings) is not None
    with_provider = sign_in(make_client(engine, twilio), "lead12", PASSWORD, new="unused-pass-2")
    for url in sms_pages:
        page = with_provider.get(url)
        assert page.status_code == 200 and 'class="sms-console"' not in page.text, url
