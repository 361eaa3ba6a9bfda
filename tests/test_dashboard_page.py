"""The dashboard's HTML: the self-contained file and the app's fragment — escaping, no
inline code but the JSON island, nothing fetched from elsewhere, both languages, and one
clear line when ECharts is not installed."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from revisit.cli import app
from revisit.errors import ConfigError
from revisit.reports.dashboard import DashboardFilter, dashboard_data
from revisit.reports.page import (
    echarts_path,
    island,
    render_dashboard_file,
    render_dashboard_fragment,
    static_files,
)
from revisit.reports.page.labels import labels
from revisit.settings import Settings
from tests.dashboard_support import two_store_dealer

ECHARTS = Settings().echarts_js
HOSTILE = "</script><script>alert(1)</script>&"
ISLAND = re.compile(r'<script type="application/json" id="rv-dashboard-data">(.*?)</script>', re.S)


def _hostile_data(engine: Engine) -> dict[str, Any]:
    two_store_dealer(engine)
    with engine.connect() as conn:
        data = dashboard_data(conn, DashboardFilter())
    data["staff"][0]["staff"] = HOSTILE
    return data


def test_the_file_escapes_every_value_and_carries_the_data(engine: Engine) -> None:
    data = _hostile_data(engine)
    page = render_dashboard_file(data, lang="zh", echarts_js=ECHARTS,
                                 generated=dt.datetime(2026, 11, 30, 9, 0))  # fmt: skip
    assert "<script>alert(1)" not in page
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;&amp;" in page  # the table
    (text,) = ISLAND.findall(page)
    assert json.loads(text)["data"] == data  # the island is the data, whole
    assert json.loads(text)["labels"] == labels("zh")
    # self-contained: no element loads anything, and the chart library is inline
    markup = re.sub(r"<script>.*?</script>", "", page, flags=re.S)  # the inline code
    assert not re.search(r"""<(script|link|img|iframe)[^>]*\s(src|href)=""", markup)
    assert markup.count("<script") == 1  # the island
    assert len(page) > 1_000_000 and "echarts" in page
    assert "生成于 2026-11-30T09:00" in page


def test_the_fragment_links_its_files_and_runs_no_inline_code(engine: Engine) -> None:
    data = _hostile_data(engine)
    choices = {"stores": ["S1"], "campaigns": ["a"]}
    html = str(render_dashboard_fragment(data, lang="en", static_url="/static/", choices=choices))
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    for attributes, body in scripts:  # CSP script-src 'self': files, or data that never runs
        assert 'src="/static/' in attributes or 'type="application/json"' in attributes
        assert 'src="/static/' not in attributes or body == ""
    assert {'src="/static/echarts.min.js"', 'src="/static/dashboard.js"'} <= {
        a.strip() for a, _ in scripts}  # fmt: skip
    assert 'href="/static/dashboard.css"' in html and "<style" not in html
    assert 'method="get"' in html and 'value="S1"' in html and 'value="S2"' not in html
    assert "Returns dashboard" in html and "回厂看板" not in html


def test_the_island_cannot_end_its_script() -> None:
    text = str(island({"name": HOSTILE, "note": "<!-- x -->"}, "en"))
    assert "<" not in text and ">" not in text and "&" not in text
    assert json.loads(text)["data"]["name"] == HOSTILE


def test_both_languages_have_every_word() -> None:
    zh, en = labels("zh"), labels("en")
    assert set(zh) == set(en)
    assert zh["reason:price"] == "价格" and en["reason:price"] == "price"
    with pytest.raises(ValueError, match="unknown language 'fr'"):
        render_dashboard_fragment({}, lang="fr")


def test_the_static_files_exist() -> None:
    files = static_files(ECHARTS)
    assert sorted(files) == ["dashboard.css", "dashboard.js", "echarts.min.js"]
    assert all(path.is_file() for path in files.values())


def test_echarts_missing_is_one_line(engine: Engine, db_url: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"ECharts not found at .*run `make install`"):
        echarts_path(tmp_path / "echarts.min.js")
    env = {"REVISIT_DATABASE_URL": db_url, "REVISIT_ECHARTS_JS": str(tmp_path / "nope.js")}
    result = CliRunner().invoke(
        app, ["report", "--format", "html", "--output", str(tmp_path / "d.html")], env=env
    )
    assert result.exit_code != 0 and "Traceback" not in result.output
    assert "ECharts not found" in result.output and "REVISIT_ECHARTS_JS" in result.output
    assert not (tmp_path / "d.html").exists()


def test_the_file_names_campaigns_by_their_files_titles(
    engine: Engine, db_url: str, tmp_path: Path
) -> None:
    """``revisit report --format html`` shows a campaign by its file's ``title`` in the page's
    language, as the app's dashboard does; a run whose file is gone keeps its code."""
    dealer = two_store_dealer(engine)
    campaigns = tmp_path / "campaigns"
    campaigns.mkdir()
    shipped = Path(__file__).resolve().parent.parent / "campaigns" / "maintenance_due.yaml"
    (campaigns / f"{dealer.sms_campaign}.yaml").write_text(
        shipped.read_text(encoding="utf-8"), encoding="utf-8"
    )
    env = {"REVISIT_DATABASE_URL": db_url, "REVISIT_CAMPAIGNS_DIR": str(campaigns)}
    for lang, title in (("zh", "定期保养提醒"), ("en", "Maintenance due")):
        out = tmp_path / f"d.{lang}.html"
        result = CliRunner().invoke(
            app, ["report", "--format", "html", "--lang", lang, "--output", str(out)], env=env
        )
        assert result.exit_code == 0, result.output
        found = ISLAND.search(out.read_text(encoding="utf-8"))
        assert found is not None
        shown = json.loads(found.group(1))["labels"]
        assert title in json.dumps(shown, ensure_ascii=False), lang
        assert dealer.call_campaign not in json.dumps(shown, ensure_ascii=False)


