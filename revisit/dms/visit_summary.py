"""The per-vehicle visit summary: what the cohorts ask of a vehicle's visit history.

One row per vehicle in ``vehicle_visit_summary``: the latest visit (or the purchase date,
for a vehicle never seen), the latest service visit with the mileage recorded that day, the
first and last mileage readings. The daily cohorts (maintenance_due, the lapsed ones) read
a million narrow rows instead of grouping every visit.

It is rebuilt with one grouped pass after an import that changed many vehicles or visits
(:func:`refresh_visit_summary`), and after a schema upgrade that finds none; an import that
changed a few (a day's repair orders) rebuilds the rows of the vehicles it touched alone
(:func:`refresh_visit_summary_for`). The importer marks it stale before it writes either.

Cohorts read it only while it was built from the data as they are (:func:`summary_source`):
the data still holding as many vehicles and visits with the same latest visit — a cheap guard
against rows written by other means. For an as_of on or after that visit they read the table;
for a replay of an earlier day they read it patched (:func:`replay_rows`): the vehicles seen
after the as_of are grouped again from their visits up to it, every other row is as stored.
Without a summary built from the data as they are, cohorts read the visits themselves —
slower, with the same answer.
"""

from __future__ import annotations

import datetime as dt
import weakref
from typing import Any

from sqlalchemy import case, delete, exists, func, insert, or_, select, union_all
from sqlalchemy.engine import RootTransaction
from sqlalchemy.sql import ColumnElement, FromClause, Select, Subquery

from revisit.dates import sql_dated_key, sql_epoch_days, sql_key_date, sql_key_days, sql_key_value
from revisit.db.engine import Db, connection_of, dialect_of
from revisit.db.tables import SUMMARY, SUMMARY_STATE, VEHICLES, VISITS, utcnow

STATE = SUMMARY_STATE
SERVICE_TYPES = ("first_service", "maintenance")
NAME = "vehicle_visit_summary"

Counts = tuple[int, int, dt.date | None]
# What _built_from found, per transaction: a planning pass asks before every cohort query,
# and on PostgreSQL the counts scan an index (about 0.1 s for 3M visits).
_FOUND: weakref.WeakKeyDictionary[RootTransaction, Counts | None] = weakref.WeakKeyDictionary()


# --- the summary SQL (also the cohorts' grouped pass when the summary cannot be read) -------


def visit_aggregates(as_of: dt.date | None, dialect: str) -> Select[Any]:
    """One grouped pass over the visits (up to ``as_of``) computing, per vehicle, every
    column of the visit summary except the decoded mileages: those ride in dated keys, so
    min/max pick a date and the mileage recorded with it in the same pass."""
    v = VISITS.c
    service = v.type.in_(SERVICE_TYPES)
    has_km = v.mileage_km.is_not(None)
    key = sql_dated_key(v.date, v.mileage_km, dialect)
    query = select(
        v.vin,
        func.max(v.date).label("last_visit_date"),
        func.max(case((service, v.date))).label("last_service_date"),
        func.max(case((service & has_km, key))).label("l_key"),
        func.min(case((has_km, key))).label("first_key"),
        func.max(case((has_km, key))).label("last_key"),
    )
    if as_of is not None:
        query = query.where(v.date <= as_of)
    return query.group_by(v.vin)


def decoded_aggregates(grouped: Select[Any], dialect: str) -> Select[Any]:
    """The rows of :func:`visit_aggregates` with their keys decoded: the shape of
    ``vehicle_visit_summary``. The service mileage counts only when it was recorded on the
    day of the latest service visit."""
    g = grouped.subquery("g")
    on_service_day = sql_key_days(g.c.l_key, dialect) == sql_epoch_days(
        g.c.last_service_date, dialect
    )
    return select(
        g.c.vin,
        g.c.last_visit_date,
        g.c.last_service_date,
        case((on_service_day, sql_key_value(g.c.l_key, dialect))).label("last_service_km"),
        sql_key_date(g.c.first_key, dialect).label("first_km_date"),
        sql_key_value(g.c.first_key, dialect).label("first_km"),
        sql_key_date(g.c.last_key, dialect).label("last_km_date"),
        sql_key_value(g.c.last_key, dialect).label("last_km"),
    )


