"""The lead's pages: the campaigns with today's preview numbers (``/campaigns``), one
campaign's preview and launch confirmation (``/campaigns/{name}``), the launch itself
(``POST /campaigns/{name}/launch``, through the same code as ``revisit campaign run``) and
a run's progress (``/runs/{run_id}``, polled as ``/runs/{run_id}.json``).

Every number is counted in the user's stores. A campaign that reaches a store the user does
not see can be previewed (their stores' part) but not launched; a run without a contact in
their stores is 404, as a run that does not exist.

A launch is for today (in the default store time zone) and a day the campaign runs on
(:func:`revisit.entry.clocks.check_launch_day`): any other day's page says why instead of
offering the launch, and a launch posted for it is refused the same way. An error of a
launch is shown once, in the user's words when it is an expected one
(:func:`revisit.web.i18n.error_text`)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from revisit.access.users import SignedIn
from revisit.campaigns.config import CampaignDef
from revisit.campaigns.labels import label
from revisit.entry.clocks import check_launch_day
from revisit.entry.holds import HoldError, lift_pause, pause
from revisit.entry.scoped import (
    RunView,
    campaign_rows,
    campaign_stores,
    known_campaign,
    run_view,
    runs_of_day,
    scoped_preview,
)
from revisit.errors import NotFoundError, RevisitError
from revisit.web.deps import EngineDep, LeadUser, SettingsDep
from revisit.web.i18n import error_text, translate
from revisit.web.launches import DONE, FAILED, RUNNING, Launcher
from revisit.web.pages import campaign_names, language_of, page

router = APIRouter(tags=["campaigns"])


def _day(text: str | None, default: dt.date) -> dt.date:
    if not text:
        return default
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise HTTPException(400, f"not a date: {text!r}") from None


def _now(request: Request) -> dt.datetime:
    now: dt.datetime = request.app.state.clock()
    return now


def _today(request: Request, settings: SettingsDep) -> dt.date:
    """Today in the default store time zone, on the app's clock (as ``Settings.today``)."""
    return _now(request).astimezone(ZoneInfo(settings.default_timezone)).date()


def _launcher(request: Request) -> Launcher:
    launcher: Launcher = request.app.state.launches
    return launcher


def launch_refusal(
    request: Request, settings: SettingsDep, campaign: CampaignDef, as_of: dt.date
) -> RevisitError | None:
    """Why ``campaign`` may not be launched for ``as_of`` now
    (:func:`~revisit.entry.clocks.check_launch_day`), or None when it may."""
    try:
        check_launch_day(campaign, as_of=as_of, now=_now(request),
                         timezone=settings.default_timezone)  # fmt: skip
    except RevisitError as exc:
        return exc
    return None


def run_days_note(campaign: CampaignDef, lang: str) -> str | None:
    """The days a campaign with an occasion or an offer runs on, in ``lang`` ("runs on
    2027-02-06 only", "runs from … to … only"); None for a campaign that runs any day."""
    days = campaign.run_days()
    if not days.limited:
        return None
    if days.one_day:
        return translate("runs_on_only", lang, first=days.first)
    return translate("runs_between", lang, first=days.first or "…", last=days.last or "…")


def _campaign(settings: SettingsDep, name: str) -> CampaignDef:
    try:
        return known_campaign(settings, name)
    except NotFoundError:
        raise HTTPException(404) from None


def may_launch(engine: EngineDep, user: SignedIn, campaign: CampaignDef) -> bool:
    """Whether ``user`` sees every store the campaign reaches (a launch contacts them all)."""
    return user.covers(campaign_stores(engine, campaign))


