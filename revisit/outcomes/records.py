"""The one module that writes the ``outcomes`` table: call results, replies and returns.

Call results and replies are appended (:func:`add_outcomes`), a call result corrected in
place by its caller (:func:`amend_outcome`, audited with what it was); returns are derived
data, replaced as a whole by the attribution (:func:`replace_returns`), at most one per
contact.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import delete, func, literal, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Select

from revisit.campaigns.outcome_codes import OutcomeKind
from revisit.db.tables import OUTCOMES, utcnow

#: The columns an appended outcome may set (the rest default).
OUTCOME_FIELDS = (
    "contact_id",
    "customer_id",
    "vin",
    "kind",
    "code",
    "detail",
    "callback_date",
    "visit_id",
    "amount",
    "staff",
    "note",
)


def add_outcomes(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> int:
    """Append outcomes (dicts with ``customer_id``, ``kind``, ``code`` and any of
    :data:`OUTCOME_FIELDS`); returns how many were written. Raises KeyError for a row
    without one of the three required keys, ValueError for an unknown field."""
    if not rows:
        return 0
    now = utcnow()
    values = []
    for row in rows:
        unknown = set(row) - set(OUTCOME_FIELDS)
        if unknown:
            raise ValueError(f"outcome: unknown field(s) {', '.join(sorted(unknown))}")
        full = {name: row.get(name) for name in OUTCOME_FIELDS}
        for required in ("customer_id", "kind", "code"):
            if not full[required]:
                raise KeyError(required)
        values.append(full | {"created_at": now})
    conn.execute(OUTCOMES.insert(), values)
    return len(values)


#: The fields of a call outcome an amendment may change.
AMENDABLE = ("code", "detail", "callback_date", "staff", "note")


def latest_call_outcome(conn: Connection, contact_id: int) -> dict[str, Any] | None:
    """The newest call outcome of a contact (id, code, detail, callback_date, staff, note,
    created_at), or None when it has none."""
    o = OUTCOMES.c
    row = conn.execute(
        select(o.id, o.code, o.detail, o.callback_date, o.staff, o.note, o.created_at)
        .where(o.contact_id == contact_id, o.kind == OutcomeKind.CALL.value)
        .order_by(o.created_at.desc(), o.id.desc())
        .limit(1)
    ).first()
    return dict(row._mapping) if row is not None else None


def amend_outcome(conn: Connection, outcome_id: int, values: Mapping[str, Any]) -> None:
    """Replace the :data:`AMENDABLE` fields of call outcome ``outcome_id`` by ``values``
    (its time stays that of the call). Raises ValueError for another field."""
    unknown = set(values) - set(AMENDABLE)
    if unknown:
        raise ValueError(f"outcome: fields that cannot be amended: {', '.join(sorted(unknown))}")
    conn.execute(update(OUTCOMES).where(OUTCOMES.c.id == outcome_id).values(**values))


def replace_returns(conn: Connection, returned: Select[tuple[Any, ...]]) -> int:
    """Replace every return outcome by the rows of ``returned`` (columns contact_id,
    customer_id, vin, visit_id, amount), in ``conn``'s transaction; returns their number."""
    conn.execute(delete(OUTCOMES).where(OUTCOMES.c.kind == OutcomeKind.RETURN.value))
    r = returned.subquery("returned")
    source = select(
        r.c.contact_id,
        r.c.customer_id,
        r.c.vin,
        literal(OutcomeKind.RETURN.value).label("kind"),
        literal("returned").label("code"),
        r.c.visit_id,
        r.c.amount,
        literal(utcnow(), OUTCOMES.c.created_at.type).label("created_at"),
    )
    columns = ["contact_id", "customer_id", "vin", "kind", "code", "visit_id", "amount"]
    conn.execute(OUTCOMES.insert().from_select([*columns, "created_at"], source))
    count = conn.execute(
        select(func.count()).where(OUTCOMES.c.kind == OutcomeKind.RETURN.value)
    ).scalar_one()
    return int(count)


def existing_call_outcomes(conn: Connection, contact_ids: Sequence[int]) -> set[tuple[Any, ...]]:
    """The (contact_id, code, detail, callback_date, staff, note) of the call outcomes already
    recorded for these contacts: an import skips a row that is already there."""
    o = OUTCOMES.c
    found: set[tuple[Any, ...]] = set()
    ids = sorted(set(contact_ids))
    for start in range(0, len(ids), 500):
        query = select(o.contact_id, o.code, o.detail, o.callback_date, o.staff, o.note).where(
            o.kind == OutcomeKind.CALL.value, o.contact_id.in_(ids[start : start + 500])
        )
        for row in conn.execute(query):
            found.add(outcome_key(*row))
    return found


def outcome_key(
    contact_id: int,
    code: str,
    detail: str | None,
    callback_date: dt.date | str | None,
    staff: str | None,
    note: str | None,
) -> tuple[Any, ...]:
    """What makes two call outcomes the same (empty text and None alike)."""
    day = callback_date.isoformat() if isinstance(callback_date, dt.date) else callback_date
    return (int(contact_id), code, detail or None, day or None, staff or None, note or None)