def summary_rows(
    dialect: str, *, only: Select[Any] | None = None, as_of: dt.date | None = None
) -> Select[Any]:
    """Every vehicle (or those whose vin ``only`` selects) with its decoded visit aggregates
    (of the visits up to ``as_of``, when given): the rows of the visit summary."""
    grouped = visit_aggregates(as_of, dialect)
    if only is not None:
        grouped = grouped.where(VISITS.c.vin.in_(only))
    g = decoded_aggregates(grouped, dialect).subquery("a")
    query = select(
        VEHICLES.c.vin,
        func.coalesce(g.c.last_visit_date, VEHICLES.c.purchase_date).label("recency_date"),
        *(column for column in g.c if column.key != "vin"),
    ).select_from(VEHICLES.outerjoin(g, g.c.vin == VEHICLES.c.vin))
    return query if only is None else query.where(VEHICLES.c.vin.in_(only))


def replay_rows(as_of: dt.date, dialect: str, *, seen_since: dt.date | None = None) -> Subquery:
    """The summary as a rebuild from the visits up to ``as_of`` would hold it, read from the
    stored one: the vehicles whose latest visit is after ``as_of`` are grouped again from
    their visits up to it, every other vehicle's row is as stored (none of its visits is
    later). Same columns as ``vehicle_visit_summary``; valid while the summary is built
    from the data as they are. A replay a few months back regroups the vehicles seen in
    those months alone.

    ``seen_since``: for a cohort that needs a visit on or after that day, the vehicles seen
    after ``as_of`` without a visit from ``seen_since`` to ``as_of`` are left out rather
    than regrouped (an index look-up each instead of reading their visits)."""
    s, v = SUMMARY.c, VISITS.c
    kept = select(*SUMMARY.c).where(_not_later(as_of))
    later = select(s.vin).where(s.last_visit_date > as_of)
    if seen_since is not None:
        later = later.where(exists().where(v.vin == s.vin, v.date.between(seen_since, as_of)))
    return union_all(kept, summary_rows(dialect, only=later, as_of=as_of)).subquery("summary")


def replay_recency(as_of: dt.date) -> Subquery:
    """:func:`replay_rows` narrowed to ``vin``, ``recency_date`` and ``last_visit_date``
    (what the lapsed cohorts ask): a vehicle seen after ``as_of`` costs one index look-up
    of its latest visit up to it, not a regrouping of its visits."""
    s, v = SUMMARY.c, VISITS.c
    kept = select(s.vin, s.recency_date, s.last_visit_date).where(_not_later(as_of))
    last = (
        select(func.max(v.date))
        .where(v.vin == s.vin, v.date <= as_of)
        .scalar_subquery()
        .label("last_visit_date")
    )
    seen = select(s.vin, last).where(s.last_visit_date > as_of).subquery("seen")
    recency = func.coalesce(seen.c.last_visit_date, VEHICLES.c.purchase_date)
    redone = select(seen.c.vin, recency.label("recency_date"), seen.c.last_visit_date)
    redone = redone.select_from(seen.join(VEHICLES, VEHICLES.c.vin == seen.c.vin))
    return union_all(kept, redone).subquery("summary")


def _not_later(as_of: dt.date) -> ColumnElement[bool]:
    """Summary rows with no visit after ``as_of``: as a rebuild up to ``as_of`` holds them."""
    return or_(SUMMARY.c.last_visit_date.is_(None), SUMMARY.c.last_visit_date <= as_of)


def _data_now(db: Db) -> Counts:
    """(vehicles, visits, latest visit), asked apart: together SQLite would scan visits,
    apart it answers each from a B-tree's size or end."""
    vehicles = db.execute(select(func.count()).select_from(VEHICLES)).scalar_one()
    visits = db.execute(select(func.count()).select_from(VISITS)).scalar_one()
    latest = db.execute(select(func.max(VISITS.c.date))).scalar_one()
    return int(vehicles), int(visits), latest


def _transaction(db: Db) -> RootTransaction | None:
    return connection_of(db).get_transaction()


def forget_visit_summary(db: Db) -> None:
    """Mark the summary stale (before visits change); the caller commits."""
    db.execute(delete(STATE).where(STATE.c.name == NAME))
    _forget_found(db)


