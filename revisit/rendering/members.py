"""Cohort members as the renderer sees them: one :class:`MemberRef` per customer, naming the
vehicles a contact is about and the cohort's own fields."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

#: Cohort member attributes passed on as details (see revisit.cohorts.select.CohortMember).
DETAIL_FIELDS = (
    "due_date",
    "last_visit_date",
    "visit_id",
    "visit_date",
    "policy_id",
    "expiry_date",
    "due_km",
    "item_ids",
    "visit_ids",
)


@dataclass
class MemberRef:
    """One cohort member to render for: a customer, the vehicles the contact is about, and
    the cohort's own fields (``due_date`` / ``due_dates``, ``item_ids``, ``policy_id`` /
    ``policy_ids``, anything else is passed through as ``details``)."""

    customer_id: str
    vins: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


def member_refs(members: Iterable[Any]) -> list[MemberRef]:
    """MemberRefs from cohort members (objects with ``customer_id``, ``vin`` and the
    detail fields); an insurance member's expiry date is its due date."""
    refs = []
    for m in members:
        details = {}
        for name in DETAIL_FIELDS:
            value = getattr(m, name, None)
            if value not in (None, ()):
                details[name] = list(value) if isinstance(value, tuple) else value
        if "due_date" not in details and "expiry_date" in details:
            details["due_date"] = details["expiry_date"]
        vin = getattr(m, "vin", None)
        refs.append(MemberRef(str(m.customer_id), [vin] if vin else [], details))
    return list(merge_members(refs).values())


def _as_date(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date):
        return value.date() if isinstance(value, dt.datetime) else value
    return dt.date.fromisoformat(str(value)[:10])


def _ids(details: dict[str, Any], one: str, many: str) -> list[str]:
    values = list(details.get(many) or [])
    if details.get(one):
        values.append(details[one])
    return [str(v) for v in values]


_MERGED_KEYS = {"due_date", "due_dates", "item_ids", "item_id", "policy_id", "policy_ids"}


def merge_members(members: Iterable[MemberRef]) -> dict[str, MemberRef]:
    """One member per customer: a customer selected for two vehicles gets one contact."""
    merged: dict[str, MemberRef] = {}
    for m in members:
        due = _as_date(m.details.get("due_date"))
        due_dates = {vin: _as_date(d) for vin, d in (m.details.get("due_dates") or {}).items()}
        for vin in m.vins:
            if due is not None:
                due_dates.setdefault(vin, due)
        target = merged.setdefault(m.customer_id, MemberRef(m.customer_id, [], {}))
        details = target.details
        for key, value in m.details.items():
            if key not in _MERGED_KEYS:
                details.setdefault(key, value)
        details.setdefault("due_dates", {}).update(due_dates)
        if due is not None and not m.vins:
            details["due_date"] = due
        items = details.setdefault("item_ids", [])
        items += [i for i in _ids(m.details, "item_id", "item_ids") if i not in items]
        policies = details.setdefault("policy_ids", [])
        policies += [p for p in _ids(m.details, "policy_id", "policy_ids") if p not in policies]
        target.vins += [v for v in m.vins if v not in target.vins]
    return merged
