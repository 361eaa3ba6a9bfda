"""The outbox: every write to ``contacts`` and ``campaign_runs`` goes through this module.

A run's life::

    open_run ─▶ planned ──(SMS) prepare_run─▶ sending ─▶ done | deferred | paused
                        ──(calls) mark_listed─────────▶ done         (finish_run)

A person may pause a run that still has SMS to send (:func:`pause_run`, ``paused_by``):
its dispatchers claim nothing more and it stays paused until :func:`resume_run` and the next
run of the campaign for that day.

A call outcome "call back on day D" adds a pending call contact for D (:func:`add_callback`),
listed with the campaign's calls of that day.

:func:`open_run` records the campaign's definition, opens the run and writes one contact
per planned customer (:func:`materialise`); :func:`finish_run` stores where the run stands.
The dispatcher's side — claims, leases and outcomes of SMS contacts — lives in the sibling
:mod:`revisit.delivery.claims` and is reached through here (``outbox.claim``,
``outbox.record``, …). Functions take the caller's session or engine; statuses and reasons
are the enums of :mod:`revisit.campaigns.statuses`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

from revisit.campaigns.config import CampaignDef
from revisit.campaigns.plan import CampaignPlan, PlanRow
from revisit.campaigns.statuses import (
    PLANNED_STATUS,
    WAITING_STATUSES,
    ChannelKind,
    ContactStatus,
    RunStatus,
)
from revisit.db.engine import Db, chunked, connection_of, insert_ignore
from revisit.db.tables import (
    CONTACTS,
    CUSTOMERS,
    OUTCOMES,
    RUNS,
    STORES,
    Campaign,
    CampaignRun,
    utcnow,
)
from revisit.delivery.claims import (
    Claimed,
    Recorded,
    claim,
    claim_for_reconcile,
    expire_past,
    expire_run,
    next_lease_expiry,
    prepare_run,
    record,
    renew,
    utc,
)

WRITE_CHUNK = 5000  # contacts per executemany

__all__ = [
    "Claimed",
    "Recorded",
    "WaitingCall",
    "add_callback",
    "claim",
    "claim_for_reconcile",
    "existing_run",
    "expire_past",
    "expire_run",
    "finish_run",
    "mark_listed",
    "materialise",
    "next_lease_expiry",
    "open_run",
    "pause_run",
    "prepare_run",
    "record",
    "record_campaign",
    "renew",
    "resume_run",
    "run_status",
    "status_counts",
    "store_zones",
    "unsettled_runs",
    "utc",
    "waiting_calls",
    "write_contacts",
]


# --- opening a run ---------------------------------------------------------------------------


def record_campaign(session: Session, campaign: CampaignDef) -> None:
    """Keep the campaign's definition as its file says it today (runs and reports name it)."""
    c = campaign
    row = session.get(Campaign, c.name)
    definition = c.model_dump(mode="json")
    if row is None:
        session.add(Campaign(name=c.name, cohort=c.cohort, channel=c.channel,
                             priority=c.priority, definition=definition))  # fmt: skip
    else:
        row.cohort, row.channel, row.priority = c.cohort, c.channel, c.priority
        row.definition, row.updated_at = definition, utcnow()
    session.flush()


def open_run(
    session: Session, *, plan: CampaignPlan, texts: Mapping[str, tuple[str, int]] | None = None
) -> CampaignRun:
    """Record the campaign, open its run for the plan's as_of (``planned``, the plan's numbers
    in ``counts``) and write its contacts (see :func:`materialise`); with ``texts`` None the
    caller writes them batch by batch (:func:`write_contacts`). The caller commits."""
    record_campaign(session, plan.campaign)
    run = CampaignRun(
        campaign=plan.campaign.name, as_of=plan.as_of, status=RunStatus.PLANNED,
        counts=plan.summary(),
    )  # fmt: skip
    session.add(run)
    session.flush()
    assert run.id is not None
    if texts is not None:
        materialise(session, run_id=run.id, plan=plan, texts=texts)
    return run


def existing_run(session: Session, *, campaign: str, as_of: dt.date) -> CampaignRun | None:
    """The run of ``campaign`` for ``as_of``, if one was opened (a re-run resumes it)."""
    query = (
        select(CampaignRun)
        .where(CampaignRun.campaign == campaign, CampaignRun.as_of == as_of)  # type: ignore[arg-type]
        .order_by(CampaignRun.id)  # type: ignore[arg-type]
    )
    return session.execute(query).scalars().first()


def materialise(
    session: Session, *, run_id: int, plan: CampaignPlan, texts: Mapping[str, tuple[str, int]]
) -> None:
    """Write one contact per planned customer: pending with its text (``texts``: customer id
    → (SMS text, segments); none for calls), or the reason it is not contacted; each with
    its details (:attr:`PlanRow.details`). A customer already in the outbox for this
    campaign and day is left alone."""
    for chunk in plan.batches(WRITE_CHUNK):
        write_contacts(session, run_id=run_id, plan=plan, rows=chunk, texts=texts)


