"""Dissatisfied-customer tickets (issue 16): a ``dissatisfied`` call outcome opens exactly one
ticket for the store's service manager, the staff webhook hears of it once (a local server;
a re-import adds nothing), it shows in ``revisit tickets`` and ``revisit report tickets``
until resolved, and a ticket not resolved a day after it was opened is flagged."""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from revisit.campaigns.statuses import TicketStatus
from revisit.cli import app
from revisit.db.tables import OUTCOMES, TICKETS, Ticket
from revisit.outcomes.calls import FieldProblem, parse_outcome
from revisit.outcomes.tickets import (
    TicketError,
    list_tickets,
    resolve_ticket,
    start_ticket,
)
from revisit.reports.tickets import TicketFilter, ticket_report
from tests.factories import make_customer, make_store, make_vehicle, make_visit
from tests.outcome_support import make_campaign_run
from tests.test_calls import _serve
from tests.test_runs import AS_OF, MORNING, run, settings_for

WORDS = "等了三个小时没人理,车洗得也不干净"


@contextmanager
def webhook(answers: list[int] | None = None) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """A local staff-chat robot: yields its URL and the messages it received; ``answers``
    are the HTTP statuses of its first answers (then 200)."""
    received: list[dict[str, Any]] = []
    pending = list(answers or [])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            code = pending.pop(0) if pending else 200
            if code == 200:
                received.append(body)
            answer = b'{"errcode":0,"errmsg":"ok"}'
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    with _serve(Handler) as base:
        yield f"{base}/cgi-bin/webhook/send?key=SECRET", received


def _followup_call_list(engine: Engine, db_url: str, tmp_path: Path) -> tuple[Path, str]:
    """A 3DC call list written by a real run: two customers back from the shop two days
    ago (advisor 陈明). Returns the CSV and the first customer's contact id."""
    with Session(engine) as s:
        store = make_store(s, store_id="QZ", name="泉州店")
        for _ in range(2):
            v = make_vehicle(s, customer=make_customer(s, store_id=store.store_id))
            make_visit(s, vehicle=v, date=AS_OF - dt.timedelta(days=2), type="repair",
                       advisor="陈明")  # fmt: skip
        s.commit()
    report = run(engine, settings_for(db_url, tmp_path), "post_service_followup", MORNING)
    (sheet,) = [Path(p) for p in report.call_lists if p.endswith(".csv")]
    with sheet.open(encoding="utf-8-sig", newline="") as fh:
        first = next(csv.DictReader(fh))
    return sheet, first["联系编号"]


def _fill(sheet: Path, values: dict[str, dict[str, str]]) -> Path:
    """The call list with its outcome columns filled in (contact id → column → text)."""
    with sheet.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        header, rows = list(reader.fieldnames or []), list(reader)
    for row in rows:
        row.update(values.get(row["联系编号"], {}))
    filled = sheet.with_name("filled_" + sheet.name)
    with filled.open("w", encoding="utf-8-sig", newline="") as fh:
        out = csv.DictWriter(fh, header)
        out.writeheader()
        out.writerows(rows)
    return filled


def _cli(args: list[str], env: dict[str, str]) -> Any:
    return CliRunner().invoke(app, args, env=env)


