"""The outbox's dispatch half: claim contacts atomically, record outcomes per group, renew
and expire leases. Synchronous, short transactions; the dispatcher calls them from a worker
thread, through :mod:`revisit.delivery.outbox` (the one door to contacts and runs).

States of a contact during dispatch::

    pending ──claim──▶ sending ──▶ sent | failed | unknown | pending (released, never sent)
    pending past its last useful day (in its store's time zone) ──▶ expired (never sent)
    unknown / sending with an expired lease ──reconcile──▶ sent (found) | pending (not found)

``lease_until`` says until when no other worker may act on a ``sending`` or ``unknown`` row:
an in-flight send keeps renewing it; an unknown outcome gets a settling delay before the
provider is asked, so a request that is still being processed is not mistaken for a loss.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, exists, func, or_, select, update
from sqlalchemy.engine import Connection, Engine

from revisit.campaigns.statuses import (
    IN_FLIGHT_STATUSES,
    ChannelKind,
    ContactStatus,
    ExclusionReason,
    OptOutSource,
    RunStatus,
)
from revisit.db import versions
from revisit.db.engine import chunked, insert_ignore
from revisit.db.tables import CONTACTS, CUSTOMERS, MESSAGES, OPT_OUTS, RUNS, STORES
from revisit.db.versions import bump
from revisit.delivery.callbacks import apply_pending_callbacks

ID_CHUNK = 900  # ids per IN list (SQLite allows 999 parameters in older builds)


def _in_flight() -> Any:
    # Spelled out rather than IN (...): expanding parameters cannot be used in executemany.
    sending, unknown = ContactStatus.SENDING, ContactStatus.UNKNOWN
    return (CONTACTS.c.status == sending) | (CONTACTS.c.status == unknown)


@dataclass(frozen=True, slots=True)
class Claimed:
    id: int
    customer_id: str
    phone: str | None
    body: str | None
    claimed_at: dt.datetime
    attempts: int
    status: ContactStatus = ContactStatus.SENDING


@dataclass(frozen=True, slots=True)
class Recorded:
    """The outcome of one contact, to be written with others in one transaction."""

    contact_id: int
    customer_id: str
    status: ContactStatus  # sent | failed | unknown | pending (released)
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


#: Today in each store time zone (IANA name → local date), on the clock that judges sending.
LocalDays = Mapping[str, dt.date]


def expire_past(conn: Connection, *, run_id: int, days: LocalDays, default_timezone: str) -> int:
    """Mark ``expired`` the run's pending contacts whose last useful day is before today in
    their store's time zone (``days``; a store without one is in ``default_timezone``), in
    the caller's transaction: a contact deferred past its day (a birthday greeting resumed
    the next morning) is counted, never sent. Returns how many expired."""
    c = CONTACTS.c
    due = (c.run_id == run_id) & (c.status == ContactStatus.PENDING)
    expired = 0
    for zone, today in days.items():
        where = due & c.last_useful_day.is_not(None) & (c.last_useful_day < today)
        if len(days) > 1:  # only the contacts of this zone's stores
            tz = func.coalesce(STORES.c.timezone, default_timezone)
            where &= exists().where(
                CUSTOMERS.c.customer_id == c.customer_id,
                STORES.c.store_id == CUSTOMERS.c.store_id,
                tz == zone,
            )
        res = conn.execute(
            update(CONTACTS).where(where).values(status=ContactStatus.EXPIRED, reason=None)
        )
        expired += res.rowcount or 0
    return expired


def expire_run(engine: Engine, *, run_id: int, days: LocalDays, default_timezone: str) -> int:
    """:func:`expire_past` in a transaction of its own (a dispatch whose day turned)."""
    with engine.begin() as conn:
        return expire_past(conn, run_id=run_id, days=days, default_timezone=default_timezone)


def prepare_run(
    engine: Engine,
    *,
    run_id: int,
    now: dt.datetime,
    days: LocalDays | None = None,
    default_timezone: str = "UTC",
) -> tuple[str, dt.datetime]:
    """Mark the run sending (a run someone paused stays paused), expire pending contacts
    past their last useful day (given
    ``days``, see :func:`expire_past`) and exclude pending contacts whose customer is now
    on the do-not-contact list or whose phone was found invalid. Returns the previous
    status and when the run began."""
    with engine.begin() as conn:
        row = conn.execute(
            select(RUNS.c.status, RUNS.c.started_at, RUNS.c.paused_by).where(RUNS.c.id == run_id)
        ).first()
        if row is None:
            raise LookupError(f"campaign run {run_id} does not exist")
        if days:
            expire_past(conn, run_id=run_id, days=days, default_timezone=default_timezone)
        c = CONTACTS.c
        pending = (c.run_id == run_id) & (c.status == ContactStatus.PENDING)
        excluded = ContactStatus.EXCLUDED
        opted = select(OPT_OUTS.c.customer_id)
        conn.execute(
            update(CONTACTS)
            .where(pending, c.customer_id.in_(opted))
            .values(status=excluded, reason=ExclusionReason.DO_NOT_CONTACT)
        )
        invalid = select(CUSTOMERS.c.customer_id).where(CUSTOMERS.c.phone_invalid.is_(True))
        conn.execute(
            update(CONTACTS)
            .where(pending, c.channel != ChannelKind.CALL, c.customer_id.in_(invalid))
            .values(status=excluded, reason=ExclusionReason.INVALID_PHONE)
        )
        status = RunStatus.PAUSED if row.paused_by else RunStatus.SENDING
        conn.execute(update(RUNS).where(RUNS.c.id == run_id).values(status=status))
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
        Claimed(
            r.id,
            r.customer_id,
            r.phone,
            r.body,
            utc(r.claimed_at),
            r.attempts,
            ContactStatus(r.status),
        )
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
    today: dt.date | None = None,
) -> list[Claimed]:
    """Atomically move up to ``limit`` pending contacts to ``sending`` for ``worker``;
    committed before the provider is called. Given ``today`` (the earliest local date of
    the run's stores), a contact whose last useful day is before it is never claimed:
    :func:`expire_past` marks such contacts, and this guards a day that turns mid-run."""
    where = (
        (CONTACTS.c.run_id == run_id)
        & (CONTACTS.c.status == ContactStatus.PENDING)
        & (CONTACTS.c.channel != ChannelKind.CALL)
    )
    if today is not None:
        useful = CONTACTS.c.last_useful_day
        where &= or_(useful.is_(None), useful >= today)
    values = {
        "status": ContactStatus.SENDING,
        "claimed_at": now,
        "claimed_by": worker,
        "lease_until": lease_until,
        "attempts": CONTACTS.c.attempts + 1,
    }
    with engine.begin() as conn:
        held = conn.execute(select(RUNS.c.paused_by).where(RUNS.c.id == run_id)).scalar()
        if held:
            return []
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
    the unknown outcome has settled) so that this worker asks the provider about them.

    Never this worker's own ``sending`` rows: they are in its queue or in flight, and a
    renewal that came late (a loaded machine) must not let it ask the provider about a
    request the provider has not recorded yet and send the text again. Another worker takes
    them once the lease has expired, as it does a dead worker's."""
    c = CONTACTS.c
    not_own_in_flight = c.claimed_by.is_distinct_from(worker) | (c.status != ContactStatus.SENDING)
    where = (
        (c.run_id == run_id)
        & c.status.in_(IN_FLIGHT_STATUSES)
        & ((c.lease_until.is_(None)) | (c.lease_until < now))
        & not_own_in_flight
    )
    with engine.begin() as conn:
        return _claim(conn, where, {"claimed_by": worker, "lease_until": lease_until}, limit)


def renew(engine: Engine, *, run_id: int, worker: str, lease_until: dt.datetime) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(CONTACTS)
            .where(
                CONTACTS.c.run_id == run_id,
                CONTACTS.c.status == ContactStatus.SENDING,
                CONTACTS.c.claimed_by == worker,
            )
            .values(lease_until=lease_until)
        )


