"""The caller's pages: today's calls (``/calls``), a call sheet with its outcome form
(``/calls/{contact_id}``, which the form posts back to) and a customer's record with the
replies inbox (``/customers/{customer_id}``). A contact or customer of a store the user does
not see is 404, as an id that does not exist. A call sheet is worked only for a contact on
the user's own list (:func:`revisit.entry.worklist.why_not_callable`): any other is 404 to a
caller, and a read-only page saying "do not call" and why (phone masked) to a lead or
manager; its outcome form refuses it alike. An outcome is recorded through the same function
as ``revisit outcome log``, one already recorded is shown and amended through the one of
``revisit outcome amend``, both audited; then the next call opens. A form that cannot be
used is shown again at the sheet's own address with what was typed."""

from __future__ import annotations

import logging
from typing import Annotated

import httpx
from fastapi import APIRouter, BackgroundTasks, Form, HTTPException, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.engine import Engine

from revisit.access.users import SignedIn
from revisit.campaigns.outcome_codes import CallCode, detail_groups
from revisit.campaigns.statuses import Role
from revisit.entry.worklist import (
    CallSheet,
    call_sheet,
    customer_record,
    next_call,
    todays_calls,
)
from revisit.errors import RevisitError
from revisit.outcomes.amend import amend_call_outcome
from revisit.outcomes.calls import FieldProblem, log_call_outcome
from revisit.outcomes.tickets import notify_new_tickets
from revisit.settings import Settings
from revisit.web.deps import CurrentUser, EngineDep, SettingsDep
from revisit.web.i18n import translate
from revisit.web.pages import language_of, page

router = APIRouter(tags=["calls"])
#: The outcome form's choices, in the order a caller meets them: the codes, and the details
#: grouped under the code they go with (code → its details).
CODES = [c.value for c in CallCode]
REASONS = detail_groups()
_log = logging.getLogger(__name__)


@router.get("/calls")
def calls(
    request: Request, user: CurrentUser, engine: EngineDep, settings: SettingsDep
) -> Response:
    """Today's calls of the signed-in caller, highest priority first."""
    day = settings.today()
    items = todays_calls(engine, caller=user.name, store_ids=user.store_ids, day=day)
    return page(request, "calls.html", {"items": items, "day": day})


def _sheet(engine: Engine, settings: Settings, user: SignedIn, contact_id: int) -> CallSheet:
    """The call sheet the user may see: 404 for another store's contact, an unknown id, or
    (for a caller) a contact not on their list; a lead or manager sees the latter read-only."""
    found = call_sheet(engine, settings, contact_id=contact_id, store_ids=user.store_ids,
                       caller=user.name, day=settings.today())  # fmt: skip
    if found is None or (found.blocked is not None and not user.at_least(Role.LEAD)):
        raise HTTPException(404)
    return found


def _sheet_page(
    request: Request,
    found: CallSheet,
    *,
    problem: FieldProblem | None = None,
    form: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    """The call sheet, its form filled from the outcome recorded (to amend it) unless the
    caller's own input is given back."""
    recorded = found.recorded
    if form is None and recorded is not None:
        day = recorded.get("callback_date")
        form = {"code": recorded["code"], "reason": recorded.get("detail") or "",
                "callback_date": day.isoformat() if day else "",
                "note": recorded.get("note") or ""}  # fmt: skip
    context = {"sheet": found, "codes": CODES, "reasons": REASONS, "problem": problem,
               "form": form, "zone": found.record.timezone}  # fmt: skip
    return page(request, "call.html", context, status=status)


@router.get("/calls/{contact_id}")
def sheet(
    request: Request,
    contact_id: int,
    user: CurrentUser,
    engine: EngineDep,
    settings: SettingsDep,
) -> Response:
    """The call sheet of a contact and its outcome form (the outcome recorded, to amend);
    404 outside the user's stores or, for a caller, off their list; read-only "do not call"
    for a lead's contact that is not to be called."""
    return _sheet_page(request, _sheet(engine, settings, user, contact_id))


@router.post("/calls/{contact_id}")
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
    amend: Annotated[str, Form(max_length=18, pattern=r"^\d*$")] = "",
) -> Response:
    """Record the outcome (as ``revisit outcome log`` does) or, with ``amend`` (the id of the
    outcome shown), amend it (as ``revisit outcome amend``), audited; then open the next
    call. A contact not to be called is refused as its sheet is (404, or back to the
    read-only sheet); a field that cannot be used shows the form again, at this address,
    with what was typed (400; nothing written)."""
    found = _sheet(engine, settings, user, contact_id)
    if found.blocked is not None:
        return RedirectResponse(f"/calls/{contact_id}", status_code=303)
    form = {"code": code, "reason": reason, "callback_date": callback_date, "note": note}
    try:
        with engine.begin() as conn:
            if found.recorded is not None or amend:
                # a form opened before the outcome was recorded (sent twice, another tab)
                # amends nothing: the same outcome is "already recorded", another refused
                stale = not amend and found.recorded is not None
                expected = found.recorded["id"] if stale and found.recorded else int(amend or 0)
                amended = amend_call_outcome(
                    conn, contact_id=contact_id, code=code, reason=reason,
                    callback=callback_date, staff=user.name, note=note, actor=user.name,
                    managers=settings.service_managers, expected=expected,
                )  # fmt: skip
                if stale and amended.changed:
                    raise FieldProblem("outcome", "an outcome is already recorded: amend it")
                key, (done_code, detail, day) = "amended", amended.after
                ticket = amended.ticket_opened
                if not amended.changed:
                    key = "already_saved" if stale else "unchanged"
            else:
                done = log_call_outcome(
                    conn, contact_id=contact_id, code=code, reason=reason,
                    callback=callback_date, staff=user.name, note=note.strip() or None,
                    actor=user.name, managers=settings.service_managers,
                )  # fmt: skip
                key = "already_saved" if done.duplicate else "saved"
                done_code, detail, day = done.code, done.detail, done.callback_date
                ticket = done.ticket_opened
    except FieldProblem as problem:
        return _sheet_page(request, found, problem=problem, form=form, status=400)
    if ticket:
        tasks.add_task(announce_tickets, engine, settings)
    lang = language_of(request)
    what = translate(done_code, lang) + (f" / {translate(detail, lang)}" if detail else "")
    what += f" · {day}" if day else ""
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
    return page(request, "customer.html", {"record": record, "zone": record.timezone})
