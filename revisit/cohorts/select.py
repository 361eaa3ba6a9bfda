"""Cohorts: which vehicles (or, for birthdays, customers) are due for a contact as of a date.

Each cohort is one set-based query that runs unchanged on SQLite and PostgreSQL. Window
bounds are computed in Python (calendar months with end-of-month clamping, see
:mod:`revisit.dates`) and bound as parameters; anything dated after ``as_of`` — visits,
purchases, upsell items of later visits — does not exist for the query.

``select_cohort`` returns members after the always-exclusions (vehicle sold or scrapped,
customer on the do-not-contact list) unless asked not to; channel exclusions belong to a
campaign run (:mod:`revisit.campaigns.rules`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import exists, func, null, select, text
from sqlalchemy.sql import ColumnElement, Select

from revisit.cohorts.definitions import COHORTS, CohortDef, unindexed
from revisit.cohorts.source import QuerySource
from revisit.dates import age_band_bounds
from revisit.db.engine import Db, connection_of, dialect_of
from revisit.db.tables import CUSTOMERS, OPT_OUTS, VEHICLES
from revisit.dms.visit_summary import SUMMARY, summary_source
from revisit.errors import RevisitError

GONE_STATUSES = ("sold", "scrapped")
# A cohort's grouped pass hashes one entry per vehicle; PostgreSQL's default work_mem (4MB)
# would make it sort on disk or walk the (vin, date) index into random heap reads instead.
PG_WORK_MEM = "256MB"


class UnknownCohortError(RevisitError):
    """A cohort name that is not one of :data:`COHORTS`."""


@dataclass(frozen=True, slots=True)
class CohortFilter:
    """A declarative narrowing of a cohort: every given criterion must hold."""

    stores: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    min_car_age_years: int | None = None
    max_car_age_years: int | None = None


@dataclass(slots=True)  # not frozen: building 100,000s of them must stay cheap
class CohortMember:
    """One member: a vehicle of a customer (``vin`` is None for customer-level cohorts).

    ``due_date`` is when the vehicle falls due (service, renewal, follow-up), the visit and
    policy fields name what the cohort found, and the remaining fields are what the
    exclusions read (vehicle status, opt-out, phone in E.164 and its kind, consent)."""

    cohort: str
    customer_id: str
    vin: str | None
    store_id: str
    due_date: dt.date | None = None
    due_by: str | None = None  # why it is due then: a DueBasis
    last_visit_date: dt.date | None = None
    visit_id: str | None = None
    visit_date: dt.date | None = None
    policy_id: str | None = None
    expiry_date: dt.date | None = None
    due_km: int | None = None  # new_car_care: the first service's mileage
    # what the always- and channel exclusions look at
    vehicle_status: str | None = None
    opted_out: bool = False
    phone: str | None = None
    phone_type: str | None = None
    phone_invalid: bool = False
    consent_sms: bool = True
    language: str = "zh"
    # last: the query gives every field before these, in order; finishers and merges fill them
    item_ids: tuple[str, ...] = ()
    visit_ids: tuple[str, ...] = ()  # repeat_repair: the visits of the case

    def public(self) -> dict[str, Any]:
        """The fields ``revisit cohort`` prints: ids plus the cohort's own details."""
        out: dict[str, Any] = {"customer_id": self.customer_id, "vin": self.vin}
        out["store_id"] = self.store_id
        return out | dict(self._own_fields())

    def details(self) -> dict[str, Any]:
        """What a contact keeps of this member (``contacts.details``, one entry per member):
        the vehicle and the cohort's own fields that are set, JSON-ready — e.g.
        ``{"vin": "LSV…", "due_date": "2026-11-20", "due_by": "mileage",
        "last_visit_date": "2026-07-24"}``; dates as ISO strings, item ids as a list."""
        out: dict[str, Any] = {"vin": self.vin} if self.vin else {}
        for name, value in self._own_fields():
            out[name] = value.isoformat() if isinstance(value, dt.date) else value
        return out

    def _own_fields(self) -> Iterator[tuple[str, Any]]:
        for name in DETAIL_FIELDS:
            value = getattr(self, name)
            if value not in (None, ()):
                yield name, list(value) if isinstance(value, tuple) else value