def record(
    engine: Engine, *, outcomes: Sequence[Recorded], worker: str, provider: str, now: dt.datetime
) -> None:
    """Write a group of outcomes in one transaction (see the module docstring)."""
    by_status: dict[ContactStatus, list[Recorded]] = {}
    for o in outcomes:
        by_status.setdefault(o.status, []).append(o)
    c = CONTACTS.c
    with engine.begin() as conn:
        if sent := by_status.get(ContactStatus.SENT):
            # Unconditional: once the provider has it, it is sent, whoever holds the row.
            # One statement per chunk of ids: every sent contact gets the same values.
            for chunk in chunked([o.contact_id for o in sent], ID_CHUNK):
                conn.execute(
                    update(CONTACTS)
                    .where(c.id.in_(chunk))
                    .values(
                        status=ContactStatus.SENT,
                        sent_at=now,
                        error_code=None,
                        error=None,
                        claimed_by=None,
                        lease_until=None,
                    )
                )
            messages = [_message_row(o, provider, now) for o in sent]
            insert_ignore(conn, MESSAGES, messages, keys=["provider_sid"])
            # Status callbacks that came before this write are applied now, never dropped.
            apply_pending_callbacks(conn, sids=[o.sid for o in sent if o.sid], now=now)
        if failed := by_status.get(ContactStatus.FAILED):
            conn.execute(
                update(CONTACTS)
                .where(c.id == bindparam("b_id"), _in_flight())
                .values(
                    status=ContactStatus.FAILED,
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
        if unknown := by_status.get(ContactStatus.UNKNOWN):
            conn.execute(
                update(CONTACTS)
                .where(c.id == bindparam("b_id"), _in_flight())
                .values(
                    status=ContactStatus.UNKNOWN,
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
        if released := by_status.get(ContactStatus.PENDING):
            # Never sent (or reconciled as not sent): back to the queue.
            conn.execute(
                update(CONTACTS)
                .where(c.id == bindparam("b_id"), _in_flight(), c.claimed_by == worker)
                .values(
                    status=ContactStatus.PENDING,
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
    source = OptOutSource.PROVIDER
    rows = [
        {"customer_id": cid, "source": source, "reason": "twilio 21610", "created_at": now}
        for cid in opted
    ]
    insert_ignore(conn, OPT_OUTS, rows, keys=["customer_id"])
    if rows:
        bump(conn, versions.OPT_OUTS)
    invalid = sorted({o.customer_id for o in outcomes if o.invalid_phone})
    if invalid:
        conn.execute(
            update(CUSTOMERS).where(CUSTOMERS.c.customer_id.in_(invalid)).values(phone_invalid=True)
        )
        bump(conn, versions.PHONES)


def next_lease_expiry(engine: Engine, *, run_id: int) -> dt.datetime | None:
    """When the earliest ``sending``/``unknown`` lease of the run expires (None: none left)."""
    with engine.connect() as conn:
        row = conn.execute(
            select(func.count(), func.min(CONTACTS.c.lease_until)).where(
                CONTACTS.c.run_id == run_id, CONTACTS.c.status.in_(IN_FLIGHT_STATUSES)
            )
        ).one()
    if not row[0]:
        return None
    return utc(row[1]) if row[1] is not None else dt.datetime.min.replace(tzinfo=dt.UTC)
