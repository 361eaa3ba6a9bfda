"""Call outcomes: parsing in both languages, `outcome log`, a filled-in call list imported
back (CSV and .xlsx) with its side effects, bad rows named by file:line, and a second import
adding nothing; callbacks are contacts of their own, listed once on their day."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from revisit.cli import app
from revisit.db.tables import CONTACTS, CUSTOMERS, OPT_OUTS, OUTCOMES, VEHICLES
from revisit.outcomes.calls import FieldProblem, parse_outcome
from tests.outcome_support import make_campaign_run
from tests.test_runs import MORNING as RUN_MORNING
from tests.test_runs import dealership, run, settings_for


@pytest.mark.parametrize(
    ("code", "reason", "callback", "expected"),
    [
        ("已预约", "", "", ("booked", None, None)),
        ("booked", "", "", ("booked", None, None)),
        ("Will come", "", "", ("will_come", None, None)),
        ("拒绝", "价格", "", ("declined", "price", None)),
        ("declined", "relative_garage", "", ("declined", "relative_garage", None)),
        ("车已卖", "", "", ("declined", "car_sold", None)),
        ("空号", "", "", ("not_reached", "wrong_number", None)),
        ("未接通", "", "", ("not_reached", "no_answer", None)),
        ("再联系", "", "2026年10月8日", ("callback", None, dt.date(2026, 10, 8))),
        ("勿扰", "", "", ("do_not_contact", None, None)),
    ],
)
def test_parse_outcome_in_both_languages(
    code: str, reason: str, callback: str, expected: tuple[Any, ...]
) -> None:
    assert parse_outcome(code, reason, callback) == expected


@pytest.mark.parametrize(
    ("code", "reason", "callback", "field", "message"),
    [
        ("maybe", "", "", "outcome", "unknown outcome 'maybe'"),
        ("declined", "", "", "reason", "a declined call needs a reason"),
        ("declined", "busy", "", "reason", "a declined call needs a reason"),
        ("拒绝", "太远了吧", "", "reason", "unknown reason '太远了吧'"),
        ("booked", "price", "", "reason", "goes with not_reached or declined"),
        ("callback", "", "", "callback_date", "needs the day"),
        ("callback", "", "next week", "callback_date", "not a date"),
        ("booked", "", "2026-10-09", "callback_date", "goes with callback"),
        ("空号", "价格", "", "reason", "contradicts"),
    ],
)
def test_parse_outcome_names_the_field(
    code: str, reason: str, callback: str, field: str, message: str
) -> None:
    with pytest.raises(FieldProblem, match=message) as caught:
        parse_outcome(code, reason, callback)
    assert caught.value.field == field


def _write_sheet(path: Path, rows: list[dict[str, str]]) -> None:
    header = ["联系编号", "客户编号", "跟进人", "结果", "原因", "回访日期", "备注"]
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        out = csv.DictWriter(fh, header)
        out.writeheader()
        for row in rows:
            out.writerow({h: row.get(h, "") for h in header})


def _count(engine: Engine, table: Any, *where: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*where)).scalar())


def test_filled_in_call_list_imported_back(engine: Engine, db_url: str, tmp_path: Path) -> None:
    calls = make_campaign_run(engine, ["listed"] * 6 + ["holdout"], channel="call")
    c = calls.contacts
    sheet = tmp_path / "maintenance_due_王芳.csv"
    _write_sheet(sheet, [
        {"联系编号": str(c[0]), "结果": "已预约", "备注": "周六上午"},
        {"联系编号": str(c[1]), "结果": "拒绝", "原因": "车已卖"},
        {"联系编号": str(c[2]), "结果": "未接通", "原因": "空号"},
        {"联系编号": str(c[3]), "结果": "再联系", "回访日期": "2026/10/08"},
        {"联系编号": str(c[4]), "结果": "勿扰"},
        {"联系编号": str(c[5]), "结果": ""},  # not called yet
        {"联系编号": str(c[6]), "结果": "已预约"},  # a holdout member: never to be called
        {"联系编号": "99999", "结果": "已预约"},
        {"联系编号": str(c[0]), "结果": "拒绝", "原因": "太远了吧"},
    ])  # fmt: skip
    env = {"REVISIT_DATABASE_URL": db_url}
    first = CliRunner().invoke(app, ["outcome", "import", str(sheet)], env=env)
    assert first.exit_code == 1, first.output
    assert f"{sheet}:8: contact_id: contact {c[6]} " in first.output
    assert "(holdout)" in first.output
    assert f"{sheet}:9: contact_id: unknown contact 99999" in first.output
    assert f"{sheet}:10: reason: unknown reason '太远了吧'" in first.output
    assert _count(engine, OUTCOMES, OUTCOMES.c.kind == "call") == 5
    with engine.connect() as conn:
        staff = conn.execute(select(OUTCOMES.c.staff).where(OUTCOMES.c.contact_id == c[0]))
        assert staff.scalar_one() == "王芳"  # the contact's caller when the sheet names none
        sold = conn.execute(select(VEHICLES.c.status).where(VEHICLES.c.vin == calls.vins[1]))
        assert sold.scalar_one() == "sold"
        invalid = select(CUSTOMERS.c.phone_invalid)
        assert conn.execute(invalid.where(CUSTOMERS.c.customer_id == calls.customers[2])).scalar()
        opted = conn.execute(select(OPT_OUTS.c.source, OPT_OUTS.c.customer_id)).all()
        assert opted == [("staff", calls.customers[4])]
        callback = conn.execute(
            select(CONTACTS.c.as_of, CONTACTS.c.status, CONTACTS.c.callback_of,
                   CONTACTS.c.caller).where(CONTACTS.c.callback_of.is_not(None))
        ).all()  # fmt: skip
    assert callback == [(dt.date(2026, 10, 8), "pending", c[3], "王芳")]
    second = CliRunner().invoke(app, ["outcome", "import", str(sheet)], env=env)
    assert second.exit_code == 1
    assert _count(engine, OUTCOMES, OUTCOMES.c.kind == "call") == 5
    assert _count(engine, CONTACTS, CONTACTS.c.callback_of.is_not(None)) == 1


def test_xlsx_sheet_with_english_headers(engine: Engine, db_url: str, tmp_path: Path) -> None:
    import openpyxl

    calls = make_campaign_run(engine, ["listed", "listed"], channel="call")
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["contact_id", "name", "outcome", "reason", "callback_date", "note"])
    sheet.append([calls.contacts[0], "x", "declined", "price", None, "too dear"])
    sheet.append([calls.contacts[1], "y", "callback", None, dt.datetime(2026, 10, 9), None])
    # A date typed in a General-formatted cell (or one of Excel's Chinese date formats, which
    # openpyxl hands over as the serial) is a date too.
    sheet.cell(row=3, column=5).number_format = "General"
    path = tmp_path / "calls.xlsx"
    book.save(path)
    result = CliRunner().invoke(app, ["outcome", "import", str(path)],
                                env={"REVISIT_DATABASE_URL": db_url})  # fmt: skip
    assert result.exit_code == 0, result.output
    with engine.connect() as conn:
        rows = conn.execute(
            select(OUTCOMES.c.code, OUTCOMES.c.detail, OUTCOMES.c.callback_date, OUTCOMES.c.note)
            .order_by(OUTCOMES.c.contact_id)
        ).all()  # fmt: skip
    assert rows == [("declined", "price", None, "too dear"),
                    ("callback", None, dt.date(2026, 10, 9), None)]  # fmt: skip


def test_a_sheet_without_an_outcome_column_is_refused(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    make_campaign_run(engine, ["listed"], channel="call")  # a database with data in it
    path = tmp_path / "calls.csv"
    path.write_text("联系编号,客户姓名\n1,王\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["outcome", "import", str(path)],
                                env={"REVISIT_DATABASE_URL": db_url})  # fmt: skip
    assert result.exit_code == 2
    assert f"{path}:1: missing column outcome (结果)" in result.output


def test_outcome_log(engine: Engine, db_url: str) -> None:
    calls = make_campaign_run(engine, ["listed", "excluded"], channel="call")
    env = {"REVISIT_DATABASE_URL": db_url}
    ok = CliRunner().invoke(app, ["outcome", "log", str(calls.contacts[0]), "--code", "declined",
                                  "--reason", "价格", "--staff", "李娜"], env=env)  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert "declined / price recorded" in ok.output
    bad = CliRunner().invoke(app, ["outcome", "log", str(calls.contacts[0]), "--code", "declined"],
                             env=env)  # fmt: skip
    assert bad.exit_code == 1
    assert "contact" in bad.output and "a declined call needs a reason" in bad.output
    excluded = CliRunner().invoke(
        app, ["outcome", "log", str(calls.contacts[1]), "--code", "booked"], env=env
    )
    assert excluded.exit_code == 1 and "was not to be contacted (excluded)" in excluded.output
    early = CliRunner().invoke(app, ["outcome", "log", str(calls.contacts[0]), "--code",
                                     "callback", "--callback", "2026-09-01"], env=env)  # fmt: skip
    assert early.exit_code == 1 and "is not after the contact's day 2026-10-01" in early.output
    assert _count(engine, OUTCOMES) == 1


def test_a_callback_is_listed_once_on_its_day_by_the_campaign_run(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    dealership(engine)
    settings = settings_for(db_url, tmp_path)
    first = run(engine, settings, "post_service_followup", RUN_MORNING)
    with engine.connect() as conn:
        (contact_id, caller) = conn.execute(
            select(CONTACTS.c.id, CONTACTS.c.caller).where(CONTACTS.c.status == "listed")
        ).one()
    assert first.call_lists and caller == "王芳"
    day = RUN_MORNING.date() + dt.timedelta(days=2)
    env = {"REVISIT_DATABASE_URL": db_url}
    args = ["outcome", "log", str(contact_id), "--code", "callback", "--callback", str(day)]
    assert CliRunner().invoke(app, args, env=env).exit_code == 0
    again = CliRunner().invoke(app, args, env=env)
    assert "already recorded" in again.output
    other = ["outcome", "log", str(contact_id), "--code", "再联系", "--callback", str(day),
             "--note", "asked again"]  # fmt: skip
    assert CliRunner().invoke(app, other, env=env).exit_code == 0  # a second callback, same day
    assert _count(engine, CONTACTS, CONTACTS.c.callback_of == contact_id) == 1
    from revisit.campaigns.config import load_campaigns
    from revisit.entry.runs import RunOptions, pinned_clock, run_campaign

    campaigns = load_campaigns(settings.campaigns_dir)
    later = run_campaign(
        engine, campaign=campaigns["post_service_followup"], campaigns=campaigns, as_of=day,
        clock=pinned_clock(RUN_MORNING + dt.timedelta(days=2)), settings=settings,
        options=RunOptions(),
    )  # fmt: skip
    listed = [Path(p) for p in later.call_lists if p.endswith(".csv")]
    assert [p.name for p in listed] == [f"post_service_followup_{day}_王芳.csv"]
    text = listed[0].read_text(encoding="utf-8-sig")
    assert text.count("\n") == 2  # the header and the callback
    with engine.connect() as conn:
        status = conn.execute(
            select(CONTACTS.c.status).where(CONTACTS.c.callback_of == contact_id)
        ).scalar_one()
    assert status == "listed"


def test_a_rerun_today_neither_lists_a_later_callback_nor_overwrites_the_call_list(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    """Regression: after a callback for a later day was recorded, running the campaign again
    the same day listed the callback today and wrote the caller's list anew with that one
    row, over the list the caller was filling in."""
    dealership(engine)
    settings = settings_for(db_url, tmp_path)
    first = run(engine, settings, "post_service_followup", RUN_MORNING)
    (handed,) = [Path(p) for p in first.call_lists if p.endswith(".csv")]
    before = handed.read_bytes()
    with engine.connect() as conn:
        contact_id = conn.execute(
            select(CONTACTS.c.id).where(CONTACTS.c.status == "listed")
        ).scalar_one()
    later = RUN_MORNING.date() + dt.timedelta(days=3)
    args = ["outcome", "log", str(contact_id), "--code", "callback", "--callback", str(later)]
    env = {"REVISIT_DATABASE_URL": db_url}
    assert CliRunner().invoke(app, args, env=env).exit_code == 0
    again = run(engine, settings, "post_service_followup", RUN_MORNING)
    assert again.call_lists == [] and handed.read_bytes() == before
    with engine.connect() as conn:
        status = conn.execute(
            select(CONTACTS.c.status).where(CONTACTS.c.callback_of == contact_id)
        ).scalar_one()
    assert status == "pending"  # waits for its own day


def test_a_second_list_of_the_same_day_and_caller_gets_its_own_file(tmp_path: Path) -> None:
    """Another instance of the kind: any later list for a caller on a day (a callback due
    today, a resumed run) is written beside the first, never over it."""
    from revisit.delivery.calls import CallRow, write_call_lists

    day = dt.date(2026, 11, 23)
    rows = [CallRow(customer_id="C1", name="王伟", phone="+8613912345678", vehicles="",
                    reason="三日回访", caller="王芳")]  # fmt: skip
    first = write_call_lists(rows=rows, out_dir=tmp_path, campaign="c", as_of=day)
    before = {p: p.read_bytes() for p in first}
    second = write_call_lists(rows=rows, out_dir=tmp_path, campaign="c", as_of=day)
    third = write_call_lists(rows=rows, out_dir=tmp_path, campaign="c", as_of=day)
    assert [p.name for p in second] == ["c_2026-11-23_王芳_2.csv", "c_2026-11-23_王芳_2.html"]
    assert [p.name for p in third] == ["c_2026-11-23_王芳_3.csv", "c_2026-11-23_王芳_3.html"]
    assert all(p.read_bytes() == data for p, data in before.items())


@pytest.mark.parametrize(
    ("reason", "code", "detail"),
    [("空号", "not_reached", "wrong_number"), ("车已卖", "declined", "car_sold"),
     ("距离远", "declined", "distance")],
)  # fmt: skip
def test_a_reason_alone_names_its_outcome(reason: str, code: str, detail: str) -> None:
    """Regression: a call list row with only 原因 filled in (空号, 车已卖) was skipped as
    "no outcome yet"; the reason names the outcome (when it is a decline reason and not a
    dissatisfaction category too: tests/test_ticket_rules.py)."""
    from revisit.outcomes.calls import parse_outcome

    assert parse_outcome("", reason, "") == (code, detail, None)


def test_the_call_list_csv_round_trips_through_excel(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    """The CSV a run hands out, filled in and saved again (as Chinese Excel does: GB18030),
    imports back unchanged."""
    dealership(engine)
    settings = settings_for(db_url, tmp_path)
    report = run(engine, settings, "post_service_followup", RUN_MORNING)
    (handed_out,) = [Path(p) for p in report.call_lists if p.endswith(".csv")]
    with handed_out.open(encoding="utf-8-sig", newline="") as fh:
        rows = list(csv.reader(fh))
    header = rows[0]
    for row in rows[1:]:
        row[header.index("结果")] = "拒绝"
        row[header.index("原因")] = "距离远"
        row[header.index("备注")] = "搬到厦门了"
    saved = tmp_path / "filled.csv"
    with saved.open("w", encoding="gb18030", newline="") as fh:
        csv.writer(fh).writerows(rows)
    env = {"REVISIT_DATABASE_URL": db_url}
    result = CliRunner().invoke(app, ["outcome", "import", str(saved)], env=env)
    assert result.exit_code == 0, result.output
    with engine.connect() as conn:
        got = conn.execute(select(OUTCOMES.c.code, OUTCOMES.c.detail, OUTCOMES.c.staff,
                                  OUTCOMES.c.note)).all()  # fmt: skip
    assert got == [("declined", "distance", "王芳", "搬到厦门了")] * (len(rows) - 1)
    again = CliRunner().invoke(app, ["outcome", "import", str(saved)], env=env)
    assert again.exit_code == 0 and _count(engine, OUTCOMES) == len(rows) - 1


def test_a_callback_is_counted_on_every_backend(engine: Engine, db_url: str) -> None:
    """Regression: on PostgreSQL a single INSERT … ON CONFLICT counted no row, so `outcome
    log` never said the callback was added (and imports counted 0 callbacks)."""
    from revisit.db.engine import insert_ignore

    calls = make_campaign_run(engine, ["listed"], channel="call")
    env = {"REVISIT_DATABASE_URL": db_url}
    args = ["outcome", "log", str(calls.contacts[0]), "--code", "callback",
            "--callback", "2026-10-08"]  # fmt: skip
    first = CliRunner().invoke(app, args, env=env)
    assert first.exit_code == 0, first.output
    assert "(callback added to that day's call list)" in first.output
    with engine.begin() as conn:
        row = conn.execute(select(CONTACTS).where(CONTACTS.c.callback_of.is_not(None))).one()
        again = {k: v for k, v in row._mapping.items() if k != "id"}
        assert (
            insert_ignore(conn, CONTACTS, [again], keys=["campaign", "as_of", "customer_id"]) == 0
        )
