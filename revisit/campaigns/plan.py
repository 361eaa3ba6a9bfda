"""The plan of a campaign run: every targeted customer with one decision, its reason, and
what the contact will be about (its vehicles and the cohort's details).

:func:`plan_campaign` selects the cohort and applies :mod:`revisit.campaigns.rules` in their
order; it writes nothing. The outbox (:mod:`revisit.delivery.outbox`) writes a plan's rows
as contacts.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy.orm import Session

from revisit.campaigns.config import CampaignDef
from revisit.campaigns.rules import (
    Key,
    channel_exclusion,
    claimed_today_by_higher,
    contacted_events,
    customer_exclusion,
    group_by_customer,
    in_holdout,
    outranks,
    reachable_customers,
    recently_contacted,
    sms_capped_customers,
    store_timezones,
    vehicle_exclusion,
)
from revisit.campaigns.statuses import (
    ChannelKind,
    ExclusionReason,
    PlanDecision,
    SuppressionReason,
)
from revisit.campaigns.window import next_send_time
from revisit.cohorts.events import contact_last_day, event_key, joined_key
from revisit.cohorts.select import CohortMember, by_customer, select_cohort
from revisit.settings import DEFAULT_TIMEZONE

Reason = ExclusionReason | SuppressionReason


@dataclass(frozen=True, slots=True)
class PlanRow:
    """One customer of a run: what happens to them and why.

    ``members`` are the customer's cohort members the contact is about (one per vehicle;
    sold or scrapped vehicles left out when another remains); ``vins`` their vehicles."""

    customer_id: str
    store_id: str
    vins: tuple[str, ...]
    status: PlanDecision
    reason: Reason | None
    members: tuple[CohortMember, ...]
    send_at: dt.datetime | None = None  # to_contact rows: now, or when the window opens
    event_key: str | None = None  # what the contact is about (revisit.cohorts.events)
    last_useful_day: dt.date | None = None  # past it the contact is expired (None: no limit)
    # the details as a kept plan holds them (read back: revisit.campaigns.kept), else None
    kept_details: list[dict[str, Any]] | None = field(default=None, compare=False, repr=False)

    @property
    def phone(self) -> str | None:
        return self.members[0].phone

    @property
    def language(self) -> str:
        return self.members[0].language

    @property
    def details(self) -> list[dict[str, Any]]:
        """What the contact keeps of its members (``contacts.details``): per vehicle, the
        due date and why, and the cohort's own fields (see :meth:`CohortMember.details`);
        a row read back from a kept plan gives them as kept, without rebuilding them."""
        if self.kept_details is not None:
            return self.kept_details
        return [d for d in (m.details() for m in self.members) if d]


@dataclass
class CampaignPlan:
    """A campaign's decisions for one as_of date: a row per targeted customer, sorted by
    customer id.

    A plan read back for its numbers only (a preview, the overview: see
    :mod:`revisit.campaigns.kept`) holds some of its rows (the samples) and its numbers in
    ``tally`` ((decision, reason or "") → customers) and ``deferred_count``."""

    campaign: CampaignDef
    as_of: dt.date
    now: dt.datetime
    rows: list[PlanRow] = field(default_factory=list)
    # sold/scrapped vehicles left out of the contact of a customer who has another one,
    # per store (store id → reason → vehicles)
    dropped_by_store: dict[str, Counter[str]] = field(default_factory=dict)
    tally: Counter[tuple[str, str]] | None = None
    deferred_count: int | None = None
    # A streamed plan (a run's: revisit.campaigns.kept.read_plan) holds no rows: its numbers
    # are in tally, its rows come from source(size), a batch at a time.
    source: Callable[[int], Iterator[Sequence[PlanRow]]] | None = None

    def batches(self, size: int) -> Iterator[Sequence[PlanRow]]:
        """The plan's rows, at most ``size`` at a time, by customer id."""
        if self.source is not None:
            yield from self.source(size)
            return
        for start in range(0, len(self.rows), size):
            yield self.rows[start : start + size]

    @property
    def dropped_vehicles(self) -> Counter[str]:
        """reason → sold/scrapped vehicles left out of a contact, every store together."""
        return sum(self.dropped_by_store.values(), Counter())

    @property
    def targeted(self) -> int:
        return len(self.rows) if self.tally is None else sum(self.tally.values())

    def by_status(self, status: PlanDecision) -> list[PlanRow]:
        return [r for r in self.rows if r.status == status]

    def counts(self) -> dict[PlanDecision, dict[str, int]]:
        """decision → reason → customers (reason ``""`` for to_contact and holdout)."""
        out: dict[PlanDecision, dict[str, int]] = {s: {} for s in PlanDecision}
        tally = self.tally
        if tally is None:
            tally = Counter((str(r.status), str(r.reason or "")) for r in self.rows)
        for (status, reason), n in sorted(tally.items()):
            out[PlanDecision(status)][reason] = n
        return out

    @property
    def deferred(self) -> int:
        """to_contact rows that must wait for the send window to open."""
        if self.deferred_count is not None:
            return self.deferred_count
        return sum(
            1 for r in self.by_status(PlanDecision.TO_CONTACT) if r.send_at and r.send_at > self.now
        )

    def summary(self) -> dict[str, Any]:
        """The plan's numbers (what a run keeps in ``campaign_runs.counts``): targeted, and
        per decision the customers, by reason for excluded and suppressed."""
        counts = self.counts()
        return {
            "campaign": self.campaign.name,
            "as_of": self.as_of.isoformat(),
            "targeted": self.targeted,
            PlanDecision.EXCLUDED: counts[PlanDecision.EXCLUDED],
            PlanDecision.SUPPRESSED: counts[PlanDecision.SUPPRESSED],
            PlanDecision.HOLDOUT: sum(counts[PlanDecision.HOLDOUT].values()),
            PlanDecision.TO_CONTACT: sum(counts[PlanDecision.TO_CONTACT].values()),
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
    by: Key = "customer_id",
) -> set[str]:
    """The customers of ``targeted`` (or with ``by="phone"`` the phones of ``targeted``)
    that a higher-ranked campaign takes today."""
    taken = claimed_today_by_higher(session, campaign=campaign, as_of=as_of, by=by)
    for other in sorted(others.values(), key=CampaignDef.rank):
        if (
            other.name == campaign.name
            or other.schedule != "daily"
            or not outranks(other, campaign)
        ):
            continue
        key = (other.name if by == "customer_id" else f"{other.name}\x1f{by}", as_of)
        if key in reach:
            taken |= reach[key]
        elif len(targeted) <= NARROW_LOOKUP:
            taken |= reachable_customers(
                session, campaign=other, as_of=as_of, among=targeted, by=by
            )
        else:
            reach[key] = reachable_customers(session, campaign=other, as_of=as_of, by=by)
            taken |= reach[key]
    return taken


