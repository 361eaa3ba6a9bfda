"""What a cohort member's contact is about: its event key.

A contact is about an event — the visit followed up, the declined items, the policy's
expiry, the due date, the birthday's year, the lapse episode — and the same campaign never
contacts the same event twice, whatever the day (:mod:`revisit.campaigns.plan`, suppression
``already_contacted``). :func:`event_key` derives that key from a member's fields, per
cohort, in this one place; a contact stores its members' keys (``contacts.event_key``).

Beside it, :func:`last_useful_day`: the last day a member's contact still makes sense — a
birthday greeting on the day itself, a follow-up within its window, a due reminder until its
window closes. A contact past it (a run deferred at night and resumed the next morning) is
``expired``: counted, never sent (:mod:`revisit.delivery.claims`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from revisit.cohorts.select import CohortMember
from revisit.dates import add_days, add_months

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


# --- the last useful day ----------------------------------------------------------------------
# Each cohort's rule is the last as_of on which the member would still be selected: the upper
# bound of the cohort's window (see revisit.cohorts.definitions and .touchpoints), with the
# cohort's parameters as the campaign sets them.

Params = Mapping[str, Any]
Day = dt.date | None


def _after(field: str, days: Callable[[Params], int]) -> Callable[[CohortMember, Params], Day]:
    def last(m: CohortMember, p: Params) -> Day:
        base = getattr(m, field)
        return add_days(base, days(p)) if base is not None else None

    return last


def _declined_c(m: CohortMember, p: Params) -> Day:
    # selected while the visit is after as_of − months: until the day before visit + months
    return add_days(add_months(m.visit_date, p["months"]), -1) if m.visit_date else None


LAST_USEFUL: dict[str, Callable[[CohortMember, Params], Day]] = {
    "post_service_followup": _after("visit_date", lambda p: p["from_days"]),
    "declined_a": _after("visit_date", lambda p: p["from_days"]),
    "declined_b": _after("due_date", lambda _p: 0),  # due within the horizon: until due
    "declined_c": _declined_c,
    "insurance_renewal": _after("expiry_date", lambda _p: 0),
    "first_service_due": _after("due_date", lambda p: p["after_days"]),
    "maintenance_due": _after("due_date", lambda p: p["after_days"]),
    # due_date = delivery + from_days (7DC), delivery + first_service_days (care)
    "new_car_7dc": _after("due_date", lambda p: p["to_days"] - p["from_days"]),
    "new_car_care": _after("due_date", lambda p: p["to_days"] - p["first_service_days"]),
}
#: Cohorts whose contact is for one day: the birthday greeting says "today".
ONE_DAY = frozenset({"birthday"})
#: Cohorts without a limit of their own: evergreen ones (a campaign may set ``valid_days``),
#: and repeat_repair, a comeback the service manager follows up however late.
NO_LIMIT = frozenset(
    {"lapsed_6_12", "lapsed_12_24", "lapsed_24_plus", "active_customers", "repeat_repair"}
)


def last_useful_day(member: CohortMember, as_of: dt.date, params: Params) -> dt.date | None:
    """The last day (in the store's time zone) a contact about ``member``, selected as of
    ``as_of`` with the cohort's merged ``params`` (defaults and the campaign's), is still
    worth making: ``as_of`` for a birthday; for a follow-up (post_service_followup,
    declined_a) the visit date + ``from_days``; declined_b its due date; declined_c the
    visit date + ``months``; a due reminder (first_service_due, maintenance_due) its due
    date + ``after_days``; insurance_renewal the policy's expiry; new_car_7dc/new_car_care
    delivery + ``to_days``. None — no limit of its own — for evergreen cohorts (lapsed_*,
    active_customers) and repeat_repair (a comeback stays the manager's to follow up), and
    when the member lacks the date its rule reads. A campaign may set a limit of its own
    (:meth:`revisit.campaigns.config.CampaignDef.last_useful_day`)."""
    if member.cohort in ONE_DAY:
        return as_of
    rule = LAST_USEFUL.get(member.cohort)
    return rule(member, params) if rule is not None else None


def contact_last_day(
    members: Iterable[CohortMember], as_of: dt.date, params: Params
) -> dt.date | None:
    """The last useful day of a contact about ``members`` (its vehicles): the latest of
    theirs — the contact still serves while any of its vehicles does — and None when any
    has no limit."""
    days = [last_useful_day(m, as_of, params) for m in members]
    if not days or any(d is None for d in days):
        return None
    return max(d for d in days if d is not None)
