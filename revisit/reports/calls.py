"""Call reports: decline reasons tallied by campaign and store (``revisit report churn``), and
per caller what came of the lists (``revisit report staff``). One query each.

Staff counts call-list entries handed to each caller — callbacks are entries of their own:
``listed``; ``called``: entries with at least one call outcome; ``reached``: an outcome
other than not_reached; ``booked``: a booked outcome; ``returned``: entries whose customer
returned within the campaign's window (:mod:`revisit.outcomes.attribution`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, case, func, literal, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Select

from revisit.campaigns.outcome_codes import CallCode, OutcomeKind
from revisit.campaigns.statuses import ChannelKind, ContactStatus
from revisit.dates import check_period
from revisit.db.tables import CONTACTS, CUSTOMERS, OUTCOMES


@dataclass(frozen=True)
class CallFilter:
    """Contacts of a campaign, of days in [since, until], of one store's customers and of
    the set ``stores``' (None: every store; an empty set: none)."""

    campaign: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None
    store: str | None = None
    stores: frozenset[str] | None = None

    def __post_init__(self) -> None:
        check_period(self.since, self.until)


def _scoped(query: Select[Any], f: CallFilter) -> Select[Any]:
    c = CONTACTS.c
    if f.campaign:
        query = query.where(c.campaign == f.campaign)
    if f.since:
        query = query.where(c.as_of >= f.since)
    if f.until:
        query = query.where(c.as_of <= f.until)
    if f.store:
        query = query.where(CUSTOMERS.c.store_id == f.store)
    if f.stores is not None:
        query = query.where(CUSTOMERS.c.store_id.in_(sorted(f.stores)))
    return query


def churn_report(conn: Connection, f: CallFilter | None = None) -> list[dict[str, Any]]:
    """Declined calls by campaign, store and reason: dicts with ``campaign, store, reason,
    declined, share`` (of the campaign and store's declines), most frequent first."""
    f = f or CallFilter()
    o, c = OUTCOMES.c, CONTACTS.c
    store = CUSTOMERS.c.store_id
    n = func.count()
    total = func.sum(n).over(partition_by=(c.campaign, store))
    query = (
        select(
            c.campaign,
            store.label("store"),
            o.detail.label("reason"),
            n.label("declined"),
            total.label("total"),
        )
        .select_from(
            OUTCOMES.join(CONTACTS, c.id == o.contact_id).join(
                CUSTOMERS, CUSTOMERS.c.customer_id == c.customer_id
            )
        )
        .where(o.kind == OutcomeKind.CALL.value, o.code == CallCode.DECLINED.value)
        .group_by(c.campaign, store, o.detail)
        .order_by(c.campaign, store, n.desc(), o.detail)
    )
    return [
        {
            "campaign": r.campaign,
            "store": r.store,
            "reason": r.reason or "other",
            "declined": int(r.declined),
            "share": int(r.declined) / int(r.total),
        }
        for r in conn.execute(_scoped(query, f))
    ]


def staff_report(conn: Connection, f: CallFilter | None = None) -> list[dict[str, Any]]:
    """Per caller: dicts with ``staff, listed, called, reached, booked, returned`` and the
    rates ``reach_rate`` (reached / called) and ``return_rate`` (returned / listed)."""
    f = f or CallFilter()
    o, c = OUTCOMES.c, CONTACTS.c
    call = o.kind == OutcomeKind.CALL.value
    per_contact = (
        select(
            o.contact_id,
            func.max(case((call, 1), else_=0)).label("called"),
            func.max(case((and_(call, o.code != CallCode.NOT_REACHED.value), 1), else_=0))
            .label("reached"),
            func.max(case((and_(call, o.code == CallCode.BOOKED.value), 1), else_=0))
            .label("booked"),
            func.max(case((o.kind == OutcomeKind.RETURN.value, 1), else_=0)).label("returned"),
        )
        .group_by(o.contact_id)
        .subquery("per_contact")
    )  # fmt: skip
    p = per_contact.c
    caller = func.coalesce(c.caller, literal("unassigned"))
    sums = [func.coalesce(func.sum(col), 0).label(col.name)
            for col in (p.called, p.reached, p.booked, p.returned)]  # fmt: skip
    query = (
        select(caller.label("staff"), func.count().label("listed"), *sums)
        .select_from(
            CONTACTS.join(CUSTOMERS, CUSTOMERS.c.customer_id == c.customer_id).outerjoin(
                per_contact, p.contact_id == c.id
            )
        )
        .where(c.channel == ChannelKind.CALL.value, c.status == ContactStatus.LISTED.value)
        .group_by(caller)
        .order_by(caller)
    )
    rows = []
    for r in conn.execute(_scoped(query, f)):
        row = {k: (int(v) if k != "staff" else v) for k, v in r._mapping.items()}
        row["reach_rate"] = row["reached"] / row["called"] if row["called"] else None
        row["return_rate"] = row["returned"] / row["listed"] if row["listed"] else None
        rows.append(row)
    return rows