@router.get("/campaigns")
def campaigns(
    request: Request,
    user: LeadUser,
    engine: EngineDep,
    settings: SettingsDep,
    day: str | None = None,
) -> Response:
    """Every campaign with the day's preview numbers in the user's stores."""
    as_of = _day(day, _today(request, settings))
    rows, broken = campaign_rows(
        engine, settings, as_of=as_of, now=_now(request), store_ids=user.store_ids
    )
    lang = language_of(request)
    notes = {r.campaign.name: run_days_note(r.campaign, lang) for r in rows}
    runs_today = {r.campaign.name: r.campaign.run_days().allows(as_of) for r in rows}
    today = _today(request, settings)
    day_problem = None if as_of == today else translate(
        "past_day" if as_of < today else "future_day", lang, as_of=as_of, today=today
    )  # fmt: skip
    context = {"rows": rows, "broken": broken, "day": as_of, "notes": notes,
               "runs_today": runs_today, "day_problem": day_problem}  # fmt: skip
    return page(request, "campaigns.html", context)


@router.get("/campaigns/{name}")
def campaign(
    request: Request,
    name: str,
    user: LeadUser,
    engine: EngineDep,
    settings: SettingsDep,
    day: str | None = None,
) -> Response:
    """The campaign's preview for a day (numbers by reason, sample texts) and the launch
    confirmation — the day and its time zone, the numbers, what the launch will do — when
    the user may launch it for that day; else why not (another store's campaign, a day it
    does not run on, a past or later day)."""
    definition = _campaign(settings, name)
    as_of = _day(day, _today(request, settings))
    found = scoped_preview(
        engine, settings, name=definition.name, as_of=as_of, now=_now(request),
        store_ids=user.store_ids,
    )  # fmt: skip
    lang = language_of(request)
    refusal = launch_refusal(request, settings, definition, as_of)
    context = {
        "preview": found, "day": as_of, "may_launch": may_launch(engine, user, definition),
        "run_id": runs_of_day(engine, as_of=as_of).get(definition.name),
        "refusal": error_text(refusal, lang, campaign_names(request, lang)) if refusal else None,
        "run_days": run_days_note(definition, lang), "tz": settings.default_timezone,
    }  # fmt: skip
    return page(request, "campaign.html", context)


@router.post("/campaigns/{name}/launch")
def launch_campaign(
    request: Request,
    name: str,
    user: LeadUser,
    engine: EngineDep,
    settings: SettingsDep,
    day: Annotated[str, Form(max_length=20)],
) -> Response:
    """Launch the campaign for the day through the app's launcher (in the background, or a
    Prefect flow run), audited as the user's, and go to the launch's page; 404 when they
    may not launch it. A day it may not be launched for goes back to the campaign's page
    for that day, which says why (nothing is started); a launcher that cannot start says
    so there, once, in the user's words."""
    definition = _campaign(settings, name)
    if not may_launch(engine, user, definition):
        raise HTTPException(404)
    as_of = _day(day, _today(request, settings))
    back = RedirectResponse(f"/campaigns/{definition.name}?day={as_of}", status_code=303)
    if launch_refusal(request, settings, definition, as_of) is not None:
        return back
    try:
        _launcher(request).start(engine, settings, name=definition.name, day=as_of, actor=user.name)
    except RevisitError as exc:
        lang = language_of(request)
        request.session["flash"] = ["problem", error_text(exc, lang, campaign_names(request, lang))]
        return back
    return RedirectResponse(f"/campaigns/{definition.name}/{as_of}/run", status_code=303)


def _launch_state(request: Request, engine: EngineDep, name: str, as_of: dt.date) -> dict[str, Any]:
    found = _launcher(request).state(name, as_of)
    run_id = runs_of_day(engine, as_of=as_of).get(name)
    lang = language_of(request)
    return {
        "campaign": name, "as_of": as_of.isoformat(), "run_id": run_id,
        "state": found.state if found else (DONE if run_id else None),
        "error": error_text(found.error, lang, campaign_names(request, lang))
        if found and found.error else None,
        "flow_run": found.flow_run if found else None,
        "flow_state": found.flow_state if found else None,
    }  # fmt: skip


@router.get("/campaigns/{name}/{day}/run")
def launched(
    request: Request, name: str, day: str, user: LeadUser, engine: EngineDep, settings: SettingsDep
) -> Response:
    """Where a launch lands: the run once it exists and the launch has ended well, else a
    page that waits for it (or says, once, why the launch failed)."""
    definition = _campaign(settings, name)
    if not may_launch(engine, user, definition):
        raise HTTPException(404)
    state = _launch_state(request, engine, definition.name, _day(day, _today(request, settings)))
    if state["run_id"] is not None and state["state"] not in (RUNNING, FAILED):
        return RedirectResponse(f"/runs/{state['run_id']}", status_code=303)
    return page(request, "launching.html", {"launch": state})