def _forget_found(db: Db) -> None:
    tx = _transaction(db)
    if tx is not None:
        _FOUND.pop(tx, None)


def refresh_visit_summary(db: Db) -> int:
    """Rebuild the summary from every vehicle and visit, in the caller's transaction;
    returns the number of vehicles it holds."""
    forget_visit_summary(db)
    db.execute(delete(SUMMARY))
    dialect = dialect_of(db)
    source = summary_rows(dialect)
    if dialect == "sqlite":
        # In key order: SQLite's summary is clustered by vin, and appending rows in order
        # beats inserting them where the vehicles' scan order (purchase dates) puts them
        # (half the time at a million vehicles).
        source = source.order_by(VEHICLES.c.vin)
    db.execute(insert(SUMMARY).from_select(list(source.selected_columns.keys()), source))
    return _built(db)


def refresh_visit_summary_for(db: Db, vins: Select[Any]) -> int:
    """Rebuild the summary rows of the vehicles whose vin ``vins`` selects (a one-column
    SELECT; a vin no longer in ``vehicles`` loses its row), in the caller's transaction.

    Only valid when every other row is still right: the summary was current before the
    visits and vehicles of these vins alone changed (an import's touched vehicles). Returns
    the number of vehicles the summary holds. The time grows with these vehicles' visits,
    not with the whole history."""
    forget_visit_summary(db)
    db.execute(delete(SUMMARY).where(SUMMARY.c.vin.in_(vins)))
    source = summary_rows(dialect_of(db), only=vins)
    db.execute(insert(SUMMARY).from_select(list(source.selected_columns.keys()), source))
    return _built(db)


def _built(db: Db) -> int:
    """Record what the summary was built from (the data as they are now)."""
    vehicles, visits, latest = _data_now(db)
    db.execute(
        insert(STATE).values(
            name=NAME, vehicles=vehicles, visits=visits, latest_visit=latest, built_at=utcnow()
        )
    )
    _forget_found(db)
    return vehicles


def _built_from(db: Db) -> Counts | None:
    """What the summary was built from, if the data still look the same; asked once per
    transaction (rows written by other means are caught at the next one)."""
    tx = _transaction(db)
    if tx is not None and tx in _FOUND:
        return _FOUND[tx]
    found = _check(db)
    tx = _transaction(db)  # the check began one if there was none
    if tx is not None:
        _FOUND[tx] = found
    return found


def _check(db: Db) -> Counts | None:
    state = db.execute(
        select(STATE.c.vehicles, STATE.c.visits, STATE.c.latest_visit).where(STATE.c.name == NAME)
    ).first()
    if state is None:
        return None
    now = _data_now(db)
    return now if now == tuple(state) else None


def summary_stale(db: Db) -> bool:
    """True when the summary was never built, or the visits changed since."""
    return _built_from(db) is None


def summary_current_for(db: Db, as_of: dt.date) -> bool:
    """Whether cohorts as of ``as_of`` may read the summary table as it is: it was built
    from the visits as they are now, and no visit is dated after ``as_of``."""
    built = _built_from(db)
    return built is not None and (built[2] is None or built[2] <= as_of)


def summary_source(db: Db, as_of: dt.date, *, recency_only: bool = False) -> FromClause | None:
    """What cohorts as of ``as_of`` read as the visit summary (the columns of
    ``vehicle_visit_summary``; with ``recency_only``, at least ``vin``, ``recency_date`` and
    ``last_visit_date``): the table when it is current for ``as_of``, the table patched by
    :func:`replay_rows` (:func:`replay_recency`) for a replay of a day before the latest
    visit, None when the summary was not built from the data as they are (read the
    visits)."""
    built = _built_from(db)
    if built is None:
        return None
    if built[2] is None or built[2] <= as_of:
        return SUMMARY
    return replay_recency(as_of) if recency_only else replay_rows(as_of, dialect_of(db))


__all__ = [
    "SUMMARY",
    "forget_visit_summary",
    "refresh_visit_summary",
    "refresh_visit_summary_for",
    "replay_recency",
    "replay_rows",
    "summary_current_for",
    "summary_source",
    "summary_stale",
]