def _count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_a_dissatisfied_call_opens_one_ticket_told_once_and_listed_until_resolved(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    sheet, contact = _followup_call_list(engine, db_url, tmp_path)
    filled = _fill(sheet, {contact: {"结果": "不满意", "原因": "等待时间", "备注": WORDS}})
    with webhook() as (url, received):
        env = {"REVISIT_DATABASE_URL": db_url, "REVISIT_STAFF_WEBHOOK_URL": url,
               "REVISIT_SERVICE_MANAGERS": '{"QZ": "张经理"}'}  # fmt: skip
        first = _cli(["outcome", "import", str(filled)], env)
        assert first.exit_code == 0, first.output
        assert "1 new ticket(s) announced" in first.output
        again = _cli(["outcome", "import", str(filled)], env)
        assert again.exit_code == 0, again.output
    assert _count(engine, TICKETS) == 1 and _count(engine, OUTCOMES) == 1
    (message,) = received  # told once, whatever the imports
    text = message["markdown"]["content"]
    assert "不满意客户问题单 #1" in text and "张经理" in text and "等待时间" in text
    assert WORDS in text and "陈明" in text and "****" in text  # the phone masked
    with engine.connect() as conn:
        (ticket,) = list_tickets(conn)
    assert (ticket.status, ticket.owner, ticket.store_id) == ("open", "张经理", "QZ")
    assert (ticket.category, ticket.words, ticket.advisor) == ("waiting_time", WORDS, "陈明")
    assert ticket.visit_id is not None and ticket.phone.startswith("+86 139****")
    assert str(ticket.id) == "1" and ticket.campaign == "post_service_followup"

    env = {"REVISIT_DATABASE_URL": db_url}
    listed = _cli(["tickets", "--status", "OPEN"], env)  # any case
    assert listed.exit_code == 0, listed.output
    assert "张经理" in listed.output and "等待时间" in listed.output
    assert "⚑" not in listed.output  # nothing flagged: no legend
    table = _cli(["report", "tickets"], env).output
    assert "等待时间" in table and "waiting_time" not in table  # as `tickets` says it
    counted = json.loads(_cli(["report", "tickets", "--format", "json"], env).output)
    assert counted == [{"store": "QZ", "advisor": "陈明", "category": "waiting_time",
                        "tickets": 1, "open": 1, "in_progress": 0, "resolved": 0,
                        "overdue": 0}]  # fmt: skip

    assert _cli(["tickets", "start", "1"], env).exit_code == 0
    done = _cli(["tickets", "resolve", "1", "--note", "店长致电道歉,免费补洗"], env)
    assert done.exit_code == 0, done.output
    assert "no tickets (open)" in _cli(["tickets", "--status", "open"], env).output
    assert "1" in _cli(["tickets", "--status", "Resolved"], env).output
    counted = json.loads(_cli(["report", "tickets", "--format", "json"], env).output)
    assert (counted[0]["open"], counted[0]["resolved"]) == (0, 1)
    as_json = json.loads(_cli(["tickets", "--json"], env).output)
    assert as_json[0]["resolution"] == "店长致电道歉,免费补洗"


def test_outcome_log_opens_a_ticket_too(engine: Engine, db_url: str, tmp_path: Path) -> None:
    calls = make_campaign_run(engine, ["listed"], channel="call", campaign="declined_a")
    with webhook() as (url, received):
        env = {"REVISIT_DATABASE_URL": db_url, "REVISIT_STAFF_WEBHOOK_URL": url}
        args = ["outcome", "log", str(calls.contacts[0]), "--code", "dissatisfied",
                "--reason", "price", "--note", "报价比外面贵一倍"]  # fmt: skip
        result = _cli(args, env)
        assert result.exit_code == 0, result.output
        assert "ticket opened for the service manager" in result.output
        assert _cli(args, env).exit_code == 0  # logged again: already recorded
    assert len(received) == 1 and _count(engine, TICKETS) == 1
    with engine.connect() as conn:
        (ticket,) = list_tickets(conn)
    # no manager configured: the list name the call lists use for the store
    assert (ticket.owner, ticket.category, ticket.advisor) == (
        "service_manager_default", "price", None,
    )  # fmt: skip


def test_a_webhook_that_fails_announces_the_ticket_at_the_next_command(
    engine: Engine, db_url: str
) -> None:
    calls = make_campaign_run(engine, ["listed", "listed"], channel="call")
    with webhook(answers=[500]) as (url, received):
        env = {"REVISIT_DATABASE_URL": db_url, "REVISIT_STAFF_WEBHOOK_URL": url}
        first = _cli(["outcome", "log", str(calls.contacts[0]), "--code", "不满意", "--reason",
                      "服务态度", "--note", "顾问态度很差"], env)  # fmt: skip
        # recorded: a warning, not a failure, and the announcement is retried later
        assert first.exit_code == 0 and "answered 500" in first.output, first.output
        assert "will be retried" in " ".join(first.output.split())
        assert "Traceback" not in first.output
        assert received == [] and _count(engine, TICKETS) == 1  # recorded, not yet told
        later = _cli(["outcome", "log", str(calls.contacts[1]), "--code", "booked"], env)
        assert later.exit_code == 0, later.output
    (message,) = received
    assert "顾问态度很差" in message["markdown"]["content"]


# --- bad input ---------------------------------------------------------------------------------


def test_a_bad_category_or_no_words_is_one_line_naming_the_file_and_line(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    calls = make_campaign_run(engine, ["listed"] * 3, channel="call")
    c = calls.contacts
    sheet = tmp_path / "calls.csv"
    with sheet.open("w", encoding="utf-8-sig", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["联系编号", "结果", "原因", "备注"])
        out.writerow([c[0], "不满意", "距离远", "太远了"])  # distance: not a category
        out.writerow([c[1], "不满意", "质量", ""])  # no words
        out.writerow([c[2], "不满意", "", "不好"])  # no category
    result = _cli(["outcome", "import", str(sheet)], {"REVISIT_DATABASE_URL": db_url})
    assert result.exit_code == 1 and "Traceback" not in result.output
    lines = [" ".join(line.split()) for line in result.output.splitlines() if "rejected" in line]
    known = (
        "attitude (服务态度), other (其他), price (价格), quality (质量), waiting_time (等待时间)"
    )
    assert f"{sheet}:2: reason: '距离远' is not one; a dissatisfied call needs a category: " \
           f"one of {known}" in " ".join(lines)  # fmt: skip
    assert f"{sheet}:3: note: a dissatisfied call needs the customer's words" in " ".join(lines)
    assert f"{sheet}:4: reason: a dissatisfied call needs a category" in " ".join(lines)
    assert _count(engine, TICKETS) == 0


@pytest.mark.parametrize(
    ("code", "reason", "expected"),
    [
        ("不满意", "服务态度", ("dissatisfied", "attitude", None)),
        ("dissatisfied", "Waiting time", ("dissatisfied", "waiting_time", None)),
        ("投诉", "价格", ("dissatisfied", "price", None)),
        ("不满意", "其他", ("dissatisfied", "other", None)),
        ("", "距离远", ("declined", "distance", None)),  # a decline reason alone: declined
    ],
)
def test_dissatisfied_in_both_languages(code: str, reason: str, expected: Any) -> None:
    assert parse_outcome(code, reason) == expected


def test_dissatisfied_takes_no_callback_date() -> None:
    with pytest.raises(FieldProblem, match="goes with callback"):
        parse_outcome("dissatisfied", "quality", "2026-12-01")


# --- moves, age and the overdue flag ------------------------------------------------------------


def _one_ticket(engine: Engine, opened: dt.datetime) -> int:
    calls = make_campaign_run(engine, ["listed"], channel="call")
    with Session(engine) as s:
        ticket = Ticket(contact_id=calls.contacts[0], customer_id=calls.customers[0],
                        store_id="default", campaign=calls.campaign, category="quality",
                        words="又漏油了", owner="张经理", opened_at=opened)  # fmt: skip
        s.add(ticket)
        s.commit()
        assert ticket.id is not None and ticket.status == TicketStatus.OPEN
        return ticket.id


def test_a_ticket_not_resolved_past_a_day_is_flagged_started_or_not(
    engine: Engine, db_url: str
) -> None:
    opened = dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC)
    ticket_id = _one_ticket(engine, opened)
    within, past = opened + dt.timedelta(hours=23), opened + dt.timedelta(hours=25)
    with engine.connect() as conn:
        (early,) = list_tickets(conn, now=within)
        (late,) = list_tickets(conn, now=past)
        assert not early.overdue and late.overdue
        assert late.age == dt.timedelta(hours=25) and late.as_dict()["age_hours"] == 25.0
        (row,) = ticket_report(conn, TicketFilter(now=past))
        assert (row["open"], row["overdue"], row["advisor"]) == (1, 1, "unknown")
    with engine.begin() as conn:
        start_ticket(conn, ticket_id, now=within)
    with engine.connect() as conn:  # started, then forgotten: still flagged
        (taken,) = list_tickets(conn, now=past + dt.timedelta(days=3))
        assert taken.status == "in_progress" and taken.overdue
        assert ticket_report(conn, TicketFilter(now=past))[0]["overdue"] == 1
    listed = _cli(["tickets"], {"REVISIT_DATABASE_URL": db_url}).output
    assert "⚑ in_progress" in listed and "not resolved a day after" in listed
    with engine.begin() as conn:
        resolve_ticket(conn, ticket_id, note="已致电道歉", now=past)
    with engine.connect() as conn:
        (closed,) = list_tickets(conn, now=past + dt.timedelta(days=3))
        assert not closed.overdue
        assert ticket_report(conn, TicketFilter(now=past))[0]["overdue"] == 0


def test_moves_refused_with_one_clear_line(engine: Engine, db_url: str) -> None:
    ticket_id = _one_ticket(engine, dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC))
    with engine.begin() as conn, pytest.raises(TicketError, match="a resolution needs a note"):
        resolve_ticket(conn, ticket_id, note="  ")
    with engine.begin() as conn:
        resolve_ticket(conn, ticket_id, note="更换油封,已回访确认")
    with engine.begin() as conn, pytest.raises(TicketError, match="is resolved; it cannot be"):
        start_ticket(conn, ticket_id)
    env = {"REVISIT_DATABASE_URL": db_url}
    for args, message in [
        (["tickets", "resolve", str(ticket_id), "--note", "x"],
         f"ticket {ticket_id} is resolved; it cannot be resolved"),
        (["tickets", "start", "99"], "no ticket 99 (see `revisit tickets`)"),
        (["tickets", "--status", "closed"], "unknown status 'closed'"),
        (["tickets", "--store", "QZX"], "unknown store 'QZX'"),
    ]:  # fmt: skip
        result = _cli(args, env)
        assert result.exit_code != 0 and "Traceback" not in result.output
        assert message in " ".join(result.output.split()), result.output


def test_the_list_filters_by_stores_and_status(engine: Engine) -> None:
    """What the web app calls: a manager's stores, one status."""
    a = _one_ticket(engine, dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC))
    with Session(engine) as s:
        make_store(s, store_id="JJ")
        s.commit()
    calls = make_campaign_run(engine, ["listed"], channel="call", store_id="JJ")
    with Session(engine) as s:
        s.add(Ticket(contact_id=calls.contacts[0], customer_id=calls.customers[0],
                     store_id="JJ", campaign=calls.campaign, category="price", words="贵",
                     owner="李经理"))  # fmt: skip
        s.commit()
    with engine.begin() as conn:
        start_ticket(conn, a)
    with engine.connect() as conn:
        assert [t.store_id for t in list_tickets(conn)] == ["default", "JJ"]
        assert [t.store_id for t in list_tickets(conn, store_ids=["JJ"])] == ["JJ"]
        assert list_tickets(conn, store_ids=[]) == []
        mine = list_tickets(conn, store_ids=["default", "JJ"], statuses=[TicketStatus.OPEN])
        assert [t.owner for t in mine] == ["李经理"]
