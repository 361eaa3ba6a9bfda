"""Call outcomes: what a caller logs (``revisit outcome log``) or fills in on the call list
and imports back (``revisit outcome import``, :mod:`revisit.outcomes.sheets`).

A call outcome is validated (:func:`parse_outcome`), checked against its contact, recorded
through :mod:`revisit.outcomes.records`, and takes effect in the same transaction (SPEC,
Outcomes; issue 12):

- ``declined`` / ``car_sold`` marks the contact's vehicles sold;
- ``not_reached`` / ``wrong_number`` marks the customer's phone invalid;
- ``do_not_contact`` puts the customer on the do-not-contact list (source ``staff``);
- ``dissatisfied`` + category (the customer's words in the note) opens a ticket for the
  store's service manager (:mod:`revisit.outcomes.tickets`; one per contact, a callback's
  outcome counting for the contact it follows up; a later one adds its words to it);
- ``callback`` + date adds a call contact of its own to the outbox for that day and the same
  campaign (unique per campaign, day and customer, so never listed twice); it goes to the
  same caller and is listed by that day's run of the campaign.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from revisit.access.audit import audit
from revisit.campaigns.outcome_codes import (
    CODES,
    DECLINE_REASONS,
    DISSATISFACTIONS,
    LABELS,
    NOT_REACHED,
    CallCode,
    DeclineReason,
    NotReached,
    OutcomeKind,
    canonical,
)
from revisit.campaigns.statuses import (
    REACHED_STATUSES,
    AuditAction,
    ContactStatus,
    OptOutSource,
)
from revisit.db.tables import CONTACTS, CUSTOMERS, VEHICLES, utcnow
from revisit.db.versions import DMS, PHONES, bump
from revisit.delivery.outbox import add_callback
from revisit.dms.importing.values import parse_date
from revisit.outcomes.optouts import add_opt_out
from revisit.outcomes.records import add_outcomes, existing_call_outcomes, outcome_key
from revisit.outcomes.tickets import Complaint, open_tickets

#: Contacts that were never meant to be called: an outcome for one is refused.
NOT_CONTACTED = (ContactStatus.EXCLUDED, ContactStatus.SUPPRESSED, ContactStatus.HOLDOUT)
#: Contacts an outcome may be recorded for: sent or listed (or possibly sent) …
OUTCOME_STATUSES = REACHED_STATUSES
#: … and a callback still waiting for its day's call list (the caller rang back early).
CALLBACK_WAITING = (ContactStatus.PENDING, ContactStatus.DEFERRED)


class FieldProblem(ValueError):
    """A value that cannot be used, with the field it came from."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


@dataclass(frozen=True)
class CallOutcome:
    """One call result: code, its detail (the not_reached kind or the decline reason), the
    callback day for ``callback``, who called and what they noted."""

    contact_id: int
    code: str
    detail: str | None = None
    callback_date: dt.date | None = None
    staff: str | None = None
    note: str | None = None


def _known(words: Iterable[str]) -> str:
    """The values a caller may write, each with its Chinese label: ``price (价格)``."""
    return ", ".join(f"{w} ({LABELS[w][0]})" if w in LABELS else w for w in sorted(words))


#: Details that are a decline reason and a dissatisfaction category alike: alone, they do
#: not say which outcome the call had.
AMBIGUOUS = DECLINE_REASONS & DISSATISFACTIONS


def parse_outcome(
    code_text: str, reason_text: str = "", callback_text: str = ""
) -> tuple[str, str | None, dt.date | None]:
    """(code, detail, callback date) from what a caller wrote, in either language
    (``已预约``; ``declined`` + ``价格``; a detail alone implies its code, in either
    column: ``空号`` is not_reached / wrong_number; ``不满意`` + ``服务态度`` is dissatisfied /
    attitude — its category is required). A detail alone that is both a decline reason and a
    dissatisfaction category (``服务态度``, ``太贵``) is refused: 结果 must say which. Raises
    :class:`FieldProblem` naming the field."""
    code_text, reason_text, callback_text = (t.strip() for t in (code_text, reason_text,
                                                                 callback_text))  # fmt: skip
    if not code_text and reason_text:  # the reason column alone: it names the outcome
        code_text, reason_text = reason_text, ""
    value = canonical(code_text) if code_text else None
    if value is None:
        raise FieldProblem("outcome", f"unknown outcome {code_text!r}; known: {_known(CODES)}")
    if value in AMBIGUOUS and not reason_text:
        raise FieldProblem(
            "outcome",
            f"{code_text!r} alone may be a decline reason or a dissatisfaction category; "
            f"fill 结果 (outcome) with {_known([CallCode.DECLINED, CallCode.DISSATISFIED])}",
        )
    reason = canonical(reason_text) if reason_text else None
    if value == CallCode.DISSATISFIED:
        if reason not in DISSATISFACTIONS:
            given = f"{reason_text!r} is not one; " if reason_text else ""
            raise FieldProblem(
                "reason",
                f"{given}a dissatisfied call needs a category: one of {_known(DISSATISFACTIONS)}",
            )
        return value, reason, _callback_day(CallCode.DISSATISFIED, callback_text)
    if reason_text and reason is None:
        known = _known(NOT_REACHED | DECLINE_REASONS)
        raise FieldProblem("reason", f"unknown reason {reason_text!r}; known: {known}")
    if value in NOT_REACHED or value in DECLINE_REASONS:
        implied = CallCode.NOT_REACHED if value in NOT_REACHED else CallCode.DECLINED
        if reason and reason != value:
            raise FieldProblem("reason", f"{reason!r} contradicts the outcome {value!r}")
        value, reason = implied.value, value
    code = CallCode(value)
    if code is CallCode.NOT_REACHED:
        reason = reason or NotReached.NO_ANSWER.value
        if reason not in NOT_REACHED:
            raise FieldProblem("reason", f"not_reached takes one of {_known(NOT_REACHED)}")
    elif code is CallCode.DECLINED:
        if reason not in DECLINE_REASONS:
            raise FieldProblem(
                "reason", f"a declined call needs a reason: one of {_known(DECLINE_REASONS)}"
            )
    elif reason:
        raise FieldProblem("reason", f"a reason goes with not_reached or declined, not {code}")
    day = _callback_day(code, callback_text)
    return code.value, reason, day


