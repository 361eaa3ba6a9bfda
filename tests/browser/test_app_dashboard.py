"""The app's ``/dashboard`` in Chromium, signed in as a manager: it loads with no console
error and no request leaving the machine, draws every chart, and shows the numbers of
``revisit report --format json`` for the same filters (all the manager's stores, then one),
campaigns by their files' titles — the checks of the self-contained file report."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from revisit.access.users import add_user, parse_role
from revisit.cli import app as cli
from revisit.entry.lookup import campaign_files
from revisit.web import create_app
from tests.browser_support import CHARTS, check_dashboard
from tests.dashboard_support import two_store_dealer
from tests.web_app_support import PASSWORD, web_settings
from tests.web_support import serve_app


def test_the_apps_dashboard_shows_the_json_reports_numbers(
    checked_page: Any, engine: Engine, db_url: str, tmp_path: Path
) -> None:
    two_store_dealer(engine)
    settings = web_settings(tmp_path)
    with engine.begin() as conn:
        once = add_user(conn, name="经理", role=parse_role("manager"), stores=["S1", "S2"],
                        actor="test")  # fmt: skip
    env = {"REVISIT_DATABASE_URL": db_url, "REVISIT_CAMPAIGNS_DIR": str(settings.campaigns_dir)}

    def report(*args: str, store: str | None = None) -> list[dict[str, Any]]:
        scope = ["--store", store] if store else []
        done = CliRunner().invoke(cli, ["report", *args, *scope, "--format", "json"], env=env)
        assert done.exit_code == 0, done.output
        rows: list[dict[str, Any]] = json.loads(done.stdout)
        return rows

    names = {n: c.display_name("zh") for n, c in campaign_files(settings).campaigns.items()}
    page = checked_page
    with serve_app(lambda _url: create_app(settings, engine)) as url:
        page.goto(f"{url}/dashboard")
        page.wait_for_url("**/login?next=*")
        page.fill("input[name=name]", "经理")
        page.fill("input[name=password]", once)
        page.click("main button[type=submit]")
        page.wait_for_url("**/password")
        page.fill("input[name=current]", once)
        page.fill("input[name=new]", PASSWORD)
        page.fill("input[name=repeat]", PASSWORD)
        page.click("main button[type=submit]")
        page.goto(f"{url}/dashboard")
        page.wait_for_function(f"revisitDashboard.charts.length == {CHARTS}")
        assert page.get_attribute("html", "lang") == "zh-CN"
        check_dashboard(page, report, names)
        # the CSV downloads hold the JSON report's raw values (zh heads), not the text shown
        runs_csv = page.evaluate("() => revisitDashboard.tableCsv('runs')")
        head, *rows = list(csv.reader(io.StringIO(runs_csv)))
        runs = report()
        assert len(rows) == len(runs) and head[:3] == ["活动", "活动名称", "日期"]
        for row, expected in zip(rows, runs, strict=True):
            values = dict(zip(head, row, strict=True))
            code = expected["campaign"]
            assert (values["活动"], values["活动名称"]) == (code, names.get(code, code))
            assert float(values["回厂率"]) == expected["return_rate"]
            low, shown_low = expected["lift_ci_low"], values["95% 区间下限（百分点）"]
            if low is None:
                assert shown_low == ""
            else:
                assert float(shown_low) == pytest.approx(low * 100)
        reasons_csv = page.evaluate("() => revisitDashboard.tableCsv('reasons')")
        head, *rows = list(csv.reader(io.StringIO(reasons_csv)))
        declined: dict[str, int] = {}
        for r in report("churn"):
            declined[r["reason"]] = declined.get(r["reason"], 0) + r["declined"]
        assert head[:3] == ["原因", "原因名称", "拒绝数"] and rows
        assert {row[0]: int(row[2]) for row in rows} == declined  # codes, not labels
        drawn = page.evaluate("() => revisitDashboard.charts.map(c => c.getOption().series.length)")
        assert len(drawn) == CHARTS and all(n > 0 for n in drawn), drawn
        # the same checks for one store, through the page's filter form
        page.uncheck("input[name=store][value=S1]")
        page.click("#rv-filters button[type=submit]")
        page.wait_for_url("**store=S2**")
        page.wait_for_function(f"revisitDashboard.charts.length == {CHARTS}")
        check_dashboard(page, lambda *args: report(*args, store="S2"), names)
        # a filter the form got wrong: the form again, what is wrong, and no numbers
        page.goto(f"{url}/dashboard?since=2026-12-31&until=2026-01-01&period=week")
        page.wait_for_function(f"revisitDashboard.charts.length == {CHARTS}")
        assert "起始日期 2026-12-31 晚于截止日期 2026-01-01" in page.inner_text("#rv-problems")
        assert page.input_value("#rv-filters input[name=since]") == "2026-12-31"
        assert page.input_value("#rv-filters select[name=period]") == "week"
        assert page.eval_on_selector("#rv-runs", "t => t.tBodies[0].rows.length") == 1  # 无数据
        assert page.evaluate("() => revisitDashboard.tableCsv('runs')").count("\r\n") == 1
