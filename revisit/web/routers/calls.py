"""The caller's pages: today's calls (``/calls``), a call sheet with its outcome form
(``/calls/{contact_id}``) and a customer's record with the replies inbox
(``/customers/{customer_id}``). A contact or customer of a store the user does not see is
404, as an id that does not exist. An outcome is recorded through the same function as
``revisit outcome log`` and audited; then the next call opens."""

from __future__ import annotations

import logging
from typing import Annotated

import httpx
from fastapi import APIRouter, BackgroundTasks, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.engine import Engine

from revisit.campaigns.outcome_codes import (
    DECLINE_REASONS,
    DISSATISFACTIONS,
    NOT_REACHED,
    CallCode,
)
from revisit.entry.worklist import call_sheet, customer_record, next_call, todays_calls
from revisit.errors import RevisitError
from revisit.outcomes.calls import FieldProblem, log_call_outcome
from revisit.outcomes.tickets import notify_new_tickets
from revisit.settings import Settings
from revisit.web.deps import CurrentUser, EngineDep, SettingsDep
from revisit.web.i18n import translate
from revisit.web.pages import language_of, page

router = APIRouter(tags=["calls"])
#: The outcome form's choices, in the order a caller meets them.
CODES = [c.value for c in CallCode]
REASONS = sorted(NOT_REACHED) + sorted(DECLINE_REASONS | DISSATISFACTIONS)
_log = logging.getLogger(__name__)


@router.get("/calls")
def calls(
    request: Request, user: CurrentUser, engine: EngineDep, settings: SettingsDep
) -> Response:
    """Today's calls of the signed-in caller, highest priority first."""
    day = settings.today()
    items = todays_calls(engine, caller=user.name, store_ids=user.store_ids, day=day)
    return page(request, "calls.html", {"items": items, "day": day})


@router.get("/calls/{contact_id}")
def sheet(
    request: Request,
    contact_id: int,
    user: CurrentUser,
    engine: EngineDep,
    settings: SettingsDep,
) -> Response:
    """The call sheet of a contact and its outcome form (404 outside the user's stores)."""
    found = call_sheet(engine, settings, contact_id=contact_id, store_ids=user.store_ids)
    if found is None:
        raise HTTPException(404)
    context = {"sheet": found, "codes": CODES, "reasons": REASONS}
    return page(request, "call.html", context)


@router.post("/calls/{contact_id}/outcome")
def record_outcome(
    request: Request,
    contact_id: int,
    user: CurrentUser,
    engine: EngineDep,
    settings: SettingsDep,
    tasks: BackgroundTasks,
    code: Annotated[str, Form(max_length=50)] = "",
    reason: Annotated[str, Form(max_length=50)] = "",
    callback_date: Annotated[str, Form(max_length=20)] = "",
    note: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    """Record the outcome (as ``revisit outcome log`` does), audit it, and open the next
    call; the form again with the problem when a field cannot be used."""
    found = call_sheet(engine, settings, contact_id=contact_id, store_ids=user.store_ids)
    if found is None:
        raise HTTPException(404)
    try:
        with engine.begin() as conn:
            done = log_call_outcome(
                conn, contact_id=contact_id, code=code, reason=reason, callback=callback_date,
                staff=user.name, note=note.strip() or None, actor=user.name,
                managers=settings.service_managers,
            )  # fmt: skip
    except FieldProblem as problem:
        form = {"code": code, "reason": reason, "callback_date": callback_date, "note": note}
        context = {"sheet": found, "codes": CODES, "reasons": REASONS, "problem": problem,
                   "form": form}  # fmt: skip
        return page(request, "call.html", context, status=400)
    if done.ticket_opened:
        tasks.add_task(announce_tickets, engine, settings)
    key = "already_saved" if done.duplicate else "saved"
    lang = language_of(request)
    what = translate(done.code, lang) + (
        f" / {translate(done.detail, lang)}" if done.detail else ""
    )
    what += f" · {done.callback_date}" if done.callback_date else ""
    request.session["flash"] = [key, f"{found.item.name}: {what}"]
    following = next_call(engine, caller=user.name, store_ids=user.store_ids, day=settings.today())
    target = f"/calls/{following.contact_id}" if following else "/calls"
    return RedirectResponse(target, status_code=303)


def announce_tickets(engine: Engine, settings: Settings) -> None:
    """Post the tickets not yet announced to the staff webhook, if one is set, after the
    response (a webhook that fails is logged; the next outcome announces them)."""
    secret = settings.staff_webhook_url
    url = secret.get_secret_value() if secret else ""
    if not url:
        return
    try:
        with httpx.Client(timeout=10.0) as client:
            notify_new_tickets(engine, url=url, client=client)
    except RevisitError as exc:
        _log.warning("tickets not announced: %s", exc)


@router.get("/customers/{customer_id}")
def customer(request: Request, customer_id: str, user: CurrentUser, engine: EngineDep) -> Response:
    """A customer's contacts, outcomes and replies (404 outside the user's stores)."""
    record = customer_record(engine, customer_id=customer_id, store_ids=user.store_ids)
    if record is None:
        raise HTTPException(404)
    return page(request, "customer.html", {"record": record})
