"""The day's plan, computed once and read by everyone: previews, the overview, the web pages
and the runs.

:func:`ensure_plans` plans what is not kept yet — every daily campaign in one pass
(:func:`revisit.campaigns.dayplan.plan_day`) and any other campaign asked for on top of
them — and keeps it (:mod:`revisit.campaigns.kept`), after forgetting a day whose
fingerprint no longer matches (an import, an opt-out, a campaign file edited, new contact
history). :func:`campaign_plan` is the plan a run executes; :func:`plan_numbers` what a
preview shows of the same kept plan.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine
from sqlmodel import Session

from revisit.campaigns import kept
from revisit.campaigns.config import CampaignDef
from revisit.campaigns.dayplan import SmsBudget, daily_campaigns, plan_day, plan_on_top
from revisit.campaigns.plan import CampaignPlan
from revisit.cohorts.select import COHORTS, cohort_sizes_by_store
from revisit.entry.lookup import campaign_files
from revisit.settings import Settings


def budget_of(settings: Settings) -> SmsBudget:
    """The stores' daily SMS budget the settings give."""
    return SmsBudget(default=settings.sms_daily_budget, per_store=dict(settings.sms_budgets))


def ensure_plans(
    session: Session,
    settings: Settings,
    *,
    campaigns: Mapping[str, CampaignDef],
    as_of: dt.date,
    now: dt.datetime,
    names: Iterable[str],
) -> None:
    """Make sure the plans of ``names`` (campaigns of ``campaigns``) for ``as_of`` are kept
    and current, planning and keeping what is missing (the day's daily campaigns together,
    whenever one of them, or a campaign planned on top of them, is missing); commits."""
    budget = budget_of(settings)
    fp = kept.fingerprint(session, campaigns=campaigns, as_of=as_of, budget=budget)
    have = kept.kept_campaigns(session, as_of=as_of, fingerprint=fp)
    wanted = set(names) - have
    if not wanted:
        return
    daily = daily_campaigns(campaigns)
    tz = settings.default_timezone
    if not {c.name for c in daily} <= have:
        for plan in plan_day(
            session, campaigns=campaigns, as_of=as_of, now=now, budget=budget,
            default_timezone=tz,
        ):  # fmt: skip
            kept.keep(session, plan, fingerprint=fp)
        session.commit()
        wanted -= {c.name for c in daily}
    if not wanted:
        return
    reach = kept.read_reach(session, as_of=as_of, names=[c.name for c in daily])
    spent = kept.read_spent(session, as_of=as_of, campaigns=daily)
    for name in sorted(wanted):
        plan = plan_on_top(
            session, campaign=campaigns[name], campaigns=campaigns, as_of=as_of, now=now,
            reach=reach, spent=spent, budget=budget, default_timezone=tz,
        )  # fmt: skip
        kept.keep(session, plan, fingerprint=fp)
    session.commit()


def campaign_plan(
    session: Session,
    settings: Settings,
    *,
    campaign: CampaignDef,
    campaigns: Mapping[str, CampaignDef],
    as_of: dt.date,
    now: dt.datetime,
) -> CampaignPlan:
    """``campaign``'s kept plan for ``as_of`` (planned first if need be), send times placed
    at ``now`` (aware): what a run writes to its outbox — its numbers, and its rows read
    batch by batch from the kept plan (:meth:`CampaignPlan.batches`) in ``session``."""
    every = {**campaigns, campaign.name: campaign}
    ensure_plans(session, settings, campaigns=every, as_of=as_of, now=now, names=[campaign.name])
    return kept.read_plan(
        session, campaign=campaign, as_of=as_of, now=now,
        default_timezone=settings.default_timezone, streamed=True,
    )  # fmt: skip


def plan_numbers(
    session: Session,
    settings: Settings,
    *,
    campaigns: Mapping[str, CampaignDef],
    names: Iterable[str],
    as_of: dt.date,
    now: dt.datetime,
    samples: int = 0,
    store_ids: Collection[str] | None = None,
) -> list[CampaignPlan]:
    """The numbers of the kept plans of ``names`` (in that order) and their first
    ``samples`` customers to contact: what previews and the overview show — in
    ``store_ids`` only, when given (a scoped web user; the day is still planned whole)."""
    order = list(names)
    ensure_plans(session, settings, campaigns=campaigns, as_of=as_of, now=now, names=order)
    return [
        kept.read_plan(
            session,
            campaign=campaigns[n],
            as_of=as_of,
            now=now,
            default_timezone=settings.default_timezone,
            samples=samples,
            store_ids=store_ids,
        )
        for n in order
    ]


def cohort_sizes(
    session: Session,
    settings: Settings,
    *,
    campaigns: Mapping[str, CampaignDef],
    as_of: dt.date,
) -> dict[str, dict[str, int]]:
    """Every cohort's members per store on ``as_of`` (cohort → store id → members, in the
    order of :data:`revisit.cohorts.select.COHORTS`), kept with the day's plans."""
    fp = kept.fingerprint(session, campaigns=campaigns, as_of=as_of, budget=budget_of(settings))
    kept.kept_campaigns(session, as_of=as_of, fingerprint=fp)  # forgets a stale day
    sizes = kept.kept_sizes(session, as_of=as_of, fingerprint=fp)
    if sizes is None:
        sizes = cohort_sizes_by_store(session, as_of=as_of)
        kept.keep_sizes(session, sizes, as_of=as_of, fingerprint=fp)
        session.commit()
    return {name: sizes.get(name, {}) for name in COHORTS}


def runnable(
    campaigns: Mapping[str, CampaignDef], as_of: dt.date
) -> tuple[list[str], dict[str, str]]:
    """The campaigns ``as_of`` can run, highest rank first, and those it cannot (name → why,
    one line): the rule a run applies (:meth:`CampaignDef.run_day_problem`: a greeting on
    its occasion's date only, an offer within its dates). A day's plan holds the first
    alone; planning a festival greeting over every active customer on any other day would
    be work no run can use."""
    names: list[str] = []
    not_today: dict[str, str] = {}
    for c in sorted(campaigns.values(), key=CampaignDef.rank):
        problem = c.run_day_problem(c.name, as_of)
        if problem is None:
            names.append(c.name)
        else:
            not_today[c.name] = problem
    return names, not_today


@dataclass
class DayPlan:
    """The numbers of the day's kept plans (highest rank first) and the campaigns the day
    cannot run (name → why), which are not planned."""

    plans: list[CampaignPlan]
    not_today: dict[str, str] = field(default_factory=dict)


def plan_the_day(
    engine: Engine, settings: Settings, *, as_of: dt.date, now: dt.datetime
) -> DayPlan:
    """Plan and keep every loadable campaign ``as_of`` can run (``revisit campaign plan``):
    the daily campaigns in one pass, the manual ones it can run on top (see
    :func:`runnable`); their numbers, highest rank first."""
    files = campaign_files(settings)
    names, not_today = runnable(files.campaigns, as_of)
    with Session(engine) as session:
        plans = plan_numbers(
            session, settings, campaigns=files.campaigns, names=names, as_of=as_of, now=now
        )
        cohort_sizes(session, settings, campaigns=files.campaigns, as_of=as_of)
    return DayPlan(plans, not_today)
