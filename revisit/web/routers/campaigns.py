"""The lead's pages: the campaigns with today's preview numbers (``/campaigns``), one
campaign's preview and launch confirmation (``/campaigns/{name}``), the launch itself
(``POST /campaigns/{name}/launch``, through the same code as ``revisit campaign run``) and
a run's progress (``/runs/{run_id}``, polled as ``/runs/{run_id}.json``).

Every number is counted in the user's stores. A campaign that reaches a store the user does
not see can be previewed (their stores' part) but not launched; a run without a contact in
their stores is 404, as a run that does not exist."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Form, HTTPException, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response

from revisit.access.users import SignedIn
from revisit.campaigns.config import CampaignDef
from revisit.entry.clocks import real_clock
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
from revisit.web.i18n import translate
from revisit.web.launches import DONE, RUNNING, Launches
from revisit.web.pages import language_of, page

router = APIRouter(tags=["campaigns"])


def _day(text: str | None, default: dt.date) -> dt.date:
    if not text:
        return default
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise HTTPException(400, f"not a date: {text!r}") from None


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
    as_of = _day(day, settings.today())
    rows, broken = campaign_rows(
        engine, settings, as_of=as_of, now=real_clock(), store_ids=user.store_ids
    )
    return page(request, "campaigns.html", {"rows": rows, "broken": broken, "day": as_of})


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
    confirmation, when the user may launch it."""
    definition = _campaign(settings, name)
    as_of = _day(day, settings.today())
    found = scoped_preview(
        engine, settings, name=definition.name, as_of=as_of, now=real_clock(),
        store_ids=user.store_ids,
    )  # fmt: skip
    context = {
        "preview": found, "day": as_of, "may_launch": may_launch(engine, user, definition),
        "run_id": runs_of_day(engine, as_of=as_of).get(definition.name),
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
    """Launch the campaign for the day in the background, audited as the user's (404 when
    they may not), and go to the run's page."""
    definition = _campaign(settings, name)
    if not may_launch(engine, user, definition):
        raise HTTPException(404)
    as_of = _day(day, settings.today())
    launches: Launches = request.app.state.launches
    launches.start(engine, settings, name=definition.name, day=as_of, actor=user.name)
    return RedirectResponse(f"/campaigns/{definition.name}/{as_of}/run", status_code=303)


def _launch_state(request: Request, engine: EngineDep, name: str, as_of: dt.date) -> dict[str, Any]:
    launches: Launches = request.app.state.launches
    state = launches.state(name, as_of)
    run_id = runs_of_day(engine, as_of=as_of).get(name)
    return {
        "campaign": name, "as_of": as_of.isoformat(), "run_id": run_id,
        "state": state or (DONE if run_id else None),
        "error": state if state not in (None, RUNNING, DONE) else None,
    }  # fmt: skip


@router.get("/campaigns/{name}/{day}/run")
def launched(
    request: Request, name: str, day: str, user: LeadUser, engine: EngineDep, settings: SettingsDep
) -> Response:
    """Where a launch lands: the run once it exists, else a page that waits for it (or
    says why the launch failed)."""
    definition = _campaign(settings, name)
    if not may_launch(engine, user, definition):
        raise HTTPException(404)
    state = _launch_state(request, engine, definition.name, _day(day, settings.today()))
    if state["run_id"] is not None and state["state"] != RUNNING:
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
        _launch_state(request, engine, definition.name, _day(day, settings.today()))
    )


@router.get("/runs/{run_id:int}")
def run(
    request: Request, run_id: int, user: LeadUser, engine: EngineDep, settings: SettingsDep
) -> Response:
    """A run's progress and summary in the user's stores, with pause or resume for a user
    who may launch its campaign."""
    view = run_view(engine, run_id=run_id, store_ids=user.store_ids)
    if view is None:
        raise HTTPException(404)
    controls = _may_hold(engine, settings, user, view.campaign)
    return page(request, "run.html", {"run": view, "controls": controls})


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
    launches: Launches = request.app.state.launches
    launches.start(engine, settings, name=ref.campaign, day=ref.as_of)
    return RedirectResponse(f"/runs/{run_id}", status_code=303)


@router.get("/runs/{run_id:int}.json")
def run_json(request: Request, run_id: int, user: LeadUser, engine: EngineDep) -> Response:
    """A run's progress as JSON (polled by ``run.js``)."""
    view = run_view(engine, run_id=run_id, store_ids=user.store_ids)
    if view is None:
        raise HTTPException(404)
    lang = language_of(request)
    return JSONResponse(view.as_dict() | {"status_label": translate(view.status, lang)})
