"""The manager's dashboard in the app (``/dashboard``): the report page of the user's stores,
404 for another store as for one that does not exist, its chart files behind sign-in, and
inline styles allowed on this page alone (ECharts styles its canvas; scripts stay 'self')."""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from tests.web_app_support import World, build_world, make_client, sign_in

USERS = {
    "mgr1": ("manager", ["S1"]), "mgr12": ("manager", ["S1", "S2"]),
    "lead12": ("lead", ["S1", "S2"]),
}  # fmt: skip


@pytest.fixture
def world(engine: Engine, tmp_path: Path) -> World:
    return build_world(engine, tmp_path, USERS)


def _client(engine: Engine, world: World, name: str) -> TestClient:
    return sign_in(make_client(engine, world.settings), name, world.passwords[name])


def _data(page: str) -> dict:
    island = re.search(r'<script type="application/json"[^>]*>(.*?)</script>', page, re.S)
    assert island, "the dashboard's data island"
    return json.loads(island.group(1))


def test_a_manager_sees_the_dashboard_of_their_stores_only(engine: Engine, world: World) -> None:
    both = _client(engine, world, "mgr12").get("/dashboard")
    assert both.status_code == 200
    assert "'unsafe-inline'" in both.headers["content-security-policy"]
    assert "script-src 'self';" in both.headers["content-security-policy"]
    one = _client(engine, world, "mgr1").get("/dashboard")
    assert one.status_code == 200 and _data(one.text)
    assert "S2" in both.text and "S2" not in one.text  # not a choice, not a row, not a count


def test_another_store_and_unknown_ids_get_the_same_404(engine: Engine, world: World) -> None:
    mgr1 = _client(engine, world, "mgr1")
    other = mgr1.get("/dashboard", params={"store": "S2"})
    unknown = mgr1.get("/dashboard", params={"store": "S9"})
    no_campaign = mgr1.get("/dashboard", params={"campaign": "nope"})
    assert other.status_code == unknown.status_code == no_campaign.status_code == 404
    assert other.text == unknown.text
    assert _client(engine, world, "mgr12").get("/dashboard", params={"store": "S2"}).is_success


BAD_FILTERS = [
    ({"since": "2026-12-31", "until": "2026-01-01"},
     "起始日期 2026-12-31 晚于截止日期 2026-01-01", "From 2026-12-31 is after To 2026-01-01"),
    ({"since": "garbage"}, "“起”不是日期：'garbage'", "From is not a date: 'garbage'"),
    ({"until": "2026-02-30"}, "“止”不是日期：'2026-02-30'", "To is not a date: '2026-02-30'"),
    ({"period": "year"}, "未知周期：'year'", "unknown period 'year'"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("params", "zh", "en"), BAD_FILTERS, ids=["from-after-to", "no-date", "no-day", "period"]
)
def test_a_bad_filter_shows_the_form_again_saying_what_is_wrong(
    engine: Engine, world: World, params: dict[str, str], zh: str, en: str
) -> None:
    mgr = _client(engine, world, "mgr12")
    good = _data(mgr.get("/dashboard").text)["data"]
    assert good["runs"], "the world has runs, so that no data below means something"
    for lang, message in (("zh-CN", zh), ("en", en)):
        answer = mgr.get("/dashboard", params={**params, "campaign": world_campaign(good)},
                         headers={"accept-language": lang})  # fmt: skip
        assert answer.status_code == 200, answer.text
        alert = re.search(r'<div class="rv-problems".*?</div>', answer.text, re.S)
        assert alert and message in html.unescape(alert.group(0)), (lang, answer.text[:2000])
        form = re.search(r'<form class="rv-filters".*?</form>', answer.text, re.S)
        assert form, "the filter form, shown again"
        for name, value in params.items():  # the user's values, as typed
            assert re.search(rf'name="{name}"[^>]*value="{re.escape(value)}"', form.group(0)) or (
                re.search(rf'value="{re.escape(value)}" selected', form.group(0))
            ), name
        assert f'value="{world_campaign(good)}" selected' in form.group(0)
        data = _data(answer.text)["data"]  # no data: not numbers for other filters
        assert data["runs"] == data["trend"] == data["funnel"] == data["staff"] == []
        assert all(rows == [] for rows in data["upsell"].values())
    ok = mgr.get("/dashboard", params={"since": "2026-01-01", "until": "2026-12-31"})
    assert ok.status_code == 200 and 'class="rv-problems"' not in ok.text


def world_campaign(data: dict) -> str:
    """A campaign the dashboard's runs have."""
    name: str = data["runs"][0]["campaign"]
    return name


def test_the_chart_files_are_served_behind_sign_in_and_leads_see_no_dashboard(
    engine: Engine, world: World
) -> None:
    mgr = _client(engine, world, "mgr12")
    assert mgr.get("/dashboard/static/dashboard.js").status_code == 200
    assert mgr.get("/dashboard/static/nope.js").status_code == 404
    anonymous = make_client(engine, world.settings)
    for path in ("/dashboard/static/dashboard.js", "/dashboard"):
        answer = anonymous.get(path, follow_redirects=False)
        assert not answer.is_success and "echarts" not in answer.text
    assert _client(engine, world, "lead12").get("/dashboard").status_code in (403, 404)
