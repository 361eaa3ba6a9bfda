"""The manager's dashboard in the app (``/dashboard``): the page of
:mod:`revisit.reports.page` for the user's stores, with its filter form, its chart library and
script served from ``/dashboard/static/`` (signed in too).

A store the user does not see, a store or campaign that does not exist: 404, the same
answer for each, so the dashboard tells nothing about other stores. ECharts styles its
tooltips and canvas with style attributes, so this page alone allows inline styles; scripts
stay ``'self'`` only."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse, Response
from sqlalchemy import select

from revisit.db.tables import CAMPAIGNS, CUSTOMERS
from revisit.errors import ConfigError
from revisit.reports.dashboard import PERIODS, DashboardFilter, dashboard_data, scoped_stores
from revisit.reports.page import render_dashboard_fragment, static_files
from revisit.web.deps import EngineDep, ManagerUser, SettingsDep
from revisit.web.pages import campaign_names, language_of, page
from revisit.web.security import CSP

router = APIRouter(tags=["dashboard"])
_log = logging.getLogger(__name__)
STATIC_URL = "/dashboard/static"
DASHBOARD_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")


def _day(text: str | None) -> dt.date | None:
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise HTTPException(400, f"not a date: {text!r}") from None


@router.get("/dashboard")
def dashboard(
    request: Request,
    user: ManagerUser,
    engine: EngineDep,
    store: Annotated[list[str] | None, Query(max_length=100)] = None,
    campaign: str | None = None,
    since: str | None = None,
    until: str | None = None,
    period: str = "month",
) -> Response:
    """The dashboard of the user's stores (or the ones asked for among them), one campaign
    or all, a period of run days, by week or month."""
    with engine.connect() as conn:
        stores = sorted(conn.execute(select(CUSTOMERS.c.store_id).distinct()).scalars())
        visible = [s for s in stores if user.sees_store(s)]
        campaigns = sorted(conn.execute(select(CAMPAIGNS.c.name)).scalars())
        if store and not set(store) <= set(visible):
            raise HTTPException(404)
        if campaign and campaign not in campaigns:
            raise HTTPException(404)
        if period not in PERIODS:
            raise HTTPException(400, f"unknown period {period!r}")
        try:
            wanted = DashboardFilter(
                stores=scoped_stores(store or None, user.store_ids), campaign=campaign or None,
                since=_day(since), until=_day(until), period=period,
            )  # fmt: skip
            data = dashboard_data(conn, wanted)
        except (ValueError, ConfigError) as exc:  # an empty period, say: the form's fault
            raise HTTPException(400, str(exc)) from None
    fragment = render_dashboard_fragment(
        data, lang=language_of(request), static_url=STATIC_URL,
        choices={"stores": visible, "campaigns": campaigns},
        campaign_names=campaign_names(request, language_of(request)),
    )  # fmt: skip
    response = page(request, "dashboard.html", {"fragment": fragment})
    response.headers["content-security-policy"] = DASHBOARD_CSP
    return response


@router.get("/dashboard/static/{name}")
def dashboard_static(name: str, user: ManagerUser, settings: SettingsDep) -> Response:
    """The dashboard's chart library, script and stylesheet."""
    try:
        files = static_files(settings.echarts_js)
    except ConfigError as exc:
        _log.error("dashboard: %s", exc)
        raise HTTPException(404) from None
    if name not in files:
        raise HTTPException(404)
    return FileResponse(files[name])
