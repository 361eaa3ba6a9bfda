"""The outbox SQL for dispatch: claim contacts atomically, record outcomes per group,
renew and expire leases, and keep the run's counts. Synchronous, short transactions; the
dispatcher calls them from a worker thread.

States of a contact during dispatch::

    pending ──claim──▶ sending ──▶ sent | failed | unknown | pending (released, never sent)
    unknown / sending with an expired lease ──reconcile──▶ sent (found) | pending (not found)

``lease_until`` says until when no other worker may act on a ``sending`` or ``unknown`` row:
an in-flight send keeps renewing it; an unknown outcome gets a settling delay before the
provider is asked, so a request that is still being processed is not mistaken for a loss.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from revisit.db.tables import CONTACTS, CUSTOMERS, MESSAGES, OPT_OUTS, RUNS

IN_FLIGHT = ("sending", "unknown")


def _in_flight() -> Any:
    # Spelled out rather than IN (...): expanding parameters cannot be used in executemany.
    return (CONTACTS.c.status == "sending") | (CONTACTS.c.status == "unknown")


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    customer_id: str
    phone: str | None
    body: str | None
    claimed_at: dt.datetime
    attempts: int
    status: str = "sending"


@dataclass(frozen=True, slots=True)
class Recorded:
    """The outcome of one contact, to be written with others in one transaction."""

    contact_id: int
    customer_id: str
    status: str  # sent | failed | unknown | pending
    sid: str | None = None
    to: str | None = None
    body: str | None = None
    segments: int = 1
    provider_status: str | None = None
    error_code: str | None = None
    error: str | None = None
    opted_out: bool = False
    invalid_phone: bool = False
    settle_until: dt.datetime | None = None  # for unknown outcomes


def utc(value: dt.datetime) -> dt.datetime:
    """Aware UTC (SQLite hands back naive datetimes that were stored as UTC)."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def prepare_run(engine: Engine, *, run_id: int, now: dt.datetime) -> tuple[str, dt.datetime]:
    """Mark the run sending and exclude pending contacts whose customer is now on the
    do-not-contact list or whose phone was found invalid. Returns the previous status and
    when the run began."""
    with engine.begin() as conn:
        row = conn.execute(
            select(RUNS.c.status, RUNS.c.started_at).where(RUNS.c.id == run_id)
        ).first()
        if row is None:
            raise LookupError(f"campaign run {run_id} does not exist")
        pending = (CONTACTS.c.run_id == run_id) & (CONTACTS.c.status == "pending")
        opted = select(OPT_OUTS.c.customer_id)
        conn.execute(
            update(CONTACTS)
            .where(pending, CONTACTS.c.customer_id.in_(opted))
            .values(status="excluded", reason="do_not_contact")
        )
        invalid = select(CUSTOMERS.c.customer_id).where(CUSTOMERS.c.phone_invalid.is_(True))
        conn.execute(
            update(CONTACTS)
            .where(pending, CONTACTS.c.channel != "call", CONTACTS.c.customer_id.in_(invalid))
            .values(status="excluded", reason="phone_invalid")
        )
        conn.execute(update(RUNS).where(RUNS.c.id == run_id).values(status="sending"))
        return str(row.status), utc(row.started_at)


def _claim(
    conn: Connection,
    where: Any,
    values: dict[str, Any],
    limit: int,
) -> list[Claimed]:
    sub = select(CONTACTS.c.id).where(where).order_by(CONTACTS.c.id).limit(limit)
    if conn.dialect.name == "postgresql":
        sub = sub.with_for_update(skip_locked=True)
    rows = conn.execute(
        update(CONTACTS)
        .where(CONTACTS.c.id.in_(sub.scalar_subquery()))
        .values(**values)
        .returning(
            CONTACTS.c.id,
            CONTACTS.c.customer_id,
            CONTACTS.c.phone,
            CONTACTS.c.body,
            CONTACTS.c.claimed_at,
            CONTACTS.c.attempts,
            CONTACTS.c.status,
        )
    ).all()
    claimed = [
        Claimed(r.id, r.customer_id, r.phone, r.body, utc(r.claimed_at), r.attempts, r.status)
        for r in rows
    ]
    return sorted(claimed, key=lambda c: c.id)


