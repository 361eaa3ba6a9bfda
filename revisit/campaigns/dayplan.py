"""A day's plan in one pass: every ``daily`` campaign planned in rank order, each one's
competitors known from the plans before it, and the stores' daily SMS budget filled on the
way.

:func:`plan_day` gives the plans a daily run executes; :func:`plan_on_top` plans a campaign
run by hand (``schedule: manual``) against a day's kept plans. Neither writes anything:
:mod:`revisit.campaigns.kept` keeps the result, and the entry layer reads it back for the
previews, the overview and the runs.

Arbitration is :mod:`revisit.campaigns.rules` (``lower_priority``): a higher-ranked daily
campaign takes every customer its plan does not exclude. Because the campaigns are planned
highest rank first, each higher campaign's customers and phones are known when a lower one
is planned — no cohort is selected twice.

The budget (``suppressed: budget``) counts SMS messages per store: the plan decides before
any text is rendered, and the plan a preview shows must be the plan the run executes, so
the budget is in what the plan knows — one message per contact. Within a campaign the most
due customers go first (:func:`revisit.campaigns.plan.one_per_phone`'s order).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace

from sqlalchemy.orm import Session

from revisit.campaigns.config import CampaignDef
from revisit.campaigns.plan import CampaignPlan, PlanRow, ReachCache, most_due, plan_campaign
from revisit.campaigns.statuses import ChannelKind, PlanDecision, SuppressionReason
from revisit.settings import DEFAULT_TIMEZONE


@dataclass(frozen=True)
class SmsBudget:
    """The SMS messages a store may be sent per day: ``per_store`` (store id → messages),
    else ``default`` (None: no budget). Negative numbers are refused by the settings."""

    default: int | None = None
    per_store: Mapping[str, int] = field(default_factory=dict)

    def of(self, store_id: str) -> int | None:
        """The store's budget in messages, or None when it has none."""
        return self.per_store.get(store_id, self.default)

    @property
    def active(self) -> bool:
        return self.default is not None or bool(self.per_store)

    def key(self) -> dict[str, object]:
        """What a kept plan's fingerprint records of the budget."""
        return {"default": self.default, "per_store": dict(sorted(self.per_store.items()))}


NO_BUDGET = SmsBudget()


def daily_campaigns(campaigns: Mapping[str, CampaignDef]) -> list[CampaignDef]:
    """The campaigns of the daily run, highest rank first (so that their contacts take the
    customers lower campaigns would also select)."""
    return sorted((c for c in campaigns.values() if c.schedule == "daily"), key=CampaignDef.rank)


def _phone_key(name: str) -> str:
    return f"{name}\x1fphone"


def remember_reach(reach: ReachCache, plan: CampaignPlan) -> None:
    """Put what ``plan``'s campaign takes (its customers and their phones, every row it does
    not exclude) into ``reach``, for the lower campaigns planned after it."""
    taken = [r for r in plan.rows if r.status != PlanDecision.EXCLUDED]
    name = plan.campaign.name
    reach[(name, plan.as_of)] = {r.customer_id for r in taken}
    reach[(_phone_key(name), plan.as_of)] = {r.phone for r in taken if r.phone}


def reach_from(
    rows: Iterable[tuple[str, str, str | None]], as_of: dt.date, names: Iterable[str]
) -> ReachCache:
    """A reach cache from kept rows (campaign, customer id, phone) that a plan does not
    exclude; every campaign in ``names`` gets an entry, empty when it takes nobody."""
    reach: ReachCache = {}
    for name in names:
        reach[(name, as_of)] = set()
        reach[(_phone_key(name), as_of)] = set()
    for name, customer_id, phone in rows:
        reach[(name, as_of)].add(customer_id)
        if phone:
            reach[(_phone_key(name), as_of)].add(phone)
    return reach


def apply_budget(plan: CampaignPlan, budget: SmsBudget, spent: Counter[str]) -> None:
    """Suppress (``budget``) the to_contact SMS rows of ``plan`` beyond what each store's
    budget leaves after ``spent`` (store id → messages already given, updated here), the
    most due customers first. Call campaigns and holdout rows spend nothing."""
    if not budget.active or plan.campaign.channel != ChannelKind.SMS:
        return
    over: set[str] = set()
    for row in sorted(plan.by_status(PlanDecision.TO_CONTACT), key=most_due):
        limit = budget.of(row.store_id)
        if limit is not None and spent[row.store_id] >= limit:
            over.add(row.customer_id)
        else:
            spent[row.store_id] += 1
    if over:
        plan.rows = [_over_budget(r) if r.customer_id in over else r for r in plan.rows]


def _over_budget(row: PlanRow) -> PlanRow:
    return replace(
        row, status=PlanDecision.SUPPRESSED, reason=SuppressionReason.BUDGET, send_at=None
    )


def sms_spent(plans: Iterable[CampaignPlan]) -> Counter[str]:
    """store id → SMS messages the plans contact (their to_contact rows of SMS campaigns)."""
    spent: Counter[str] = Counter()
    for plan in plans:
        if plan.campaign.channel == ChannelKind.SMS:
            spent.update(r.store_id for r in plan.by_status(PlanDecision.TO_CONTACT))
    return spent


def plan_day(
    session: Session,
    *,
    campaigns: Mapping[str, CampaignDef],
    as_of: dt.date,
    now: dt.datetime,
    budget: SmsBudget = NO_BUDGET,
    default_timezone: str = DEFAULT_TIMEZONE,
) -> Iterator[CampaignPlan]:
    """Plan every ``daily`` campaign of ``campaigns`` for ``as_of`` in one pass, highest rank
    first, yielding each plan (rows with send times for ``now``) as it is made — a caller
    that keeps them need not hold the day in memory. Writes nothing."""
    reach: ReachCache = {}
    spent: Counter[str] = Counter()
    for campaign in daily_campaigns(campaigns):
        plan = plan_campaign(
            session, campaign=campaign, as_of=as_of, now=now, all_campaigns=campaigns,
            default_timezone=default_timezone, reach=reach,
        )  # fmt: skip
        remember_reach(reach, plan)
        apply_budget(plan, budget, spent)
        yield plan


def plan_on_top(
    session: Session,
    *,
    campaign: CampaignDef,
    campaigns: Mapping[str, CampaignDef],
    as_of: dt.date,
    now: dt.datetime,
    reach: ReachCache,
    spent: Counter[str],
    budget: SmsBudget = NO_BUDGET,
    default_timezone: str = DEFAULT_TIMEZONE,
) -> CampaignPlan:
    """Plan a campaign outside the daily run (``schedule: manual``) for ``as_of`` against the
    day's plans: ``reach`` holds what each daily campaign takes (:func:`reach_from`),
    ``spent`` the SMS the daily plans give each store (:func:`sms_spent`); it gets what the
    budget has left. Writes nothing."""
    plan = plan_campaign(
        session, campaign=campaign, as_of=as_of, now=now, all_campaigns=campaigns,
        default_timezone=default_timezone, reach=dict(reach),
    )  # fmt: skip
    apply_budget(plan, budget, Counter(spent))
    return plan
