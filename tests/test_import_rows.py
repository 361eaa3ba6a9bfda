"""Rows of a DMS export as real files bring them (issue 11, items 1, 6 and 7): dates in any
Excel number format, stores loaded in the same import, blank rows, duplicate ids, unchanged
rows."""

from __future__ import annotations

import datetime as dt
import re
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from openpyxl.styles.numbers import BUILTIN_FORMATS
from openpyxl.utils.datetime import CALENDAR_MAC_1904
from sqlalchemy.engine import Engine

from tests.test_importing import rows, run_import

DAY = dt.date(2024, 3, 16)  # serial 45367 in the 1900 date system
SERIAL = 45367
#: Date formats Excel numbers by locale, unknown to openpyxl (zh-CN: 27–36, 50–58).
LOCALE_IDS = [*range(27, 37), *range(50, 59)]
CUSTOM = ['yyyy"年"m"月"d"日"', "dd/mm/yyyy", '[$-804]yyyy"年"m"月"d"日";@', "mmm d, yyyy"]


def _customers(folder: Path, n: int) -> None:
    lines = ["customer_id,name,phone"] + [f"C{i},客户{i},1391234{i:04d}" for i in range(n)]
    (folder / "customers.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _vehicles_xlsx(
    path: Path, cells: list[tuple[object, str]], *, epoch_1904: bool = False
) -> None:
    """vehicles.xlsx with one row per (value, number format) of the purchase date; a format
    written as "id:N" becomes that built-in or locale id in the saved file."""
    book = openpyxl.Workbook()
    if epoch_1904:
        book.epoch = CALENDAR_MAC_1904
    sheet = book.active
    assert sheet is not None
    sheet.append(["车架号", "客户编号", "交车日期"])
    placeholders: dict[str, int] = {}
    for i, (value, fmt) in enumerate(cells):
        sheet.append([f"V{i}", f"C{i}", value])
        cell = sheet.cell(row=i + 2, column=3)
        if fmt.startswith("id:"):
            target = int(fmt[3:])
            if target in BUILTIN_FORMATS:
                cell.number_format = BUILTIN_FORMATS[target]
            else:  # a placeholder custom format, renumbered to the locale id below
                cell.number_format = f'yyyy-mm-dd;;;"{target}"'
                placeholders[cell.number_format] = target
        else:
            cell.number_format = fmt
    book.save(path)
    if placeholders:
        _renumber(path, placeholders)


def _renumber(path: Path, placeholders: dict[str, int]) -> None:
    """Point the cell styles using each placeholder format at its locale id instead, as a
    workbook saved by Chinese Excel refers to them (without a format of its own)."""
    with zipfile.ZipFile(path) as z:
        parts = {n: z.read(n) for n in z.namelist()}
    styles = parts["xl/styles.xml"].decode()
    ids = {}
    for m in re.finditer(r'<numFmt numFmtId="(\d+)" formatCode="([^"]*)"', styles):
        code = m.group(2).replace("&quot;", '"')
        if code in placeholders:
            ids[m.group(1)] = placeholders[code]
    head, xfs, tail = re.split(r"(<cellXfs.*?</cellXfs>)", styles, flags=re.S)
    for old, new in ids.items():
        xfs = xfs.replace(f'numFmtId="{old}"', f'numFmtId="{new}"')
    parts["xl/styles.xml"] = (head + xfs + tail).encode()
    with zipfile.ZipFile(path, "w") as z:
        for name, data in parts.items():
            z.writestr(name, data)


def _dates(engine: Engine) -> dict[str, str]:
    got = rows(engine, "SELECT vin, CAST(purchase_date AS TEXT) FROM vehicles")
    return {vin: str(day)[:10] for vin, day in got}


def test_a_date_cell_is_a_date_whatever_its_number_format(engine: Engine, tmp_path: Path) -> None:
    when = dt.datetime(DAY.year, DAY.month, DAY.day)
    cells: list[tuple[object, str]] = [(when, "id:31")]  # the cell: yyyy"年"m"月"d"日"
    cells += [(when, f"id:{i}") for i in [*range(14, 23), *LOCALE_IDS]]
    cells += [(when, fmt) for fmt in CUSTOM]
    cells += [(SERIAL, "General"), (float(SERIAL) + 0.5, "0.00"), ("2024年3月16日", "@")]
    _customers(tmp_path, len(cells))
    _vehicles_xlsx(tmp_path / "vehicles.xlsx", cells)
    report, problems = run_import(engine, tmp_path)
    assert problems == [] and not report.failed()
    assert _dates(engine) == {f"V{i}": DAY.isoformat() for i in range(len(cells))}