def claim(
    engine: Engine,
    *,
    run_id: int,
    worker: str,
    now: dt.datetime,
    lease_until: dt.datetime,
    limit: int,
) -> list[Claimed]:
    """Atomically move up to ``limit`` pending contacts to ``sending`` for ``worker``;
    committed before the provider is called."""
    where = (
        (CONTACTS.c.run_id == run_id)
        & (CONTACTS.c.status == "pending")
        & (CONTACTS.c.channel != "call")
    )
    values = {
        "status": "sending",
        "claimed_at": now,
        "claimed_by": worker,
        "lease_until": lease_until,
        "attempts": CONTACTS.c.attempts + 1,
    }
    with engine.begin() as conn:
        return _claim(conn, where, values, limit)


def claim_for_reconcile(
    engine: Engine,
    *,
    run_id: int,
    worker: str,
    now: dt.datetime,
    lease_until: dt.datetime,
    limit: int,
) -> list[Claimed]:
    """Take ``sending``/``unknown`` contacts whose lease has expired (their worker died, or
    the unknown outcome has settled) so that this worker asks the provider about them."""
    where = (
        (CONTACTS.c.run_id == run_id)
        & CONTACTS.c.status.in_(IN_FLIGHT)
        & ((CONTACTS.c.lease_until.is_(None)) | (CONTACTS.c.lease_until < now))
    )
    with engine.begin() as conn:
        return _claim(conn, where, {"claimed_by": worker, "lease_until": lease_until}, limit)


def renew(engine: Engine, *, run_id: int, worker: str, lease_until: dt.datetime) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(CONTACTS)
            .where(
                CONTACTS.c.run_id == run_id,
                CONTACTS.c.status == "sending",
                CONTACTS.c.claimed_by == worker,
            )
            .values(lease_until=lease_until)
        )


def _insert_ignore(conn: Connection, table: Table, rows: list[dict[str, Any]], key: str) -> None:
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(table).on_conflict_do_nothing(index_elements=[key])
    conn.execute(stmt, rows)


def record(
    engine: Engine, *, outcomes: Sequence[Recorded], worker: str, provider: str, now: dt.datetime
) -> None:
    """Write a group of outcomes in one transaction (see the module docstring)."""
    by_status: dict[str, list[Recorded]] = {}
    for o in outcomes:
        by_status.setdefault(o.status, []).append(o)
    c = CONTACTS.c
    with engine.begin() as conn:
        if sent := by_status.get("sent"):
            # Unconditional: once the provider has it, it is sent, whoever holds the row.
            conn.execute(
                update(CONTACTS)
                .where(c.id == bindparam("b_id"))
                .values(
                    status="sent",
                    sent_at=now,
                    error_code=None,
                    error=None,
                    claimed_by=None,
                    lease_until=None,
                ),
                [{"b_id": o.contact_id} for o in sent],
            )
            _insert_ignore(
                conn, MESSAGES, [_message_row(o, provider, now) for o in sent], "provider_sid"
            )
        if failed := by_status.get("failed"):
            conn.execute(
                update(CONTACTS)
                .where(c.id == bindparam("b_id"), _in_flight())
                .values(
                    status="failed",
                    error_code=bindparam("b_code"),
                    error=bindparam("b_error"),
                    claimed_by=None,
                    lease_until=None,
                ),
                [
                    {"b_id": o.contact_id, "b_code": o.error_code, "b_error": o.error}
                    for o in failed
                ],
            )
        if unknown := by_status.get("unknown"):
            conn.execute(
                update(CONTACTS)
                .where(c.id == bindparam("b_id"), _in_flight())
                .values(
                    status="unknown",
                    error_code=bindparam("b_code"),
                    error=bindparam("b_error"),
                    lease_until=bindparam("b_until"),
                ),
                [
                    {
                        "b_id": o.contact_id,
                        "b_code": o.error_code,
                        "b_error": o.error,
                        "b_until": o.settle_until,
                    }
                    for o in unknown
                ],
            )
        if released := by_status.get("pending"):
            # Never sent (or reconciled as not sent): back to the queue.
            conn.execute(
                update(CONTACTS)
                .where(c.id == bindparam("b_id"), _in_flight(), c.claimed_by == worker)
                .values(
                    status="pending",
                    claimed_by=None,
                    lease_until=None,
                    error_code=bindparam("b_code"),
                    error=bindparam("b_error"),
                ),
                [
                    {"b_id": o.contact_id, "b_code": o.error_code, "b_error": o.error}
                    for o in released
                ],
            )
        _customer_effects(conn, outcomes, now)


