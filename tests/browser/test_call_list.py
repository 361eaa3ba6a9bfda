"""Acceptance 1 of issue 13 in Chromium: a caller of store S1 signs in (choosing her own
password), works today's calls — the call sheet, an outcome saved, the next customer opens —
and the outcome is in ``revisit report --format json``; every page without a console error
(a CSP violation is one) or a request leaving the machine."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from typer.testing import CliRunner

from revisit.cli import app as cli
from revisit.web import create_app
from tests.web_app_support import PASSWORD, build_world
from tests.web_support import serve_app


def test_a_caller_works_todays_calls_in_chromium(
    checked_page: Any, engine: Engine, db_url: str, tmp_path: Path
) -> None:
    # Playwright's event loop runs in this thread; the world's SMS run needs its own.
    with ThreadPoolExecutor(1) as pool:
        world = pool.submit(build_world, engine, tmp_path, {"王芳": ("staff", ["S1"])}).result()
    first, second, _third = world.calls["S1"]
    page = checked_page
    with serve_app(lambda _url: create_app(world.settings, engine)) as url:
        page.goto(f"{url}/calls")
        page.wait_for_url("**/login?next=*")
        page.fill("input[name=name]", "王芳")
        page.fill("input[name=password]", world.passwords["王芳"])
        page.click("button[type=submit]")
        page.wait_for_url("**/password")
        page.fill("input[name=current]", world.passwords["王芳"])
        page.fill("input[name=new]", PASSWORD)
        page.fill("input[name=repeat]", PASSWORD)
        page.click("main button[type=submit]")
        page.wait_for_url("**/calls")
        assert page.locator("a.open-call").count() == 3
        assert "+86 139****" in page.inner_text("table.calls")
        page.click("a.open-call >> nth=0")
        page.wait_for_url(f"**/calls/{first}")
        assert page.locator("section.call-sheet").count() == 1  # the campaign's call sheet
        assert page.locator("a.phone").get_attribute("href").startswith("tel:+8613")
        page.check("input[name=code][value=booked]")
        page.fill("textarea[name=note]", "周六上午来")
        page.click("form.outcome button[type=submit]")
        page.wait_for_url(f"**/calls/{second}")  # the next customer opens
        assert "已保存" in page.inner_text("p.flash") and "已预约" in page.inner_text("p.flash")
        shots = Path(os.environ.get("REVISIT_SCREENSHOT_DIR") or tmp_path)
        page.screenshot(path=str(shots / "call.png"), full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})  # a phone
        page.reload()
        page.screenshot(path=str(shots / "call.phone.png"))  # the top of the sheet
        page.goto(f"{url}/calls")
        assert page.locator("a.open-call").count() == 2
    env = {
        "REVISIT_DATABASE_URL": db_url,
        "REVISIT_CAMPAIGNS_DIR": str(world.settings.campaigns_dir),
    }
    report = CliRunner().invoke(cli, ["report", "--format", "json"], env=env)
    assert report.exit_code == 0, report.output
    rows = json.loads(report.output)
    rows = rows["runs"] if isinstance(rows, dict) else rows
    calls = [r for r in rows if r["campaign"] == "post_service_followup"]
    assert [r["booked"] for r in calls] == [1], calls
