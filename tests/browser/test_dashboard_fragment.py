"""The dashboard as the app serves it — the fragment in a page, its files from a static path,
under a CSP that allows scripts from the page's own origin only — in Chromium: it draws every
chart with no console error (a CSP violation is one) and no request leaving the machine.
ECharts writes style attributes (its tooltips, its canvas' box), so styles need
'unsafe-inline'; scripts never do."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, Query
from fastapi.responses import FileResponse, HTMLResponse, Response
from sqlalchemy.engine import Engine

from revisit.reports.dashboard import DashboardFilter, dashboard_data
from revisit.reports.page import render_dashboard_fragment, static_files
from revisit.settings import Settings
from tests.browser_support import CHARTS, ROWS_JS, shown_number
from tests.dashboard_support import two_store_dealer
from tests.web_support import serve_app

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; connect-src 'self'; form-action 'self'"
)


def dashboard_app(engine: Engine) -> FastAPI:
    files = static_files(Settings().echarts_js)
    app = FastAPI()

    @app.get("/static/{name}")
    def static(name: str) -> Response:
        return FileResponse(files[name])

    @app.get("/dashboard")
    def dashboard(store: Annotated[list[str] | None, Query()] = None) -> HTMLResponse:
        f = DashboardFilter(stores=frozenset(store) if store else None)
        with engine.connect() as conn:
            data = dashboard_data(conn, f)
        choices = {"stores": ["S1", "S2"], "campaigns": []}
        body = render_dashboard_fragment(data, lang="zh", static_url="/static", choices=choices)
        head = "<!DOCTYPE html><html lang='zh-CN'><head><meta charset='utf-8'></head>"
        page = f"{head}<body>{body}</body></html>"
        return HTMLResponse(page, headers={"Content-Security-Policy": CSP})

    return app


def test_the_apps_dashboard_draws_under_a_strict_csp(checked_page: Any, engine: Engine) -> None:
    two_store_dealer(engine)
    page = checked_page
    with serve_app(lambda _url: dashboard_app(engine)) as url:
        page.goto(f"{url}/dashboard")
        page.wait_for_function(f"revisitDashboard.charts.length == {CHARTS}")
        funnel = page.eval_on_selector("#rv-funnel", ROWS_JS)
        assert shown_number(funnel[0]["count"]) == 18
        page.uncheck("input[name=store][value=S1]")  # the filter form: S2 only
        page.click("#rv-filters button[type=submit]")
        page.wait_for_url("**store=S2**")
        page.wait_for_function(f"revisitDashboard.charts.length == {CHARTS}")
        funnel = page.eval_on_selector("#rv-funnel", ROWS_JS)
        assert shown_number(funnel[0]["count"]) == 7
        page.hover("#rv-chart-funnel")  # a tooltip styles itself without breaking the CSP