def write_contacts(
    session: Session,
    *,
    run_id: int,
    plan: CampaignPlan,
    rows: Sequence[PlanRow],
    texts: Mapping[str, tuple[str, int]],
) -> int:
    """Write the contacts of a batch of the plan's ``rows`` in one statement (at most
    ``WRITE_CHUNK`` rows; ``texts`` as for :func:`materialise`). Returns the rows written
    as the driver counts them."""
    now = utcnow()
    values = [_contact_row(run_id, plan, r, texts.get(r.customer_id), now) for r in rows]
    return insert_ignore(session, CONTACTS, values, keys=["campaign", "as_of", "customer_id"])


def _contact_row(
    run_id: int, plan: CampaignPlan, r: PlanRow, text: tuple[str, int] | None, now: dt.datetime
) -> dict[str, Any]:
    c = plan.campaign
    return {
        "run_id": run_id, "campaign": c.name, "as_of": plan.as_of,
        "customer_id": r.customer_id, "vins": list(r.vins), "channel": ChannelKind(c.channel),
        "priority": c.priority, "status": PLANNED_STATUS[r.status], "reason": r.reason,
        "phone": r.phone, "body": text[0] if text else None, "details": r.details,
        "event_key": r.event_key, "last_useful_day": r.last_useful_day, "attempts": 0,
        "created_at": now,
    }  # fmt: skip


# --- a run's contacts ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WaitingCall:
    """A call contact to hand to a caller: who, which vehicles, its details (see
    :class:`PlanRow`) and the caller it already has (a callback keeps its caller)."""

    id: int
    customer_id: str
    vins: list[str]
    details: list[dict[str, Any]]
    caller: str | None


def waiting_calls(
    session: Session, *, run_id: int, campaign: str, as_of: dt.date
) -> list[WaitingCall]:
    """The run's pending call contacts and the campaign's callbacks due on ``as_of``, by id.
    A callback keeps the run of the contact it follows up, so it is matched by its own day:
    a callback for a later day is never listed by a re-run of today's run."""
    c = CONTACTS.c
    callbacks = and_(c.campaign == campaign, c.as_of == as_of, c.callback_of.is_not(None))
    own = and_(c.run_id == run_id, c.callback_of.is_(None))
    query = (
        select(c.id, c.customer_id, c.vins, c.details, c.caller)
        .where(c.status == ContactStatus.PENDING, or_(own, callbacks))
        .order_by(c.id)
    )
    return [
        WaitingCall(id_, cid, list(vins or []), list(details or []), caller)
        for id_, cid, vins, details, caller in session.execute(query)
    ]


def mark_listed(db: Db, *, by_caller: Mapping[str, Sequence[int]], now: dt.datetime) -> None:
    """Call contacts handed to their callers (caller → contact ids): ``listed``, sent at
    ``now``; the caller commits."""
    for caller, ids in by_caller.items():
        for chunk in chunked(ids, WRITE_CHUNK):
            connection_of(db).execute(
                update(CONTACTS)
                .where(CONTACTS.c.id.in_(chunk))
                .values(status=ContactStatus.LISTED, sent_at=now, caller=caller)
            )


def add_callback(db: Db, contact: Any, day: dt.date, *, now: dt.datetime) -> int:
    """A call contact for ``day`` in the campaign of ``contact`` (a contacts row), following it
    up (its root, when ``contact`` is itself a callback), pending, for the same caller and
    about the same vehicles and details; 0 when the customer is already in that day's outbox
    of the campaign (never listed twice)."""
    values = {
        "run_id": contact.run_id, "campaign": contact.campaign, "as_of": day,
        "customer_id": contact.customer_id, "vins": list(contact.vins or []),
        "details": list(contact.details or []), "channel": ChannelKind.CALL,
        "event_key": contact.event_key,
        "priority": contact.priority, "status": ContactStatus.PENDING, "phone": contact.phone,
        "attempts": 0, "created_at": now, "caller": contact.caller,
        "callback_of": contact.callback_of or contact.id,
    }  # fmt: skip
    return insert_ignore(db, CONTACTS, [values], keys=["campaign", "as_of", "customer_id"])


def withdraw_callback(db: Connection, contact: Any, day: dt.date) -> int:
    """Take back the callback :func:`add_callback` added for ``contact`` on ``day`` while it
    is still pending (not listed to a caller yet) and has no outcome; returns how many rows
    went (0 or 1). A callback already listed stays: its caller has it."""
    c = CONTACTS.c
    answered = select(OUTCOMES.c.id).where(OUTCOMES.c.contact_id == c.id).exists()
    result = db.execute(
        delete(CONTACTS).where(
            c.callback_of == (contact.callback_of or contact.id), c.as_of == day,
            c.campaign == contact.campaign, c.customer_id == contact.customer_id,
            c.status == ContactStatus.PENDING.value, ~answered,
        )
    )  # fmt: skip
    return int(result.rowcount or 0)


