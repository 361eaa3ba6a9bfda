"""Correcting a call outcome already recorded (``revisit outcome amend``, the call sheet's
amend form): a caller who picked the wrong code, reason or day fixes the outcome instead of
recording a second one, so a contact keeps one result and the reports count it once.

The amendment is parsed and checked as a new outcome is (:func:`~revisit.outcomes.calls.
parse_outcome`, :func:`~revisit.outcomes.calls.check_outcome`), replaces the contact's
newest call outcome in place (its time stays that of the call) and is audited with the
outcome before and after. Side effects follow the new outcome: a callback the old one added
is taken back while nobody has it yet (a changed day moves it), and what the new one does
happens (:func:`~revisit.outcomes.calls.take_effect`, a ticket for ``dissatisfied``). What
the old outcome did to other records stays — a car marked sold, a phone marked wrong, the
do-not-contact list, a ticket — each is undone where it is kept (the import, ``revisit
optout``, ``revisit ticket``), and the audit row says what it was.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.engine import Connection

from revisit.access.audit import audit
from revisit.campaigns.outcome_codes import CallCode
from revisit.campaigns.statuses import AuditAction
from revisit.db.tables import AUDIT, CONTACTS
from revisit.delivery.outbox import withdraw_callback
from revisit.outcomes.calls import (
    CallOutcome,
    FieldProblem,
    check_outcome,
    parse_outcome,
    take_effect,
)
from revisit.outcomes.records import amend_outcome, latest_call_outcome
from revisit.outcomes.tickets import Complaint, open_tickets


@dataclass(frozen=True)
class Amended:
    """What :func:`amend_call_outcome` did: the outcome id, what it said before and now
    (code, detail, callback day), whether anything changed, and whether a callback was taken
    back, added, or a ticket opened."""

    outcome_id: int
    before: tuple[str, str | None, dt.date | None]
    after: tuple[str, str | None, dt.date | None]
    changed: bool
    callback_withdrawn: bool = False
    callback_added: bool = False
    ticket_opened: bool = False

    def describe(self) -> str:
        """``callback on 2026-12-01 → booked``."""

        def one(code: str, detail: str | None, day: dt.date | None) -> str:
            text = code + (f" / {detail}" if detail else "")
            return text + (f" on {day}" if day else "")

        return f"{one(*self.before)} → {one(*self.after)}"


def amend_call_outcome(
    conn: Connection,
    *,
    contact_id: int,
    code: str,
    reason: str = "",
    callback: str = "",
    staff: str | None = None,
    note: str | None = None,
    managers: Mapping[str, str] | None = None,
    actor: str,
    expected: int | None = None,
) -> Amended:
    """Replace the newest call outcome of ``contact_id`` by what the caller now writes (the
    fields of :func:`~revisit.outcomes.calls.log_call_outcome`), in ``conn``'s transaction,
    audited as ``actor``'s with the outcome before and after. ``expected``: the outcome id
    the caller saw; another one (recorded meanwhile) is refused. Raises
    :class:`FieldProblem` naming the field that cannot be used (nothing is written)."""
    if not code.strip() and not reason.strip():
        raise FieldProblem("outcome", "give an outcome (or a reason that names it)")
    parsed, detail, when = parse_outcome(code, reason, callback)  # what was typed, first
    contact = conn.execute(select(CONTACTS).where(CONTACTS.c.id == contact_id)).first()
    if contact is None:
        raise FieldProblem("contact_id", f"unknown contact {contact_id}")
    old = latest_call_outcome(conn, contact_id)
    if old is None:
        raise FieldProblem("contact_id", f"contact {contact_id} has no outcome to amend; log one")
    if expected is not None and old["id"] != expected:
        raise FieldProblem("outcome", "another outcome was recorded meanwhile: check it first")
    new = CallOutcome(contact_id=contact_id, code=parsed, detail=detail, callback_date=when,
                      staff=staff or old["staff"], note=(note or "").strip() or None)  # fmt: skip
    check_outcome(new, contact)
    before = (str(old["code"]), old["detail"], old["callback_date"])
    after = (parsed, detail, when)
    changed = (*before, old["staff"], old["note"]) != (*after, new.staff, new.note)
    done = Amended(old["id"], before, after, changed)
    if not changed:
        return done
    withdrawn = added = opened = False
    effect_changed = before != after
    if effect_changed and before[0] == CallCode.CALLBACK and before[2] is not None:
        withdrawn = bool(withdraw_callback(conn, contact, before[2]))
    amend_outcome(conn, old["id"], {"code": parsed, "detail": detail, "callback_date": when,
                                    "staff": new.staff, "note": new.note})  # fmt: skip
    if effect_changed:
        added = bool(take_effect(conn, new, contact))
        if parsed == CallCode.DISSATISFIED and detail:
            complaint = Complaint(contact, detail, new.note or "", new.staff)
            opened = bool(open_tickets(conn, [complaint], managers=managers).opened)
    audit(conn, actor=actor, action=AuditAction.OUTCOME_AMENDED, entity="contact",
          entity_id=contact_id, detail={"outcome_id": old["id"], "before": _shown(old),
                                        "after": _shown(after_row(new))})  # fmt: skip
    return Amended(old["id"], before, after, True, withdrawn, added, opened)


@dataclass(frozen=True)
class Amendment:
    """Who last amended an outcome (the audit row's actor) and when (UTC, as kept)."""

    who: str
    at: dt.datetime


def last_amendment(conn: Connection, *, contact_id: int, outcome_id: int) -> Amendment | None:
    """The newest amendment of outcome ``outcome_id`` of ``contact_id``, read from the audit
    row :func:`amend_call_outcome` wrote, or None when it was never amended."""
    a = AUDIT.c
    rows = conn.execute(
        select(a.actor, a.at, a.detail)
        .where(and_(a.action == AuditAction.OUTCOME_AMENDED.value, a.entity == "contact",
                    a.entity_id == str(contact_id)))
        .order_by(a.id.desc())
    )  # fmt: skip
    for actor, at, detail in rows:
        if isinstance(detail, Mapping) and detail.get("outcome_id") == outcome_id:
            return Amendment(who=str(actor), at=at)
    return None


def after_row(outcome: CallOutcome) -> dict[str, Any]:
    """The amendable fields of ``outcome``, as :func:`latest_call_outcome` gives them."""
    return {"code": outcome.code, "detail": outcome.detail,
            "callback_date": outcome.callback_date, "staff": outcome.staff,
            "note": outcome.note}  # fmt: skip


def _shown(row: Mapping[str, Any]) -> dict[str, Any]:
    day = row.get("callback_date")
    return {"code": row["code"], "detail": row.get("detail"), "staff": row.get("staff"),
            "callback_date": day.isoformat() if day else None, "note": row.get("note")}  # fmt: skip
