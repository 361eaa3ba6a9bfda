"""Cohort members as the renderer sees them: one :class:`MemberRef` per customer, naming the
vehicles a contact is about and the cohort's own fields.

Members come from a cohort (:func:`member_refs`) or from an outbox contact's stored
details (:func:`refs_from_details`); both give the same references, so an SMS rendered at
planning and a call sheet rendered from the outbox later tell the same due dates.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from revisit.cohorts.select import DETAIL_FIELDS

_DATES = frozenset({"due_date", "last_visit_date", "visit_date", "expiry_date"})


@dataclass
class MemberRef:
    """One cohort member to render for: a customer, the vehicles the contact is about, and
    the cohort's own fields (``due_date`` / ``due_dates``, ``due_by`` / ``due_bases``,
    ``item_ids``, ``policy_id`` / ``policy_ids``, anything else is passed through as
    ``details``)."""

    customer_id: str
    vins: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


def _ref(customer_id: str, vin: str | None, details: dict[str, Any]) -> MemberRef:
    """An insurance member's expiry date is its due date."""
    if "due_date" not in details and "expiry_date" in details:
        details["due_date"] = details["expiry_date"]
    return MemberRef(customer_id, [vin] if vin else [], details)


def member_refs(members: Iterable[Any]) -> list[MemberRef]:
    """MemberRefs from cohort members (objects with ``customer_id``, ``vin`` and the
    detail fields), one per customer."""
    refs = []
    for m in members:
        details = {}
        for name in DETAIL_FIELDS:
            value = getattr(m, name, None)
            if value not in (None, ()):
                details[name] = list(value) if isinstance(value, tuple) else value
        refs.append(_ref(str(m.customer_id), getattr(m, "vin", None), details))
    return list(merge_members(refs).values())


def refs_from_details(
    customer_id: str, vins: Sequence[str], details: Sequence[Mapping[str, Any]] | None
) -> list[MemberRef]:
    """The members of one outbox contact, from its ``details`` (one entry per cohort member:
    its ``vin`` and the cohort's own fields, as :meth:`CohortMember.details` wrote them).
    A contact without details (written before they were kept) names its vehicles only."""
    entries = list(details or ()) or [{"vin": vin} for vin in vins] or [{}]
    refs = []
    for entry in entries:
        fields = {k: _as_date(v) if k in _DATES else v for k, v in entry.items() if k != "vin"}
        refs.append(_ref(customer_id, entry.get("vin"), fields))
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


_MERGED_KEYS = {
    "due_date", "due_dates", "due_by", "due_bases", "item_ids", "item_id", "policy_id",
    "policy_ids",
}  # fmt: skip


def merge_members(members: Iterable[MemberRef]) -> dict[str, MemberRef]:
    """One member per customer: a customer selected for two vehicles gets one contact.
    Due dates and their reasons are kept per vehicle (``due_dates``, ``due_bases``)."""
    merged: dict[str, MemberRef] = {}
    for m in members:
        due = _as_date(m.details.get("due_date"))
        due_by = m.details.get("due_by")
        due_dates = {vin: _as_date(d) for vin, d in (m.details.get("due_dates") or {}).items()}
        due_bases = dict(m.details.get("due_bases") or {})
        for vin in m.vins:
            if due is not None:
                due_dates.setdefault(vin, due)
            if due_by is not None:
                due_bases.setdefault(vin, due_by)
        target = merged.setdefault(m.customer_id, MemberRef(m.customer_id, [], {}))
        details = target.details
        for key, value in m.details.items():
            if key not in _MERGED_KEYS:
                details.setdefault(key, value)
        details.setdefault("due_dates", {}).update(due_dates)
        details.setdefault("due_bases", {}).update(due_bases)
        if due is not None and not m.vins:
            details["due_date"] = due
            if due_by is not None:
                details["due_by"] = due_by
        items = details.setdefault("item_ids", [])
        items += [i for i in _ids(m.details, "item_id", "item_ids") if i not in items]
        policies = details.setdefault("policy_ids", [])
        policies += [p for p in _ids(m.details, "policy_id", "policy_ids") if p not in policies]
        target.vins += [v for v in m.vins if v not in target.vins]
    return merged