def status_counts(engine: Engine, *, run_id: int) -> dict[str, int]:
    """The run's contacts by status."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(CONTACTS.c.status, func.count())
            .where(CONTACTS.c.run_id == run_id)
            .group_by(CONTACTS.c.status)
        ).all()
    return {str(s): int(n) for s, n in rows}


def store_zones(engine: Engine, run_id: int, default: str) -> set[str]:
    """The time zones of the stores whose customers wait in this run's outbox."""
    stores, customers, contacts = STORES, CUSTOMERS, CONTACTS
    query = (
        select(stores.c.timezone)
        .join_from(contacts, customers, customers.c.customer_id == contacts.c.customer_id)
        .join(stores, stores.c.store_id == customers.c.store_id)
        .where(contacts.c.run_id == run_id, contacts.c.status == ContactStatus.PENDING)
        .distinct()
    )
    with engine.connect() as conn:
        return {tz or default for tz in conn.execute(query).scalars()} or {default}


def unsettled_runs(
    engine: Engine, *, since: dt.date, before: dt.date | None = None
) -> list[tuple[str, dt.date]]:
    """(campaign, as_of) of the runs of days from ``since`` (to before ``before``, when given)
    with SMS still waiting to go out, oldest first."""
    c = CONTACTS.c
    query = (
        select(c.campaign, c.as_of)
        .where(c.as_of >= since, c.channel == ChannelKind.SMS, c.status.in_(WAITING_STATUSES))
        .distinct()
        .order_by(c.as_of, c.campaign)
    )
    if before is not None:
        query = query.where(c.as_of < before)
    with engine.connect() as conn:
        return [(name, day) for name, day in conn.execute(query)]


# --- finishing -------------------------------------------------------------------------------


def finish_run(
    engine: Engine,
    *,
    run_id: int,
    status: RunStatus,
    now: dt.datetime,
    dispatch: Mapping[str, Any] | None = None,
) -> dict[str, int]:
    """Store where the run stands: its status (``done`` also stamps ``finished_at``), its
    contacts by status (``counts["outbox"]``) and, given one, the last dispatch's summary
    (``counts["dispatch"]``, with the same counts as ``by_status``). Returns the counts."""
    counts = status_counts(engine, run_id=run_id)
    with engine.begin() as conn:
        old = conn.execute(select(RUNS.c.counts).where(RUNS.c.id == run_id)).scalar() or {}
        merged = {**old, "outbox": counts}
        if dispatch is not None:
            merged["dispatch"] = {**dispatch, "by_status": counts}
        held = conn.execute(select(RUNS.c.paused_by).where(RUNS.c.id == run_id)).scalar()
        if held and any(counts.get(s, 0) for s in WAITING_STATUSES):
            status = RunStatus.PAUSED  # someone paused it: what is left waits for a resume
        values: dict[str, Any] = {"status": status, "counts": merged}
        if status == RunStatus.DONE:
            values["finished_at"] = now
        conn.execute(update(RUNS).where(RUNS.c.id == run_id).values(**values))
    return counts


def run_status(engine: Engine, *, run_id: int) -> RunStatus:
    """The status the run has now (after :func:`finish_run`: ``paused`` when someone paused
    it and contacts are left)."""
    with engine.connect() as conn:
        value = conn.execute(select(RUNS.c.status).where(RUNS.c.id == run_id)).scalar_one()
    return RunStatus(value)


def pause_run(conn: Connection, *, run_id: int, by: str) -> bool:
    """Pause a run that still has contacts to send, in the caller's transaction: its
    dispatchers claim nothing more (what is in flight settles) and it stays ``paused``
    until :func:`resume_run`. False (nothing changes) for an unknown, finished or already
    paused run."""
    done = (RunStatus.DONE, RunStatus.DRY_RUN, RunStatus.FAILED)
    res = conn.execute(
        update(RUNS)
        .where(RUNS.c.id == run_id, RUNS.c.paused_by.is_(None), RUNS.c.status.not_in(done))
        .values(paused_by=by, status=RunStatus.PAUSED)
    )
    return bool(res.rowcount)


def resume_run(conn: Connection, *, run_id: int) -> bool:
    """Lift a pause, in the caller's transaction; the run's next dispatch (running the
    campaign again for its day) sends what is left. False when the run was not paused by
    someone."""
    res = conn.execute(
        update(RUNS)
        .where(RUNS.c.id == run_id, RUNS.c.paused_by.is_not(None))
        .values(paused_by=None)
    )
    return bool(res.rowcount)


def exclude_pending(conn: Connection, *, customer_ids: Sequence[str], reason: str) -> int:
    """Exclude the customers' contacts that nobody has claimed yet (SMS waiting to be sent,
    calls not yet listed), in the caller's transaction: an opt-out mid-run takes effect for
    the rest of the run. A contact already claimed is in flight and settles as it will.
    Returns how many contacts were excluded."""
    if not customer_ids:
        return 0
    res = conn.execute(
        update(CONTACTS)
        .where(
            CONTACTS.c.customer_id.in_(sorted(set(customer_ids))),
            CONTACTS.c.status == ContactStatus.PENDING,
        )
        .values(status=ContactStatus.EXCLUDED, reason=reason, claimed_by=None, lease_until=None)
    )
    return res.rowcount or 0
