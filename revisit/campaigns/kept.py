"""Kept plans: a day's campaign plans written once (``day_plans``, ``day_plan_rows``) and read
back by the previews, the overview and the runs, with the fingerprint of what they were
computed from.

The fingerprint (:func:`fingerprint`) covers everything a plan reads besides the clock:

- the campaign definitions (every file; an edit to any re-plans the day), the SMS budget
  and the format of kept plans (:data:`PLAN_FORMAT`);
- the data versions (:mod:`revisit.db.versions`: imports, opt-outs, dead phones);
- the contact history: contacts by run and status (their number and newest id), except the
  runs of the day's own daily campaigns — those are the plan being executed, and what they
  write never changes another daily campaign's decision (a customer one of them takes is
  ``lower_priority`` for every lower one anyway).

A kept plan whose fingerprint differs is stale: the whole day is forgotten and planned again
by the next reader. Send times are not kept: they depend on when the plan is read (its
``now``), so they are placed again at every read.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter
from collections.abc import Collection, Iterable, Iterator, Mapping
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from revisit.campaigns.config import CampaignDef
from revisit.campaigns.dayplan import SmsBudget, daily_campaigns, reach_from
from revisit.campaigns.plan import CampaignPlan, PlanRow, ReachCache, Reason
from revisit.campaigns.rules import store_timezones
from revisit.campaigns.statuses import (
    ChannelKind,
    ExclusionReason,
    PlanDecision,
    SuppressionReason,
)
from revisit.campaigns.window import next_send_time
from revisit.cohorts.select import DETAIL_FIELDS, CohortMember
from revisit.db.engine import chunked
from revisit.db.tables import (
    CONTACTS,
    DAY_COHORT_SIZES,
    DAY_PLAN_ROWS,
    DAY_PLANS,
    RUNS,
    STORES,
    utcnow,
)
from revisit.db.versions import versions
from revisit.settings import DEFAULT_TIMEZONE

#: Raised when what a kept plan holds changes shape: older kept plans are planned again.
PLAN_FORMAT = 1
WRITE_CHUNK = 5000
_DATES = {"due_date", "last_visit_date", "visit_date", "expiry_date"}
_LISTS = {"item_ids", "visit_ids"}


# --- the fingerprint ---------------------------------------------------------------------------


def contact_history(session: Session, *, as_of: dt.date, daily: Iterable[str]) -> list[list[Any]]:
    """[run id, status, contacts, newest contact id] for every run but the runs of ``as_of``
    of the ``daily`` campaigns (read from the contacts' run/status index)."""
    names = set(daily)
    runs = session.execute(select(RUNS.c.id, RUNS.c.campaign, RUNS.c.as_of))
    own = {run_id for run_id, campaign, day in runs if day == as_of and campaign in names}
    c = CONTACTS.c
    query = select(c.run_id, c.status, func.count(), func.max(c.id)).group_by(c.run_id, c.status)
    rows = [[r, s, int(n), int(m)] for r, s, n, m in session.execute(query) if r not in own]
    return sorted(rows)


def fingerprint(
    session: Session, *, campaigns: Mapping[str, CampaignDef], as_of: dt.date, budget: SmsBudget
) -> str:
    """The sha256 (hex) of what a plan of ``as_of`` is computed from (see the module)."""
    daily = [c.name for c in daily_campaigns(campaigns)]
    facts = {
        "format": PLAN_FORMAT,
        "campaigns": {n: campaigns[n].model_dump(mode="json") for n in sorted(campaigns)},
        "budget": budget.key(),
        "data": versions(session),
        "contacts": contact_history(session, as_of=as_of, daily=daily),
    }
    blob = json.dumps(facts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()


# --- which plans are kept ------------------------------------------------------------------------


def kept_campaigns(session: Session, *, as_of: dt.date, fingerprint: str) -> set[str]:
    """The campaigns whose plan for ``as_of`` is kept and current. When any kept plan of the
    day has another fingerprint, the day's plans are all forgotten (none is current)."""
    rows = session.execute(
        select(DAY_PLANS.c.campaign, DAY_PLANS.c.fingerprint)
        .where(DAY_PLANS.c.as_of == as_of)
        .distinct()
    ).all()
    sizes = select(DAY_COHORT_SIZES.c.fingerprint).where(DAY_COHORT_SIZES.c.as_of == as_of)
    if any(fp != fingerprint for _, fp in rows) or any(
        fp != fingerprint for fp in session.execute(sizes.distinct()).scalars()
    ):
        forget(session, as_of=as_of)
        return set()
    return {name for name, _ in rows}


def forget(session: Session, *, as_of: dt.date, campaign: str | None = None) -> None:
    """Drop the kept plans of ``as_of`` (only ``campaign``'s, when given)."""
    for table in (DAY_PLAN_ROWS, DAY_PLANS):
        where = table.c.as_of == as_of
        if campaign is not None:
            where = where & (table.c.campaign == campaign)
        session.execute(delete(table).where(where))
    if campaign is None:
        session.execute(delete(DAY_COHORT_SIZES).where(DAY_COHORT_SIZES.c.as_of == as_of))


def keep(session: Session, plan: CampaignPlan, *, fingerprint: str) -> None:
    """Write ``plan`` (replacing a kept plan of its campaign and day): its rows, and one
    ``day_plans`` row per store (every store, and any store of its rows). The caller
    commits."""
    c, as_of = plan.campaign, plan.as_of
    forget(session, as_of=as_of, campaign=c.name)
    conn = session.connection()
    names = ", ".join(_COLUMNS)
    marks = ", ".join(["%s" if conn.dialect.paramstyle != "qmark" else "?"] * len(_COLUMNS))
    sql = f"INSERT INTO day_plan_rows ({names}) VALUES ({marks})"
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:  # the driver's own executemany: rows as they are, JSON already text
        for chunk in chunked(plan.rows, WRITE_CHUNK):
            cursor.executemany(sql, [_row(c, as_of, r) for r in chunk])
    finally:
        cursor.close()
    stores = set(session.execute(select(STORES.c.store_id)).scalars())
    stores |= {r.store_id for r in plan.rows}
    now = utcnow()
    heads = [
        {
            "as_of": as_of,
            "store_id": s,
            "campaign": c.name,
            "fingerprint": fingerprint,
            "planned_at": now,
            "dropped_vehicles": dict(plan.dropped_by_store.get(s, {})),
        }
        for s in sorted(stores)
    ]
    if heads:
        session.execute(insert(DAY_PLANS), heads)


_COLUMNS = ("as_of", "campaign", "customer_id", "store_id", "status", "reason", "cohort",
            "phone", "language", "vins", "details", "event_key", "last_useful_day")  # fmt: skip


def _row(c: CampaignDef, as_of: dt.date, r: PlanRow) -> tuple[Any, ...]:
    return (
        as_of, c.name, r.customer_id, r.store_id, str(r.status),
        None if r.reason is None else str(r.reason), c.cohort, r.phone, r.language,
        _dumps(list(r.vins)), _dumps(r.details), r.event_key, r.last_useful_day,
    )  # fmt: skip


# One encoder for every kept row (json.dumps with options builds one per call).
_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


# --- reading kept plans --------------------------------------------------------------------------


def _reason(value: str | None) -> Reason | None:
    if value is None:
        return None
    if value in ExclusionReason.__members__.values():
        return ExclusionReason(value)
    return SuppressionReason(value)


def _member(cohort: str, row: Any, entry: Mapping[str, Any]) -> CohortMember:
    fields: dict[str, Any] = {}
    for name in DETAIL_FIELDS:
        value = entry.get(name)
        if value is None:
            continue
        if name in _DATES:
            value = dt.date.fromisoformat(str(value))
        elif name in _LISTS:
            value = tuple(value)
        fields[name] = value
    return CohortMember(
        cohort, row.customer_id, entry.get("vin"), row.store_id, phone=row.phone,
        language=row.language, **fields,
    )  # fmt: skip


class _SendTimes:
    """The send time of a to_contact row of a store, at ``now``, per time zone."""

    def __init__(self, session: Session, campaign: CampaignDef, now: dt.datetime, tz: str):
        self.zones, self.campaign, self.now, self.tz = store_timezones(session), campaign, now, tz
        self.times: dict[str, dt.datetime] = {}

    def __call__(self, store_id: str) -> dt.datetime:
        tz = self.zones.get(store_id, self.tz)
        if tz not in self.times:
            self.times[tz] = next_send_time(self.now, tz, self.campaign.send_window)
        return self.times[tz]


def _plan_rows(
    session: Session,
    campaign: CampaignDef,
    as_of: dt.date,
    send: _SendTimes,
    limit: int | None,
    store_ids: Collection[str] | None = None,
    *,
    after: str | None = None,
    batch: int | None = None,
) -> list[PlanRow]:
    """Kept rows by customer id: the first ``limit`` to contact (samples), or every row —
    or, with ``batch``, the next ``batch`` rows after customer ``after``."""
    k = DAY_PLAN_ROWS.c
    query = (
        select(
            k.customer_id,
            k.store_id,
            k.status,
            k.reason,
            k.phone,
            k.language,
            k.vins,
            k.details,
            k.event_key,
            k.last_useful_day,
        )
        .where(k.as_of == as_of, k.campaign == campaign.name)
        .order_by(k.customer_id)
    )
    if store_ids is not None:
        query = query.where(k.store_id.in_(sorted(store_ids)))
    if limit is not None:
        query = query.where(k.status == PlanDecision.TO_CONTACT).limit(limit)
    if after is not None:
        query = query.where(k.customer_id > after)
    if batch is not None:
        query = query.limit(batch)
    rows = []
    for row in session.execute(query):
        kept = json.loads(row.details)
        members = tuple(_member(campaign.cohort, row, e) for e in kept or [{}])
        status = PlanDecision(row.status)
        send_at = send(row.store_id) if status == PlanDecision.TO_CONTACT else None
        rows.append(
            PlanRow(
                row.customer_id,
                row.store_id,
                tuple(json.loads(row.vins)),
                status,
                _reason(row.reason),
                members,
                send_at,
                row.event_key,
                row.last_useful_day,
                [e for e in kept if e],  # what keep() wrote: PlanRow.details
            )
        )
    return rows


def read_plan(
    session: Session,
    *,
    campaign: CampaignDef,
    as_of: dt.date,
    now: dt.datetime,
    default_timezone: str = DEFAULT_TIMEZONE,
    samples: int | None = None,
    store_ids: Collection[str] | None = None,
    streamed: bool = False,
) -> CampaignPlan:
    """The kept plan of ``campaign`` for ``as_of``, its send times placed at ``now``: every
    row (``samples`` None), or its numbers and the first ``samples`` customers to contact (a
    preview; see :class:`CampaignPlan`); ``streamed``: its numbers, and its rows read batch
    by batch as :meth:`CampaignPlan.batches` is iterated (what a run executes, in the
    caller's session). ``store_ids`` narrows rows, numbers and dropped vehicles to the
    customers of those stores (a scoped web user; None: every store)."""
    send = _SendTimes(session, campaign, now, default_timezone)
    plan = CampaignPlan(campaign=campaign, as_of=as_of, now=now)
    if streamed:
        plan.source = lambda size: _batches(session, campaign, as_of, send, size)
    else:
        plan.rows = _plan_rows(session, campaign, as_of, send, samples, store_ids)
    heads = session.execute(
        select(DAY_PLANS.c.store_id, DAY_PLANS.c.dropped_vehicles).where(
            DAY_PLANS.c.as_of == as_of, DAY_PLANS.c.campaign == campaign.name
        )
    )
    plan.dropped_by_store = {
        s: Counter(d) for s, d in heads if d and (store_ids is None or s in store_ids)
    }
    if samples is not None or streamed:
        _read_numbers(session, plan, send, store_ids)
    return plan


def _batches(
    session: Session, campaign: CampaignDef, as_of: dt.date, send: _SendTimes, size: int
) -> Iterator[list[PlanRow]]:
    """Every kept row of the plan, ``size`` at a time, by customer id (keyset pages: memory
    holds one batch)."""
    after: str | None = None
    while True:
        rows = _plan_rows(session, campaign, as_of, send, None, after=after, batch=size)
        if not rows:
            return
        yield rows
        after = rows[-1].customer_id


def _read_numbers(
    session: Session, plan: CampaignPlan, send: _SendTimes, store_ids: Collection[str] | None
) -> None:
    k = DAY_PLAN_ROWS.c
    query = (
        select(k.store_id, k.status, k.reason, func.count())
        .where(k.as_of == plan.as_of, k.campaign == plan.campaign.name)
        .group_by(k.store_id, k.status, k.reason)
    )
    if store_ids is not None:
        query = query.where(k.store_id.in_(sorted(store_ids)))
    plan.tally, plan.deferred_count = Counter(), 0
    for store_id, status, reason, n in session.execute(query):
        plan.tally[(status, reason or "")] += n
        if status == PlanDecision.TO_CONTACT and send(store_id) > plan.now:
            plan.deferred_count += n


def read_reach(session: Session, *, as_of: dt.date, names: Iterable[str]) -> ReachCache:
    """What the kept plans of ``names`` take (see :func:`revisit.campaigns.dayplan.reach_from`)."""
    wanted = list(names)
    k = DAY_PLAN_ROWS.c
    query = select(k.campaign, k.customer_id, k.phone).where(
        k.as_of == as_of, k.campaign.in_(wanted), k.status != PlanDecision.EXCLUDED
    )
    rows = ((name, cid, phone) for name, cid, phone in session.execute(query))
    return reach_from(rows, as_of, wanted)


def read_spent(
    session: Session, *, as_of: dt.date, campaigns: Iterable[CampaignDef]
) -> Counter[str]:
    """store id → SMS the kept plans of ``campaigns`` contact on ``as_of``."""
    names = [c.name for c in campaigns if c.channel == ChannelKind.SMS]
    k = DAY_PLAN_ROWS.c
    query = (
        select(k.store_id, func.count())
        .where(k.as_of == as_of, k.campaign.in_(names), k.status == PlanDecision.TO_CONTACT)
        .group_by(k.store_id)
    )
    return Counter({s: int(n) for s, n in session.execute(query)})


# --- cohort sizes ------------------------------------------------------------------------------


def kept_sizes(
    session: Session, *, as_of: dt.date, fingerprint: str
) -> dict[str, dict[str, int]] | None:
    """cohort → store id → members kept for ``as_of`` under ``fingerprint``, or None when
    none are (call :func:`kept_campaigns` first: it forgets a stale day)."""
    s = DAY_COHORT_SIZES.c
    rows = session.execute(
        select(s.cohort, s.store_id, s.members).where(
            s.as_of == as_of, s.fingerprint == fingerprint
        )
    ).all()
    if not rows:
        return None
    sizes: dict[str, dict[str, int]] = {}
    for cohort, store_id, members in rows:
        if store_id:  # "" marks a cohort without members
            sizes.setdefault(cohort, {})[store_id] = int(members)
        else:
            sizes.setdefault(cohort, {})
    return sizes


def keep_sizes(
    session: Session, sizes: Mapping[str, Mapping[str, int]], *, as_of: dt.date, fingerprint: str
) -> None:
    """Keep the day's cohort sizes (cohort → store id → members); the caller commits."""
    session.execute(delete(DAY_COHORT_SIZES).where(DAY_COHORT_SIZES.c.as_of == as_of))
    rows = [
        {
            "as_of": as_of,
            "store_id": store,
            "cohort": cohort,
            "members": n,
            "fingerprint": fingerprint,
        }
        for cohort, per_store in sizes.items()
        for store, n in (per_store.items() or [("", 0)])
    ]
    if rows:
        session.execute(insert(DAY_COHORT_SIZES), rows)