def test_serials_of_a_1904_workbook(engine: Engine, tmp_path: Path) -> None:
    when = dt.datetime(DAY.year, DAY.month, DAY.day)
    cells: list[tuple[object, str]] = [(when, "id:14"), (when, "id:57"), (when, "General")]
    _customers(tmp_path, len(cells))
    _vehicles_xlsx(tmp_path / "vehicles.xlsx", cells, epoch_1904=True)
    _, problems = run_import(engine, tmp_path)
    assert problems == []
    assert set(_dates(engine).values()) == {DAY.isoformat()}


def test_a_bare_number_in_a_csv_date_column_is_still_refused(
    engine: Engine, tmp_path: Path
) -> None:
    _customers(tmp_path, 1)
    (tmp_path / "vehicles.csv").write_text("vin,customer_id,purchase_date\nV0,C0,45367\n")
    _, problems = run_import(engine, tmp_path)
    assert [(p.line, p.field, p.rejected) for p in problems] == [(2, "purchase_date", True)]


# --- item 6: rows loaded earlier in the same import are known -------------------------------


def test_stores_loaded_in_the_same_import_are_known(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "stores.csv").write_text("store_id,name\nS1,泉州店\nS2,厦门店\n")
    (tmp_path / "customers.csv").write_text(
        "customer_id,name,phone,store_id\nC1,张伟,13912345678,S1\nC2,李娜,13912345679,S2\n"
    )
    report, problems = run_import(engine, tmp_path)
    assert problems == [] and not report.failed(strict=True)
    assert rows(engine, "SELECT customer_id, store_id FROM customers ORDER BY 1") == [
        ("C1", "S1"),
        ("C2", "S2"),
    ]


@pytest.mark.parametrize("parallel", [True, False], ids=["two-processes", "one-process"])
def test_a_store_created_by_one_file_is_known_to_the_next(
    engine: Engine, tmp_path: Path, parallel: bool
) -> None:
    (tmp_path / "customers_a.csv").write_text(
        "customer_id,name,phone,store_id\nC1,张,13912345678,S9\n"
    )
    (tmp_path / "customers_b.csv").write_text(
        "customer_id,name,phone,store_id\nC2,李,13912345679,S9\n"
    )
    (tmp_path / "vehicles.csv").write_text("vin,customer_id,purchase_date\nV1,C2,2024-01-01\n")
    problems: list = []
    from revisit.dms.importing import import_paths

    import_paths(engine, [tmp_path], on_problem=problems.append, parallel=parallel)
    # One warning for the store the first file created, none for the second file; the
    # vehicle finds the customer the same import loaded.
    assert [(Path(p.path).name, p.field) for p in problems] == [("customers_a.csv", "store_id")]


# --- item 7: blank rows, duplicate ids, unchanged rows -------------------------------------


def test_whitespace_only_rows_are_skipped(engine: Engine, tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["客户编号", "客户姓名", "手机号"])
    sheet.append(["C1", "张伟", "13912345678"])
    sheet.append([" ", "  ", None])  # the trailing Excel row
    sheet.append(["\u3000", "\u200b", "\t"])  # full-width and zero-width spaces
    book.save(tmp_path / "客户.xlsx")
    (tmp_path / "vehicles.csv").write_text(
        "vin,customer_id,purchase_date\nV1,C1,2024-01-01\n , , \n,,\n\u00a0,\u3000,\n",
        encoding="utf-8",
    )
    report, problems = run_import(engine, tmp_path)
    assert problems == [] and not report.failed()
    assert [f.read for f in report.files] == [1, 1]


def test_duplicate_ids_in_an_import_are_named_with_both_lines(
    engine: Engine, tmp_path: Path
) -> None:
    (tmp_path / "customers.csv").write_text(
        "customer_id,name,phone\nC1,张伟,13912345678\nC2,李娜,13912345679\nC1,张伟伟,13912345670\n"
    )
    (tmp_path / "customers_more.csv").write_text("customer_id,name,phone\nC2,李娜,13912345679\n")
    report, problems = run_import(engine, tmp_path)
    first, more = tmp_path / "customers.csv", tmp_path / "customers_more.csv"
    assert [str(p) for p in problems] == [
        f"{first}:4: customer_id: duplicate customer_id 'C1': also on {first}:2; "
        "this later row wins",
        f"{more}:2: customer_id: duplicate customer_id 'C2': also on {first}:3; "
        "this later row wins",
    ]
    assert rows(engine, "SELECT name FROM customers WHERE customer_id = 'C1'") == [("张伟伟",)]
    assert not report.failed() and report.failed(strict=True)


