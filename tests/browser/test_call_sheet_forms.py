"""The call sheet's outcome form in Chromium: a callback without its day is shown again on
the sheet's own address with what was typed (nothing saved); the outcome once saved is shown
on its sheet with who and when, and amended there rather than recorded twice."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from revisit.db.tables import OUTCOMES
from revisit.web import create_app
from revisit.web.i18n import translate
from tests.web_app_support import PASSWORD, build_world
from tests.web_support import serve_app


def test_a_failed_outcome_stays_on_its_sheet_and_a_saved_one_is_amended_in_chromium(
    checked_page: Any, engine: Engine, tmp_path: Path
) -> None:
    with ThreadPoolExecutor(1) as pool:
        world = pool.submit(build_world, engine, tmp_path, {"王芳": ("staff", ["S1"])}).result()
    first, second, _third = world.calls["S1"]
    page = checked_page
    with serve_app(lambda _url: create_app(world.settings, engine)) as url:
        page.goto(f"{url}/login")
        page.fill("input[name=name]", "王芳")
        page.fill("input[name=password]", world.passwords["王芳"])
        page.click("main button[type=submit]")
        page.wait_for_url("**/password")
        page.fill("input[name=current]", world.passwords["王芳"])
        page.fill("input[name=new]", PASSWORD)
        page.fill("input[name=repeat]", PASSWORD)
        page.click("main button[type=submit]")
        page.wait_for_url("**/calls")
        page.goto(f"{url}/calls/{first}")
        # 再联系 without its day: the problem, on the sheet's own address, the note kept
        page.check("input[name=code][value=callback]")
        page.fill("textarea[name=note]", "出差下周回")
        page.click("form.outcome button[type=submit]")
        page.wait_for_selector("p.problem")
        assert page.url == f"{url}/calls/{first}"
        assert translate("problem:callback_date", "zh") in page.inner_text("p.problem")
        assert page.input_value("textarea[name=note]") == "出差下周回"
        assert page.is_checked("input[name=code][value=callback]")
        # the form's 400 is the one console line Chromium writes for it; nothing else
        expected = [e for e in page.guard.errors if "status of 400" in e]
        assert len(expected) == 1
        page.guard.errors.remove(expected[0])
        page.guard.check()
        # with its day it is saved, and the next customer opens
        page.fill("input[name=callback_date]", "2099-01-05")
        page.click("form.outcome button[type=submit]")
        page.wait_for_url(f"**/calls/{second}")
        # back on the first: what was recorded, by whom, and the form to amend it
        page.goto(f"{url}/calls/{first}")
        assert "再联系 · 2099-01-05" in page.inner_text("section.recorded")
        assert "王芳" in page.inner_text("p.recorded-by")
        assert page.input_value("textarea[name=note]") == "出差下周回"
        page.check("input[name=code][value=booked]")
        page.fill("input[name=callback_date]", "")
        page.click("form.outcome button[type=submit]")
        page.wait_for_url(f"**/calls/{second}")
        assert "已修改" in page.inner_text("p.flash")
    with engine.connect() as conn:
        rows = conn.execute(
            select(OUTCOMES.c.code).where(OUTCOMES.c.contact_id == first, OUTCOMES.c.kind == "call")
        ).all()
    assert [r.code for r in rows] == ["booked"]