def _callback_day(code: CallCode, text: str) -> dt.date | None:
    if code is not CallCode.CALLBACK:
        if text:
            raise FieldProblem("callback_date", f"a callback date goes with callback, not {code}")
        return None
    if not text:
        raise FieldProblem("callback_date", "a callback needs the day to call back")
    try:
        return dt.date.fromisoformat(parse_date(text))
    except ValueError as exc:
        raise FieldProblem("callback_date", str(exc)) from None


@dataclass
class Recorded:
    """What :func:`record_call_outcomes` did: outcomes written, rows already there, the
    callbacks added to the outbox, the tickets opened, the tickets dissatisfied outcomes found
    already there ((id, status, whether their words were added), see
    :class:`~revisit.outcomes.tickets.Opened`), and the problems (index of the outcome,
    problem)."""

    inserted: int = 0
    duplicates: int = 0
    callbacks: int = 0
    tickets: int = 0
    existing_tickets: list[tuple[int, str, bool]] = field(default_factory=list)
    problems: list[tuple[int, FieldProblem]] | None = None


def _contacts(conn: Connection, ids: Sequence[int]) -> dict[int, Any]:
    c = CONTACTS.c
    found: dict[int, Any] = {}
    unique = sorted(set(ids))
    for start in range(0, len(unique), 500):
        rows = conn.execute(select(CONTACTS).where(c.id.in_(unique[start : start + 500])))
        found.update({row.id: row for row in rows})
    return found


def check_outcome(outcome: CallOutcome, contact: Any) -> None:
    """Raise :class:`FieldProblem` when ``outcome`` cannot be recorded for ``contact`` (a
    contacts row, None when unknown): never to be contacted, never sent or listed, a
    dissatisfied call without the customer's words, a callback not after the contact's day."""
    if contact is None:
        raise FieldProblem("contact_id", f"unknown contact {outcome.contact_id}")
    which = f"contact {outcome.contact_id} ({contact.campaign}, customer {contact.customer_id})"
    if contact.status in NOT_CONTACTED:
        raise FieldProblem("contact_id", f"{which} was not to be contacted ({contact.status})")
    waiting_callback = contact.callback_of is not None and contact.status in CALLBACK_WAITING
    if contact.status not in OUTCOME_STATUSES and not waiting_callback:
        raise FieldProblem("contact_id", f"{which} was never sent or listed ({contact.status})")
    if outcome.code == CallCode.DISSATISFIED and not (outcome.note or "").strip():
        raise FieldProblem("note", "a dissatisfied call needs the customer's words in the note")
    if outcome.callback_date is not None and outcome.callback_date <= contact.as_of:
        raise FieldProblem(
            "callback_date",
            f"{outcome.callback_date} is not after the contact's day {contact.as_of}",
        )


