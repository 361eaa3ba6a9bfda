"""Looking before sending: a campaign's preview, the campaign overview, a cohort's members.

Previews and the overview read the day's kept plan (:mod:`revisit.entry.plans`: planned
and kept by the first reader of the day), which is the plan a run then executes; nothing
else is written. The CLI (``campaign preview``, ``campaign overview``, ``cohort``) and
any other front end call these with an engine and the process's settings.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine
from sqlmodel import Session

from revisit.campaigns.plan import CampaignPlan
from revisit.campaigns.statuses import ChannelKind, PlanDecision
from revisit.cohorts.select import CohortMember, by_customer, select_cohort
from revisit.entry.lookup import campaign_files, find_campaign, find_cohort
from revisit.entry.plans import cohort_sizes, plan_numbers, runnable
from revisit.rendering import Renderer, load_contexts, refs_from_details
from revisit.settings import Settings


class SampleText(str):
    """A rendered sample as the CLI prints it (``text [2 segment(s), UCS-2]``, or ``call sheet
    of N characters rendered``), carrying its parts for a page to word in its own language:
    ``body`` (the SMS text, "" for a call sheet), ``segments`` and ``encoding`` (an SMS) or
    ``characters`` (a call sheet's length)."""

    body: str
    segments: int
    encoding: str
    characters: int

    @classmethod
    def sms(cls, body: str, segments: int, encoding: str) -> SampleText:
        """An SMS sample."""
        made = cls(f"{body} [{segments} segment(s), {encoding}]")
        made.body, made.segments, made.encoding, made.characters = body, segments, encoding, 0
        return made

    @classmethod
    def call_sheet(cls, characters: int) -> SampleText:
        """A call sheet sample, by its length."""
        made = cls(f"call sheet of {characters} characters rendered")
        made.body, made.segments, made.encoding, made.characters = "", 0, "", characters
        return made


@dataclass
class Preview:
    """What a run of a campaign would do: its plan (every targeted customer's decision) and
    up to n rendered samples as (customer id, text with its segments and encoding)."""

    plan: CampaignPlan
    samples: list[tuple[str, str]] = field(default_factory=list)
    not_today: str | None = None  # why the day cannot run it: nothing planned, no numbers


@dataclass
class CampaignOverview:
    """Every cohort's size per store (cohort → store id → members) and the plan for
    ``as_of`` of every loadable campaign the day can run, highest rank first; ``not_today``
    names the campaigns it cannot run (name → why; not planned: see
    :func:`revisit.entry.plans.runnable`) and ``broken`` the campaign files that do not
    load (file stem → one-line error)."""

    as_of: dt.date
    sizes: dict[str, dict[str, int]]
    plans: list[CampaignPlan]
    broken: dict[str, str] = field(default_factory=dict)
    not_today: dict[str, str] = field(default_factory=dict)


def preview(
    engine: Engine,
    settings: Settings,
    *,
    name: str,
    as_of: dt.date,
    now: dt.datetime,
    samples: int,
    store_ids: Collection[str] | None = None,
) -> Preview:
    """Plan the campaign ``name`` for ``as_of`` at ``now`` (aware) and render ``samples``
    messages (or call sheets); numbers and samples of the customers of ``store_ids`` only,
    when given. A campaign the day cannot run (a greeting outside its date, an offer
    outside its dates: :func:`revisit.entry.plans.runnable`) is not planned: its preview
    has no numbers and ``not_today`` says why. Raises
    :class:`~revisit.errors.NotFoundError` for an unknown campaign, its
    :class:`~revisit.errors.ConfigError` for a broken file."""
    files = campaign_files(settings)
    campaign = find_campaign(files, name)
    why = campaign.run_day_problem(campaign.name, as_of)
    if why is not None:
        empty = CampaignPlan(campaign=campaign, as_of=as_of, now=now, tally=Counter())
        return Preview(plan=empty, not_today=why)
    with Session(engine) as session:
        (plan,) = plan_numbers(
            session, settings, campaigns=files.campaigns, names=[campaign.name], as_of=as_of,
            now=now, samples=samples, store_ids=store_ids,
        )  # fmt: skip
        return Preview(plan=plan, samples=render_samples(session, plan, settings, samples))


def campaign_overview(
    engine: Engine,
    settings: Settings,
    *,
    as_of: dt.date,
    now: dt.datetime,
    store_ids: Collection[str] | None = None,
) -> CampaignOverview:
    """Cohort sizes per store and the preview numbers of every campaign the day can run,
    read from the day's kept plans (planned first if need be: :mod:`revisit.entry.plans`);
    the numbers of the customers of ``store_ids`` only, when given. A campaign the day
    cannot run is named in ``not_today``, not planned."""
    files = campaign_files(settings)
    names, not_today = runnable(files.campaigns, as_of)
    with Session(engine) as session:
        plans = plan_numbers(
            session, settings, campaigns=files.campaigns, names=names, as_of=as_of, now=now,
            store_ids=store_ids,
        )  # fmt: skip
        sizes = cohort_sizes(session, settings, campaigns=files.campaigns, as_of=as_of)
    broken = {n: str(e) for n, e in files.broken.items()}
    return CampaignOverview(
        as_of=as_of, sizes=sizes, plans=plans, broken=broken, not_today=not_today
    )


def cohort_members(engine: Engine, *, name: str, as_of: dt.date) -> list[CohortMember]:
    """The members of cohort ``name`` as of ``as_of`` (after the always-exclusions), sorted
    by customer then vehicle. Raises :class:`~revisit.errors.NotFoundError` for an unknown
    cohort."""
    find_cohort(name)
    with Session(engine) as session:
        members = select_cohort(session, cohort=name, as_of=as_of)
    return sorted(members, key=by_customer)


def render_samples(
    session: Session, plan: CampaignPlan, settings: Settings, n: int
) -> list[tuple[str, str]]:
    """Rendered messages (or call sheets) for the first ``n`` customers to contact."""
    rows = plan.by_status(PlanDecision.TO_CONTACT)[:n]
    if not rows:
        return []
    c = plan.campaign
    refs = [m for r in rows for m in refs_from_details(r.customer_id, r.vins, r.details)]
    contexts = load_contexts(
        session, campaign_name=c.name, cohort=c.cohort, channel=c.channel, as_of=plan.as_of,
        members=refs, campaign_vars=c.template_vars(),
        sender_receives_replies=settings.receives_replies,
    )  # fmt: skip
    renderer = Renderer(settings.templates_dir)
    out: list[tuple[str, str]] = []
    for customer_id, ctx in contexts.items():
        lang = str(ctx["language"])
        if c.channel == ChannelKind.SMS:
            sms = renderer.render_sms(c.name, lang, ctx, templates=c.templates)
            out.append((customer_id, SampleText.sms(sms.text, sms.segments, sms.encoding)))
        else:
            sheet = renderer.render_call_sheet(c.name, lang, ctx, templates=c.templates)
            out.append((customer_id, SampleText.call_sheet(len(sheet))))
    return out
