"""Contact rules: who in a cohort is actually contacted by a campaign run, and why not.

Every rule is a pure function or one set-based query; :func:`plan_campaign` applies them
in this order and gives each customer exactly one status:

1. ``excluded`` — always-exclusions: ``do_not_contact``; ``vehicle_sold`` /
   ``vehicle_scrapped`` when none of the customer's cohort vehicles is still active (sold
   vehicles of a customer who stays are dropped from the contact and counted apart).
2. ``excluded`` — channel exclusions. SMS: ``no_phone``, ``invalid_phone``, ``not_mobile``
   (a landline), ``no_sms_consent``. Call: ``no_phone``, ``invalid_phone``.
3. ``suppressed: lower_priority`` — another campaign outranks this one for the customer on
   the same as_of: a higher-ranked ``daily`` campaign whose cohort holds the customer after
   its own exclusions (it will contact them today), or any higher-ranked campaign that
   already has a live contact row for them on this as_of. Rank = priority, then name.
4. ``suppressed: frequency_cap`` — SMS campaigns only: the customer already had
   ``max_sms`` SMS contacts in the ``days`` days up to as_of, from any campaign.
   ``suppressed: recontact_window`` — a contact from one of ``recontact_campaigns`` within
   ``recontact_days`` (lapsed campaigns: 30 days of another lapsed contact).
5. ``holdout`` — the deterministic control group: a hash of (campaign, customer).
6. ``to_contact`` — with the time it may go out: now, or the next opening of the store's
   send window (a run outside the window defers, it never drops).

Contact history counts rows with a sent (or possibly sent) status, keyed by their as_of;
the rows of this same campaign and as_of are ignored, so planning a run twice agrees.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, false, func, or_, select, true
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from revisit.campaigns.config import CampaignDef
from revisit.campaigns.window import next_send_time
from revisit.cohorts.select import (
    GONE_STATUSES,
    CohortMember,
    by_customer,
    grouping_memory,
    member_query,
    select_cohort,
)
from revisit.dates import add_days
from revisit.db.tables import CONTACTS, CUSTOMERS, STORES
from revisit.settings import DEFAULT_TIMEZONE

# unknown may have reached the phone; listed is a call contact handed to a caller
SENT_STATUSES = ("sent", "sending", "unknown", "listed")
LIVE_STATUSES = ("pending", "deferred", *SENT_STATUSES)
STATUSES = ("to_contact", "excluded", "suppressed", "holdout")


# --- pure rules ----------------------------------------------------------------------------


def customer_exclusion(member: CohortMember) -> str | None:
    return "do_not_contact" if member.opted_out else None


def vehicle_exclusion(member: CohortMember) -> str | None:
    if member.vin is not None and member.vehicle_status in GONE_STATUSES:
        return f"vehicle_{member.vehicle_status}"
    return None


def channel_exclusion(member: CohortMember, channel: str) -> str | None:
    """Why ``member``'s customer cannot be reached on ``channel``, or None."""
    if not member.phone:
        return "no_phone"
    if member.phone_invalid:
        return "invalid_phone"
    if channel == "sms":
        if member.phone_type != "mobile":
            return "not_mobile"
        if not member.consent_sms:
            return "no_sms_consent"
    return None


def channel_reachable(channel: str) -> list[ColumnElement[bool]]:
    """:func:`channel_exclusion` as SQL conditions on the customer: they hold exactly when
    it finds no reason (for counting a whole cohort without building its members)."""
    c = CUSTOMERS.c
    conds = [c.phone.is_not(None), c.phone != "", c.phone_invalid == false()]
    if channel == "sms":
        conds += [c.phone_type == "mobile", c.consent_sms == true()]
    return conds


