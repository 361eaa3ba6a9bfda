"""Contact rules: why a customer of a cohort is not contacted by a campaign run.

Each rule is a pure function or one set-based query; :func:`revisit.campaigns.plan.plan_campaign`
applies them in this order and gives each customer exactly one decision:

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
7. ``suppressed: shared_phone`` — one contact per phone per run: of the to_contact
   customers sharing a phone, the most due keeps it
   (:func:`revisit.campaigns.plan.one_per_phone`).
8. ``suppressed: budget`` — the store's daily SMS budget is spent by higher-ranked
   campaigns' (and this campaign's more due) SMS (:func:`revisit.campaigns.dayplan.apply_budget`,
   applied by the day's one planning pass).

Rules 3 and 4 match by phone as well as by customer (``by="phone"``: the E.164 number a
contact went to, ``contacts.phone``), so customers sharing a phone are one recipient.

Contact history counts rows with a sent (or possibly sent) status, keyed by their as_of;
the rows of this same campaign and as_of are ignored, so planning a run twice agrees.
Reasons and statuses are the enums of :mod:`revisit.campaigns.statuses`.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Collection, Iterable, Sequence
from typing import Any, Literal

from sqlalchemy import and_, false, func, or_, select, true
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from revisit.campaigns.config import CampaignDef
from revisit.campaigns.statuses import (
    LIVE_STATUSES,
    REACHED_STATUSES,
    ChannelKind,
    ExclusionReason,
)
from revisit.cohorts.events import split_key
from revisit.cohorts.select import GONE_STATUSES, CohortMember, grouping_memory, member_query
from revisit.dates import add_days
from revisit.db.tables import CONTACTS, CUSTOMERS, STORES
from revisit.settings import DEFAULT_TIMEZONE

#: The exclusion of a vehicle its DMS marks gone (``vehicles.status`` sold or scrapped).
GONE_VEHICLE = {status: ExclusionReason(f"vehicle_{status}") for status in GONE_STATUSES}


# --- pure rules ----------------------------------------------------------------------------


def customer_exclusion(member: CohortMember) -> ExclusionReason | None:
    return ExclusionReason.DO_NOT_CONTACT if member.opted_out else None


def vehicle_exclusion(member: CohortMember) -> ExclusionReason | None:
    if member.vin is not None and member.vehicle_status is not None:
        return GONE_VEHICLE.get(member.vehicle_status)
    return None


def channel_exclusion(member: CohortMember, channel: str) -> ExclusionReason | None:
    """Why ``member``'s customer cannot be reached on ``channel``, or None."""
    if not member.phone:
        return ExclusionReason.NO_PHONE
    if member.phone_invalid:
        return ExclusionReason.INVALID_PHONE
    if channel == ChannelKind.SMS:
        if member.phone_type != "mobile":
            return ExclusionReason.NOT_MOBILE
        if not member.consent_sms:
            return ExclusionReason.NO_SMS_CONSENT
    return None


def channel_reachable(channel: str) -> list[ColumnElement[bool]]:
    """:func:`channel_exclusion` as SQL conditions on the customer: they hold exactly when
    it finds no reason (for counting a whole cohort without building its members)."""
    c = CUSTOMERS.c
    conds = [c.phone.is_not(None), c.phone != "", c.phone_invalid == false()]
    if channel == ChannelKind.SMS:
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
        c.status.in_(REACHED_STATUSES),
        c.as_of > add_days(as_of, -days),
        c.as_of <= as_of,
        ~and_(c.campaign == campaign, c.as_of == as_of),
    )


#: What a history rule counts by: the customer, or the phone a contact went to (one phone
#: may stand for several customers — a family's cars, a salesperson's own number).
Key = Literal["customer_id", "phone"]


def _key(table: Any, by: Key) -> Any:
    return table.c.phone if by == "phone" else table.c.customer_id


def _known(column: Any, by: Key) -> list[ColumnElement[bool]]:
    return [column.is_not(None), column != ""] if by == "phone" else []


