"""The cohort definitions: one set-based query per cohort, with its SPEC defaults.

A builder takes ``(as_of, params, source)`` and returns a SELECT whose ``vin`` (or, for a
customer-level cohort, ``member_id``) names the member, plus the cohort's own fields
(``due_date``, ``due_by``, ``visit_id``, …) or raw values a finisher turns into them. A
cohort with a due date says why it is due then (``due_by``, a :class:`DueBasis`). Boundary
dates are computed here in Python and bound as parameters; :mod:`revisit.cohorts.select`
joins the result to vehicles, customers and the do-not-contact list.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Date,
    Integer,
    String,
    and_,
    case,
    exists,
    false,
    func,
    literal,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.sql import ColumnElement, Select
from sqlalchemy.sql.expression import UnaryExpression
from sqlalchemy.sql.operators import custom_op

from revisit.cohorts.source import QuerySource
from revisit.cohorts.touchpoints import (
    active_customers,
    finish_new_car_7dc,
    finish_new_car_care,
    finish_repeat_repair,
    new_car,
    repeat_repair,
)
from revisit.dates import (
    add_days,
    add_months,
    birthday_keys,
    epoch_days,
    sql_epoch_days,
)
from revisit.db.tables import CUSTOMERS, POLICIES, UPSELL, VEHICLES, VISITS
from revisit.dms.visit_summary import (
    SERVICE_TYPES,
    decoded_aggregates,
    replay_rows,
    visit_aggregates,
)


class DueBasis(StrEnum):
    """Why a member is due when it is: the rule its cohort took the due date from."""

    PURCHASE = "purchase"  # first service: 90 days after purchase
    MILEAGE = "mileage"  # maintenance: 10,000 km after the last service, at the car's own pace
    INTERVAL = "interval"  # maintenance: 180 days after the last service
    POLICY_EXPIRY = "policy_expiry"  # insurance: the policy's expiry date
    ITEM_DUE_DATE = "item_due_date"  # a declined item: the due date the advisor gave it
    ITEM_DEFAULT = "item_default"  # a grade B item without one: 90 days after its visit


def _basis(basis: DueBasis) -> ColumnElement[str]:
    """``basis`` as a SQL value (typed, so PostgreSQL knows it in a subquery's columns)."""
    return literal(basis.value, String)


def _due_by(basis: DueBasis) -> ColumnElement[str]:
    return _basis(basis).label("due_by")


Builder = Callable[[dt.date, Mapping[str, Any], "QuerySource"], Select[Any]]
# (member, the query's extra columns by name, params): fills the member's own fields
Finisher = Callable[[Any, Mapping[str, Any], Mapping[str, Any]], None]


@dataclass(frozen=True)
class CohortDef:
    name: str
    description: str
    defaults: Mapping[str, Any]
    build: Builder
    finish: Finisher | None = None
    customer_level: bool = False
    pick: str | None = None  # for several rows per vehicle: "min:<field>" or "max:<field>"
    wide_grouping: bool = False  # a hash of full visit rows per vehicle: needs work memory
    reads_summary: bool = False  # reads the visit summary when one can be read


# --- the cohort queries --------------------------------------------------------------------


def unindexed(column: Any, dialect: str) -> ColumnElement[Any]:
    """``column`` as SQLite's planner will not look it up by index (a unary plus): for a
    condition most rows meet, a scan beats walking an index into random row reads. SQLite
    has no statistics to tell unless ANALYZE ran; PostgreSQL has them."""
    if dialect != "sqlite":
        return column
    return UnaryExpression(column, operator=custom_op("+"), type_=column.type)


def _no_visit_until(as_of: dt.date) -> ColumnElement[bool]:
    return ~exists().where(VISITS.c.vin == VEHICLES.c.vin, VISITS.c.date <= as_of)


def _first_service_bounds(as_of: dt.date, p: Mapping[str, Any]) -> tuple[dt.date, dt.date]:
    """Purchase dates whose first-service window [due − before, due + after] holds as_of."""
    lo = add_days(as_of, -(p["due_days"] + p["after_days"]))
    hi = add_days(as_of, -(p["due_days"] - p["before_days"]))
    return lo, hi


def _first_service_due(as_of: dt.date, p: Mapping[str, Any], _src: QuerySource) -> Select[Any]:
    lo, hi = _first_service_bounds(as_of, p)
    base = VEHICLES.c.purchase_date.label("base")
    return select(VEHICLES.c.vin, base, _due_by(DueBasis.PURCHASE)).where(
        VEHICLES.c.purchase_date.between(lo, hi), _no_visit_until(as_of)
    )


def _finish_first_service(m: Any, extra: Mapping[str, Any], p: Mapping[str, Any]) -> None:
    m.due_date = add_days(extra["base"], p["due_days"])


def _maintenance_due(as_of: dt.date, p: Mapping[str, Any], src: QuerySource) -> Select[Any]:
    """L = the latest service visit, due at L + the offset, and no visit of any type after
    L: from the visit summary when one can be read, else one grouped pass over the visits."""
    lowest_l = add_days(as_of, -(p["after_days"] + p["interval_days"]))
    s: Any
    if src.summary is not None:
        s = src.summary.c
        if src.replay_of is not None:  # only vehicles seen since the earliest L that is due
            s = replay_rows(src.replay_of, src.dialect, seen_since=lowest_l).c
        candidates = [s.last_service_date >= lowest_l, s.last_visit_date == s.last_service_date]
    else:
        v = VISITS.c
        last_any = func.max(v.date)
        last_service = func.max(case((v.type.in_(SERVICE_TYPES), v.date)))
        g = visit_aggregates(as_of, src.dialect).having(last_any == last_service)
        if src.dialect == "sqlite":
            # Read full rows only for vehicles seen since the earliest L that can be due,
            # found on the (vin, date) index alone: SQLite fetches rows in index order.
            recent = select(v.vin).where(v.date <= as_of).group_by(v.vin)
            g = g.where(v.vin.in_(recent.having(last_any >= lowest_l)))
        else:
            g = g.having(last_any >= lowest_l)
        s = decoded_aggregates(g, src.dialect).subquery("s").c
        candidates = []
    offset, basis = _maintenance_offset(s, p, src.dialect)
    last = s.last_service_date.label("last_visit_date")
    inner = select(s.vin, last, offset.label("offset"), basis.label("due_by"))
    m = inner.where(*candidates).subquery("due")
    due = sql_epoch_days(m.c.last_visit_date, src.dialect) + m.c.offset
    lo = epoch_days(add_days(as_of, -p["after_days"]))
    hi = epoch_days(add_days(as_of, p["before_days"]))
    return select(m.c.vin, m.c.last_visit_date, m.c.offset, m.c.due_by).where(due.between(lo, hi))


def _maintenance_offset(
    s: Any, p: Mapping[str, Any], dialect: str
) -> tuple[ColumnElement[int], ColumnElement[str]]:
    """Days from L to due, and why: 180 (``interval``), or floor(10,000 km / k) when the
    mileage estimate applies and comes first (``mileage``: L has a mileage; first and last
    readings ≥ 30 days apart with rising mileage)."""
    span = sql_epoch_days(s.last_km_date, dialect) - sql_epoch_days(s.first_km_date, dialect)
    driven = s.last_km - s.first_km
    by_km = (p["interval_km"] * span).op("/", return_type=Integer)(func.nullif(driven, 0))
    usable = and_(s.last_service_km.is_not(None), span >= p["min_span_days"], driven > 0)
    by_mileage = and_(usable, by_km < p["interval_days"])
    offset = case((by_mileage, by_km), else_=p["interval_days"])
    basis = case((by_mileage, _basis(DueBasis.MILEAGE)), else_=_basis(DueBasis.INTERVAL))
    return offset, basis


def _finish_maintenance(m: Any, extra: Mapping[str, Any], _p: Mapping[str, Any]) -> None:
    m.due_date = add_days(m.last_visit_date, int(extra["offset"]))


def _insurance_renewal(as_of: dt.date, p: Mapping[str, Any], _src: QuerySource) -> Select[Any]:
    c = POLICIES.c
    due = (c.expiry_date.label("due_date"), _due_by(DueBasis.POLICY_EXPIRY))
    return select(c.vin, c.policy_id, c.expiry_date, *due).where(
        c.renewed == false(), c.expiry_date.between(as_of, add_days(as_of, p["horizon_days"]))
    )


def _lapsed(as_of: dt.date, p: Mapping[str, Any], src: QuerySource) -> Select[Any]:
    """R = latest visit up to as_of, or the purchase date when there is none."""
    hi = add_months(as_of, -p["min_months"])
    lo = add_months(as_of, -p["max_months"]) if p.get("max_months") else None
    fs_lo, fs_hi = _first_service_bounds(as_of, COHORTS["first_service_due"].defaults)
    if src.recency is not None:  # R is the summary's recency date
        s = src.recency.c
        query = select(s.vin, s.last_visit_date).where(s.recency_date <= hi)
        if lo is not None:
            query = query.where(s.recency_date > lo)
        if p.get("exclude_first_service_due"):
            due = s.last_visit_date.is_(None) & s.recency_date.between(fs_lo, fs_hi)
            query = query.where(~due)
        return query
    # vehicles seen in the window, plus vehicles never seen and bought in it
    last = func.max(VISITS.c.date)
    seen = select(VISITS.c.vin, last.label("last_visit_date")).where(VISITS.c.date <= as_of)
    seen = seen.group_by(VISITS.c.vin).having(last <= hi)
    purchase = VEHICLES.c.purchase_date
    # Most of the fleet matches: scan vehicles rather than walk the purchase-date index into
    # random row reads (SQLite has no statistics to tell unless ANALYZE ran).
    unseen = select(VEHICLES.c.vin, sql_cast(null(), Date)).where(
        unindexed(purchase, src.dialect) <= hi, _no_visit_until(as_of)
    )
    if lo is not None:
        seen = seen.having(last > lo)
        unseen = unseen.where(purchase > lo)
    if p.get("exclude_first_service_due"):
        unseen = unseen.where(~purchase.between(fs_lo, fs_hi))
    u = union_all(seen, unseen).subquery()
    return select(u.c.vin, u.c.last_visit_date)


def _declined(grade: str) -> Builder:
    def build(as_of: dt.date, p: Mapping[str, Any], _src: QuerySource) -> Select[Any]:
        u, vi = UPSELL.c, VISITS.c
        later = VISITS.alias("later")
        no_later = ~exists().where(
            later.c.vin == u.vin, later.c.date > vi.date, later.c.date <= as_of
        )
        window: ColumnElement[bool]
        if grade == "A":
            window = vi.date.between(add_days(as_of, -p["from_days"]), add_days(as_of, -1))
        elif grade == "B":
            end = add_days(as_of, p["horizon_days"])
            window = or_(
                u.due_date.between(as_of, end),
                u.due_date.is_(None)
                & vi.date.between(
                    add_days(as_of, -p["default_due_days"]), add_days(end, -p["default_due_days"])
                ),
            )
        else:
            window = vi.date > add_months(as_of, -p["months"])
        # grade B items without a due date of their own are due 90 days after their visit
        default = _basis(DueBasis.ITEM_DEFAULT) if grade == "B" else null()
        basis = case((u.due_date.is_not(None), _basis(DueBasis.ITEM_DUE_DATE)), else_=default)
        visit_date = vi.date.label("visit_date")
        return (
            select(u.vin, u.item_id, vi.visit_id, visit_date, u.due_date, basis.label("due_by"))
            .select_from(UPSELL.join(VISITS, vi.visit_id == u.visit_id))
            .where(u.status == "declined", u.grade == grade, vi.date <= as_of, window, no_later)
        )

    return build


def _finish_declined(m: Any, extra: Mapping[str, Any], p: Mapping[str, Any]) -> None:
    """The item's id; for grade B, a due date of visit + 90 days when the item has none."""
    m.item_ids = (extra["item_id"],)
    if "default_due_days" in p and m.due_date is None:
        m.due_date = add_days(m.visit_date, p["default_due_days"])


def _post_service_followup(as_of: dt.date, p: Mapping[str, Any], _src: QuerySource) -> Select[Any]:
    v = VISITS.c
    start, end = add_days(as_of, -p["from_days"]), add_days(as_of, -1)
    return select(v.vin, v.visit_id, v.date.label("visit_date")).where(v.date.between(start, end))


def _birthday(as_of: dt.date, _p: Mapping[str, Any], _src: QuerySource) -> Select[Any]:
    c = CUSTOMERS.c
    return select(c.customer_id.label("member_id")).where(c.birthday_md.in_(birthday_keys(as_of)))


_declined_doc = "declined grade {} upsell item with no later visit"
COHORTS: dict[str, CohortDef] = {
    d.name: d
    for d in (
        CohortDef(
            "first_service_due",
            "no visit yet; first service due 90 days after purchase",
            {"due_days": 90, "before_days": 14, "after_days": 30},
            _first_service_due,
            _finish_first_service,
        ),
        CohortDef(
            "maintenance_due",
            "maintenance due by date (180 d) or estimated mileage (10,000 km)",
            {"interval_days": 180, "interval_km": 10000, "min_span_days": 30}
            | {"before_days": 14, "after_days": 30},
            _maintenance_due,
            _finish_maintenance,
            wide_grouping=True,
            reads_summary=True,
        ),
        CohortDef(
            "insurance_renewal",
            "unrenewed policy expiring within 60 days",
            {"horizon_days": 60},
            _insurance_renewal,
            pick="min:expiry_date",
        ),
        CohortDef(
            "lapsed_6_12",
            "last seen 6–12 months ago",
            {"min_months": 6, "max_months": 12, "exclude_first_service_due": True},
            _lapsed,
            reads_summary=True,
        ),
        CohortDef(
            "lapsed_12_24",
            "last seen 12–24 months ago",
            {"min_months": 12, "max_months": 24},
            _lapsed,
            reads_summary=True,
        ),
        CohortDef(
            "lapsed_24_plus",
            "last seen 24+ months ago",
            {"min_months": 24},
            _lapsed,
            reads_summary=True,
        ),
        CohortDef(
            "declined_a",
            _declined_doc.format("A") + ", 1–3 days ago",
            {"from_days": 3},
            _declined("A"),
            _finish_declined,
            pick="max:visit_date",
        ),
        CohortDef(
            "declined_b",
            _declined_doc.format("B") + ", due within 14 days",
            {"horizon_days": 14, "default_due_days": 90},
            _declined("B"),
            _finish_declined,
            pick="min:due_date",
        ),
        CohortDef(
            "declined_c",
            _declined_doc.format("C") + " in the last 12 months",
            {"months": 12},
            _declined("C"),
            _finish_declined,
            pick="max:visit_date",
        ),
        CohortDef(
            "post_service_followup",
            "visited 1–3 days ago: satisfaction call",
            {"from_days": 3},
            _post_service_followup,
            pick="max:visit_date",
        ),
        CohortDef("birthday", "customer's birthday today", {}, _birthday, customer_level=True),
        CohortDef(
            "new_car_7dc",
            "delivered 7–9 days ago: sales satisfaction call (7DC)",
            {"from_days": 7, "to_days": 9},
            new_car,
            finish_new_car_7dc,
        ),
        CohortDef(
            "new_car_care",
            "delivered 3–4 weeks ago, no first service yet: how is the car",
            {"from_days": 21, "to_days": 28, "first_service_days": 90, "first_service_km": 5000},
            new_car,
            finish_new_car_care,
        ),
        CohortDef(
            "active_customers",
            "an active vehicle bought or visited in the last 24 months",
            {"months": 24},
            active_customers,
            customer_level=True,
            reads_summary=True,
        ),
        CohortDef(
            "repeat_repair",
            "a repair or warranty visit yesterday within 30 days of another: a comeback",
            {"within_days": 30, "from_days": 1},
            repeat_repair,
            finish_repeat_repair,
            pick="max:visit_date",
        ),
    )
}
