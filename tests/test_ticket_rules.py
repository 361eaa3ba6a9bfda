"""Dissatisfied-customer tickets, what a first user ran into (issue 16): a callback and the
contact it follows up share one ticket; later words reach the ticket and the managers once;
an outcome only for a contact that was sent or listed; a reason alone that may be a decline
or a complaint is refused; the owner sees the phone and the whole ticket; the staff chat
reads local times and the store's name."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from revisit.db.tables import CONTACTS, OUTCOMES, TICKETS, Ticket
from revisit.outcomes.calls import FieldProblem, parse_outcome
from revisit.outcomes.tickets import list_tickets, ticket_markdown
from tests.factories import make_store
from tests.outcome_support import make_campaign_run
from tests.test_tickets import _cli, webhook

LONG = "第一次保养等了四个小时," * 20 + "最后还没洗车"  # longer than any table cell


def _count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def _callback_of(engine: Engine, contact_id: int) -> int:
    with engine.connect() as conn:
        query = select(CONTACTS.c.id).where(CONTACTS.c.callback_of == contact_id)
        return int(conn.execute(query).scalar_one())


def _sheet(path: Path, rows: list[list[Any]]) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["联系编号", "结果", "原因", "备注"])
        out.writerows(rows)
    return path


def _rejected(output: str) -> list[str]:
    return [" ".join(line.split()) for line in output.splitlines() if line.startswith("rejected ")]


# --- one ticket per original contact; later words reach it, told once -------------------------


def test_a_callback_and_its_contact_share_one_ticket_and_later_words_are_added_once(
    engine: Engine, db_url: str
) -> None:
    calls = make_campaign_run(engine, ["listed"], channel="call")
    original = calls.contacts[0]
    with webhook() as (url, received):
        env = {"REVISIT_DATABASE_URL": db_url, "REVISIT_STAFF_WEBHOOK_URL": url}
        back = _cli(["outcome", "log", str(original), "--code", "callback", "--callback",
                     "2026-10-03"], env)  # fmt: skip
        assert back.exit_code == 0, back.output
        callback = _callback_of(engine, original)  # pending: its day has not come yet
        first = _cli(["outcome", "log", str(callback), "--code", "dissatisfied", "--reason",
                      "attitude", "--note", "顾问不耐烦"], env)  # fmt: skip
        assert first.exit_code == 0 and "ticket opened" in first.output, first.output
        same = _cli(["outcome", "log", str(original), "--code", "dissatisfied", "--reason",
                     "attitude", "--note", "顾问不耐烦"], env)  # fmt: skip
        assert same.exit_code == 0, same.output
        assert "ticket #1 already open for this contact" in same.output
        assert "words were added" not in same.output  # it holds them already
        more = _cli(["outcome", "log", str(original), "--code", "dissatisfied", "--reason",
                     "quality", "--note", "而且漏油没修好"], env)  # fmt: skip
        assert "ticket #1 already open for this contact" in more.output
        assert "words were added" in more.output
        again = _cli(["outcome", "log", str(original), "--code", "dissatisfied", "--reason",
                      "quality", "--note", "而且漏油没修好"], env)  # fmt: skip
        assert "already recorded" in again.output
    assert _count(engine, TICKETS) == 1
    with engine.connect() as conn:
        (ticket,) = list_tickets(conn)
    assert ticket.words.splitlines()[0] == "顾问不耐烦"  # the old words kept, first
    added = ticket.words.splitlines()[1]
    assert added.endswith("质量] 而且漏油没修好") and added.startswith("[20")
    assert ticket.amended_at is not None
    titles = [m["markdown"]["content"].splitlines()[0] for m in received]
    assert titles == ["### 不满意客户问题单 #1", "### 不满意客户问题单 #1 补充"]
    assert "而且漏油没修好" in received[1]["markdown"]["content"]
    counted = json.loads(_cli(["report", "tickets", "--format", "json"],
                              {"REVISIT_DATABASE_URL": db_url}).output)  # fmt: skip
    assert counted[0]["tickets"] == 1


def test_a_corrected_note_reimported_reaches_the_ticket(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    calls = make_campaign_run(engine, ["listed"], channel="call")
    c = calls.contacts[0]
    with webhook() as (url, received):
        env = {"REVISIT_DATABASE_URL": db_url, "REVISIT_STAFF_WEBHOOK_URL": url}
        first = _sheet(tmp_path / "a.csv", [[c, "不满意", "等待时间", "等太久"]])
        assert _cli(["outcome", "import", str(first)], env).exit_code == 0
        fixed = _sheet(tmp_path / "b.csv", [[c, "不满意", "等待时间", "等了三个小时没人理"]])
        result = _cli(["outcome", "import", str(fixed)], env)
        assert result.exit_code == 0, result.output
        assert _cli(["outcome", "import", str(fixed)], env).exit_code == 0  # nothing new
    assert _count(engine, TICKETS) == 1 and len(received) == 2
    with engine.connect() as conn:
        (ticket,) = list_tickets(conn)
    assert ticket.words.startswith("等太久\n") and ticket.words.endswith("等了三个小时没人理")


# --- an outcome only for a contact that was sent or listed -------------------------------------


def test_an_outcome_for_a_contact_never_sent_or_listed_is_refused(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    calls = make_campaign_run(
        engine, ["listed", "expired", "pending", "deferred", "failed", "sent"], channel="call"
    )
    c = calls.contacts
    env = {"REVISIT_DATABASE_URL": db_url}
    logged = _cli(["outcome", "log", str(c[1]), "--code", "dissatisfied", "--reason", "price",
                   "--note", "太贵"], env)  # fmt: skip
    assert logged.exit_code == 1 and "Traceback" not in logged.output
    assert f"contact {c[1]} " in logged.output and "was never sent or listed (expired)" in " ".join(
        logged.output.split()
    )
    sheet = _sheet(tmp_path / "calls.csv", [
        [c[2], "已预约", "", ""],  # line 2: pending
        [c[0], "不满意", "距离远", "x"],  # line 3: refused on reading
        [c[3], "不满意", "价格", "贵"],  # line 4: deferred
        [c[4], "已预约", "", ""],  # line 5: failed
        [c[0], "bogus", "", ""],  # line 6: refused on reading
        [c[5], "已预约", "", ""],  # sent: recorded
    ])  # fmt: skip
    result = _cli(["outcome", "import", str(sheet)], env)
    assert result.exit_code == 1 and "Traceback" not in result.output
    lines = _rejected(result.output)
    assert [line.split(f"{sheet}:")[1].split(":")[0] for line in lines] == ["2", "3", "4", "5", "6"]
    assert "was never sent or listed (pending)" in lines[0]
    assert "was never sent or listed (deferred)" in lines[2]
    assert "was never sent or listed (failed)" in lines[3]
    assert _count(engine, TICKETS) == 0 and _count(engine, OUTCOMES) == 1


# --- a reason alone that fits a decline and a complaint ----------------------------------------


@pytest.mark.parametrize(
    ("code", "reason"),
    [("", "服务态度"), ("", "price"), ("太贵", ""), ("质量", ""), ("", "其他")],
)
def test_a_reason_alone_that_is_a_decline_and_a_complaint_is_ambiguous(
    code: str, reason: str
) -> None:
    with pytest.raises(FieldProblem, match=r"fill 结果 \(outcome\) with declined \(拒绝\), "
                                           r"dissatisfied \(不满意\)") as caught:  # fmt: skip
        parse_outcome(code, reason)
    assert caught.value.field == "outcome"


def test_a_reason_alone_that_is_only_a_decline_still_means_declined() -> None:
    assert parse_outcome("", "距离远") == ("declined", "distance", None)
    assert parse_outcome("拒绝", "服务态度") == ("declined", "attitude", None)


def test_an_ambiguous_row_is_rejected_naming_file_and_line(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    calls = make_campaign_run(engine, ["listed"], channel="call")
    sheet = _sheet(tmp_path / "calls.csv", [[calls.contacts[0], "", "服务态度", "态度差"]])
    result = _cli(["outcome", "import", str(sheet)], {"REVISIT_DATABASE_URL": db_url})
    assert result.exit_code == 1
    (line,) = _rejected(result.output)
    assert f"{sheet}:2: outcome: '服务态度' alone may be a decline reason or a dissatisfaction" \
           " category; fill 结果" in line  # fmt: skip
    assert _count(engine, OUTCOMES) == 0


# --- what the owner and the staff chat read ------------------------------------------------------


def _ticket(engine: Engine, channel: str, zone: str) -> int:
    with Session(engine) as s:
        make_store(s, store_id="KS", name="喀什店", timezone=zone)
        s.commit()
    calls = make_campaign_run(engine, ["listed"], channel=channel, store_id="KS")
    with Session(engine) as s:
        ticket = Ticket(contact_id=calls.contacts[0], customer_id=calls.customers[0],
                        store_id="KS", campaign=calls.campaign, category="waiting_time",
                        words=LONG, owner="张经理",
                        opened_at=dt.datetime(2026, 11, 23, 2, 0, tzinfo=dt.UTC))  # fmt: skip
        s.add(ticket)
        s.commit()
        assert ticket.id is not None
        return ticket.id


def test_the_owner_sees_the_phone_and_the_whole_ticket(engine: Engine, db_url: str) -> None:
    make_campaign_run(engine, ["listed"], channel="call")  # data, no ticket yet
    empty = _cli(["tickets"], {"REVISIT_DATABASE_URL": db_url})
    assert empty.exit_code == 0 and empty.output.strip() == "no tickets", empty.output
    ticket_id = _ticket(engine, "call", "Asia/Shanghai")
    with engine.connect() as conn:
        (ticket,) = list_tickets(conn)
    env = {"REVISIT_DATABASE_URL": db_url}
    listed = _cli(["tickets"], env)
    assert listed.exit_code == 0 and ticket.full_phone in listed.output, listed.output
    assert "****" not in listed.output
    shown = _cli(["tickets", "show", str(ticket_id)], env)
    assert shown.exit_code == 0, shown.output
    assert LONG in shown.output.replace("\n  ", "") and ticket.full_phone in shown.output
    assert "喀什店" in shown.output and "等待时间" in shown.output
    assert "opened: 2026-11-23 02:00 UTC" in shown.output


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_staff_chat_reads_local_time_the_store_name_and_the_channel(
    engine: Engine, lang: str
) -> None:
    _ticket(engine, "sms", "Asia/Urumqi")  # UTC+6: 02:00 UTC is 08:00 there
    with engine.connect() as conn:
        (ticket,) = list_tickets(conn)
    _, text = ticket_markdown(ticket, lang)
    assert "2026-11-23 08:00" in text and "UTC" not in text
    assert "KS 喀什店" in text and "****" in text and ticket.full_phone not in text
    if lang == "zh":
        assert "短信" in text and "回访" not in text
    else:
        assert "SMS contact" in text and "Call:" not in text