def test_unchanged_rows_are_not_counted_updated(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_text(
        "customer_id,name,phone,birthday\nC1,张伟,13912345678,1985-03-12\nC2,李娜,139 1234 5679,\n"
    )
    first, _ = run_import(engine, tmp_path)
    assert (first.files[0].inserted, first.files[0].updated, first.files[0].unchanged) == (2, 0, 0)
    again, _ = run_import(engine, tmp_path)
    assert (again.files[0].inserted, again.files[0].updated, again.files[0].unchanged) == (0, 0, 2)
    # A date written differently is the same value; a changed name is an update.
    (tmp_path / "customers.csv").write_text(
        "customer_id,name,phone,birthday\nC1,张伟,13912345678,1985/3/12\nC2,李小娜,139 1234 5679,\n"
    )
    third, _ = run_import(engine, tmp_path)
    assert (third.files[0].inserted, third.files[0].updated, third.files[0].unchanged) == (0, 1, 1)


@pytest.mark.parametrize(
    ("name", "header", "first", "second", "later"),
    [
        # the trial's instance: one customer id twice in one file
        ("customers.csv", "customer_id,name,phone", "C1,张伟,13912345678",
         "C1,张伟伟,13912345670", "SELECT name FROM customers WHERE customer_id = 'C1'"),
        # another instance: one repair order twice in one visits file
        ("visits.csv", "visit_id,vin,date,type,mileage_km", "R1,V1,2026-01-05,maintenance,5000",
         "R1,V1,2026-01-05,maintenance,5100",
         "SELECT mileage_km FROM visits WHERE visit_id = 'R1'"),
    ],
)  # fmt: skip
def test_an_id_named_twice_in_one_file_counts_once(
    engine: Engine, tmp_path: Path, name: str, header: str, first: str, second: str, later: str
) -> None:
    """Regression: a re-import of a file naming one id twice counted the id `updated` (its
    earlier row was written, then the later one again). The earlier row is `superseded`."""
    (tmp_path / "customers.csv").write_text("customer_id,name,phone\nC0,王芳,13912345600\n")
    (tmp_path / "vehicles.csv").write_text("vin,customer_id,purchase_date\nV1,C0,2024-01-01\n")
    if name == "customers.csv":
        (tmp_path / "vehicles.csv").unlink()
        (tmp_path / name).write_text(f"{header}\n{first}\nC2,李娜,13912345679\n{second}\n")
    else:
        (tmp_path / name).write_text(f"{header}\n{first}\nR2,V1,2026-02-05,repair,6000\n{second}\n")
    counts = ("read", "inserted", "updated", "unchanged", "superseded", "rejected")

    def of(report: Any) -> tuple[int, ...]:
        f = next(f for f in report.files if Path(f.path).name == name)
        return tuple(getattr(f, c) for c in counts)

    loaded, problems = run_import(engine, tmp_path)
    assert of(loaded) == (3, 2, 0, 0, 1, 0)
    assert [p.line for p in problems] == [4]
    again, _ = run_import(engine, tmp_path)
    assert of(again) == (3, 0, 0, 2, 1, 0)  # nothing changed, nothing counted updated
    assert rows(engine, later)[0][0] in ("张伟伟", 5100)  # the later row wins


def test_short_rows_load_with_defaults_and_long_ones_are_rejected(
    engine: Engine, tmp_path: Path
) -> None:
    (tmp_path / "customers.csv").write_text(
        "customer_id,name,phone,region,consent_sms\nC1,张伟,13912345678\n"
        "C2,李娜,13912345679,,,\nC3,王芳,13912345670,,,oops\n"
    )
    _, problems = run_import(engine, tmp_path)
    assert [(p.line, p.field, p.rejected) for p in problems] == [(4, "row", True)]
    assert rows(engine, "SELECT customer_id, consent_sms FROM customers ORDER BY 1") == [
        ("C1", True),
        ("C2", True),
    ]