# A suppression rule's matches: (reason, customer ids, phones). A customer is suppressed
# when their id or their phone matches, so a phone shared by several customers is capped and
# arbitrated as one recipient.
Suppression = tuple[SuppressionReason, set[str], set[str]]


def _both(rule: Callable[[Key], set[str]]) -> tuple[set[str], set[str]]:
    """A history rule's matches by customer id and by phone."""
    return rule("customer_id"), rule("phone")


def _suppressions(
    session: Session,
    campaign: CampaignDef,
    as_of: dt.date,
    others: Mapping[str, CampaignDef],
    reach: ReachCache,
    groups: Mapping[str, list[CohortMember]],
) -> list[Suppression]:
    """(reason, customers, phones) in the order the suppression rules apply."""
    cap = campaign.frequency_cap
    phones = {m.phone for ms in groups.values() for m in ms if m.phone}

    def lower(by: Key) -> set[str]:
        targeted = phones if by == "phone" else groups.keys()
        return _competitors(session, campaign, as_of, others, reach, targeted, by)

    rules: list[Suppression] = [(SuppressionReason.LOWER_PRIORITY, *_both(lower))]
    if campaign.channel == ChannelKind.SMS:

        def capped(by: Key) -> set[str]:
            return sms_capped_customers(
                session,
                campaign=campaign.name,
                as_of=as_of,
                max_sms=cap.max_sms,
                days=cap.days,
                by=by,
            )

        rules.append((SuppressionReason.FREQUENCY_CAP, *_both(capped)))
    if cap.recontact_days and cap.recontact_campaigns:
        days, campaigns = cap.recontact_days, cap.recontact_campaigns

        def recent(by: Key) -> set[str]:
            return recently_contacted(
                session,
                campaign=campaign.name,
                as_of=as_of,
                campaigns=campaigns,
                days=days,
                by=by,
            )

        rules.append((SuppressionReason.RECONTACT_WINDOW, *_both(recent)))
    return rules


def _already_contacted(
    session: Session, campaign: CampaignDef, as_of: dt.date, groups: Mapping[str, Any]
) -> set[str]:
    """Customers whose every event (:func:`revisit.cohorts.events.event_key`) this campaign
    already contacted on an earlier day (a live or reached contact): issue 10, one contact
    per event per campaign. Customers whose members have no event are never in it."""
    contacted = contacted_events(session, campaign=campaign.name, as_of=as_of, among=groups)
    out = set()
    for customer_id, keys in contacted.items():
        due = {event_key(m, as_of) for m in groups[customer_id]}
        if None not in due and due <= keys:
            out.add(customer_id)
    return out


