"""``revisit optout import``: opt-out lists in CSV and .xlsx, validated like the DMS import
(SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from revisit.cli import app
from revisit.db.tables import CONTACTS, OPT_OUTS
from revisit.errors import ImportFileError
from revisit.outcomes.optout_import import import_opt_outs
from tests.dispatch_support import make_run
from tests.factories import make_customer


def _people(engine: Engine) -> None:
    with Session(engine) as s:
        make_customer(s, customer_id="C1", phone="+8613911110001")
        make_customer(s, customer_id="C2", phone="+8613911110002")
        make_customer(s, customer_id="C3", phone="+8613911110002")  # shares C2's phone
        make_customer(s, customer_id="C4", phone="+8613911110004")
        s.commit()


def _sources(engine: Engine) -> dict[str, tuple[str, str | None]]:
    with engine.connect() as conn:
        rows = conn.execute(select(OPT_OUTS.c.customer_id, OPT_OUTS.c.source, OPT_OUTS.c.reason))
        return {str(c): (str(s), r) for c, s, r in rows}


CSV = (
    "手机号,客户编号,原因\n"
    "139 1111 0001,,投诉\n"  # line 2: by phone (spaces as people write them)
    ",C4,\n"  # line 3: by id
    "13911110002,,\n"  # line 4: a phone two customers share
    "1391234,,\n"  # line 5: not a phone
    ",C99,\n"  # line 6: unknown customer
    ",,note only\n"  # line 7: names nobody
    "13800000000,,\n"  # line 8: nobody has it: a warning
)


def test_good_rows_load_bad_rows_are_named_and_a_second_import_adds_nothing(
    engine: Engine, tmp_path: Path
) -> None:
    _people(engine)
    path = tmp_path / "optouts.csv"
    path.write_text(CSV, encoding="utf-8")
    report = import_opt_outs(engine, path)
    assert (report.read, report.added, report.rejected, report.warnings) == (7, 4, 3, 1)
    assert [str(p) for p in report.problems] == [
        f"{path}:5: phone: not a valid phone number ('+86 13***34')",
        f"{path}:7: phone: missing: give a phone or a customer_id",
        f"{path}:6: customer_id: unknown customer 'C99'",
        f"{path}:8: phone: no customer has +86 138****0000; nothing to opt out for it",
    ]
    assert _sources(engine) == {
        "C1": ("import", "optouts.csv:2 投诉"),
        "C2": ("import", "optouts.csv:4"),
        "C3": ("import", "optouts.csv:4"),
        "C4": ("import", "optouts.csv:3"),
    }
    again = import_opt_outs(engine, path)
    assert (again.added, again.already, again.rejected) == (0, 4, 3)
    assert len(_sources(engine)) == 4


def test_an_xlsx_list_with_english_headers(engine: Engine, tmp_path: Path) -> None:
    _people(engine)
    path = tmp_path / "complaints.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["customer_id", "phone", "reason"])
    sheet.append(["C1", None, "carrier list"])
    sheet.append([None, 13911110004.0, None])  # Excel stores a typed-in phone as a number
    book.save(path)
    report = import_opt_outs(engine, path)
    assert (report.added, report.rejected) == (2, 0)
    assert set(_sources(engine)) == {"C1", "C4"}


def test_pending_contacts_of_imported_customers_are_excluded(
    engine: Engine, tmp_path: Path
) -> None:
    run_id = make_run(engine, 2)
    with engine.connect() as conn:
        first = conn.execute(
            select(CONTACTS.c.customer_id).where(CONTACTS.c.run_id == run_id).limit(1)
        ).scalar_one()
    path = tmp_path / "list.csv"
    path.write_text(f"customer_id\n{first}\n", encoding="utf-8")
    import_opt_outs(engine, path)
    with engine.connect() as conn:
        rows = dict(conn.execute(select(CONTACTS.c.customer_id, CONTACTS.c.status)).all())
    assert rows[first] == "excluded"
    assert sorted(rows.values()) == ["excluded", "pending"]


def test_a_file_without_phone_or_customer_columns_is_refused(
    engine: Engine, tmp_path: Path
) -> None:
    path = tmp_path / "wrong.csv"
    path.write_text("name,city\n王,泉州\n", encoding="utf-8")
    with pytest.raises(ImportFileError, match=r"wrong.csv:1: no phone or customer_id column"):
        import_opt_outs(engine, path)


def test_cli_exit_codes_and_messages(engine: Engine, db_url: str, tmp_path: Path) -> None:
    _people(engine)
    good, bad, wrong = tmp_path / "good.csv", tmp_path / "bad.csv", tmp_path / "wrong.csv"
    good.write_text("phone\n13911110001\n", encoding="utf-8")
    bad.write_text("customer_id\nC1\nC404\n", encoding="utf-8")
    wrong.write_text("name\n王\n", encoding="utf-8")
    env = {"REVISIT_DATABASE_URL": db_url}
    runner = CliRunner()
    ok = runner.invoke(app, ["optout", "import", str(good)], env=env)
    assert ok.exit_code == 0, ok.output
    failed = runner.invoke(app, ["optout", "import", str(bad)], env=env)
    assert failed.exit_code == 1
    assert f"{bad}:3: customer_id: unknown customer 'C404'" in failed.output
    refused = runner.invoke(app, ["optout", "import", str(wrong)], env=env)
    assert refused.exit_code == 2 and "Traceback" not in refused.output
    assert "no phone or customer_id column" in refused.output
    assert set(_sources(engine)) == {"C1"}
