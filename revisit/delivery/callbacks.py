"""Delivery statuses coming back from the provider (status callbacks, or polling): the one
place that writes ``messages.status`` after a send.

A message's status only moves forward (:func:`revisit.campaigns.statuses.message_status_moves`):
repeated callbacks change nothing and a late ``sent`` never overwrites ``delivered``. A status
for a message not recorded yet — the provider may call back before the send's own write
commits — is kept in ``pending_callbacks`` and applied when the message is recorded
(:mod:`revisit.delivery.outbox` calls :func:`apply_pending_callbacks` right after inserting
messages). Both sides lock the message's SID first (PostgreSQL advisory locks; SQLite has a
single writer), so whichever commits second sees the other's row: nothing is dropped.

A delivery error 30003/30005/30006 marks the customer's phone invalid, like 21211 at send.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, delete, insert, select, text, update
from sqlalchemy.engine import Connection

from revisit.campaigns.statuses import MESSAGE_STATUS_RANK, MessageStatus, message_status_moves
from revisit.db.tables import CONTACTS, CUSTOMERS, MESSAGES, PENDING_CALLBACKS
from revisit.db.versions import PHONES, bump
from revisit.delivery.channels.base import UNDELIVERABLE_PHONE_CODES


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """One status report of one message: its provider SID, the provider's status (a
    :class:`~revisit.campaigns.statuses.MessageStatus` value) and error code, if any."""

    sid: str
    status: str
    error_code: str | None = None


@dataclass
class StatusResult:
    """What :func:`record_statuses` did: SIDs moved forward, kept for later (message not
    recorded yet), and ignored (not forward: a repeat or a late report)."""

    applied: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    invalid_phones: int = 0


def known_status(value: str) -> bool:
    """Whether ``value`` is an outbound message status this version knows (``receiving`` and
    ``received`` belong to inbound messages: never a status callback's)."""
    return value in MESSAGE_STATUS_RANK


def lock_sids(conn: Connection, sids: Sequence[str]) -> None:
    """Serialise the writers of these messages' statuses until the transaction ends
    (PostgreSQL transaction advisory locks, taken in sorted order in one statement; SQLite
    needs none: it has a single writer)."""
    if conn.dialect.name != "postgresql" or not sids:
        return
    conn.execute(
        text(
            "SELECT count(pg_advisory_xact_lock(hashtextextended(s, 0))) "
            "FROM unnest(CAST(:sids AS text[])) AS s"
        ),
        {"sids": sorted(set(sids))},
    )


def record_statuses(
    conn: Connection, *, updates: Sequence[StatusUpdate], now: dt.datetime
) -> StatusResult:
    """Apply ``updates`` in the caller's transaction; a SID with no message yet is kept in
    ``pending_callbacks`` (see the module docstring). Raises ValueError for a status this
    version does not know (the web hook answers 400 before calling)."""
    for u in updates:
        if not known_status(u.status):
            raise ValueError(f"unknown message status {u.status!r} for {u.sid}")
    lock_sids(conn, [u.sid for u in updates])
    direct = StatusResult()
    # The common case in one statement: a recorded message moving forward.
    rest = [u for u in updates if not _move_recorded(conn, u, now, direct)]
    if rest:  # not recorded yet, or not forward: kept, then applied or dropped as a repeat
        conn.execute(
            insert(PENDING_CALLBACKS),
            [
                {"provider_sid": u.sid, "status": u.status, "error_code": u.error_code,
                 "received_at": now}
                for u in rest
            ],
        )  # fmt: skip
    sids = [u.sid for u in rest]
    result = _apply_pending(conn, sids, now)
    result.applied = sorted({*direct.applied, *result.applied})
    result.ignored = sorted(set(result.ignored) - set(result.applied))
    result.pending = sorted(set(sids) - set(result.applied) - set(result.ignored))
    result.invalid_phones += direct.invalid_phones
    return result


def _move_recorded(
    conn: Connection, u: StatusUpdate, now: dt.datetime, result: StatusResult
) -> bool:
    """Move message ``u.sid`` to ``u.status`` if it is recorded at a status that may move
    there (one conditional UPDATE); False when it is not recorded or the move is not
    forward. This write comes first, so on SQLite the transaction holds the write lock
    before anything is read."""
    movable = [str(s) for s in MessageStatus if message_status_moves(s, u.status)]
    values: dict[str, Any] = {"status": u.status, "updated_at": now}
    if u.error_code:
        values["error_code"] = u.error_code
    row = conn.execute(
        update(MESSAGES)
        .where(MESSAGES.c.provider_sid == u.sid, MESSAGES.c.status.in_(movable))
        .values(**values)
        .returning(MESSAGES.c.contact_id, MESSAGES.c.to_phone, MESSAGES.c.error_code)
    ).first()
    if row is None:
        return False
    result.applied.append(u.sid)
    if _dead(row.error_code):
        owner = select(CONTACTS.c.customer_id).where(CONTACTS.c.id == row.contact_id)
        result.invalid_phones += _mark_invalid(conn, owner.scalar_subquery(), row.to_phone)
    return True


def _dead(code: str | None) -> bool:
    return code is not None and code.isdigit() and int(code) in UNDELIVERABLE_PHONE_CODES


def _mark_invalid(conn: Connection, customer_id: Any, phone: str) -> int:
    """Mark the customer's phone invalid — only the number the message went to: an import
    may have given the customer a new one since."""
    res = conn.execute(
        update(CUSTOMERS)
        .where(
            CUSTOMERS.c.customer_id == customer_id,
            CUSTOMERS.c.phone == phone,
            CUSTOMERS.c.phone_invalid.is_(False),
        )
        .values(phone_invalid=True)
    )
    if res.rowcount:
        bump(conn, PHONES)
    return res.rowcount or 0


def apply_pending_callbacks(conn: Connection, *, sids: Sequence[str], now: dt.datetime) -> int:
    """Apply the kept callbacks of messages just recorded (``sids``), in the caller's
    transaction; returns how many messages moved."""
    sids = [s for s in sids if s]
    if not sids:
        return 0
    lock_sids(conn, sids)
    return len(_apply_pending(conn, sids, now).applied)


def purge_stale_callbacks(conn: Connection, *, received_before: dt.datetime) -> int:
    """Delete the kept callbacks received before ``received_before`` (aware, UTC) whose
    message was never recorded: by then no send of revisit's can still record it (a lost
    answer is reconciled within the run's lease, and runs resume for 3 days), so they are
    callbacks for messages revisit did not send. Returns how many were deleted."""
    res = conn.execute(
        delete(PENDING_CALLBACKS).where(PENDING_CALLBACKS.c.received_at < received_before)
    )
    return res.rowcount or 0


def _apply_pending(conn: Connection, sids: Sequence[str], now: dt.datetime) -> StatusResult:
    result = StatusResult()
    if not sids:
        return result
    unique = sorted(set(sids))
    waiting = conn.execute(
        select(
            PENDING_CALLBACKS.c.id,
            PENDING_CALLBACKS.c.provider_sid,
            PENDING_CALLBACKS.c.status,
            PENDING_CALLBACKS.c.error_code,
        )
        .where(PENDING_CALLBACKS.c.provider_sid.in_(unique))
        .order_by(PENDING_CALLBACKS.c.id)
    ).all()
    if not waiting:
        return result
    messages = {
        r.provider_sid: r
        for r in conn.execute(
            select(
                MESSAGES.c.id, MESSAGES.c.provider_sid, MESSAGES.c.status, MESSAGES.c.to_phone,
                MESSAGES.c.error_code, CONTACTS.c.customer_id,
            )
            .join(CONTACTS, CONTACTS.c.id == MESSAGES.c.contact_id)
            .where(MESSAGES.c.provider_sid.in_(unique))
        )
    }  # fmt: skip
    done: list[int] = []
    status = {sid: (m.status, m.error_code) for sid, m in messages.items()}
    for row in waiting:
        if row.provider_sid not in messages:
            continue
        done.append(row.id)
        old, code = status[row.provider_sid]
        if message_status_moves(old, row.status):
            status[row.provider_sid] = (row.status, row.error_code or code)
        else:
            result.ignored.append(row.provider_sid)
    moved = [sid for sid, now_status in status.items() if now_status[0] != messages[sid].status]
    _write(conn, {sid: status[sid] for sid in moved}, messages, now, result)
    if done:
        conn.execute(delete(PENDING_CALLBACKS).where(PENDING_CALLBACKS.c.id.in_(done)))
    result.applied = moved
    result.ignored = sorted(set(result.ignored) - set(moved))
    return result


def _write(
    conn: Connection,
    moved: dict[str, tuple[str, str | None]],
    messages: dict[str, Any],
    now: dt.datetime,
    result: StatusResult,
) -> None:
    if not moved:
        return
    conn.execute(
        update(MESSAGES)
        .where(MESSAGES.c.provider_sid == bindparam("b_sid"))
        .values(status=bindparam("b_status"), error_code=bindparam("b_code"), updated_at=now),
        [{"b_sid": sid, "b_status": s, "b_code": code} for sid, (s, code) in moved.items()],
    )
    for sid, (_s, code) in moved.items():
        if _dead(code):
            m = messages[sid]
            result.invalid_phones += _mark_invalid(conn, m.customer_id, m.to_phone)