def _decide(
    campaign: CampaignDef,
    members: list[CohortMember],
    suppressions: list[Suppression],
) -> tuple[PlanDecision, Reason | None, list[CohortMember]]:
    """Decision, reason and remaining vehicles for one customer's members."""
    first = members[0]
    live = [m for m in members if vehicle_exclusion(m) is None]
    reason = customer_exclusion(first) or (vehicle_exclusion(members[0]) if not live else None)
    reason = reason or channel_exclusion(first, campaign.channel)
    if reason:
        return PlanDecision.EXCLUDED, reason, live
    for why, customers, phones in suppressions:
        if first.customer_id in customers or first.phone in phones:
            return PlanDecision.SUPPRESSED, why, live
    if in_holdout(campaign.name, first.customer_id, campaign.holdout_pct):
        return PlanDecision.HOLDOUT, None, live
    return PlanDecision.TO_CONTACT, None, live


def most_due(row: PlanRow) -> tuple[dt.date, int, str]:
    """Which to_contact row a shared phone keeps: the earliest due date among its vehicles
    (none known: last), then the most vehicles, then the lowest customer id."""
    dues = [m.due_date for m in row.members if m.due_date is not None]
    return (min(dues, default=dt.date.max), -len(row.members), row.customer_id)


def one_per_phone(rows: list[PlanRow]) -> list[PlanRow]:
    """One contact per phone per run: of the to_contact rows sharing a phone, the one
    :func:`most_due` picks stays; the others become ``suppressed: shared_phone`` (their
    vehicles are not named in the message that goes). Order of ``rows`` is kept."""
    sharing: dict[str, list[PlanRow]] = {}
    for r in rows:
        if r.status == PlanDecision.TO_CONTACT and r.phone:
            sharing.setdefault(r.phone, []).append(r)
    losers = {
        r.customer_id
        for group in sharing.values()
        if len(group) > 1
        for r in sorted(group, key=most_due)[1:]
    }
    shared = PlanDecision.SUPPRESSED, SuppressionReason.SHARED_PHONE
    return [
        replace(r, status=shared[0], reason=shared[1], send_at=None)
        if r.customer_id in losers
        else r
        for r in rows
    ]


def _earliest(*days: dt.date | None) -> dt.date | None:
    return min((d for d in days if d is not None), default=None)


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
    campaign's customers are selected once. Suppressions match a customer by id or by
    phone, and of the to_contact customers sharing a phone one keeps it
    (:func:`one_per_phone`; the others are ``suppressed: shared_phone``)."""
    members = select_cohort(session, as_of=as_of, exclusions=False, **campaign.selection)
    groups = group_by_customer(members)
    suppressions = _suppressions(
        session, campaign, as_of, all_campaigns or {}, {} if reach is None else reach, groups
    )
    already = _already_contacted(session, campaign, as_of, groups)  # the truest reason: first
    # (by customer: an event belongs to the customer, not to the phone)
    suppressions.insert(0, (SuppressionReason.ALREADY_CONTACTED, already, set()))
    zones = store_timezones(session)
    params, own_limit = campaign.cohort_params, campaign.last_useful_day(as_of)
    send_times: dict[str, dt.datetime] = {}  # per time zone
    plan = CampaignPlan(campaign=campaign, as_of=as_of, now=now)
    for customer_id in sorted(groups):  # a plan in the same order whichever way it was read
        group = sorted(groups[customer_id], key=by_customer)
        status, reason, live = _decide(campaign, group, suppressions)
        if live:
            dropped = plan.dropped_by_store.setdefault(group[0].store_id, Counter())
            dropped.update(r for r in map(vehicle_exclusion, group) if r is not None)
        kept = live or group
        send_at = None
        if status == PlanDecision.TO_CONTACT:
            tz = zones.get(group[0].store_id, default_timezone)
            if tz not in send_times:
                send_times[tz] = next_send_time(now, tz, campaign.send_window)
            send_at = send_times[tz]
        vins = tuple(m.vin for m in kept if m.vin is not None)
        plan.rows.append(
            PlanRow(
                customer_id,
                group[0].store_id,
                vins,
                status,
                reason,
                tuple(kept),
                send_at,
                joined_key(kept, as_of),
                _earliest(contact_last_day(kept, as_of, params), own_limit),
            )
        )
    plan.rows = one_per_phone(plan.rows)
    return plan
