"""Every page of the app fits a phone (390×844) and a desk (1280 wide) in Chromium, as each
role sees it, in zh and in en (English words, names and ids run longer than Chinese lines):
the page body never scrolls sideways (wide tables scroll inside their own box or reflow into
label/value lines) and every nav item stays on one line. No console error, no request
leaving the machine."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.engine import Engine

from revisit.db.tables import CUSTOMERS
from revisit.entry.lookup import campaign_files
from revisit.web import create_app
from tests.browser_support import PageGuard
from tests.web_app_support import PASSWORD, World, build_world
from tests.web_support import serve_app

USERS = {
    "王芳": ("staff", ["S1"]),
    "lead1": ("lead", ["S1", "S2"]),
    "manager1": ("manager", ["S1", "S2"]),
}
WIDTHS = (390, 1280)
#: Per nav item: whether it spans one line (its height under two of its lines).
NAV_JS = """() => [...document.querySelectorAll('header nav a, header .brand')].map(a => {
    const line = parseFloat(getComputedStyle(a).lineHeight);
    return [a.textContent.trim(), a.getClientRects().length, a.getBoundingClientRect().height,
            line];
})"""
#: The page's width. Compared with the viewport's set width, not ``innerWidth``: a phone
#: (``is_mobile``) widens its layout viewport to a page that is too wide, hiding the fault.
WIDTH_JS = "() => document.documentElement.scrollWidth"


def pages_of(world: World, role: str) -> list[str]:
    """The pages ``role`` uses: the call list and sheets, the customer's record; a lead's
    campaigns, previews and runs; a manager's dashboard."""
    pages = ["/calls", *(f"/calls/{c}" for c in world.calls["S1"][:1]),
             f"/customers/{world.customers['S1'][0]}", "/password"]  # fmt: skip
    if role == "staff":
        return pages
    names = sorted(campaign_files(world.settings).campaigns)
    pages = ["/campaigns", *(f"/campaigns/{n}" for n in names[:4]), "/campaigns/maintenance_due",
             f"/runs/{world.call_run}", f"/runs/{world.sms_run}",
             f"/customers/{world.customers['S2'][0]}"]  # fmt: skip
    if role == "manager":
        pages.append("/dashboard")
    return pages


def sign_in(page: Any, url: str, name: str, password: str) -> None:
    page.goto(f"{url}/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("main button[type=submit]")
    page.wait_for_url("**/password")
    page.fill("input[name=current]", password)
    page.fill("input[name=new]", PASSWORD)
    page.fill("input[name=repeat]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_load_state()


def _long_names(engine: Engine, world: World) -> None:
    """A long name for the first customer of each store (a call sheet's heading), as
    English names and dealer ids are longer than the factories' ones."""
    with engine.begin() as conn:
        for store in ("S1", "S2"):
            conn.execute(
                update(CUSTOMERS)
                .where(CUSTOMERS.c.customer_id == world.customers[store][0])
                .values(name="Maximilian-Alexander Montgomery-Fitzwilliamson")
            )


@pytest.mark.parametrize("locale", ["zh-CN", "en-US"])
@pytest.mark.parametrize("role_user", sorted(USERS))
def test_every_page_fits_a_phone_and_a_desk(
    browser: Any, engine: Engine, tmp_path: Path, role_user: str, locale: str
) -> None:
    with ThreadPoolExecutor(1) as pool:
        world = pool.submit(build_world, engine, tmp_path, USERS).result()
        pool.submit(_long_names, engine, world).result()
    role = USERS[role_user][0]
    context = browser.new_context(locale=locale, viewport={"width": 390, "height": 844},
                                  is_mobile=True, has_touch=True)  # fmt: skip
    page = context.new_page()
    guard = PageGuard(page)
    faults: list[str] = []
    try:
        with serve_app(lambda _url: create_app(world.settings, engine)) as url:
            sign_in(page, url, role_user, world.passwords[role_user])
            for width in WIDTHS:
                page.set_viewport_size({"width": width, "height": 844})
                for path in pages_of(world, role):
                    page.goto(url + path)
                    page.wait_for_load_state("networkidle")
                    if path == "/dashboard":
                        page.wait_for_function("revisitDashboard.charts.length > 0")
                    scroll = page.evaluate(WIDTH_JS)
                    if scroll > width:
                        faults.append(f"{locale} {width}px {path}: the page is {scroll}px wide")
                    for text, rects, height, line in page.evaluate(NAV_JS):
                        if rects != 1 or height >= 1.8 * line:
                            faults.append(f"{locale} {width}px {path}: nav item {text!r} wraps")
        guard.check()
    finally:
        context.close()
    assert faults == []