def sms_capped_customers(
    session: Session,
    *,
    campaign: str,
    as_of: dt.date,
    max_sms: int,
    days: int,
    by: Key = "customer_id",
) -> set[str]:
    """Customers (or with ``by="phone"`` the E.164 phones, ``contacts.phone``) that already
    had ``max_sms`` SMS contacts in the ``days`` days to as_of."""
    c, key = CONTACTS.c, _key(CONTACTS, by)
    query = (
        select(key)
        .where(c.channel != ChannelKind.CALL, _history(campaign, as_of, days), *_known(key, by))
        .group_by(key)
        .having(func.count() >= max_sms)
    )
    return set(session.execute(query).scalars())


def recently_contacted(
    session: Session,
    *,
    campaign: str,
    as_of: dt.date,
    campaigns: Sequence[str],
    days: int,
    by: Key = "customer_id",
) -> set[str]:
    """Customers (or phones, ``by="phone"``) contacted by one of ``campaigns`` in the
    ``days`` days to as_of."""
    c, key = CONTACTS.c, _key(CONTACTS, by)
    query = select(key).where(
        c.campaign.in_(campaigns), _history(campaign, as_of, days), *_known(key, by)
    )
    return set(session.execute(query.distinct()).scalars())


def claimed_today_by_higher(
    session: Session, *, campaign: CampaignDef, as_of: dt.date, by: Key = "customer_id"
) -> set[str]:
    """Customers (or phones, ``by="phone"``) with a live contact row on as_of from a
    campaign ranked above this one."""
    c, key = CONTACTS.c, _key(CONTACTS, by)
    higher = or_(
        c.priority > campaign.priority,
        and_(c.priority == campaign.priority, c.campaign < campaign.name),
    )
    query = select(key).where(
        c.as_of == as_of,
        c.campaign != campaign.name,
        c.status.in_(LIVE_STATUSES),
        higher,
        *_known(key, by),
    )
    return set(session.execute(query.distinct()).scalars())


def reachable_customers(
    session: Session,
    *,
    campaign: CampaignDef,
    as_of: dt.date,
    among: Collection[str] | None = None,
    by: Key = "customer_id",
) -> set[str]:
    """Customers (or their phones, ``by="phone"``) ``campaign`` would reach on as_of: its
    cohort after filters, the always-exclusions and its channel exclusions (only those
    ``among`` these ids or phones, if given: one lookup instead of the whole cohort)."""
    query = member_query(session, as_of=as_of, **campaign.selection)
    query = query.where(*channel_reachable(campaign.channel))
    if among is not None:
        query = query.where(_key(CUSTOMERS, by).in_(sorted(among)))
    sub = query.subquery()
    with grouping_memory(session, campaign.cohort):
        found = set(session.execute(select(sub.c[by]).distinct()).scalars())
    return {k for k in found if k}


def store_timezones(session: Session) -> dict[str, str]:
    rows = session.execute(select(STORES.c.store_id, STORES.c.timezone))
    return {sid: tz or DEFAULT_TIMEZONE for sid, tz in rows}


def contacted_events(
    session: Session, *, campaign: str, as_of: dt.date, among: Collection[str]
) -> dict[str, set[str]]:
    """customer → the event keys (:mod:`revisit.cohorts.events`) ``campaign`` has a live or
    reached contact about on any day but ``as_of``, for the customers ``among``. Issue:
    the same campaign never contacts the same event twice, whatever the day."""
    c = CONTACTS.c
    query = select(c.customer_id, c.event_key).where(
        c.campaign == campaign,
        c.as_of != as_of,
        c.status.in_(LIVE_STATUSES),
        c.event_key.is_not(None),
    )
    wanted = set(among)
    if len(wanted) <= NARROW_EVENTS:
        query = query.where(c.customer_id.in_(sorted(wanted)))
    out: dict[str, set[str]] = {}
    for customer_id, stored in session.execute(query):
        if customer_id in wanted:
            out.setdefault(customer_id, set()).update(split_key(stored))
    return out


# Up to this many customers are looked up by id; more read the campaign's whole history.
NARROW_EVENTS = 5_000