def record_call_outcomes(
    conn: Connection,
    outcomes: Sequence[CallOutcome],
    *,
    managers: Mapping[str, str] | None = None,
) -> Recorded:
    """Record call outcomes and their side effects in ``conn``'s transaction. An outcome
    identical to one already recorded for its contact is skipped (so importing a sheet twice
    adds nothing); an outcome for an unknown contact, or one never sent or listed (excluded,
    suppressed, holdout, expired, still pending — a callback waiting for its day aside), is a
    problem.
    ``managers`` (store id → service manager) own the tickets ``dissatisfied`` opens."""
    done = Recorded(problems=[])
    complaints: list[Complaint] = []
    assert done.problems is not None
    contacts = _contacts(conn, [o.contact_id for o in outcomes])
    seen = existing_call_outcomes(conn, list(contacts))
    rows: list[dict[str, Any]] = []
    for index, outcome in enumerate(outcomes):
        contact = contacts.get(outcome.contact_id)
        try:
            check_outcome(outcome, contact)
        except FieldProblem as problem:
            done.problems.append((index, problem))
            continue
        row = _outcome_row(outcome, contact)
        key = outcome_key(outcome.contact_id, row["code"], row["detail"], row["callback_date"],
                          row["staff"], row["note"])  # fmt: skip
        if key in seen:
            done.duplicates += 1
            continue
        seen.add(key)
        rows.append(row)
        done.callbacks += take_effect(conn, outcome, contact)
        if outcome.code == CallCode.DISSATISFIED and outcome.detail:
            words = outcome.note or ""
            complaints.append(Complaint(contact, outcome.detail, words, row["staff"]))
    done.inserted = add_outcomes(conn, rows)
    opened = open_tickets(conn, complaints, managers=managers)
    done.tickets, done.existing_tickets = opened.opened, opened.existing or []
    return done


def _outcome_row(outcome: CallOutcome, contact: Any) -> dict[str, Any]:
    vins = list(contact.vins or [])
    return {
        "contact_id": outcome.contact_id, "customer_id": contact.customer_id,
        "vin": vins[0] if len(vins) == 1 else None, "kind": OutcomeKind.CALL.value,
        "code": outcome.code, "detail": outcome.detail, "callback_date": outcome.callback_date,
        "staff": outcome.staff or contact.caller, "note": outcome.note,
    }  # fmt: skip


def take_effect(conn: Connection, outcome: CallOutcome, contact: Any) -> int:
    """Apply an outcome's side effect; 1 when a callback contact was added."""
    if outcome.detail == DeclineReason.CAR_SOLD:
        vins = list(contact.vins or [])
        conn.execute(
            update(VEHICLES)
            .where(VEHICLES.c.vin.in_(vins), VEHICLES.c.status == "active")
            .values(status="sold")
        )
        bump(conn, DMS)
    elif outcome.detail == NotReached.WRONG_NUMBER:
        conn.execute(
            update(CUSTOMERS)
            .where(CUSTOMERS.c.customer_id == contact.customer_id)
            .values(phone_invalid=True)
        )
        bump(conn, PHONES)
    elif outcome.code == CallCode.DO_NOT_CONTACT:
        # Through the one writer of the do-not-contact list: pending contacts excluded too.
        add_opt_out(
            conn, customer_ids=[contact.customer_id], source=OptOutSource.STAFF,
            reason=outcome.note or "told a caller", actor=outcome.staff or "staff",
        )  # fmt: skip
    elif outcome.code == CallCode.CALLBACK and outcome.callback_date is not None:
        return add_callback(conn, contact, outcome.callback_date, now=utcnow())
    return 0


@dataclass(frozen=True)
class Logged:
    """What :func:`log_call_outcome` recorded: the code, its detail and callback day, and
    whether it was already there, added a callback to that day's call list or opened a
    ticket for the service manager."""

    code: str
    detail: str | None
    callback_date: dt.date | None
    duplicate: bool
    callback_added: bool
    ticket_opened: bool = False
    # tickets this contact already had: (ticket id, status, whether the words were added)
    existing_tickets: list[tuple[int, str, bool]] = field(default_factory=list)

    def describe(self) -> str:
        """``declined / price`` or ``callback on 2026-12-01``."""
        text = self.code + (f" / {self.detail}" if self.detail else "")
        return text + (f" on {self.callback_date}" if self.callback_date else "")


def log_call_outcome(
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
) -> Logged:
    """Record what one caller wrote about one contact (``revisit outcome log``, the web
    app's outcome form), in ``conn``'s transaction: parsed by :func:`parse_outcome`,
    recorded with its side effects by :func:`record_call_outcomes` (``managers``: store id →
    the service manager who owns a ``dissatisfied`` ticket), and audited as done by
    ``actor``. Raises :class:`FieldProblem` naming the field that cannot be used (nothing
    is written)."""
    if not code.strip() and not reason.strip():
        raise FieldProblem("outcome", "give an outcome (or a reason that names it)")
    parsed, detail, when = parse_outcome(code, reason, callback)
    outcome = CallOutcome(contact_id=contact_id, code=parsed, detail=detail,
                          callback_date=when, staff=staff or None, note=note or None)  # fmt: skip
    done = record_call_outcomes(conn, [outcome], managers=managers)
    if done.problems:
        raise done.problems[0][1]
    logged = Logged(parsed, detail, when, duplicate=bool(done.duplicates),
                    callback_added=bool(done.callbacks),
                    ticket_opened=bool(done.tickets),
                    existing_tickets=list(done.existing_tickets))  # fmt: skip
    what = {"code": parsed, "detail": detail, "duplicate": logged.duplicate,
            "callback_date": when.isoformat() if when else None}  # fmt: skip
    audit(conn, actor=actor, action=AuditAction.OUTCOME_LOGGED, entity="contact",
          entity_id=contact_id, detail=what)  # fmt: skip
    return logged