def in_holdout(campaign: str, customer_id: str, pct: float) -> bool:
    """Deterministic control group: the same customer stays in or out for a campaign."""
    if pct <= 0:
        return False
    digest = hashlib.sha256(f"{campaign}\x1f{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 10_000 < round(pct * 100)


def outranks(a: CampaignDef, b: CampaignDef) -> bool:
    """True when ``a`` wins over ``b`` for a customer both select on the same day."""
    return a.rank() < b.rank()


def group_by_customer(members: Iterable[CohortMember]) -> dict[str, list[CohortMember]]:
    """One entry per customer, their vehicles together (one contact per customer per run)."""
    groups: dict[str, list[CohortMember]] = {}
    for m in members:
        groups.setdefault(m.customer_id, []).append(m)
    return groups


# --- history and competing campaigns: one query each -----------------------------------------


def _history(campaign: str, as_of: dt.date, days: int) -> Any:
    c = CONTACTS.c
    return and_(
        c.status.in_(SENT_STATUSES),
        c.as_of > add_days(as_of, -days),
        c.as_of <= as_of,
        ~and_(c.campaign == campaign, c.as_of == as_of),
    )


def sms_capped_customers(
    session: Session, *, campaign: str, as_of: dt.date, max_sms: int, days: int
) -> set[str]:
    """Customers who already had ``max_sms`` SMS contacts in the ``days`` days to as_of."""
    c = CONTACTS.c
    query = (
        select(c.customer_id)
        .where(c.channel != "call", _history(campaign, as_of, days))
        .group_by(c.customer_id)
        .having(func.count() >= max_sms)
    )
    return set(session.execute(query).scalars())


def recently_contacted(
    session: Session, *, campaign: str, as_of: dt.date, campaigns: Sequence[str], days: int
) -> set[str]:
    """Customers contacted by one of ``campaigns`` in the ``days`` days to as_of."""
    c = CONTACTS.c
    query = select(c.customer_id).where(c.campaign.in_(campaigns), _history(campaign, as_of, days))
    return set(session.execute(query.distinct()).scalars())


def claimed_today_by_higher(session: Session, *, campaign: CampaignDef, as_of: dt.date) -> set[str]:
    """Customers with a live contact row on as_of from a campaign ranked above this one."""
    c = CONTACTS.c
    higher = or_(
        c.priority > campaign.priority,
        and_(c.priority == campaign.priority, c.campaign < campaign.name),
    )
    query = select(c.customer_id).where(
        c.as_of == as_of, c.campaign != campaign.name, c.status.in_(LIVE_STATUSES), higher
    )
    return set(session.execute(query.distinct()).scalars())


def reachable_customers(
    session: Session,
    *,
    campaign: CampaignDef,
    as_of: dt.date,
    among: Collection[str] | None = None,
) -> set[str]:
    """Customers ``campaign`` would reach on as_of: its cohort after filters, the
    always-exclusions and its channel exclusions (only those ``among`` these, if given:
    one lookup by id instead of the whole cohort)."""
    query = member_query(session, as_of=as_of, **campaign.selection)
    query = query.where(*channel_reachable(campaign.channel))
    if among is not None:
        query = query.where(CUSTOMERS.c.customer_id.in_(sorted(among)))
    sub = query.subquery()
    with grouping_memory(session, campaign.cohort):
        return set(session.execute(select(sub.c.customer_id)).scalars())


def store_timezones(session: Session) -> dict[str, str]:
    rows = session.execute(select(STORES.c.store_id, STORES.c.timezone))
    return {sid: tz or DEFAULT_TIMEZONE for sid, tz in rows}


# --- the plan ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlanRow:
    """One customer of a run: what happens to them and why."""

    customer_id: str
    store_id: str
    vins: tuple[str, ...]
    status: str  # to_contact | excluded | suppressed | holdout
    reason: str | None
    members: tuple[CohortMember, ...]
    send_at: dt.datetime | None = None  # to_contact rows: now, or when the window opens

    @property
    def phone(self) -> str | None:
        return self.members[0].phone

    @property
    def language(self) -> str:
        return self.members[0].language


@dataclass
class CampaignPlan:
    campaign: CampaignDef
    as_of: dt.date
    now: dt.datetime
    rows: list[PlanRow] = field(default_factory=list)
    # sold/scrapped vehicles left out of the contact of a customer who has another one
    dropped_vehicles: Counter[str] = field(default_factory=Counter)

    @property
    def targeted(self) -> int:
        return len(self.rows)

    def by_status(self, status: str) -> list[PlanRow]:
        return [r for r in self.rows if r.status == status]

    def counts(self) -> dict[str, dict[str, int]]:
        """status → reason → customers (reason ``""`` for to_contact and holdout)."""
        out: dict[str, dict[str, int]] = {s: {} for s in STATUSES}
        for (status, reason), n in sorted(
            Counter((r.status, r.reason or "") for r in self.rows).items()
        ):
            out[status][reason] = n
        return out

    @property
    def deferred(self) -> int:
        """to_contact rows that must wait for the send window to open."""
        return sum(1 for r in self.by_status("to_contact") if r.send_at and r.send_at > self.now)

    def summary(self) -> dict[str, Any]:
        counts = self.counts()
        return {
            "campaign": self.campaign.name,
            "as_of": self.as_of.isoformat(),
            "targeted": self.targeted,
            "excluded": counts["excluded"],
            "suppressed": counts["suppressed"],
            "holdout": sum(counts["holdout"].values()),
            "to_contact": sum(counts["to_contact"].values()),
            "deferred": self.deferred,
            "dropped_vehicles": dict(self.dropped_vehicles),
        }


# Customers each campaign reaches on a day, shared by the plans of one planning pass (a
# daily run, an overview) so that every higher-ranked cohort is evaluated once, not once
# per lower campaign. Only reachability is kept: contact history is always read afresh.
ReachCache = dict[tuple[str, dt.date], set[str]]
# A campaign targeting at most this many customers asks a competitor about them alone
# rather than selecting the competitor's whole cohort (unless a planning pass already has).
NARROW_LOOKUP = 10_000


def _competitors(
    session: Session,
    campaign: CampaignDef,
    as_of: dt.date,
    others: Mapping[str, CampaignDef],
    reach: ReachCache,
    targeted: Collection[str],
) -> set[str]:
    """The customers of ``targeted`` that a higher-ranked campaign takes today."""
    taken = claimed_today_by_higher(session, campaign=campaign, as_of=as_of)
    for other in sorted(others.values(), key=CampaignDef.rank):
        if (
            other.name == campaign.name
            or other.schedule != "daily"
            or not outranks(other, campaign)
        ):
            continue
        key = (other.name, as_of)
        if key in reach:
            taken |= reach[key]
        elif len(targeted) <= NARROW_LOOKUP:
            taken |= reachable_customers(session, campaign=other, as_of=as_of, among=targeted)
        else:
            reach[key] = reachable_customers(session, campaign=other, as_of=as_of)
            taken |= reach[key]
    return taken


def _suppressions(
    session: Session,
    campaign: CampaignDef,
    as_of: dt.date,
    others: Mapping[str, CampaignDef],
    reach: ReachCache,
    targeted: Collection[str],
) -> list[tuple[str, set[str]]]:
    """(reason, customers) in the order the suppression rules apply."""
    cap = campaign.frequency_cap
    lower = _competitors(session, campaign, as_of, others, reach, targeted)
    rules = [("lower_priority", lower)]
    if campaign.channel == "sms":
        capped = sms_capped_customers(
            session, campaign=campaign.name, as_of=as_of, max_sms=cap.max_sms, days=cap.days
        )
        rules.append(("frequency_cap", capped))
    if cap.recontact_days and cap.recontact_campaigns:
        recent = recently_contacted(
            session,
            campaign=campaign.name,
            as_of=as_of,
            campaigns=cap.recontact_campaigns,
            days=cap.recontact_days,
        )
        rules.append(("recontact_window", recent))
    return rules


def _decide(
    campaign: CampaignDef, members: list[CohortMember], suppressions: list[tuple[str, set[str]]]
) -> tuple[str, str | None, list[CohortMember]]:
    """Status, reason and remaining vehicles for one customer's members."""
    first = members[0]
    live = [m for m in members if vehicle_exclusion(m) is None]
    reason = customer_exclusion(first) or (vehicle_exclusion(members[0]) if not live else None)
    reason = reason or channel_exclusion(first, campaign.channel)
    if reason:
        return "excluded", reason, live
    for why, customers in suppressions:
        if first.customer_id in customers:
            return "suppressed", why, live
    if in_holdout(campaign.name, first.customer_id, campaign.holdout_pct):
        return "holdout", None, live
    return "to_contact", None, live


def plan_campaign(
    session: Session,
    *,
    campaign: CampaignDef,
    as_of: dt.date,
    now: dt.datetime,
    all_campaigns: Mapping[str, CampaignDef] | None = None,
    default_timezone: str = DEFAULT_TIMEZONE,
    reach: ReachCache | None = None,
) -> CampaignPlan:
    """Evaluate ``campaign`` for ``as_of`` and decide every targeted customer; writes nothing.

    ``now`` (aware) places to_contact rows in the send window of their store. Plans
    made together (a daily run, an overview) pass one ``reach`` cache, so each competing
    campaign's customers are selected once."""
    members = select_cohort(session, as_of=as_of, exclusions=False, **campaign.selection)
    groups = group_by_customer(members)
    suppressions = _suppressions(
        session, campaign, as_of, all_campaigns or {}, {} if reach is None else reach, groups
    )
    zones = store_timezones(session)
    send_times: dict[str, dt.datetime] = {}  # per time zone
    plan = CampaignPlan(campaign=campaign, as_of=as_of, now=now)
    for customer_id in sorted(groups):  # a plan in the same order whichever way it was read
        group = sorted(groups[customer_id], key=by_customer)
        status, reason, live = _decide(campaign, group, suppressions)
        if live:
            plan.dropped_vehicles.update(r for r in map(vehicle_exclusion, group) if r is not None)
        kept = live or group
        send_at = None
        if status == "to_contact":
            tz = zones.get(group[0].store_id, default_timezone)
            if tz not in send_times:
                send_times[tz] = next_send_time(now, tz, campaign.send_window)
            send_at = send_times[tz]
        vins = tuple(m.vin for m in kept if m.vin is not None)
        plan.rows.append(
            PlanRow(customer_id, group[0].store_id, vins, status, reason, tuple(kept), send_at)
        )
    return plan