#: The cohort's own fields of a member (what a contact and a render context keep of it).
DETAIL_FIELDS = (
    "due_date",
    "due_by",
    "last_visit_date",
    "visit_id",
    "visit_date",
    "policy_id",
    "expiry_date",
    "due_km",
    "item_ids",
    "visit_ids",
)
_ROW_FIELDS = tuple(f.name for f in fields(CohortMember))[1:-2]  # what SQL returns
_N = len(_ROW_FIELDS)

# --- running a cohort ----------------------------------------------------------------------


@contextmanager
def grouping_memory(db: Db, cohort: str) -> Iterator[None]:
    """For a cohort with a wide grouped pass, on PostgreSQL, raise work_mem for the current
    transaction while its query runs, then put the previous value back; else nothing."""
    if not COHORTS[cohort].wide_grouping or dialect_of(db) != "postgresql":
        yield
        return
    setting = text("SELECT set_config('work_mem', :value, true)")
    previous = db.execute(text("SELECT current_setting('work_mem')")).scalar_one()
    db.execute(setting, {"value": PG_WORK_MEM})
    try:
        yield
    finally:
        db.execute(setting, {"value": previous})


def _definition(cohort: str, params: Mapping[str, Any] | None) -> tuple[CohortDef, dict[str, Any]]:
    defn = COHORTS.get(cohort)
    if defn is None:
        raise UnknownCohortError(f"unknown cohort {cohort!r}; known: {', '.join(COHORTS)}")
    merged = dict(defn.defaults)
    merged.update(params or {})
    return defn, merged


def _vehicle_conditions(f: CohortFilter, as_of: dt.date, dialect: str) -> list[ColumnElement[bool]]:
    conds: list[ColumnElement[bool]] = []
    purchase = unindexed(VEHICLES.c.purchase_date, dialect)
    if f.models:
        conds.append(VEHICLES.c.model.in_(f.models))
    after, on_or_before = age_band_bounds(
        as_of, min_years=f.min_car_age_years, max_years=f.max_car_age_years
    )
    if after is not None:
        conds.append(purchase > after)
    if on_or_before is not None:
        conds.append(purchase <= on_or_before)
    return conds


def member_query(
    db: Db,
    *,
    cohort: str,
    as_of: dt.date,
    params: Mapping[str, Any] | None = None,
    filters: CohortFilter | None = None,
    exclusions: bool = True,
) -> Select[Any]:
    """The cohort's query joined to its vehicle, customer and opt-out, with filters and
    (unless ``exclusions`` is False) the always-exclusions applied."""
    defn, p = _definition(cohort, params)
    dialect = dialect_of(db)
    reads = QuerySource(dialect)
    if defn.reads_summary:
        summary = summary_source(db, as_of)
        replay = as_of if summary is not None and summary is not SUMMARY else None
        recency = summary_source(db, as_of, recency_only=True)
        reads = QuerySource(dialect, summary, recency, replay)
    sub = defn.build(as_of, p, reads).subquery("m")
    c = CUSTOMERS.c
    known: dict[str, Any] = {
        "customer_id": c.customer_id,
        "vin": null() if defn.customer_level else VEHICLES.c.vin,
        "store_id": c.store_id,
        "vehicle_status": null() if defn.customer_level else VEHICLES.c.status,
        "opted_out": OPT_OUTS.c.customer_id.is_not(None),
        "phone": c.phone,
        "phone_type": c.phone_type,
        "phone_invalid": c.phone_invalid,
        "consent_sms": c.consent_sms,
        "language": c.language,
    }
    cols = [known.get(n, sub.c[n] if n in sub.c else null()).label(n) for n in _ROW_FIELDS]
    cols += [col for col in sub.c if col.key not in (*_ROW_FIELDS, "member_id")]
    f = filters or CohortFilter()
    vehicle_conds = _vehicle_conditions(f, as_of, dialect)
    if defn.customer_level:
        src = sub.join(CUSTOMERS, c.customer_id == sub.c.member_id)
        conds: list[ColumnElement[bool]] = []
        if vehicle_conds:  # an active vehicle of the customer meets the filters
            owns = [
                VEHICLES.c.customer_id == c.customer_id,
                VEHICLES.c.purchase_date <= as_of,
                VEHICLES.c.status.not_in(GONE_STATUSES),
            ]
            conds.append(exists().where(*owns, *vehicle_conds))
    else:
        src = sub.join(VEHICLES, VEHICLES.c.vin == sub.c.vin).join(
            CUSTOMERS, c.customer_id == VEHICLES.c.customer_id
        )
        # drive from the cohort's few rows, not from the purchase dates every vehicle meets
        conds = [unindexed(VEHICLES.c.purchase_date, dialect) <= as_of, *vehicle_conds]
        if exclusions:
            conds.append(VEHICLES.c.status.not_in(GONE_STATUSES))
    src = src.outerjoin(OPT_OUTS, OPT_OUTS.c.customer_id == c.customer_id)
    if exclusions:
        conds.append(OPT_OUTS.c.customer_id.is_(None))
    if f.stores:
        conds.append(c.store_id.in_(f.stores))
    if f.regions:
        conds.append(c.region.in_(f.regions))
    return select(*cols).select_from(src).where(*conds)


