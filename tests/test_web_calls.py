"""A caller's day in the web app: today's calls in priority order, the call sheet, the
outcome form (recorded as ``revisit outcome log`` records it, then the next call opens),
callbacks, problems, and the replies inbox."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from revisit.access.audit import audit_rows
from revisit.campaigns.statuses import AuditAction
from revisit.cli import app as cli
from revisit.db.tables import CONTACTS, CUSTOMERS, OUTCOMES, TICKETS
from revisit.entry.worklist import todays_calls
from revisit.web.i18n import translate
from tests.web_app_support import World, build_world, csrf_of, make_client, sign_in

USERS = {"王芳": ("staff", ["S1"]), "李娜": ("staff", ["S2"])}


@pytest.fixture
def world(engine: Engine, tmp_path: Path) -> World:
    return build_world(engine, tmp_path, USERS)


@pytest.fixture
def wang(engine: Engine, world: World) -> TestClient:
    return sign_in(make_client(engine, world.settings), "王芳", world.passwords["王芳"])


def _listed(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'class="open-call" href="/calls/(\d+)"', html)]


def _outcome(client: TestClient, contact_id: int, lang: str = "zh", **form: str) -> object:
    token = csrf_of(client.get(f"/calls/{contact_id}").text)
    return client.post(f"/calls/{contact_id}", data=form | {"csrf_token": token},
                       headers={"accept-language": lang}, follow_redirects=False)  # fmt: skip


def test_todays_calls_list_the_callers_own_contacts_highest_priority_first(
    engine: Engine, world: World, wang: TestClient
) -> None:
    assert _listed(wang.get("/calls").text) == world.calls["S1"]
    with engine.begin() as conn:  # the last one now outranks the others
        conn.execute(
            update(CONTACTS).where(CONTACTS.c.id == world.calls["S1"][2]).values(priority=99)
        )
    assert _listed(wang.get("/calls").text) == [world.calls["S1"][2], *world.calls["S1"][:2]]
    li = todays_calls(engine, caller="李娜", store_ids={"S2"}, day=world.today)
    assert [c.contact_id for c in li] == world.calls["S2"]
    # her S2 colleague's calls are not hers even with every store in scope
    assert todays_calls(engine, caller="王芳", store_ids=None, day=world.today)[0].store_id == "S1"


def test_an_outcome_is_recorded_as_the_cli_does_and_the_next_call_opens(
    engine: Engine, world: World, wang: TestClient, db_url: str, tmp_path: Path
) -> None:
    first, second, third = world.calls["S1"]
    sheet = wang.get(f"/calls/{first}").text
    assert "三日回访" in sheet and "call-sheet" in sheet  # the campaign's call-sheet template
    saved = _outcome(wang, first, code="booked", note="周六上午来")
    assert saved.status_code == 303 and saved.headers["location"] == f"/calls/{second}"
    opened = wang.get(saved.headers["location"])
    assert "已保存" in opened.text and "已预约" in opened.text
    assert _listed(wang.get("/calls").text) == [second, third]
    with engine.connect() as conn:
        calls = select(OUTCOMES).where(OUTCOMES.c.contact_id == first, OUTCOMES.c.kind == "call")
        row = conn.execute(calls).one()
        audits = audit_rows(conn, action=AuditAction.OUTCOME_LOGGED)
    assert (row.kind, row.code, row.staff, row.note) == ("call", "booked", "王芳", "周六上午来")
    assert [(a["actor"], a["entity_id"], a["detail"]["code"]) for a in audits] == [
        ("王芳", str(first), "booked")
    ]
    # the same outcome again is recorded once, as `revisit outcome log` would say
    again = _outcome(wang, first, code="booked", note="周六上午来")
    assert again.status_code == 303
    assert "此结果已记录过" in wang.get(again.headers["location"]).text
    # and it is in the staff report of `revisit report`
    env = {
        "REVISIT_DATABASE_URL": db_url,
        "REVISIT_CAMPAIGNS_DIR": str(world.settings.campaigns_dir),
    }
    report = CliRunner().invoke(cli, ["report", "staff", "--format", "json"], env=env)
    assert report.exit_code == 0, report.output
    staff = {r["staff"]: r for r in json.loads(report.output)}
    assert staff["王芳"]["booked"] == 1


def test_a_callback_goes_on_that_days_list_and_the_last_outcome_ends_the_list(
    engine: Engine, world: World, wang: TestClient
) -> None:
    first, second, third = world.calls["S1"]
    tomorrow = world.today + dt.timedelta(days=1)
    assert (
        _outcome(wang, first, code="callback", callback_date=tomorrow.isoformat()).status_code
        == 303
    )
    assert _outcome(wang, second, code="not_reached", reason="busy").status_code == 303
    last = _outcome(wang, third, code="declined", reason="price")
    assert last.headers["location"] == "/calls"
    assert "今天没有待拨的客户" in wang.get("/calls").text
    tomorrows = todays_calls(engine, caller="王芳", store_ids={"S1"}, day=tomorrow)
    assert [(c.customer_id, c.callback) for c in tomorrows] == [(world.customers["S1"][0], True)]


@pytest.mark.parametrize(
    ("form", "field", "problem"),
    [
        ({"code": "declined"}, "reason", "a declined call needs a reason"),
        ({"code": "callback"}, "callback_date", "a callback needs the day to call back"),
        ({"code": "booked", "reason": "price"}, "reason",
         "a reason goes with not_reached or declined"),
        ({"code": "flying"}, "outcome", "unknown outcome 'flying'"),
        ({"code": "callback", "callback_date": "2020-01-01"}, "callback_date",
         "is not after the contact's day"),
        ({"code": "dissatisfied", "reason": "attitude"}, "note",
         "needs the customer's words in the note"),
    ],
)  # fmt: skip
def test_an_outcome_that_cannot_be_used_is_shown_and_nothing_is_written(
    engine: Engine, world: World, wang: TestClient, form: dict[str, str], field: str, problem: str
) -> None:
    # the caller reads zh: the field's problem in zh, the English message only in en
    answer = _outcome(wang, world.calls["S1"][0], **form)
    shown = html.unescape(answer.text)
    assert answer.status_code == 400 and translate(f"problem:{field}", "zh") in shown
    assert problem not in shown
    english = _outcome(wang, world.calls["S1"][0], **form, lang="en")
    assert english.status_code == 400 and problem in html.unescape(english.text)
    with engine.connect() as conn:
        assert conn.execute(select(OUTCOMES.c.id).where(OUTCOMES.c.kind == "call")).all() == []
        assert audit_rows(conn, action=AuditAction.OUTCOME_LOGGED) == []


def test_replies_that_are_not_keywords_show_in_the_customers_inbox(
    engine: Engine, world: World, wang: TestClient
) -> None:
    page = wang.get(f"/customers/{world.customers['S1'][0]}").text
    assert "S1 下周二上午方便吗" in page and "S2 下周二" not in page
    assert "没有回复" in wang.get(f"/customers/{world.customers['S1'][1]}").text
    sheet = wang.get(f"/calls/{world.calls['S1'][0]}").text
    assert "S1 下周二上午方便吗" in sheet


def test_pages_follow_the_users_language(engine: Engine, world: World, wang: TestClient) -> None:
    english = wang.get("/calls", headers={"accept-language": "en-US,en;q=0.9,zh;q=0.5"})
    assert "Today's calls" in html.unescape(english.text)
    assert "今日待拨" in wang.get("/calls", headers={"accept-language": "zh-CN"}).text
    with engine.begin() as conn:
        phone = conn.execute(
            select(CUSTOMERS.c.phone).where(CUSTOMERS.c.customer_id == world.customers["S1"][0])
        ).scalar_one()
    assert phone and phone in wang.get(f"/calls/{world.calls['S1'][0]}").text


def test_a_dissatisfied_customer_opens_a_ticket_for_the_service_manager(
    engine: Engine, world: World, wang: TestClient
) -> None:
    first = world.calls["S1"][0]
    saved = _outcome(wang, first, code="dissatisfied", reason="attitude", note="接待态度差")
    assert saved.status_code == 303  # type: ignore[attr-defined]
    with engine.connect() as conn:
        tickets = conn.execute(select(TICKETS.c.contact_id, TICKETS.c.category)).all()
    assert [tuple(t) for t in tickets] == [(first, "attitude")]
