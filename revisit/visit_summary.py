"""The per-vehicle visit summary: what the cohorts ask of a vehicle's visit history.

One row per vehicle in ``vehicle_visit_summary``: the latest visit (or the purchase date,
for a vehicle never seen), the latest service visit with the mileage recorded that day, the
first and last mileage readings. The daily cohorts (maintenance_due, the lapsed ones) read
a million narrow rows instead of grouping every visit.

It is rebuilt with one grouped pass after each import that changed vehicles or visits
(:func:`refresh_visit_summary`; the importer marks it stale before it writes either), and
after a schema upgrade that finds none. Cohorts read it only while it is current
(:func:`summary_current_for`): built, the data still holding as many vehicles and visits
with the same latest visit — a cheap guard against rows written by other means — and the
as_of date on or after that visit. Otherwise they read the visits themselves: a replay of an
earlier date is slower, with the same answer.
"""

from __future__ import annotations

import datetime as dt
import weakref

from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import RootTransaction
from sqlmodel import SQLModel

from revisit.cohort_queries import SUMMARY, VEHICLES, VISITS, summary_rows
from revisit.store import Db, connection_of, dialect_of, utcnow

STATE = SQLModel.metadata.tables["summary_state"]
NAME = "vehicle_visit_summary"

Counts = tuple[int, int, dt.date | None]
# What _built_from found, per transaction: a planning pass asks before every cohort query,
# and on PostgreSQL the counts scan an index (about 0.1 s for 3M visits).
_FOUND: weakref.WeakKeyDictionary[RootTransaction, Counts | None] = weakref.WeakKeyDictionary()


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
    source = summary_rows(dialect_of(db))
    db.execute(insert(SUMMARY).from_select(list(source.selected_columns.keys()), source))
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
    """Whether cohorts as of ``as_of`` may read the summary: it was built from the visits
    as they are now, and no visit is dated after ``as_of``."""
    built = _built_from(db)
    return built is not None and (built[2] is None or built[2] <= as_of)


__all__ = [
    "SUMMARY",
    "forget_visit_summary",
    "refresh_visit_summary",
    "summary_current_for",
    "summary_stale",
]