def _merge(defn: CohortDef, members: list[CohortMember]) -> list[CohortMember]:
    """Several rows for one vehicle (policies, items, visits) become one member: the one
    with the earliest/latest ``pick`` field, holding every item id and visit id."""
    how, name = (defn.pick or "min:customer_id").split(":")
    sign = 1 if how == "min" else -1
    best: dict[tuple[str, str | None], CohortMember] = {}
    for m in members:
        key = (m.customer_id, m.vin)
        kept = best.get(key)
        if kept is None:
            best[key] = m
            continue
        items = tuple(sorted({*kept.item_ids, *m.item_ids}))
        visits = tuple(sorted({*kept.visit_ids, *m.visit_ids}))
        if _order(m, name, sign) < _order(kept, name, sign):
            best[key] = kept = m
        kept.item_ids, kept.visit_ids = items, visits
    return list(best.values())


def _order(m: CohortMember, name: str, sign: int) -> tuple[int, str]:
    """Sort key for ``_merge``: the pick field (a date), then ids, so ties resolve stably."""
    value = getattr(m, name)
    return (sign * value.toordinal(), (m.visit_id or "") + (m.policy_id or ""))


def select_cohort(
    db: Db,
    *,
    cohort: str,
    as_of: dt.date,
    params: Mapping[str, Any] | None = None,
    filters: CohortFilter | None = None,
    exclusions: bool = True,
) -> list[CohortMember]:
    """Members of ``cohort`` as of ``as_of``, in no particular order (:func:`by_customer`
    sorts them; a sort in SQL would cost a large cohort a fifth of its time).

    With ``exclusions`` (the default) sold/scrapped vehicles and do-not-contact customers
    are left out; campaign planning asks for them too, to count them by reason."""
    defn, p = _definition(cohort, params)
    query = member_query(
        db, cohort=cohort, as_of=as_of, params=p, filters=filters, exclusions=exclusions
    )
    with grouping_memory(db, cohort):
        result = connection_of(db).execute(query)
        extra_keys = list(result.keys())[_N:]
        rows = result.all()
    if not extra_keys:
        members = [CohortMember(cohort, *row) for row in rows]
    elif defn.finish is None:
        members = [CohortMember(cohort, *row[:_N]) for row in rows]
    else:
        members = []
        for row in rows:
            m = CohortMember(cohort, *row[:_N])
            defn.finish(m, dict(zip(extra_keys, row[_N:], strict=True)), p)
            members.append(m)
    if defn.pick is not None:
        members = _merge(defn, members)  # keeps the order
    return members


def by_customer(member: CohortMember) -> tuple[str, str]:
    """Sort key: customer, then vehicle."""
    return (member.customer_id, member.vin or "")


def cohort_sizes_by_store(
    db: Db, *, as_of: dt.date, cohorts: list[str] | None = None
) -> dict[str, dict[str, int]]:
    """Members (after the always-exclusions) of every cohort, counted per store."""
    sizes: dict[str, dict[str, int]] = {}
    for name in cohorts or list(COHORTS):
        sub = member_query(db, cohort=name, as_of=as_of).subquery()
        key = sub.c.customer_id if COHORTS[name].customer_level else sub.c.vin
        query = select(sub.c.store_id, func.count(key.distinct())).group_by(sub.c.store_id)
        with grouping_memory(db, name):
            sizes[name] = {store: int(n) for store, n in db.execute(query).all()}
    return sizes


__all__ = [
    "COHORTS",
    "DETAIL_FIELDS",
    "CohortDef",
    "CohortFilter",
    "CohortMember",
    "UnknownCohortError",
    "by_customer",
    "cohort_sizes_by_store",
    "grouping_memory",
    "member_query",
    "select_cohort",
]
