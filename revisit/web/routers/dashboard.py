"""The manager's dashboard in the app (``/dashboard``): the page of
:mod:`revisit.reports.page` for the user's stores, with its filter form, its chart library and
script served from ``/dashboard/static/`` (signed in too).

A store the user does not see, a store or campaign that does not exist: 404, the same
answer for each, so the dashboard tells nothing about other stores. A filter the form can get
wrong (a day that is not a date, From after To, an unknown period) answers 200 with the filter
form again, the user's values in it and what is wrong in the user's language, and no data
(empty tables and charts): numbers for filters other than the ones asked would be misread.
ECharts styles its tooltips and canvas with style attributes, so this page alone allows
inline styles; scripts stay ``'self'`` only."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import FileResponse, Response
from sqlalchemy import select

from revisit.db.tables import CAMPAIGNS, CUSTOMERS
from revisit.errors import ConfigError
from revisit.reports.dashboard import (
    PERIODS,
    DashboardFilter,
    dashboard_data,
    empty_data,
    scoped_stores,
)
from revisit.reports.page import render_dashboard_fragment, static_files
from revisit.reports.page.labels import labels
from revisit.web.deps import EngineDep, ManagerUser, SettingsDep
from revisit.web.pages import campaign_names, language_of, page
from revisit.web.security import CSP

router = APIRouter(tags=["dashboard"])
_log = logging.getLogger(__name__)
STATIC_URL = "/dashboard/static"
DASHBOARD_CSP = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")


def _problems(
    since: str | None, until: str | None, period: str, words: dict[str, str]
) -> tuple[list[str], dt.date | None, dt.date | None]:
    """What is wrong with the form's days and period, in ``words``' language (none: []), and
    the days read."""
    problems: list[str] = []
    days: dict[str, dt.date | None] = {"since": None, "until": None}
    for field, value in (("since", since), ("until", until)):
        if not value:
            continue
        try:
            days[field] = dt.date.fromisoformat(value)
        except ValueError:
            problems.append(words["bad_date"].format(field=words[field], value=value))
    first, last = days["since"], days["until"]
    if first is not None and last is not None and first > last:
        problems.append(words["bad_range"].format(since=first, until=last))
    if period not in PERIODS:
        problems.append(words["bad_period"].format(value=period))
    return problems, first, last


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
        lang = language_of(request)
        problems, first, last = _problems(since, until, period, labels(lang))
        stores_seen = scoped_stores(store or None, user.store_ids)
        if problems:
            data = empty_data(stores_seen, campaign or None, since, until, period)
        else:
            wanted = DashboardFilter(stores=stores_seen, campaign=campaign or None,
                                     since=first, until=last, period=period)  # fmt: skip
            data = dashboard_data(conn, wanted)
    fragment = render_dashboard_fragment(
        data, lang=lang, static_url=STATIC_URL,
        choices={"stores": visible, "campaigns": campaigns},
        campaign_names=campaign_names(request, lang), problems=problems,
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
