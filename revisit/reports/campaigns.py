"""The manager's report: per campaign run (and optionally per cohort, store, region, model,
car-age band or caller), what was planned, sent, delivered, answered and — the question the
product exists for — how many came back, against the holdout.

One set-based query counts everything per run; the rates and the lift's interval are
arithmetic on those counts (:mod:`revisit.reports.stats`). Definitions (README, Reports):

- ``targeted``: the cohort's customers that day; ``excluded`` / ``suppressed``: by reason;
  ``holdout``: kept uncontacted; ``assigned``: to be contacted, whatever became of the send;
- ``contacted``: SMS accepted by the provider plus call-list entries; ``delivered``: SMS the
  provider reports delivered; ``failed``: sends refused, or reported undelivered / failed;
- ``opted_out``: contacted customers who went on the do-not-contact list after the contact;
- ``reached``: SMS delivered, calls answered (any outcome but not_reached, or a reply);
- ``booked``: a ``booked`` call outcome (on the contact or its callbacks);
- ``returned``: contacted and returned (:mod:`revisit.outcomes.attribution`);
  ``return_rate`` = returned / contacted; ``revenue``: their window's visit amounts;
- ``lift`` = assigned_returned / assigned − holdout_returned / holdout (intention to treat),
  with its 95% Newcombe interval; null while the run has contacted nobody (every contact
  waiting or expired). Rates are null when their denominator is 0.

Callbacks are follow-ups of a contact, not contacts of their own here: their outcomes count
for the contact they follow.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Integer, String, and_, case, cast, func, literal, or_, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement, Select

from revisit.campaigns.outcome_codes import CallCode, OutcomeKind
from revisit.campaigns.statuses import (
    ChannelKind,
    ContactStatus,
    ExclusionReason,
    SuppressionReason,
)
from revisit.dates import check_period, sql_epoch_days
from revisit.db.tables import (
    CAMPAIGNS,
    CONTACTS,
    CUSTOMERS,
    MESSAGES,
    OPT_OUTS,
    OUTCOMES,
    RUNS,
    VEHICLES,
)
from revisit.reports.stats import newcombe_diff, rate

BREAKDOWNS = ("cohort", "store", "region", "model", "car_age", "staff")
NOTES = (
    "contacted = SMS accepted by the provider + call-list entries; return_rate = returned / "
    "contacted.",
    "A contact is returned when any vehicle of its customer visits within the campaign's "
    "attribution window from the contact day; each contact on its own, so a customer "
    "reached by two campaigns counts in both.",
    "lift = assigned_returned / assigned − holdout return rate (intention to treat), 95% "
    "Newcombe interval; a lift whose interval contains 0 is not yet significant.",
)
CONTACTED = (ContactStatus.SENT, ContactStatus.LISTED)
NOT_ASSIGNED = (ContactStatus.EXCLUDED, ContactStatus.SUPPRESSED, ContactStatus.HOLDOUT)
#: Report keys, in order (every JSON object has exactly these, plus the breakdown key).
KEYS = (
    "campaign", "cohort", "channel", "run_id", "as_of", "targeted", "excluded", "suppressed",
    "holdout", "assigned", "contacted", "delivered", "failed", "expired", "opted_out", "reached",
    "booked", "returned", "return_rate", "assigned_returned", "holdout_returned",
    "holdout_return_rate", "lift", "lift_ci_low", "lift_ci_high", "revenue",
)  # fmt: skip


@dataclass(frozen=True)
class ReportFilter:
    """Which runs: a campaign, run days in [since, until], customers of one store and of the
    set ``stores`` (None: every store; an empty set: none), or the runs of ``run_ids``; and
    the breakdown (one of :data:`BREAKDOWNS`, or None for one row per run)."""

    campaign: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None
    store: str | None = None
    by: str | None = None
    run_ids: tuple[int, ...] = ()
    stores: frozenset[str] | None = None

    def __post_init__(self) -> None:
        check_period(self.since, self.until)


def _count(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _per_message() -> Any:
    m = MESSAGES.c
    return (
        select(
            m.contact_id,
            func.max(case((m.status == "delivered", 1), else_=0)).label("delivered"),
            func.max(case((m.status.in_(("failed", "undelivered")), 1), else_=0)).label("lost"),
        )
        .group_by(m.contact_id)
        .subquery("msg")
    )


def _answers() -> Any:
    o = OUTCOMES.c
    ct = CONTACTS.alias("answered_contact")
    root = func.coalesce(ct.c.callback_of, ct.c.id)
    answered = or_(o.kind == OutcomeKind.REPLY.value, o.code != CallCode.NOT_REACHED.value)
    return (
        select(
            root.label("contact_id"),
            func.max(case((answered, 1), else_=0)).label("reached"),
            func.max(case((o.code == CallCode.BOOKED.value, 1), else_=0)).label("booked"),
        )
        .select_from(OUTCOMES.join(ct, ct.c.id == o.contact_id))
        .where(o.kind.in_((OutcomeKind.CALL.value, OutcomeKind.REPLY.value)))
        .group_by(root)
        .subquery("answer")
    )


def _car_age(dialect: str, vehicle: Any) -> ColumnElement[str]:
    days = sql_epoch_days(RUNS.c.as_of, dialect) - sql_epoch_days(vehicle.c.purchase_date, dialect)
    years = cast(days, Integer).op("/", return_type=Integer)(365)
    return case(
        (vehicle.c.purchase_date.is_(None), literal("unknown")),
        (years < 3, literal("0-2 years")),
        (years < 6, literal("3-5 years")),
        (years < 10, literal("6-9 years")),
        else_=literal("10+ years"),
    )


def _group_key(by: str, dialect: str, vehicle: Any) -> ColumnElement[Any]:
    keys: dict[str, ColumnElement[Any]] = {
        "cohort": CAMPAIGNS.c.cohort,
        "store": CUSTOMERS.c.store_id,
        "region": func.coalesce(CUSTOMERS.c.region, "unknown"),
        "model": func.coalesce(vehicle.c.model, "unknown"),
        "car_age": _car_age(dialect, vehicle),
        "staff": func.coalesce(CONTACTS.c.caller, "unknown"),
    }
    return keys[by]


def _counts(msg: Any, answer: Any, ret: Any, opted: ColumnElement[bool]) -> list[Any]:
    s = CONTACTS.c.status
    contacted = s.in_([x.value for x in CONTACTED])
    assigned = s.not_in([x.value for x in NOT_ASSIGNED])
    delivered = and_(s == ContactStatus.SENT.value, msg.c.delivered == 1)
    returned = ret.c.contact_id.is_not(None)
    reached_call = and_(CONTACTS.c.channel == ChannelKind.CALL.value, answer.c.reached == 1)
    columns = [
        func.count().label("targeted"),
        *(_count(and_(s == ContactStatus.EXCLUDED.value, CONTACTS.c.reason == r.value))
          .label(f"excluded:{r}") for r in ExclusionReason),
        *(_count(and_(s == ContactStatus.SUPPRESSED.value, CONTACTS.c.reason == r.value))
          .label(f"suppressed:{r}") for r in SuppressionReason),
        _count(s == ContactStatus.HOLDOUT.value).label("holdout"),
        _count(assigned).label("assigned"),
        _count(contacted).label("contacted"),
        _count(delivered).label("delivered"),
        _count(or_(s == ContactStatus.FAILED.value, and_(contacted, msg.c.lost == 1)))
        .label("failed"),
        _count(s == ContactStatus.EXPIRED.value).label("expired"),
        _count(and_(contacted, opted)).label("opted_out"),
        _count(and_(contacted, or_(delivered, reached_call, answer.c.reached == 1)))
        .label("reached"),
        _count(and_(contacted, answer.c.booked == 1)).label("booked"),
        _count(and_(contacted, returned)).label("returned"),
        _count(and_(assigned, returned)).label("assigned_returned"),
        _count(and_(s == ContactStatus.HOLDOUT.value, returned)).label("holdout_returned"),
        func.coalesce(func.sum(case((and_(contacted, returned), ret.c.amount), else_=0)), 0)
        .label("revenue"),
    ]  # fmt: skip
    return columns


def report_query(dialect: str, f: ReportFilter) -> Select[Any]:
    """The one query of the campaign report: a row of counts per run (and breakdown key)."""
    c, r, k = CONTACTS.c, RUNS.c, CAMPAIGNS.c
    msg, answer = _per_message(), _answers()
    ret = OUTCOMES.alias("ret")
    vehicle = VEHICLES.alias("first_vehicle")
    opted = OPT_OUTS.c.customer_id.is_not(None)
    head = [r.id.label("run_id"), r.campaign, k.cohort, k.channel, r.as_of]
    key = _group_key(f.by, dialect, vehicle).label("key") if f.by else None
    source = (
        CONTACTS.join(RUNS, r.id == c.run_id)
        .join(CAMPAIGNS, k.name == c.campaign)
        .join(CUSTOMERS, CUSTOMERS.c.customer_id == c.customer_id)
        .outerjoin(msg, msg.c.contact_id == c.id)
        .outerjoin(answer, answer.c.contact_id == c.id)
        .outerjoin(ret, and_(ret.c.contact_id == c.id, ret.c.kind == OutcomeKind.RETURN.value))
        .outerjoin(
            OPT_OUTS,
            and_(OPT_OUTS.c.customer_id == c.customer_id, OPT_OUTS.c.created_at >= c.created_at),
        )
    )
    if f.by in ("model", "car_age"):
        first_vin = cast(c.vins[0].as_string(), String)
        source = source.outerjoin(vehicle, vehicle.c.vin == first_vin)
    query = select(*head, *([key] if key is not None else []), *_counts(msg, answer, ret, opted))
    query = query.select_from(source).where(c.callback_of.is_(None))
    if f.campaign:
        query = query.where(r.campaign == f.campaign)
    if f.since:
        query = query.where(r.as_of >= f.since)
    if f.until:
        query = query.where(r.as_of <= f.until)
    if f.store:
        query = query.where(CUSTOMERS.c.store_id == f.store)
    if f.stores is not None:
        query = query.where(CUSTOMERS.c.store_id.in_(sorted(f.stores)))
    if f.run_ids:
        query = query.where(r.id.in_(f.run_ids))
    group = [r.id, r.campaign, k.cohort, k.channel, r.as_of, *([key] if key is not None else [])]
    return query.group_by(*group).order_by(r.as_of, r.campaign, r.id, *group[5:])


def _row(raw: Any, by: str | None) -> dict[str, Any]:
    m = dict(raw._mapping)
    as_of = m["as_of"]
    row: dict[str, Any] = {
        "campaign": m["campaign"], "cohort": m["cohort"], "channel": m["channel"],
        "run_id": m["run_id"],
        "as_of": as_of.isoformat() if isinstance(as_of, dt.date) else str(as_of),
    }  # fmt: skip
    if by:
        row[by] = m["key"]
    row["targeted"] = int(m["targeted"])
    for group in ("excluded", "suppressed"):
        counts = {k.split(":", 1)[1]: int(v) for k, v in m.items() if k.startswith(group + ":")}
        row[group] = {reason: n for reason, n in counts.items() if n}
    for name in ("holdout", "assigned", "contacted", "delivered", "failed", "expired",
                 "opted_out", "reached", "booked", "returned"):  # fmt: skip
        row[name] = int(m[name])
    row["return_rate"] = rate(row["returned"], row["contacted"])
    row["assigned_returned"] = int(m["assigned_returned"])
    row["holdout_returned"] = int(m["holdout_returned"])
    row["holdout_return_rate"] = rate(row["holdout_returned"], row["holdout"])
    set_lift(row)
    row["revenue"] = round(float(m["revenue"] or 0), 2)
    return row


def set_lift(row: dict[str, Any]) -> None:
    """Set ``lift``, ``lift_ci_low`` and ``lift_ci_high`` of a row from its ``assigned``,
    ``assigned_returned``, ``contacted``, ``holdout``, ``holdout_returned`` and
    ``holdout_return_rate`` — used for a run's row and for runs summed up. Nulls when a rate
    has no denominator or when nobody was contacted yet (every contact still waiting, or
    expired): there is no treatment to measure, and intention to treat would print a "lift"
    of noise."""
    treated = rate(row["assigned_returned"], row["assigned"])
    control = row["holdout_return_rate"]
    if treated is None or control is None or not row["contacted"]:
        row["lift"] = row["lift_ci_low"] = row["lift_ci_high"] = None
        return
    row["lift"] = treated - control
    ci = newcombe_diff(row["assigned_returned"], row["assigned"], row["holdout_returned"],
                       row["holdout"])  # fmt: skip
    row["lift_ci_low"], row["lift_ci_high"] = ci if ci else (None, None)


def campaign_report(conn: Connection, f: ReportFilter | None = None) -> list[dict[str, Any]]:
    """The report rows (see the module doc), one per run (and breakdown key), oldest run
    first. Raises ValueError for an unknown breakdown."""
    f = f or ReportFilter()
    if f.by is not None and f.by not in BREAKDOWNS:
        raise ValueError(f"--by: unknown breakdown {f.by!r}; known: {', '.join(BREAKDOWNS)}")
    rows = conn.execute(report_query(conn.dialect.name, f)).all()
    return [_row(raw, f.by) for raw in rows]


def report_columns(by: str | None) -> Sequence[str]:
    """The keys of a report row, in order."""
    return (*KEYS[:5], by, *KEYS[5:]) if by else KEYS


def artifact_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Report rows flattened for a table (excluded and suppressed as ``reason=n;…`` text,
    rates rounded to 4 places)."""
    flat = []
    for row in rows:
        out: dict[str, Any] = {}
        for key, value in row.items():
            if isinstance(value, dict):
                value = ";".join(f"{k}={n}" for k, n in value.items())
            elif isinstance(value, float):
                value = round(value, 4)
            out[key] = value
        flat.append(out)
    return flat