@router.get("/campaigns/{name}/{day}/run.json")
def launched_json(
    request: Request, name: str, day: str, user: LeadUser, engine: EngineDep, settings: SettingsDep
) -> Response:
    """The launch's state as JSON (polled by ``run.js``)."""
    definition = _campaign(settings, name)
    if not may_launch(engine, user, definition):
        raise HTTPException(404)
    return JSONResponse(
        _launch_state(request, engine, definition.name, _day(day, _today(request, settings)))
    )


@router.get("/runs/{run_id:int}")
def run(
    request: Request, run_id: int, user: LeadUser, engine: EngineDep, settings: SettingsDep
) -> Response:
    """A run's progress and summary in the user's stores, with pause or resume for a user
    who may launch its campaign, and the state of the Prefect flow run that launched it
    (when this app launched it through Prefect)."""
    view = run_view(engine, run_id=run_id, store_ids=user.store_ids)
    if view is None:
        raise HTTPException(404)
    controls = _may_hold(engine, settings, user, view.campaign)
    launched = _launcher(request).state(view.campaign, view.as_of)
    flow = launched if launched is not None and launched.flow_run else None
    return page(request, "run.html", {"run": view, "controls": controls, "flow": flow})


def _may_hold(engine: EngineDep, settings: SettingsDep, user: SignedIn, campaign: str) -> bool:
    try:
        return may_launch(engine, user, known_campaign(settings, campaign))
    except RevisitError:  # its file is gone or broken: nothing to run again
        return False


def _held_run(engine: EngineDep, settings: SettingsDep, user: SignedIn, run_id: int) -> RunView:
    view = run_view(engine, run_id=run_id, store_ids=user.store_ids)
    if view is None or not _may_hold(engine, settings, user, view.campaign):
        raise HTTPException(404)
    return view


@router.post("/runs/{run_id:int}/pause")
def pause_run(
    request: Request, run_id: int, user: LeadUser, engine: EngineDep, settings: SettingsDep
) -> Response:
    """Pause the run (as ``revisit campaign pause``); 404 unless the user may launch its
    campaign; a run that cannot be paused says why."""
    _held_run(engine, settings, user, run_id)
    try:
        pause(engine, run_id=run_id, actor=user.name)
    except HoldError as exc:
        request.session["flash"] = ["problem", str(exc)]
    return RedirectResponse(f"/runs/{run_id}", status_code=303)


@router.post("/runs/{run_id:int}/resume")
def resume_run(
    request: Request, run_id: int, user: LeadUser, engine: EngineDep, settings: SettingsDep
) -> Response:
    """Lift the pause and run the campaign again for its day in the background (as
    ``revisit campaign resume``); 404 unless the user may launch its campaign."""
    _held_run(engine, settings, user, run_id)
    ref = lift_pause(engine, run_id=run_id, actor=user.name)
    try:
        _launcher(request).start(engine, settings, name=ref.campaign, day=ref.as_of)
    except RevisitError as exc:
        lang = language_of(request)
        request.session["flash"] = ["problem", error_text(exc, lang, campaign_names(request, lang))]
    return RedirectResponse(f"/runs/{run_id}", status_code=303)


@router.get("/runs/{run_id:int}.json")
def run_json(request: Request, run_id: int, user: LeadUser, engine: EngineDep) -> Response:
    """A run's progress as JSON (polled by ``run.js``)."""
    view = run_view(engine, run_id=run_id, store_ids=user.store_ids)
    if view is None:
        raise HTTPException(404)
    lang = language_of(request)
    launched = _launcher(request).state(view.campaign, view.as_of)
    flow_state = launched.flow_state if launched is not None else None
    return JSONResponse(
        view.as_dict()
        | {"status_label": label(view.status, lang, "run_status"), "flow_state": flow_state}
    )
