"""The customer-care touchpoints beyond reminders (the seeds' customer-service job): the new
car's first weeks, the customers greetings and seasonal offers go to, and repeat repairs.

Builders as in :mod:`revisit.cohorts.definitions` (one set-based SELECT each, boundary
dates bound as parameters) and the finishers that fill a member's own fields:

- ``new_car_7dc``: delivered ``from_days``–``to_days`` (7–9) days ago. The sales
  satisfaction call a week after delivery (7DC), made by customer service rather than the
  salesperson so that the answers are honest. ``due_date`` = purchase + ``from_days``.
- ``new_car_care``: delivered ``from_days``–``to_days`` (21–28) days ago and no first
  service or maintenance visit yet: how is the car, where and when the workshop is open,
  what to bring, and the first service's date (``due_date`` = purchase +
  ``first_service_days``, 90 as in first_service_due) and mileage (``due_km``,
  ``first_service_km``, 5,000 km; brands differ, so it is a parameter).
- ``active_customers`` (customer-level): the customer has an active vehicle bought or
  visited (any visit type) after as_of − ``months`` (24) calendar months — every customer
  with an active vehicle that is not in lapsed_24_plus. For greetings and seasonal offers.
- ``repeat_repair``: a repair or warranty visit V dated in [as_of − ``from_days``,
  as_of − 1] with another repair or warranty visit of the same vehicle in
  [V − ``within_days``, V] (30 days; a second repair order on the same day counts). With
  the default ``from_days`` = 1 a daily run raises each comeback once, the day after it;
  a missed day is replayed with ``--as-of``. The member's ``visit_id``/``visit_date`` are
  V's, ``visit_ids`` every repair or warranty visit of the case. A third repair within the
  window is a new case (the manager hears of it too).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from sqlalchemy import exists, or_, select
from sqlalchemy.sql import Select

from revisit.cohorts.source import QuerySource
from revisit.dates import add_days, add_months, sql_epoch_days
from revisit.db.tables import VEHICLES, VISITS
from revisit.dms.visit_summary import SERVICE_TYPES

REPAIR_TYPES = ("repair", "warranty")
ACTIVE = "active"


def new_car(as_of: dt.date, p: Mapping[str, Any], _src: QuerySource) -> Select[Any]:
    """Vehicles delivered ``from_days``–``to_days`` days before as_of (both ends included);
    for new_car_care (a ``first_service_days`` parameter) only those with no first service
    or maintenance visit up to as_of."""
    lo, hi = add_days(as_of, -p["to_days"]), add_days(as_of, -p["from_days"])
    query = select(VEHICLES.c.vin, VEHICLES.c.purchase_date.label("base")).where(
        VEHICLES.c.purchase_date.between(lo, hi)
    )
    if "first_service_days" in p:
        v = VISITS.c
        serviced = exists().where(
            v.vin == VEHICLES.c.vin, v.type.in_(SERVICE_TYPES), v.date <= as_of
        )
        query = query.where(~serviced)
    return query


def finish_new_car_7dc(m: Any, extra: Mapping[str, Any], p: Mapping[str, Any]) -> None:
    """The call is due a week (``from_days``) after delivery."""
    m.due_date = add_days(extra["base"], p["from_days"])


def finish_new_car_care(m: Any, extra: Mapping[str, Any], p: Mapping[str, Any]) -> None:
    """The first service's date and mileage, for the text to name them."""
    m.due_date = add_days(extra["base"], p["first_service_days"])
    m.due_km = int(p["first_service_km"])


def active_customers(as_of: dt.date, p: Mapping[str, Any], src: QuerySource) -> Select[Any]:
    """Customers (``member_id``) with an active vehicle, bought by as_of, whose latest visit
    (or purchase when it has none) is after as_of − ``months``."""
    lo = add_months(as_of, -p["months"])
    vc = VEHICLES.c
    owned = [vc.status == ACTIVE, vc.purchase_date <= as_of]
    if src.recency is not None:  # the summary's recency: latest visit, else the purchase date
        s = src.recency
        query = select(vc.customer_id.label("member_id")).select_from(
            VEHICLES.join(s, s.c.vin == vc.vin)
        )
        return query.where(*owned, s.c.recency_date > lo).distinct()
    v = VISITS.c
    visited = exists().where(v.vin == vc.vin, v.date > lo, v.date <= as_of)
    query = select(vc.customer_id.label("member_id")).where(
        *owned, or_(vc.purchase_date > lo, visited)
    )
    return query.distinct()


def repeat_repair(as_of: dt.date, p: Mapping[str, Any], src: QuerySource) -> Select[Any]:
    """One row per (V, earlier repair) pair; see the module doc. V's window is bound on
    both visits' dates so the (date) index narrows the join before the day arithmetic."""
    second, first = VISITS.alias("second"), VISITS.alias("first")
    start, end = add_days(as_of, -p["from_days"]), add_days(as_of, -1)
    gap = sql_epoch_days(second.c.date, src.dialect) - sql_epoch_days(first.c.date, src.dialect)
    pair = (
        (first.c.vin == second.c.vin)
        & (first.c.visit_id != second.c.visit_id)
        & first.c.type.in_(REPAIR_TYPES)
        & first.c.date.between(add_days(start, -p["within_days"]), end)
        & (first.c.date <= second.c.date)
        & (gap <= p["within_days"])
    )
    return (
        select(
            second.c.vin,
            second.c.visit_id,
            second.c.date.label("visit_date"),
            first.c.visit_id.label("repeat_of"),
        )
        .select_from(second.join(first, pair))
        .where(second.c.type.in_(REPAIR_TYPES), second.c.date.between(start, end))
    )


def finish_repeat_repair(m: Any, extra: Mapping[str, Any], _p: Mapping[str, Any]) -> None:
    """The visits of the case: V and the earlier repair (merged per vehicle later)."""
    m.visit_ids = tuple(sorted({m.visit_id, extra["repeat_of"]}))
