"""A lead's launch pages in Chromium: a greeting on another day than its occasion says, in
zh, on which day it runs and offers no launch; a launch that fails (its campaign file changed
to a template that does not exist after the confirmation opened) is told once, in zh, also
after the page's script has polled; no console error, no request leaving the machine."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from revisit.web import create_app
from tests.web_app_support import PASSWORD, build_world
from tests.web_support import serve_app

NAME = "lapsed_12_24"
LEAD = {"组长": ("lead", ["S1", "S2"])}


def _sign_in(page: Any, url: str, name: str, password: str) -> None:
    page.goto(f"{url}/campaigns")
    page.wait_for_url("**/login?next=*")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url("**/password")
    page.fill("input[name=current]", password)
    page.fill("input[name=new]", PASSWORD)
    page.fill("input[name=repeat]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_url("**/campaigns")


def test_a_lead_sees_the_days_a_campaign_runs_and_a_failed_launch_once(
    checked_page: Any, engine: Engine, tmp_path: Path
) -> None:
    with ThreadPoolExecutor(1) as pool:  # the world's SMS run needs a thread of its own
        world = pool.submit(build_world, engine, tmp_path, LEAD).result()
    campaigns = tmp_path / "campaigns"
    shutil.copytree(world.settings.campaigns_dir, campaigns)
    settings = world.settings.model_copy(update={"campaigns_dir": campaigns})
    page = checked_page
    with serve_app(lambda _url: create_app(settings, engine)) as url:
        _sign_in(page, url, "组长", world.passwords["组长"])
        assert "仅在 2027-02-06 执行" in page.inner_text("tr[data-campaign=festival]")
        page.goto(f"{url}/campaigns/festival")
        assert "仅在 2027-02-06 当天执行" in page.inner_text("p.refusal")
        assert page.locator("form.launch").count() == 0
        page.goto(f"{url}/campaigns/{NAME}")
        assert "发起日期" in page.inner_text("form.launch")
        path = campaigns / f"{NAME}.yaml"
        path.write_text(path.read_text().replace(f"sms/{NAME}.zh.j2", "sms/missing.zh.j2"))
        page.click("form.launch button[type=submit]")
        page.wait_for_url(f"**/campaigns/{NAME}/{world.today}/run")
        page.wait_for_selector("#launch p.problem")
        page.wait_for_timeout(2500)  # past the script's first polls: nothing is added
        problems = page.locator("p.problem")
        assert problems.count() == 1
        assert (
            problems.inner_text().startswith("发起失败:")
            and "missing.zh.j2" in problems.inner_text()
        )
        assert page.locator("p.state").count() == 0
