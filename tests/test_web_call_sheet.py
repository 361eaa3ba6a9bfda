"""The call sheet serves only a contact on the caller's own list (issue 13): any other —
never to be contacted, expired, not listed, another caller's, a paused run's — is 404 to a
caller, read-only "do not call" with the phone masked to a lead, and its outcome form is
refused alike. An outcome already recorded is shown and amended (as ``revisit outcome
amend``), a form that fails is shown again at the sheet's own address with what was typed,
one term per outcome code, and times in the store's zone."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Connection, Engine
from typer.testing import CliRunner

from revisit.access.audit import audit_rows
from revisit.access.users import authenticate
from revisit.campaigns.outcome_codes import LABELS, CallCode, canonical, label
from revisit.campaigns.statuses import AuditAction
from revisit.cli import app as cli
from revisit.db.tables import CONTACTS, CUSTOMERS, OUTCOMES, RUNS, STORES, VEHICLES, VISITS
from revisit.dms.phones import format_for_reading, mask_phone
from revisit.web.i18n import WORDS, translate, zone_name
from tests.web_app_support import (
    PASSWORD,
    ROOT,
    World,
    build_world,
    csrf_of,
    make_client,
    sign_in,
)

USERS = {"王芳": ("staff", ["S1"]), "张伟": ("staff", ["S1"]), "lead1": ("lead", ["S1"])}


@pytest.fixture
def world(engine: Engine, tmp_path: Path) -> World:
    return build_world(engine, tmp_path, USERS)


def _client(engine: Engine, world: World, name: str) -> TestClient:
    return sign_in(make_client(engine, world.settings), name, world.passwords[name])


def _listed(text: str) -> list[int]:
    return [int(i) for i in re.findall(r'class="open-call" href="/calls/(\d+)"', text)]


def _post(client: TestClient, contact_id: int, **form: str) -> Any:
    token = csrf_of(client.get("/calls").text)
    return client.post(f"/calls/{contact_id}", data=form | {"csrf_token": token},
                       follow_redirects=False)  # fmt: skip


def _contact(conn: Connection, contact_id: int, **values: Any) -> None:
    conn.execute(update(CONTACTS).where(CONTACTS.c.id == contact_id).values(**values))


def _run_paused(conn: Connection, contact_id: int) -> None:
    run_id = conn.execute(select(CONTACTS.c.run_id).where(CONTACTS.c.id == contact_id)).scalar()
    conn.execute(update(RUNS).where(RUNS.c.id == run_id).values(paused_by="lead1"))


def _callback_tomorrow(conn: Connection, contact_id: int) -> None:
    row = conn.execute(select(CONTACTS).where(CONTACTS.c.id == contact_id)).one()
    root = conn.execute(select(func.min(CONTACTS.c.id)).where(CONTACTS.c.id != contact_id))
    _contact(conn, contact_id, status="pending", callback_of=root.scalar(),
             as_of=row.as_of + dt.timedelta(days=1))  # fmt: skip


#: name → (how the contact is changed, what the lead's page says of it)
NOT_TO_CALL: dict[str, tuple[Callable[[Connection, int], None], str]] = {
    "holdout": (lambda c, i: _contact(c, i, status="holdout"), "对照组客户"),
    "excluded": (lambda c, i: _contact(c, i, status="excluded", reason="do_not_contact"), "已排除"),
    "suppressed": (lambda c, i: _contact(c, i, status="suppressed", reason="cap"), "已让位"),
    "expired": (lambda c, i: _contact(c, i, status="expired"), "已过有效期"),
    "pending": (lambda c, i: _contact(c, i, status="pending"), "尚未分配给客服"),
    "failed": (lambda c, i: _contact(c, i, status="failed"), "尚未分配给客服"),
    "another caller's": (lambda c, i: _contact(c, i, caller="张伟"), "在 张伟 的名单上"),
    "a paused run's": (_run_paused, "所属执行已暂停"),
    "a callback not due": (_callback_tomorrow, "尚未到期"),
    "a week old": (lambda c, i: _contact(c, i, as_of=dt.date(2020, 1, 6)), "的名单已过期"),
}


@pytest.mark.parametrize("case", sorted(NOT_TO_CALL))
def test_a_contact_not_to_call_is_404_to_the_caller_and_do_not_call_to_the_lead(
    engine: Engine, world: World, case: str
) -> None:
    wang, lead = _client(engine, world, "王芳"), _client(engine, world, "lead1")
    target, other = world.calls["S1"][0], world.calls["S1"][1]
    change, says = NOT_TO_CALL[case]
    with engine.begin() as conn:
        change(conn, target)
        phone = conn.execute(
            select(CUSTOMERS.c.phone)
            .join(CONTACTS, CONTACTS.c.customer_id == CUSTOMERS.c.customer_id)
            .where(CONTACTS.c.id == target)
        ).scalar_one()
    unknown = wang.get("/calls/999999")
    assert unknown.status_code == 404
    # the caller: not on the list, the sheet and the form are 404 as an unknown id
    assert target not in _listed(wang.get("/calls").text)
    sheet = wang.get(f"/calls/{target}")
    assert (sheet.status_code, sheet.text) == (404, unknown.text)
    posted = _post(wang, target, code="booked")
    assert (posted.status_code, posted.text) == (404, unknown.text)
    # the lead: read-only, do not call and why, the phone masked, no form, no script
    page = lead.get(f"/calls/{target}")
    text = html.unescape(page.text)
    assert page.status_code == 200 and "请勿拨打" in text and says in text, text
    assert format_for_reading(phone) not in text and f"tel:{phone}" not in text
    assert mask_phone(phone) in text
    assert 'name="code"' not in text and "call-sheet" not in text
    refused = _post(lead, target, code="booked")
    assert refused.status_code == 303 and refused.headers["location"] == f"/calls/{target}"
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(OUTCOMES).where(
            OUTCOMES.c.contact_id == target, OUTCOMES.c.kind == "call")).scalar() == 0  # fmt: skip
        assert audit_rows(conn, action=AuditAction.OUTCOME_LOGGED) == []
    if case == "a paused run's":
        return  # the contact beside it is in the same run
    # the contact beside it is still the caller's to work
    assert wang.get(f"/calls/{other}").status_code == 200
    assert "请勿拨打" not in wang.get(f"/calls/{other}").text


def test_a_due_callback_is_on_the_list_and_its_sheet_is_worked(
    engine: Engine, world: World
) -> None:
    wang = _client(engine, world, "王芳")
    first, second = world.calls["S1"][0], world.calls["S1"][1]
    with engine.begin() as conn:
        _contact(conn, second, status="pending", callback_of=first)
    assert second in _listed(wang.get("/calls").text)
    page = wang.get(f"/calls/{second}")
    assert page.status_code == 200 and 'name="code"' in page.text and "请勿拨打" not in page.text
    assert _post(wang, second, code="booked").status_code == 303


def test_an_outcome_recorded_is_shown_and_amended_once_audited(
    engine: Engine, world: World
) -> None:
    wang = _client(engine, world, "王芳")
    first = world.calls["S1"][0]
    tomorrow = (world.today + dt.timedelta(days=1)).isoformat()
    assert (
        _post(wang, first, code="callback", callback_date=tomorrow, note="下午再打").status_code
        == 303
    )
    page = html.unescape(wang.get(f"/calls/{first}").text)
    # who, when, code, day and note; the form holds it, to amend
    assert "已记录的结果" in page and "再联系 · " + tomorrow in page and "下午再打" in page
    assert "王芳 记录于" in page and 'name="amend"' in page and "修改结果" in page
    assert re.search(r'value="callback"\s+checked', page)
    with engine.connect() as conn:
        callbacks = select(CONTACTS.c.id).where(CONTACTS.c.callback_of == first)
        assert len(conn.execute(callbacks).all()) == 1
        outcome_id = conn.execute(select(OUTCOMES.c.id).where(
            OUTCOMES.c.contact_id == first, OUTCOMES.c.kind == "call")).scalar_one()  # fmt: skip
    # a form opened before (no amend field) that says something else is refused
    stale = _post(wang, first, code="booked")
    assert stale.status_code == 400 and "已记录过结果" in stale.text
    amended = _post(wang, first, code="booked", note="周六上午来", amend=str(outcome_id))
    assert amended.status_code == 303
    assert "已修改" in wang.get(amended.headers["location"]).text
    with engine.connect() as conn:
        o = OUTCOMES.c
        query = select(o.id, o.code, o.callback_date, o.note)
        rows = conn.execute(query.where(o.contact_id == first, o.kind == "call")).all()
        assert [tuple(r) for r in rows] == [(outcome_id, "booked", None, "周六上午来")]
        assert conn.execute(callbacks).all() == []  # tomorrow's callback taken back
        audits = audit_rows(conn, action=AuditAction.OUTCOME_AMENDED)
    assert [(a["actor"], a["entity_id"]) for a in audits] == [("王芳", str(first))]
    assert audits[0]["detail"]["before"]["code"] == "callback"
    assert audits[0]["detail"]["after"]["code"] == "booked"
    # an amendment that cannot be used is shown again at the sheet's address, nothing changes
    bad = _post(wang, first, code="declined", amend=str(outcome_id))
    assert bad.status_code == 400 and "原因与结果不符" in bad.text


def test_revisit_outcome_amend_is_the_same_function(
    engine: Engine, world: World, db_url: str
) -> None:
    wang = _client(engine, world, "王芳")
    first = world.calls["S1"][0]
    assert _post(wang, first, code="not_reached", reason="busy").status_code == 303
    env = {"REVISIT_DATABASE_URL": db_url, "REVISIT_ACTOR": "admin"}
    done = CliRunner().invoke(cli, ["outcome", "amend", str(first), "--code", "declined",
                                    "--reason", "price"], env=env)  # fmt: skip
    assert done.exit_code == 0 and "not_reached / busy → declined / price" in done.output
    # the web page shows the amended outcome
    assert "拒绝 / 价格" in html.unescape(wang.get(f"/calls/{first}").text)
    none = CliRunner().invoke(cli, ["outcome", "amend", str(world.calls["S1"][1]),
                                    "--code", "booked"], env=env)  # fmt: skip
    assert none.exit_code == 1 and "has no outcome to amend" in none.output
    with engine.connect() as conn:
        assert len(audit_rows(conn, action=AuditAction.OUTCOME_AMENDED)) == 1


@pytest.mark.parametrize(
    ("form", "problem"),
    [
        ({"code": "callback", "note": "出差"}, "回访日期:选“再联系”时必填"),
        ({"code": "declined", "note": "不想来"}, "原因与结果不符"),
    ],
)
def test_a_failed_outcome_form_shows_at_the_sheets_address_with_the_input_kept(
    engine: Engine, world: World, form: dict[str, str], problem: str
) -> None:
    wang = _client(engine, world, "王芳")
    first = world.calls["S1"][0]
    answer = _post(wang, first, **form)
    assert answer.status_code == 400 and answer.url.path == f"/calls/{first}"
    text = html.unescape(answer.text)
    assert problem in text and form["note"] in text
    assert re.search(rf'value="{form["code"]}"\s+checked', text)
    assert f'action="/calls/{first}"' in text  # the form posts to the page it is on
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(OUTCOMES).where(
            OUTCOMES.c.contact_id == first, OUTCOMES.c.kind == "call")).scalar() == 0  # fmt: skip


def test_a_failed_password_change_is_shown_on_its_own_page_once(
    engine: Engine, world: World
) -> None:
    wang = _client(engine, world, "王芳")
    token = csrf_of(wang.get("/password").text)
    posted = wang.post("/password", data={"current": "wrong", "new": "another-long-one-2",
                                          "repeat": "another-long-one-2", "csrf_token": token},
                       follow_redirects=False)  # fmt: skip
    assert posted.status_code == 303 and posted.headers["location"] == "/password"
    shown = wang.get("/password")
    assert shown.status_code == 400 and 'class="problem"' in shown.text
    assert 'class="problem"' not in wang.get("/password").text  # a reload: the plain form


def test_one_term_per_outcome_code_on_the_form_the_call_list_and_the_sheets(
    engine: Engine, world: World
) -> None:
    wang = _client(engine, world, "王芳")
    page = html.unescape(wang.get(f"/calls/{world.calls['S1'][0]}").text)
    for code in CallCode:
        assert re.search(rf'value="{code.value}"[^>]*>\s*{re.escape(label(code))}', page), code
    # the reasons under the code they go with
    for code in (CallCode.NOT_REACHED, CallCode.DECLINED, CallCode.DISSATISFIED):
        assert f'<optgroup label="{label(code)}">' in page
    assert not re.search(r"[>\s]回访<", page) and translate("callback", "zh") == label(
        CallCode.CALLBACK
    )
    # the campaigns' call sheet templates name codes by their labels (zh) or values (en)
    for path in sorted((ROOT / "templates" / "calls").glob("*.j2")):
        for shown in re.findall(r"<code>([^<]+)</code>", path.read_text()):
            for word in re.split(r": | · ", shown):
                value = canonical(word)
                assert value in LABELS, (path.name, word)
                lang = "zh" if ".zh." in path.name else "en"
                assert word in (label(value, lang), value), (path.name, word)


def test_times_show_in_the_stores_zone_and_say_which(engine: Engine, world: World) -> None:
    wang = _client(engine, world, "王芳")
    first = world.calls["S1"][0]
    with engine.begin() as conn:
        conn.execute(update(STORES).where(STORES.c.store_id == "S1")
                     .values(timezone="America/Los_Angeles"))  # fmt: skip
        customer = conn.execute(
            select(CONTACTS.c.customer_id).where(CONTACTS.c.id == first)
        ).scalar_one()
        at = dt.datetime(2026, 11, 29, 2, 30, tzinfo=dt.UTC)
        reply = {"contact_id": first, "customer_id": customer, "kind": "reply",
                 "code": "message", "note": "几点开门", "created_at": at}  # fmt: skip
        conn.execute(insert(OUTCOMES).values(**reply))
    assert _post(wang, first, code="booked").status_code == 303
    with engine.connect() as conn:
        logged = conn.execute(select(OUTCOMES.c.created_at).where(
            OUTCOMES.c.contact_id == first, OUTCOMES.c.kind == "call")).scalar_one()  # fmt: skip
    zone = ZoneInfo("America/Los_Angeles")
    logged = logged.replace(tzinfo=dt.UTC) if logged.tzinfo is None else logged
    for url in (f"/customers/{customer}", f"/calls/{first}"):
        text = html.unescape(wang.get(url).text)
        assert "2026-11-28 18:30" in text, url  # the reply, 02:30 UTC
        assert f"{logged.astimezone(zone):%Y-%m-%d %H:%M}" in text, url
        assert zone_name("America/Los_Angeles", "zh") in text, url  # UTC-8 (or -7 in summer)
        assert f"{at:%Y-%m-%d %H:%M}" not in text, url


def test_a_zone_is_named_once_in_every_line_that_names_it(engine: Engine, world: World) -> None:
    # every words entry that takes a zone reads naturally with each way a zone is named
    for key, (zh, _) in WORDS.items():
        for slot in re.findall(r"\{(zone|tz)\}", zh):
            for zone in ("Asia/Shanghai", "America/Los_Angeles"):
                text = translate(key, "zh", **{slot: zone_name(zone, "zh")})
                assert not re.search(r"时间\s*时间|时区\s*时区", text), (key, text)
    wang = _client(engine, world, "王芳")
    first = world.calls["S1"][0]
    with engine.connect() as conn:
        customer = conn.execute(
            select(CONTACTS.c.customer_id).where(CONTACTS.c.id == first)
        ).scalar_one()
    assert _post(wang, first, code="booked").status_code == 303
    for url in (f"/customers/{customer}", f"/calls/{first}"):
        text = html.unescape(wang.get(url).text)
        assert "时间均为北京时间" in text and not re.search(r"北京时间\s*时间", text), url


def test_an_amended_outcome_says_who_amended_it_and_when(
    engine: Engine, world: World, db_url: str
) -> None:
    wang = _client(engine, world, "王芳")
    first = world.calls["S1"][0]
    assert _post(wang, first, code="not_reached", reason="busy").status_code == 303
    assert 'class="amended-by"' not in wang.get(f"/calls/{first}").text  # recorded, not amended
    with engine.connect() as conn:
        outcome_id = conn.execute(select(OUTCOMES.c.id).where(
            OUTCOMES.c.contact_id == first, OUTCOMES.c.kind == "call")).scalar_one()  # fmt: skip
    assert _post(wang, first, code="booked", amend=str(outcome_id)).status_code == 303

    def amended_at() -> str:
        with engine.connect() as conn:
            at = audit_rows(conn, action=AuditAction.OUTCOME_AMENDED)[-1]["at"]
        at = at.replace(tzinfo=dt.UTC) if at.tzinfo is None else at
        return f"{at.astimezone(ZoneInfo('Asia/Shanghai')):%Y-%m-%d %H:%M}"

    page = html.unescape(wang.get(f"/calls/{first}").text)
    assert f"王芳 修改于 {amended_at()} (北京时间)" in page and "王芳 记录于" in page
    # amended again from the command line: the sheet names the newest amendment, in en too
    env = {"REVISIT_DATABASE_URL": db_url}
    done = CliRunner().invoke(cli, ["outcome", "amend", str(first), "--code", "declined",
                                    "--reason", "price"], env=env)  # fmt: skip
    assert done.exit_code == 0, done.output
    en = html.unescape(wang.get(f"/calls/{first}", headers={"Accept-Language": "en"}).text)
    with engine.connect() as conn:
        actor = audit_rows(conn, action=AuditAction.OUTCOME_AMENDED)[-1]["actor"]
    assert actor != "王芳"
    shown = re.findall(r'<p class="amended-by">([^<]*)</p>', en)
    assert shown == [f"amended by {actor} at {amended_at()} (Asia/Shanghai)"]


@pytest.mark.parametrize(
    ("language", "says"),
    [("zh-CN", "两次输入的新密码不一致"), ("en", "new password: the two entries differ")],
)
def test_a_new_password_typed_differently_twice_is_a_problem_on_the_form(
    engine: Engine, world: World, language: str, says: str
) -> None:
    wang = _client(engine, world, "王芳")
    form = wang.get("/password", headers={"Accept-Language": language}).text
    assert 'name="new"' in form and 'name="repeat"' in form
    mismatch = {"current": PASSWORD, "new": "another-long-one-2", "repeat": "another-long-one-3"}
    posted = wang.post("/password", data=mismatch | {"csrf_token": csrf_of(form)},
                       headers={"Accept-Language": language}, follow_redirects=False)  # fmt: skip
    assert posted.status_code == 303 and posted.headers["location"] == "/password"
    shown = wang.get("/password", headers={"Accept-Language": language})
    assert shown.status_code == 400 and says in html.unescape(shown.text)
    with engine.connect() as conn:  # nothing changed: her password is the one she had
        assert authenticate(conn, name="王芳", password=PASSWORD) is not None
    same = mismatch | {"repeat": "another-long-one-2", "csrf_token": csrf_of(shown.text)}
    assert wang.post("/password", data=same, follow_redirects=False).headers["location"] == "/"
    with engine.connect() as conn:
        assert authenticate(conn, name="王芳", password="another-long-one-2") is not None


#: visit type → how the follow-up sheet says what the customer came for (zh, en); a type
#: without its own words (other, one not known) is left unsaid.
CAME_FOR = {
    "first_service": ("来店做了首保,", " for the first service;"),
    "maintenance": ("来店做了保养,", " for a service;"),
    "repair": ("来店做了维修,", " for a repair;"),
    "bodywork": ("来店做了钣喷,", " for bodywork;"),
    "warranty": ("来店做了保修维修,", " for a warranty repair;"),
    "other": ("来店,", ";"),
    "inspection": ("来店,", ";"),
}


@pytest.mark.parametrize("visit_type", sorted(CAME_FOR))
def test_the_follow_up_sheet_says_what_the_customer_came_for_for_every_visit_type(
    engine: Engine, world: World, visit_type: str
) -> None:
    wang = _client(engine, world, "王芳")
    first = world.calls["S1"][0]
    customer = world.customers["S1"][0]
    with engine.begin() as conn:
        vins = select(VEHICLES.c.vin).where(VEHICLES.c.customer_id == customer)
        conn.execute(update(VISITS).where(VISITS.c.vin.in_(vins)).values(type=visit_type))
        day = conn.execute(select(VISITS.c.date).where(VISITS.c.vin.in_(vins))).scalar_one()
    zh, en = CAME_FOR[visit_type]
    sheet = html.unescape(wang.get(f"/calls/{first}").text)
    assert f"“您{day.year}年{day.month}月{day.day}日{zh}我们做个简短回访。”" in sheet
    assert "做了其他" not in sheet and f"做了{visit_type}" not in sheet
    with engine.begin() as conn:  # the sheet speaks the customer's language
        conn.execute(update(CUSTOMERS).where(CUSTOMERS.c.customer_id == customer)
                     .values(language="en"))  # fmt: skip
    sheet = html.unescape(wang.get(f"/calls/{first}").text)
    said = f'"You were in with us on {day.day} {day:%b} {day.year}{en} may I ask'
    assert said in sheet and "You had other" not in sheet