def test_every_tables_csv_holds_raw_values_codes_beside_their_labels(engine: Engine) -> None:
    two_store_dealer(engine)
    with engine.connect() as conn:
        data = dashboard_data(conn, DashboardFilter())
    page = render_dashboard_file(data, lang="zh", echarts_js=ECHARTS,
                                 generated=dt.datetime(2026, 11, 30, 9, 0))  # fmt: skip
    csv = json.loads(ISLAND.findall(page)[0])["csv"]
    words = labels("zh")
    assert sorted(csv) == sorted(["trend", "runs", "funnel", "reasons", "churn", "staff",
                                  *(f"upsell_{by}" for by in ("month", "grade", "advisor",
                                                              "team"))])  # fmt: skip
    for id_, table in csv.items():
        assert len(table["heads"]) == len(table["keys"]), id_
        assert table["heads"] == [words[k] for k in table["keys"]], id_
        for row in table["rows"]:
            assert len(row) == len(table["keys"]), id_
            # nothing shown-only: no dash for a missing value, no formatted number
            assert not any(isinstance(v, str) and (v == "—" or "%" in v) for v in row), row
    # the interval as two numbers in points and its verdict as a code beside its words
    for id_, source in (("trend", data["trend"]), ("runs", data["runs"])):
        rows = [dict(zip(csv[id_]["keys"], row, strict=True)) for row in csv[id_]["rows"]]
        assert len(rows) == len(source) and any(r["lift_ci_low"] is not None for r in rows)
        for row, expected in zip(rows, source, strict=True):
            assert row["campaign"] == expected["campaign"]
            assert row["campaign_label"] == words.get(f"campaign:{row['campaign']}",
                                                      row["campaign"])  # fmt: skip
            for key in ("lift", "lift_ci_low", "lift_ci_high"):
                value = expected[key]
                assert row[key] == (None if value is None else pytest.approx(value * 100))
            if expected["lift_ci_low"] is None:
                assert row["lift_ci_verdict"] is row["lift_ci_verdict_label"] is None
            else:
                assert row["lift_ci_verdict"] in ("significant", "not_yet")
                assert row["lift_ci_verdict_label"] == words[row["lift_ci_verdict"]]
            assert row["return_rate"] == expected["return_rate"]
    for id_ in ("reasons", "churn"):  # codes, as the JSON report has them; labels beside
        rows = [dict(zip(csv[id_]["keys"], row, strict=True)) for row in csv[id_]["rows"]]
        assert rows and [r["reason"] for r in rows] == [r["reason"] for r in data[id_]]
        assert all(r["reason_label"] == words[f"reason:{r['reason']}"] for r in rows)
    stages = [dict(zip(csv["funnel"]["keys"], r, strict=True)) for r in csv["funnel"]["rows"]]
    assert [s["stage"] for s in stages] == [s["stage"] for s in data["funnel"]]
    assert [s["count"] for s in stages] == [s["count"] for s in data["funnel"]]
