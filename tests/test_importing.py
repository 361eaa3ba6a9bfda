"""Importing a DMS export: bad rows and fields, idempotency, encodings, aliases, Excel."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from revisit.cli import app
from revisit.dms.importing import ImportReport, Problem, import_paths
from revisit.dms.visit_summary import summary_current_for

CUSTOMERS = """\
customer_id,name,phone,birthday,region,store_id,consent_sms,language
C1,张伟,13912345678,1985-03-12,鲤城区,,true,zh
C2,李娜,+86 138-0000-1234,1990/02/30,丰泽区,QZ2,yes,zh
C3,王芳,12345,,999999,,1,en
,无名,13900001111,,,,,
C5,Tom,0595-22881234,1992-02-29,,,maybe,fr
"""
VEHICLES = """\
vin,customer_id,plate,model,purchase_date,status
V1,C1,闽C12345,Sedan,2020-05-01,active
V2,C2,闽C22222,SUV,2021-13-01,
V3,C9,闽C33333,SUV,2021-01-01,
V4,C3,,,2019-07-07,gone
V5,C5,,,2019-07-07,sold
"""
VISITS = """\
visit_id,vin,date,mileage_km,type,amount,advisor,team
R1,V1,2020-08-01,3000,first_service,0,陈明,A组
R2,V1,2021-02-01,-5,maintenance,680,陈明,A组
R3,V2,2021-02-01,100,maintenance,680,陈明,A组
R4,V4,2021-02-01,100,washing,680,陈明,A组
R5,V4,2021-02-01,"12,000",维修,¥1280,陈明,A组
"""
UPSELL = """\
item_id,visit_id,vin,item,grade,status,amount,due_date
U1,R1,V1,刹车片,B,declined,420,2021-01-01
U2,R5,V1,轮胎,A,declined,900,
U3,R9,V4,雨刮,C,accepted,80,
U4,R5,V4,蓄电池,D,accepted,600,
"""
POLICIES = """\
policy_id,vin,expiry_date,insurer,renewed
P1,V1,2026-05-01,平安,false
P2,V3,2026-05-01,人保,false
"""

# Every rejected row and field warning of the export above, as file:line: field.
EXPECTED = {
    ("customers.csv", 3, "birthday", False),
    ("customers.csv", 3, "store_id", False),
    ("customers.csv", 4, "region", False),
    ("customers.csv", 4, "phone", False),
    ("customers.csv", 5, "customer_id", True),
    ("customers.csv", 6, "consent_sms", False),
    ("customers.csv", 6, "language", False),
    ("vehicles.csv", 3, "purchase_date", True),
    ("vehicles.csv", 4, "customer_id", True),
    ("vehicles.csv", 5, "status", False),
    ("visits.csv", 3, "mileage_km", False),
    ("visits.csv", 4, "vin", True),
    ("visits.csv", 5, "type", True),
    ("upsell_items.csv", 3, "vin", True),
    ("upsell_items.csv", 4, "visit_id", True),
    ("upsell_items.csv", 5, "grade", True),
    ("policies.csv", 3, "vin", True),
}


def write_export(folder: Path, encoding: str = "utf-8", **files: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    contents = {
        "customers": CUSTOMERS,
        "vehicles": VEHICLES,
        "visits": VISITS,
        "upsell_items": UPSELL,
        "policies": POLICIES,
    }
    contents.update(files)
    for name, body in contents.items():
        (folder / f"{name}.csv").write_bytes(body.encode(encoding))
    return folder


def rows(engine: Engine, sql: str) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def counts(engine: Engine) -> dict[str, int]:
    tables = ("stores", "customers", "vehicles", "visits", "policies", "upsell_items")
    return {t: rows(engine, f"SELECT count(*) FROM {t}")[0][0] for t in tables}


def run_import(engine: Engine, *paths: Path) -> tuple[ImportReport, list[Problem]]:
    problems: list[Problem] = []
    report = import_paths(engine, list(paths), on_problem=problems.append)
    return report, problems


def test_bad_rows_and_fields_are_named_and_good_rows_load(engine: Engine, tmp_path: Path) -> None:
    report, problems = run_import(engine, write_export(tmp_path / "x"))
    seen = {(Path(p.path).name, p.line, p.field, p.rejected) for p in problems}
    assert seen == EXPECTED
    assert report.failed()
    assert rows(engine, "SELECT customer_id FROM customers ORDER BY 1") == [
        ("C1",),
        ("C2",),
        ("C3",),
        ("C5",),
    ]
    assert rows(engine, "SELECT vin FROM vehicles ORDER BY 1") == [("V1",), ("V4",), ("V5",)]
    assert rows(engine, "SELECT visit_id, mileage_km, type FROM visits ORDER BY 1") == [
        ("R1", 3000, "first_service"),
        ("R2", None, "maintenance"),
        ("R5", 12000, "repair"),
    ]
    # The customer with a malformed phone is loaded, without a phone.
    assert rows(engine, "SELECT phone, phone_raw FROM customers WHERE customer_id = 'C3'") == [
        (None, "12345")
    ]
    assert rows(engine, "SELECT phone, phone_type FROM customers WHERE customer_id = 'C5'") == [
        ("+8659522881234", "landline")
    ]
    # Unreadable consent is no consent; an unknown store is created with defaults.
    assert rows(engine, "SELECT consent_sms FROM customers WHERE customer_id = 'C5'") == [(False,)]
    assert rows(engine, "SELECT store_id, timezone FROM stores WHERE store_id = 'QZ2'") == [
        ("QZ2", "Asia/Shanghai")
    ]
    assert rows(engine, "SELECT birthday_md FROM customers WHERE customer_id = 'C5'") == [
        ("02-29",)
    ]
    assert rows(engine, "SELECT status FROM vehicles WHERE vin = 'V4'") == [("active",)]


def test_problem_text_is_file_line_field_reason(engine: Engine, tmp_path: Path) -> None:
    _, problems = run_import(engine, write_export(tmp_path / "x"))
    texts = {str(p) for p in problems}
    folder = tmp_path / "x"
    assert f"{folder / 'visits.csv'}:3: mileage_km: negative mileage ('-5')" in texts
    assert f"{folder / 'vehicles.csv'}:4: customer_id: unknown customer 'C9'" in texts
    assert (
        f"{folder / 'upsell_items.csv'}:3: vin: visit 'R5' belongs to vin 'V4', not 'V1'" in texts
    )


def test_importing_twice_changes_no_counts(engine: Engine, tmp_path: Path) -> None:
    folder = write_export(tmp_path / "x")
    run_import(engine, folder)
    first = counts(engine)
    report, _ = run_import(engine, folder)
    assert counts(engine) == first
    assert all(f.inserted == 0 for f in report.files)
    # Identical rows are unchanged, not updated (issue: re-importing reported "updated 8").
    assert sum(f.updated for f in report.files) == 0
    assert sum(f.unchanged for f in report.files) == sum(first.values()) - first["stores"]


def _dump(engine: Engine) -> dict[str, list[tuple]]:
    return {
        t: rows(engine, f"SELECT * FROM {t} ORDER BY 1")
        for t in ("stores", "customers", "vehicles", "visits", "policies", "upsell_items")
    }


CHINESE_HEADERS = {
    "customers": "客户编号,客户姓名,手机号,生日,地区,门店编号,短信授权,语言",
    "vehicles": "车架号/VIN,客户编号,车牌号,车型,购车日期,状态",
    "visits": "工单号,车架号,进厂日期,里程,维修类型,金额,服务顾问,班组",
    "upsell_items": "项目编号,工单号,车架号,增修项目,等级,状态,金额,建议日期",
    "policies": "保单号,车架号,到期日期,保险公司,已续保",
}


def _with_chinese_headers() -> dict[str, str]:
    originals = {
        "customers": CUSTOMERS,
        "vehicles": VEHICLES,
        "visits": VISITS,
        "upsell_items": UPSELL,
        "policies": POLICIES,
    }
    return {
        name: CHINESE_HEADERS[name] + "\n" + body.split("\n", 1)[1]
        for name, body in originals.items()
    }


@pytest.mark.parametrize("encoding", ["gb18030", "utf-8-sig", "utf-16"])
def test_encodings_and_chinese_headers_load_like_utf8(
    db_url: str, tmp_path: Path, encoding: str
) -> None:
    from revisit.db.engine import create_db_engine

    twin = write_export(tmp_path / "utf8")
    chinese = write_export(tmp_path / encoding, encoding, **_with_chinese_headers())
    engine = create_db_engine(db_url)
    run_import(engine, twin)
    expected = _dump(engine)
    engine.dispose()
    _reset(db_url)
    engine = create_db_engine(db_url)
    _, problems = run_import(engine, chinese)
    assert _dump(engine) == expected
    assert {(Path(p.path).name, p.line, p.field) for p in problems} == {
        (f, line, field) for f, line, field, _ in EXPECTED
    }
    engine.dispose()


def _reset(db_url: str) -> None:
    from revisit.db.engine import create_db_engine

    engine = create_db_engine(db_url)
    with engine.begin() as conn:
        for t in ("upsell_items", "policies", "visits", "vehicles", "customers"):
            conn.execute(text(f"DELETE FROM {t}"))
        conn.execute(text("DELETE FROM stores WHERE store_id <> 'default'"))
    engine.dispose()


def test_xlsx_loads_like_csv(engine: Engine, tmp_path: Path) -> None:
    import datetime as dt

    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["客户编号", "客户姓名", "手机号", "生日"])
    sheet.append(["C1", "张伟", 13912345678, dt.datetime(1985, 3, 12)])
    sheet.append(["C2", "李娜", "139 0000 1234", "1990-07-01"])
    sheet.append([None, None, None, None])
    sheet.append(["C3", "王芳", "abc", "not a day"])
    book.save(tmp_path / "客户.xlsx")
    _, problems = run_import(engine, tmp_path / "客户.xlsx")
    assert rows(
        engine, "SELECT customer_id, phone, CAST(birthday AS TEXT) FROM customers ORDER BY 1"
    ) == [
        ("C1", "+8613912345678", "1985-03-12"),
        ("C2", "+8613900001234", "1990-07-01"),
        ("C3", None, None),
    ]
    assert {(p.line, p.field) for p in problems} == {(5, "phone"), (5, "birthday")}


def test_reimport_updates_only_the_columns_present(engine: Engine, tmp_path: Path) -> None:
    run_import(engine, write_export(tmp_path / "x"))
    with engine.begin() as conn:
        conn.execute(text("UPDATE customers SET phone_invalid = true WHERE customer_id = 'C1'"))
    slim = tmp_path / "slim"
    slim.mkdir()
    (slim / "customers.csv").write_text(
        "customer_id,name,phone\nC1,张伟伟,13912345678\nC2,李娜,13900009999\n", encoding="utf-8"
    )
    run_import(engine, slim / "customers.csv")
    got = rows(
        engine,
        "SELECT customer_id, name, language, region, phone_invalid FROM customers "
        "WHERE customer_id IN ('C1', 'C2') ORDER BY 1",
    )
    # C1 keeps its language and region, and its phone stays marked invalid (same number);
    # C2's new number is a fresh start.
    assert got == [("C1", "张伟伟", "zh", "鲤城区", True), ("C2", "李娜", "zh", "丰泽区", False)]


def test_physical_lines_count_multiline_fields(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text(
        'customer_id,name,phone,region\nC1,"张\n伟",13912345678,x\n\nC2,李娜,bad,999\n',
        encoding="utf-8",
    )
    _, problems = run_import(engine, path)
    assert {(p.line, p.field) for p in problems} == {(5, "phone"), (5, "region")}


def test_missing_required_column_fails_that_file_only(engine: Engine, tmp_path: Path) -> None:
    folder = write_export(tmp_path / "x", visits="visit_id,vin,mileage_km,type\nR1,V1,10,repair\n")
    report, _ = run_import(engine, folder)
    assert report.failed()
    assert any("visits.csv:1: missing required column date" in e for e in report.file_errors)
    assert counts(engine)["vehicles"] == 3


def test_stray_delimiter_rejects_the_row(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_text(
        "customer_id,name,phone\nC1,张伟,13912345678,\nC2,李,娜,13912345679\n", encoding="utf-8"
    )
    _, problems = run_import(engine, path)
    assert [(p.line, p.field, p.rejected) for p in problems] == [(3, "row", True)]
    assert rows(engine, "SELECT customer_id FROM customers") == [("C1",)]


def test_file_kind_is_guessed_from_header(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "export_2026_11.csv"
    path.write_text("客户编号,客户姓名,手机号\nC1,张伟,13912345678\n", encoding="utf-8")
    report, _ = run_import(engine, path)
    assert [f.kind for f in report.files] == ["customers"]


def test_cli_import_exit_codes_and_output(db_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"REVISIT_DATABASE_URL": db_url}
    bad = runner.invoke(app, ["import", str(write_export(tmp_path / "bad"))], env=env)
    assert bad.exit_code == 1, bad.output
    assert f"{tmp_path / 'bad' / 'visits.csv'}:3: mileage_km: negative mileage" in bad.output
    assert "rejected" in bad.output and "warnings" in bad.output
    good = tmp_path / "good"
    good.mkdir()
    (good / "customers.csv").write_text("customer_id,name,phone\nC9,周,12\n", encoding="utf-8")
    ok = runner.invoke(app, ["import", str(good)], env=env)
    assert ok.exit_code == 0, ok.output  # a warning alone does not fail the import
    strict = runner.invoke(app, ["import", "--strict", str(good)], env=env)
    assert strict.exit_code == 1
    missing = runner.invoke(app, ["import", str(tmp_path / "nope")], env=env)
    assert missing.exit_code == 2 and "no such file or folder" in missing.output


@pytest.mark.parametrize("parallel", [True, False], ids=["two-processes", "one-process"])
def test_undecodable_line_keeps_the_rows_before_it(
    engine: Engine, tmp_path: Path, parallel: bool
) -> None:
    path = tmp_path / "customers.csv"
    good = "".join(f"C{i},客户{i},139{i:08d}\n" for i in range(12_000))
    # A UTF-16 file whose tail is cut mid-character: the rows before it still load.
    path.write_bytes(("customer_id,name,phone\n" + good).encode("utf-16") + b"\x00")
    report = import_paths(engine, [path], parallel=parallel)
    assert report.failed()
    assert report.file_errors and "customers.csv:" in report.file_errors[0]
    assert rows(engine, "SELECT count(*) FROM customers") == [(12_000,)]


def test_every_batch_is_committed(db_url: str, tmp_path: Path) -> None:
    """Regression: on PostgreSQL the rows after the last periodic commit were rolled back
    when a file had no reference to check (the writer's COPY ran outside SQLAlchemy's
    transaction, so the final commit did nothing)."""
    from revisit.db.engine import create_db_engine

    path = tmp_path / "customers.csv"
    path.write_text(
        "customer_id,name,phone\n" + "".join(f"C{i},客户{i},139{i:08d}\n" for i in range(23)),
        encoding="utf-8",
    )
    engine = create_db_engine(db_url)
    report = import_paths(engine, [path], batch_rows=2)
    engine.dispose()
    assert report.files[0].inserted == 23
    fresh = create_db_engine(db_url)
    assert rows(fresh, "SELECT count(*) FROM customers") == [(23,)]
    fresh.dispose()


def test_folder_skips_files_of_no_known_kind(engine: Engine, tmp_path: Path) -> None:
    folder = write_export(tmp_path / "x")
    (folder / "README.txt").write_text("exported by the DMS on Monday\n", encoding="utf-8")
    (folder / "empty.csv").write_text("", encoding="utf-8")
    report, _ = run_import(engine, folder)
    assert not report.file_errors
    assert sum("(skipped)" in n for n in report.notes) == 2
    named, _ = run_import(engine, folder / "README.txt")
    assert named.file_errors and "cannot tell which data this is" in named.file_errors[0]


@pytest.mark.parametrize("parallel", [True, False], ids=["two-processes", "one-process"])
def test_parsing_in_a_second_process_loads_the_same(
    engine: Engine, tmp_path: Path, parallel: bool
) -> None:
    folder = write_export(tmp_path / "x")
    problems: list[Problem] = []
    report = import_paths(
        engine, [folder], on_problem=problems.append, batch_rows=2, parallel=parallel
    )
    assert {(Path(p.path).name, p.line, p.field, p.rejected) for p in problems} == EXPECTED
    assert [(f.read, f.inserted, f.rejected, f.warnings) for f in report.files] == [
        (5, 4, 1, 6), (5, 3, 2, 1), (5, 3, 2, 1), (2, 1, 1, 0), (4, 1, 3, 0),
    ]  # fmt: skip
    assert rows(engine, "SELECT store_id FROM stores WHERE store_id = 'QZ2'") == [("QZ2",)]


def _index_names(engine: Engine, table: str) -> set[str]:
    from sqlalchemy import inspect

    return {str(ix["name"]) for ix in inspect(engine).get_indexes(table)}


def test_first_bulk_load_rebuilds_every_index(
    engine: Engine, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from revisit.db.engine import secondary_indexes
    from revisit.dms.importing import loader
    from revisit.entry.engine import open_engine

    before = {t: _index_names(engine, t) for t in ("customers", "visits", "upsell_items")}
    monkeypatch.setattr(loader, "BULK_MIN_BYTES", 0)  # every file counts as a bulk load
    _, problems = run_import(engine, write_export(tmp_path / "x"))
    assert {(Path(p.path).name, p.line, p.field, p.rejected) for p in problems} == EXPECTED
    after = {t: _index_names(engine, t) for t in before}
    assert after == before
    assert {str(ix.name) for ix in secondary_indexes("visits")} <= after["visits"]
    # An import killed between dropping and rebuilding leaves them to the next open.
    with engine.begin() as conn:
        conn.execute(text("DROP INDEX ix_visits_vin_date"))
    open_engine(db_url).dispose()
    assert "ix_visits_vin_date" in _index_names(engine, "visits")


def test_import_keeps_the_visit_summary_current(engine: Engine, tmp_path: Path) -> None:
    report, _ = run_import(engine, write_export(tmp_path / "x"))
    assert report.summarised_vehicles == 3  # V1, V4 and V5: V2 and V3 were rejected
    columns = (
        "recency_date, last_visit_date, last_service_date, last_service_km, "
        "first_km_date, first_km, last_km_date, last_km"
    )
    summary = f"SELECT vin, {columns} FROM vehicle_visit_summary ORDER BY vin"
    assert [tuple(map(_text, r)) for r in rows(engine, summary)] == [
        # R2's mileage was a warning (-5), so the latest service day has no mileage
        ("V1", "2021-02-01", "2021-02-01", "2021-02-01", "", "2020-08-01", "3000", "2020-08-01", "3000"),  # noqa: E501
        # V4 had a repair only
        ("V4", "2021-02-01", "2021-02-01", "", "", "2021-02-01", "12000", "2021-02-01", "12000"),
        ("V5", "2019-07-07", "", "", "", "", "", "", ""),  # never seen: its purchase date
    ]  # fmt: skip
    with engine.connect() as conn:
        assert summary_current_for(conn, dt.date(2021, 2, 1))
        assert not summary_current_for(conn, dt.date(2021, 1, 31))
    # a later export with one new visit: the summary follows it
    later = "visit_id,vin,date,mileage_km,type\nR6,V1,2021-09-01,6100,repair\n"
    report, _ = run_import(engine, write_export(tmp_path / "y", visits=later))
    assert report.summarised_vehicles == 3
    assert tuple(map(_text, rows(engine, summary)[0])) == (
        "V1", "2021-09-01", "2021-09-01", "2021-02-01", "", "2020-08-01", "3000", "2021-09-01", "6100"  # noqa: E501
    )  # fmt: skip
    with engine.connect() as conn:
        assert summary_current_for(conn, dt.date(2021, 9, 1))


def _text(value: object) -> str:
    return "" if value is None else str(value)