def _message_row(o: Recorded, provider: str, now: dt.datetime) -> dict[str, Any]:
    return {
        "contact_id": o.contact_id,
        "provider": provider,
        "provider_sid": o.sid,
        "to_phone": o.to or "",
        "body": o.body or "",
        "segments": o.segments,
        "status": o.provider_status or "queued",
        "error_code": None,
        "created_at": now,
        "updated_at": now,
    }


def _customer_effects(conn: Connection, outcomes: Sequence[Recorded], now: dt.datetime) -> None:
    opted = sorted({o.customer_id for o in outcomes if o.opted_out})
    rows = [
        {"customer_id": cid, "source": "provider", "reason": "twilio 21610", "created_at": now}
        for cid in opted
    ]
    _insert_ignore(conn, OPT_OUTS, rows, "customer_id")
    invalid = sorted({o.customer_id for o in outcomes if o.invalid_phone})
    if invalid:
        conn.execute(
            update(CUSTOMERS).where(CUSTOMERS.c.customer_id.in_(invalid)).values(phone_invalid=True)
        )


def status_counts(engine: Engine, *, run_id: int) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(CONTACTS.c.status, func.count())
            .where(CONTACTS.c.run_id == run_id)
            .group_by(CONTACTS.c.status)
        ).all()
    return {str(s): int(n) for s, n in rows}


def next_lease_expiry(engine: Engine, *, run_id: int) -> dt.datetime | None:
    """When the earliest ``sending``/``unknown`` lease of the run expires (None: none left)."""
    with engine.connect() as conn:
        row = conn.execute(
            select(func.count(), func.min(CONTACTS.c.lease_until)).where(
                CONTACTS.c.run_id == run_id, CONTACTS.c.status.in_(IN_FLIGHT)
            )
        ).one()
    if not row[0]:
        return None
    return utc(row[1]) if row[1] is not None else dt.datetime.min.replace(tzinfo=dt.UTC)


def finish_run(
    engine: Engine, *, run_id: int, status: str, now: dt.datetime, dispatch: dict[str, Any]
) -> dict[str, int]:
    """Store the run's status and counts (``counts["dispatch"]``); returns counts by status."""
    counts = status_counts(engine, run_id=run_id)
    with engine.begin() as conn:
        old = conn.execute(select(RUNS.c.counts).where(RUNS.c.id == run_id)).scalar() or {}
        merged = {**old, "dispatch": {**dispatch, "by_status": counts}}
        values: dict[str, Any] = {"status": status, "counts": merged}
        if status == "done":
            values["finished_at"] = now
        conn.execute(update(RUNS).where(RUNS.c.id == run_id).values(**values))
    return counts


# --- call contacts: handed to callers, and callbacks -----------------------------------------


def mark_listed(conn: Connection, *, by_caller: dict[str, list[int]], now: dt.datetime) -> None:
    """Call contacts handed to their callers (caller → contact ids): status ``listed``."""
    for caller, ids in by_caller.items():
        for start in range(0, len(ids), 5000):
            conn.execute(
                update(CONTACTS)
                .where(CONTACTS.c.id.in_(ids[start : start + 5000]))
                .values(status="listed", sent_at=now, caller=caller)
            )


def add_callback(conn: Connection, contact: Any, day: dt.date, *, now: dt.datetime) -> int:
    """A call contact for ``day`` in the campaign of ``contact`` (a contacts row), following it
    up (its root, when ``contact`` is itself a callback), pending, for the same caller; 0 when
    the customer is already in that day's outbox of the campaign (never listed twice)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    values = {
        "run_id": contact.run_id, "campaign": contact.campaign, "as_of": day,
        "customer_id": contact.customer_id, "vins": list(contact.vins or []),
        "channel": "call", "priority": contact.priority, "status": "pending",
        "phone": contact.phone, "attempts": 0, "created_at": now,
        "caller": contact.caller, "callback_of": contact.callback_of or contact.id,
    }  # fmt: skip
    statement = (
        dialect.insert(CONTACTS)
        .values(values)
        .on_conflict_do_nothing(index_elements=["campaign", "as_of", "customer_id"])
    )
    return int(conn.execute(statement).rowcount or 0)
