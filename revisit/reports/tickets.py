"""Dissatisfied-customer tickets counted per store, advisor and category (``revisit report
tickets``): how many are open, in progress and resolved, and how many are overdue — not
resolved a day after they were opened (:data:`revisit.campaigns.statuses.TICKET_OVERDUE_AFTER`).
One query. The tickets themselves are listed by ``revisit tickets``
(:mod:`revisit.outcomes.tickets`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, case, func, literal, select
from sqlalchemy.engine import Connection

from revisit.campaigns.statuses import TICKET_OVERDUE_AFTER, TicketStatus
from revisit.dates import check_period
from revisit.db.tables import TICKETS, utcnow

#: Report keys, in order.
KEYS = ("store", "advisor", "category", "tickets", "open", "in_progress", "resolved", "overdue")


@dataclass(frozen=True)
class TicketFilter:
    """Tickets of one store, opened on days in [since, until] (UTC dates), overdue as of
    ``now`` (default: the clock). Raises ConfigError for an empty period."""

    store: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None
    now: dt.datetime = field(default_factory=utcnow)

    def __post_init__(self) -> None:
        check_period(self.since, self.until)


def _count(condition: Any) -> Any:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def ticket_report(conn: Connection, f: TicketFilter | None = None) -> list[dict[str, Any]]:
    """Dicts with :data:`KEYS` per (store, advisor, category), sorted by them; a ticket whose
    visit has no advisor counts under ``unknown``."""
    f = f or TicketFilter()
    t = TICKETS.c
    advisor = func.coalesce(t.advisor, literal("unknown"))
    status = {s: _count(t.status == s.value).label(s.value) for s in TicketStatus}
    overdue = and_(
        t.status != TicketStatus.RESOLVED.value, t.opened_at < f.now - TICKET_OVERDUE_AFTER
    )
    query = select(
        t.store_id.label("store"), advisor.label("advisor"), t.category,
        func.count().label("tickets"), *status.values(), _count(overdue).label("overdue"),
    ).group_by(t.store_id, advisor, t.category)  # fmt: skip
    if f.store:
        query = query.where(t.store_id == f.store)
    if f.since:
        query = query.where(t.opened_at >= dt.datetime.combine(f.since, dt.time(), dt.UTC))
    if f.until:
        end = dt.datetime.combine(f.until + dt.timedelta(days=1), dt.time(), dt.UTC)
        query = query.where(t.opened_at < end)
    rows = conn.execute(query.order_by(t.store_id, advisor, t.category)).all()
    return [
        {k: (int(v) if k not in ("store", "advisor", "category") else v)
         for k, v in zip(KEYS, r, strict=True)}
        for r in rows
    ]  # fmt: skip
