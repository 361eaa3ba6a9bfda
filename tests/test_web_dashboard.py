"""The manager's dashboard in the app (``/dashboard``): the report page of the user's stores,
404 for another store as for one that does not exist, its chart files behind sign-in, and
inline styles allowed on this page alone (ECharts styles its canvas; scripts stay 'self')."""

from __future__ import annotations

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
    # a period whose start is after its end is the form's fault: 400, not an error page
    empty = mgr1.get("/dashboard", params={"since": "2026-12-01", "until": "2026-11-01"})
    assert empty.status_code == 400


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
