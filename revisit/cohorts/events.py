"""What a cohort member's contact is about: its event key.

A contact is about an event — the visit followed up, the declined items, the policy's
expiry, the due date, the birthday's year, the lapse episode — and the same campaign never
contacts the same event twice, whatever the day (:mod:`revisit.campaigns.plan`, suppression
``already_contacted``). :func:`event_key` derives that key from a member's fields, per
cohort, in this one place; a contact stores its members' keys (``contacts.event_key``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

from revisit.cohorts.select import CohortMember

#: Keys of one contact are joined with this (a contact may be about several vehicles).
KEY_SEPARATOR = " "


def _iso(day: dt.date | None) -> str:
    return day.isoformat() if day else "-"


def _visit(m: CohortMember, _as_of: dt.date) -> str:
    return f"visit:{m.visit_id or _iso(m.visit_date)}"


def _items(m: CohortMember, as_of: dt.date) -> str:
    if m.item_ids:
        return "items:" + ",".join(sorted(m.item_ids))
    return _visit(m, as_of)


def _case(m: CohortMember, as_of: dt.date) -> str:
    return "case:" + ",".join(sorted(m.visit_ids)) if m.visit_ids else _visit(m, as_of)


def _policy(m: CohortMember, _as_of: dt.date) -> str:
    return f"policy:{m.policy_id or '-'}@{_iso(m.expiry_date)}"


def _due(m: CohortMember, _as_of: dt.date) -> str:
    return f"due:{_iso(m.due_date)}"


def _service_interval(m: CohortMember, _as_of: dt.date) -> str:
    # the interval since the last visit: its due date moves with the mileage estimate
    return f"after:{_iso(m.last_visit_date)}" if m.last_visit_date else f"due:{_iso(m.due_date)}"


def _lapse(m: CohortMember, _as_of: dt.date) -> str:
    return f"lapse:{_iso(m.last_visit_date)}"


def _birthday(_m: CohortMember, as_of: dt.date) -> str:
    return f"birthday:{as_of.year}"


#: cohort → how its members name their event (a cohort not here has no event: e.g.
#: ``active_customers``, a broadcast, is governed by frequency caps alone).
EVENT_KEYS: dict[str, Callable[[CohortMember, dt.date], str]] = {
    "post_service_followup": _visit,
    "declined_a": _items,
    "declined_b": _items,
    "declined_c": _items,
    "repeat_repair": _case,
    "insurance_renewal": _policy,
    "first_service_due": _due,
    "new_car_7dc": _due,
    "new_car_care": _due,
    "maintenance_due": _service_interval,
    "lapsed_6_12": _lapse,
    "lapsed_12_24": _lapse,
    "lapsed_24_plus": _lapse,
    "birthday": _birthday,
}


def event_key(member: CohortMember, as_of: dt.date) -> str | None:
    """The event ``member`` is due for as of ``as_of``, as a short string without spaces —
    ``"visit:V123"``, ``"items:I1,I2"``, ``"policy:P9@2027-01-05"``, ``"due:2026-12-01"``,
    ``"after:2026-06-01"`` (maintenance since that visit), ``"lapse:2025-03-02"``,
    ``"birthday:2026"`` — keyed by vehicle too for vehicle-level cohorts; None when the
    member's cohort has no event (see :data:`EVENT_KEYS`)."""
    derive = EVENT_KEYS.get(member.cohort)
    if derive is None:
        return None
    key = derive(member, as_of).replace(KEY_SEPARATOR, "_")
    return f"{member.vin}/{key}" if member.vin else key


def joined_key(members: Iterable[CohortMember], as_of: dt.date) -> str | None:
    """The ``contacts.event_key`` of a contact about ``members``: their sorted distinct keys
    joined by a space, or None when none has an event."""
    keys = sorted({k for k in (event_key(m, as_of) for m in members) if k})
    return KEY_SEPARATOR.join(keys) or None


def split_key(stored: str | None) -> set[str]:
    """The event keys of a stored ``contacts.event_key`` (empty for None)."""
    return set(stored.split(KEY_SEPARATOR)) if stored else set()
