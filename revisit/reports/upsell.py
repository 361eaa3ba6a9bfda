"""Upsell KPIs from the imported visits and upsell items (seeds, formulas 1 and 2):

- 增修率 ``upsell_rate`` = work orders with at least one proposed upsell item / work orders
  (维修台次: every visit of the period, whatever its type);
- 增修成功率 ``upsell_success_rate`` = accepted items / proposed items;
- ``accepted_amount``: the accepted items' amounts.

Grouped by the visit's month, the items' grade (A/B/C: then ``work_orders`` is every work
order of the period and ``work_orders_with_items`` those with an item of that grade), the
visit's advisor or team. One query per report; rates are null when their denominator is 0.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, literal, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement, Select

from revisit.dates import check_period
from revisit.db.tables import CUSTOMERS, UPSELL, VEHICLES, VISITS
from revisit.reports.stats import rate

UPSELL_GROUPS = ("month", "grade", "advisor", "team")
KEYS = ("work_orders", "work_orders_with_items", "upsell_rate", "items", "accepted",
        "upsell_success_rate", "accepted_amount")  # fmt: skip


@dataclass(frozen=True)
class UpsellFilter:
    """Visits dated in [since, until], of one store's customers and of the set ``stores``'
    (None: every store; an empty set: none); grouped ``by``."""

    by: str = "month"
    since: dt.date | None = None
    until: dt.date | None = None
    store: str | None = None
    stores: frozenset[str] | None = None

    def __post_init__(self) -> None:
        check_period(self.since, self.until)


def _month(dialect: str) -> ColumnElement[str]:
    if dialect == "sqlite":
        return func.substr(VISITS.c.date, 1, 7)
    return func.to_char(VISITS.c.date, "YYYY-MM")


def _scoped(query: Select[Any], f: UpsellFilter) -> Select[Any]:
    v = VISITS.c
    if f.since:
        query = query.where(v.date >= f.since)
    if f.until:
        query = query.where(v.date <= f.until)
    if f.store or f.stores is not None:
        owner = select(VEHICLES.c.vin).join(
            CUSTOMERS, CUSTOMERS.c.customer_id == VEHICLES.c.customer_id
        )
        if f.store:
            owner = owner.where(CUSTOMERS.c.store_id == f.store)
        if f.stores is not None:
            owner = owner.where(CUSTOMERS.c.store_id.in_(sorted(f.stores)))
        query = query.where(v.vin.in_(owner))
    return query


def _items(by_grade: bool) -> Any:
    u = UPSELL.c
    accepted = u.status == "accepted"
    head = [u.visit_id, *([u.grade] if by_grade else [])]
    return (
        select(
            *head,
            func.count().label("proposed"),
            func.sum(case((accepted, 1), else_=0)).label("accepted"),
            func.sum(case((accepted, func.coalesce(u.amount, 0)), else_=0)).label("amount"),
        )
        .group_by(*head)
        .subquery("items")
    )


def upsell_query(dialect: str, f: UpsellFilter) -> Select[Any]:
    """The one query of the upsell report: key, work orders, work orders with items, items,
    accepted, accepted amount."""
    v = VISITS.c
    by_grade = f.by == "grade"
    items = _items(by_grade)
    sums = [
        func.count(items.c.visit_id.distinct()).label("with_items"),
        func.coalesce(func.sum(items.c.proposed), 0).label("items"),
        func.coalesce(func.sum(items.c.accepted), 0).label("accepted"),
        func.coalesce(func.sum(items.c.amount), 0).label("amount"),
    ]
    if by_grade:
        total = _scoped(select(func.count()).select_from(VISITS), f).scalar_subquery()
        query = select(items.c.grade.label("key"), total.label("work_orders"), *sums)
        query = query.select_from(VISITS.join(items, items.c.visit_id == v.visit_id))
        return _scoped(query, f).group_by(items.c.grade).order_by(items.c.grade)
    keys: dict[str, ColumnElement[Any]] = {
        "month": _month(dialect),
        "advisor": func.coalesce(v.advisor, literal("unknown")),
        "team": func.coalesce(v.team, literal("unknown")),
    }
    key = keys[f.by].label("key")
    query = select(key, func.count().label("work_orders"), *sums).select_from(
        VISITS.outerjoin(items, items.c.visit_id == v.visit_id)
    )
    return _scoped(query, f).group_by(keys[f.by]).order_by(keys[f.by])


def upsell_report(conn: Connection, f: UpsellFilter | None = None) -> list[dict[str, Any]]:
    """One dict per group: the grouping key (``month``, ``grade``, ``advisor`` or ``team``)
    and :data:`KEYS`. Raises ValueError for an unknown grouping."""
    f = f or UpsellFilter()
    if f.by not in UPSELL_GROUPS:
        raise ValueError(f"--by: unknown grouping {f.by!r}; known: {', '.join(UPSELL_GROUPS)}")
    rows = []
    for raw in conn.execute(upsell_query(conn.dialect.name, f)):
        m = raw._mapping
        work_orders, with_items = int(m["work_orders"]), int(m["with_items"])
        items, accepted = int(m["items"]), int(m["accepted"])
        rows.append({
            f.by: m["key"], "work_orders": work_orders, "work_orders_with_items": with_items,
            "upsell_rate": rate(with_items, work_orders), "items": items, "accepted": accepted,
            "upsell_success_rate": rate(accepted, items),
            "accepted_amount": round(float(m["amount"] or 0), 2),
        })  # fmt: skip
    return rows
