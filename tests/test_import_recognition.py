"""Which data a file holds (issue 11, items 3–5): DMS header spellings, user mappings,
files revisit cannot place, and call lists given to the import."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from revisit.cli import app
from revisit.delivery.calls import CallRow, write_call_lists
from revisit.dms.importing import parse_mapping
from revisit.dms.importing.formats import KINDS, normalise_header
from revisit.dms.importing.recognise import NotAnExport, kind_by_name, recognise
from revisit.errors import ImportFileError
from tests.test_importing import rows, run_import

CUSTOMERS = "客户编号,客户姓名,手机号\nC1,张伟,13912345678\n"


# --- item 3: header spellings of real DMS exports ---------------------------------------------


def test_the_issue_export_loads(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_text("客户编号,姓名,车主手机\nC1,张伟,13912345678\n")
    (tmp_path / "vehicles.csv").write_text("车架号,客户编号,交车日期\nV1,C1,2024-03-16\n")
    report, problems = run_import(engine, tmp_path)
    assert problems == [] and not report.file_errors
    assert rows(engine, "SELECT phone FROM customers") == [("+8613912345678",)]
    assert rows(engine, "SELECT vin FROM vehicles") == [("V1",)]


@pytest.mark.parametrize(
    ("header", "column"),
    [
        ("开票日期", "purchase_date"),
        ("车主电话", "phone"),
        ("结算金额(元)", "amount"),
        ("行驶里程（公里）", "mileage_km"),
        ("公里数(km)", "mileage_km"),
        ("进站日期", "date"),
        (" 工单 号 ", "visit_id"),
        ("ＶＩＮ", "vin"),
        ("Customer ID", "customer_id"),
        ("CUSTOMER-ID", "customer_id"),
        ("*手机号码【必填】", "phone"),
        ("保险止期", "expiry_date"),
    ],
)
def test_headers_match_after_normalising(header: str, column: str) -> None:
    lookup = {
        normalise_header(a): c.name for k in KINDS for c in k.columns for a in (c.name, *c.aliases)
    }
    assert lookup[normalise_header(header)] == column


def test_dms_visit_vocabulary_loads(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_text(CUSTOMERS)
    (tmp_path / "vehicles.csv").write_text("vin,customer_id,purchase_date\nV1,C1,2020-01-01\n")
    (tmp_path / "维修工单.csv").write_text(
        "委托书号,VIN,进站日期,行驶里程(km),维修类别,结算金额（元）\n"
        "R1,V1,2024-01-02,3000,首次保养,0\nR2,V1,2024-06-02,8000,定期保养,680\n"
        "R3,V1,2024-07-02,9000,一般维修,1200\nR4,V1,2024-08-02,9500,钣喷,3000\n"
        "R5,V1,2024-09-02,9900,索赔,0\n",
        encoding="utf-8",
    )
    _, problems = run_import(engine, tmp_path)
    assert problems == []
    assert rows(engine, "SELECT type, mileage_km FROM visits ORDER BY visit_id") == [
        ("first_service", 3000),
        ("maintenance", 8000),
        ("repair", 9000),
        ("bodywork", 9500),
        ("warranty", 9900),
    ]


def test_a_missing_column_lists_the_headers_and_suggests_a_mapping(
    engine: Engine, tmp_path: Path
) -> None:
    (tmp_path / "customers.csv").write_text(CUSTOMERS)
    path = tmp_path / "vehicles.csv"
    path.write_text("车架号,客户编号,车辆交付时间\nV1,C1,2024-03-16\n")
    report, _ = run_import(engine, tmp_path)
    assert report.file_errors == [
        f"{path}:1: missing required column purchase_date (or 购车日期 / 购买日期 / 开票日期 / "
        "交车日期 / 销售日期 / 交付日期 / 购车时间 / 开票时间 / 交车时间 / 发票日期); headers "
        "seen: 车架号, 客户编号, 车辆交付时间; map yours with --map 车辆交付时间=purchase_date"
    ]


# --- item 3: mappings given by the user -------------------------------------------------------


def test_cli_map_option_and_mapping_file(db_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "x"
    folder.mkdir()
    (folder / "客户.csv").write_text("客户编号,客户姓名,手机号\nC1,张伟,13912345678\n")
    (folder / "车辆.csv").write_text("车架号,客户编号,出库日\nV1,C1,2024-03-16\n")
    (folder / "工单.csv").write_text("单据,VIN,进站日,性质\nR1,V1,2024-05-01,定期保养\n")
    env = {"REVISIT_DATABASE_URL": db_url}
    runner = CliRunner()
    failed = runner.invoke(app, ["import", str(folder)], env=env)
    assert failed.exit_code == 1 and "--map 出库日=purchase_date" in failed.output
    mapping = tmp_path / "xyz-dms.yaml"
    mapping.write_text("visits:\n  单据: visit_id\n  进站日: date\n  性质: type\n")
    ok = runner.invoke(
        app,
        ["import", str(folder), "--map", "出库日=purchase_date", "--map-file", str(mapping)],
        env=env,
    )
    assert ok.exit_code == 0, ok.output
    assert "unchanged" in ok.output


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["交车日期=purchse_date"], "unknown column 'purchse_date' (did you mean purchase_date?)"),
        (["vehicle.交车日期=purchase_date"], "unknown kind 'vehicle' (did you mean vehicles?)"),
        (["visits.交车日期=purchase_date"], "unknown column 'purchase_date'"),
        (["交车日期"], "write a mapping as HEADER=COLUMN"),
    ],
)
def test_bad_mappings_are_one_line_errors(options: list[str], message: str) -> None:
    with pytest.raises(ImportFileError, match=re.escape(message)):
        parse_mapping(options)


def test_bad_mapping_file_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("a: date\nb: c: d\n")
    expected = f"{path}:2:5: header mapping file is not valid YAML: mapping values are not allowed"
    with pytest.raises(ImportFileError, match=re.escape(expected)):
        parse_mapping(files=[path])
    path.write_text("visit: {进站日: date}\n")
    with pytest.raises(ImportFileError, match="unknown kind 'visit' \\(did you mean visits\\?\\)"):
        parse_mapping(files=[path])


# --- item 4: a file revisit cannot place fails the import -------------------------------------


def test_an_unplaceable_export_fails_naming_its_headers(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_text(CUSTOMERS)
    path = tmp_path / "配件出库.csv"
    path.write_text("出库单号,工单号,VIN,配件编码,数量\nO1,R1,V1,P-001,2\n")
    report, _ = run_import(engine, tmp_path)
    assert report.failed() and [f.kind for f in report.files] == ["customers"]
    (error,) = report.file_errors
    assert error.startswith(f"{path}:1: cannot tell which data this is (columns no kind has: ")
    assert "出库单号, 配件编码, 数量" in error and "closest: visits (lacks date, type)" in error
    assert "headers: 出库单号, 工单号, VIN, 配件编码, 数量" in error


def test_the_issue_work_order_file_is_placed_by_its_name(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_text(CUSTOMERS)
    (tmp_path / "vehicles.csv").write_text("vin,customer_id,purchase_date\nV1,C1,2020-01-01\n")
    (tmp_path / "工单明细.csv").write_text(
        "工单号,VIN,进站日期,行驶里程,工单类型\nR1,V1,2024-05-01,5000,定期保养\n"
    )
    report, problems = run_import(engine, tmp_path)
    assert problems == [] and not report.failed()
    assert [f.kind for f in report.files] == ["customers", "vehicles", "visits"]


def test_skip_unknown_notes_instead(db_url: str, tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_text(CUSTOMERS)
    (tmp_path / "库存.xlsx").write_bytes(b"not a workbook")
    (tmp_path / "日志.csv").write_text("时间,操作员,动作\n08:00,admin,导出\n")
    env = {"REVISIT_DATABASE_URL": db_url}
    failed = CliRunner().invoke(app, ["import", str(tmp_path)], env=env)
    assert failed.exit_code == 1
    assert "库存.xlsx: not a readable .xlsx workbook" in failed.output
    assert "日志.csv:1: cannot tell which data this is" in failed.output
    skipped = CliRunner().invoke(app, ["import", "--skip-unknown", str(tmp_path)], env=env)
    assert skipped.exit_code == 0, skipped.output
    assert skipped.output.count("(skipped)") == 2


def test_lock_files_and_readmes_in_a_folder_are_not_exports(engine: Engine, tmp_path: Path) -> None:
    (tmp_path / "customers.csv").write_text(CUSTOMERS)
    (tmp_path / "~$客户.xlsx").write_bytes(b"\x00owner")  # Excel's lock file
    (tmp_path / "README.txt").write_text("exported on Monday\n")
    report, _ = run_import(engine, tmp_path)
    assert not report.failed()


# --- item 5: a call list is never a DMS export -----------------------------------------------


def _call_list(folder: Path, lang: str) -> Path:
    row = CallRow(customer_id="C1", name="张伟改", phone="+8613800000009", vehicles="V1",
                  reason="定期保养到期", caller="李娜", contact_id=7)  # fmt: skip
    (csv_path, _html) = write_call_lists(
        rows=[row], out_dir=folder, campaign="maintenance_due", as_of=dt.date(2026, 11, 23),
        lang=lang,
    )  # fmt: skip
    text = csv_path.read_text(encoding="utf-8-sig").replace(",,,,\n", ",已预约,,2026-11-30,\n")
    csv_path.write_text(text, encoding="utf-8-sig")
    return csv_path


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_filled_in_call_list_is_refused(engine: Engine, tmp_path: Path, lang: str) -> None:
    (tmp_path / "exports").mkdir()
    (tmp_path / "exports" / "customers.csv").write_text(CUSTOMERS)
    run_import(engine, tmp_path / "exports")
    path = _call_list(tmp_path / "calls", lang)
    report, _ = run_import(engine, path)
    assert report.failed() and report.files == []
    assert f"read its outcomes with `revisit outcome import {path}`" in report.file_errors[0]
    assert rows(engine, "SELECT name, phone FROM customers") == [("张伟", "+8613912345678")]


def test_a_call_list_named_like_an_export_is_still_refused(tmp_path: Path) -> None:
    header = ["客户编号", "客户姓名", "手机号", "结果", "回电日期"]
    with pytest.raises(NotAnExport, match="a call list"):
        recognise(tmp_path / "customers.csv", header)


def test_no_header_guess_across_kinds(tmp_path: Path) -> None:
    # Customer columns plus columns no kind has: not taken for customers.
    header = ["客户编号", "客户姓名", "手机号", "意向车型", "跟进备注"]
    with pytest.raises(NotAnExport, match="columns no kind has: 意向车型, 跟进备注"):
        recognise(tmp_path / "export.csv", header)
    assert recognise(tmp_path / "export.csv", header[:3]).name == "customers"


@pytest.mark.parametrize(
    ("stem", "kind"),
    [
        ("客户信息导出_20261123", "customers"),
        ("visits_2026-11", "visits"),
        ("工单明细", "visits"),
        ("revisit_export", None),  # "visit" inside a word is not a name
        ("maintenance_due_2026-11-23_李娜", None),
    ],
)
def test_kind_by_name(stem: str, kind: str | None) -> None:
    found = kind_by_name(stem)
    assert (found.name if found else None) == kind


def test_an_upsell_export_with_a_result_column_is_not_a_call_list(tmp_path: Path) -> None:
    header = ["项目编号", "工单号", "车架号", "项目", "等级", "结果", "跟进人"]
    with pytest.raises(NotAnExport, match="columns no kind has: 跟进人"):
        recognise(tmp_path / "export.csv", header)
    assert recognise(tmp_path / "增修项目.csv", header).name == "upsell_items"
