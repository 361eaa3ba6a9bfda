"""A campaign run: plan the day, render every text, write the outbox, then hand the waiting
contacts to the campaign's channel (SMS sent, or calls put on the callers' lists).

The outbox is written once per campaign and as_of (contacts are unique on campaign, as_of and
customer): running the same campaign for the same day again resumes what is left — pending
SMS outside quiet hours, a run paused after failures — and otherwise does nothing. Nothing is
written when a template fails for any member (:class:`~revisit.errors.TemplateError`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from revisit.campaigns.config import CampaignDef
from revisit.campaigns.dayplan import daily_campaigns
from revisit.campaigns.plan import CampaignPlan, PlanRow
from revisit.campaigns.statuses import ChannelKind, PlanDecision, RunStatus
from revisit.db.tables import CampaignRun, utcnow
from revisit.delivery import outbox
from revisit.delivery.channels import Delivered, open_channel
from revisit.delivery.dispatch import DispatchSummary
from revisit.entry.clocks import (
    pinned_clock,
    real_clock,
    refuse_past_day,
    refuse_replay_send,
)
from revisit.entry.plans import campaign_plan
from revisit.entry.sending import FanOut, fanned_out
from revisit.rendering import (
    Renderer,
    RenderProblem,
    load_contexts,
    raise_problems,
    refs_from_details,
)
from revisit.settings import Settings

__all__ = ["RunOptions", "RunReport", "daily_campaigns", "pinned_clock", "real_clock",
           "run_campaign"]  # fmt: skip

RENDER_CHUNK = 2000  # plan rows per batch: rendered, then written in one statement


@dataclass
class RunOptions:
    """How a run sends: ``rate`` SMS per second (default 50 on Twilio), ``concurrency``
    provider requests in flight, ``dry_run`` (plan and render, write nothing), how many
    rendered ``samples`` the report keeps, and ``fan_out``: when set, a written SMS outbox
    is handed to it (run id → a summary) to be sent by dispatchers elsewhere
    (:mod:`revisit.entry.sending`), unless it declines (None)."""

    rate: float | None = None  # SMS per second; default by channel
    concurrency: int = 10
    dry_run: bool = False
    samples: int = 3
    fan_out: FanOut | None = None


@dataclass
class RunReport:
    """What a run did, for the CLI summary, flow artifacts and reports.

    ``plan`` is the plan's summary (counts of customers: targeted, excluded/suppressed by
    reason, holdout, to_contact, deferred); ``outbox`` counts the run's contacts by status;
    ``dispatch`` is a :class:`~revisit.delivery.dispatch.DispatchSummary` as a dict;
    ``call_lists`` and ``sms_file`` are paths written; ``samples`` are (customer id, text)."""

    campaign: str
    as_of: dt.date
    channel: ChannelKind
    run_id: int | None = None
    status: RunStatus = RunStatus.PLANNED  # then done, deferred, paused or dry_run
    resumed: bool = False  # the outbox already existed: nothing was planned again
    plan: dict[str, Any] = field(default_factory=dict)  # targeted, excluded, … (plan summary)
    outbox: dict[str, int] = field(default_factory=dict)  # contact status → count
    dispatch: dict[str, Any] = field(default_factory=dict)
    call_lists: list[str] = field(default_factory=list)
    sms_file: str | None = None
    samples: list[tuple[str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = self.__dict__ | {"as_of": self.as_of.isoformat()}
        data["samples"] = [{"customer_id": c, "text": t} for c, t in self.samples]
        return data


# --- planning and rendering ------------------------------------------------------------------


def rendered_batches(
    session: Session,
    *,
    plan: CampaignPlan,
    renderer: Renderer,
    replies: bool = False,
    sheets: bool = True,
) -> Iterator[tuple[Sequence[PlanRow], dict[str, tuple[str, int]], list[RenderProblem]]]:
    """The plan's rows in batches of ``RENDER_CHUNK`` (:meth:`CampaignPlan.batches`), each
    with its texts — customer id → (SMS text, segments) for the batch's customers to
    contact — and the problems found in it. A batch's contexts are loaded set-based
    (:func:`revisit.rendering.load_contexts`), so memory holds one batch, not the campaign.
    For call campaigns the call sheets are rendered and checked but not kept, unless
    ``sheets`` is False (a run: the call channel renders each sheet once, for its list).
    ``replies``: whether replies to the SMS sender arrive (the opt-out hint)."""
    c = plan.campaign
    for rows in plan.batches(RENDER_CHUNK):
        todo = [r for r in rows if r.status == PlanDecision.TO_CONTACT]
        if not todo or (c.channel == ChannelKind.CALL and not sheets):
            yield rows, {}, []
            continue
        refs = [m for r in todo for m in refs_from_details(r.customer_id, r.vins, r.details)]
        contexts = load_contexts(
            session, campaign_name=c.name, cohort=c.cohort, channel=c.channel,
            as_of=plan.as_of, members=refs, campaign_vars=c.template_vars(),
            sender_receives_replies=replies,
        )  # fmt: skip
        rendered, found = renderer.render_campaign(
            c.name, contexts, c.max_segments, channel=c.channel, templates=c.templates
        )
        yield rows, {cid: (sms.text, sms.segments) for cid, sms in rendered.items()}, found


def render_plan(
    session: Session, *, plan: CampaignPlan, renderer: Renderer, replies: bool = False
) -> dict[str, tuple[str, int]]:
    """customer id → (SMS text, segments) for every customer to contact (see
    :func:`rendered_batches`). Raises TemplateError, naming the template, campaign and
    customers, when any member fails."""
    texts: dict[str, tuple[str, int]] = {}
    problems: list[RenderProblem] = []
    for _rows, batch, found in rendered_batches(
        session, plan=plan, renderer=renderer, replies=replies
    ):
        problems += found
        texts.update(batch)
    raise_problems(plan.campaign.name, problems)
    return texts


def dry_run_samples(
    session: Session, *, plan: CampaignPlan, renderer: Renderer, replies: bool, samples: int
) -> list[tuple[str, str]]:
    """Render every text (and call sheet) of the plan batch by batch, keeping the first
    ``samples``; raises TemplateError, as :func:`render_plan`, when any member fails."""
    problems: list[RenderProblem] = []
    shown: list[tuple[str, str]] = []
    for rows, texts, found in rendered_batches(
        session, plan=plan, renderer=renderer, replies=replies
    ):
        problems += found
        shown += _samples(rows, texts, samples - len(shown))
    raise_problems(plan.campaign.name, problems)
    return shown


def write_outbox(
    session: Session, *, plan: CampaignPlan, renderer: Renderer, replies: bool, samples: int
) -> tuple[CampaignRun, list[tuple[str, str]]]:
    """Open the plan's run and write its contacts batch by batch as they are rendered, one
    statement per batch, in the caller's transaction; returns the run and the first
    ``samples`` texts. Raises
    TemplateError after every batch was rendered when any member fails: the caller's
    transaction is then rolled back, so nothing is written. A call campaign's sheets are
    not rendered here but once, by the call channel, as its lists are written (a sheet
    that fails there lists nothing and leaves the contacts waiting for the next run)."""
    run = outbox.open_run(session, plan=plan)
    assert run.id is not None
    problems: list[RenderProblem] = []
    shown: list[tuple[str, str]] = []
    for rows, texts, found in rendered_batches(
        session, plan=plan, renderer=renderer, replies=replies, sheets=False
    ):
        problems += found
        if not problems:
            outbox.write_contacts(session, run_id=run.id, plan=plan, rows=rows, texts=texts)
        shown += _samples(rows, texts, samples - len(shown))
    raise_problems(plan.campaign.name, problems)
    return run, shown


# --- the run ---------------------------------------------------------------------------------


def run_campaign(
    engine: Engine,
    *,
    campaign: CampaignDef,
    campaigns: Mapping[str, CampaignDef],
    as_of: dt.date,
    clock: Callable[[], dt.datetime],
    settings: Settings,
    options: RunOptions | None = None,
    progress: Callable[[DispatchSummary], None] | None = None,
    wall_clock: Callable[[], dt.datetime] | None = None,
) -> RunReport:
    """Plan, render, write the outbox, and hand the waiting contacts to the campaign's
    channel (:func:`revisit.delivery.channels.open_channel`).

    ``clock()`` is the run's aware "now" (planning; pinned by ``--now`` in a replay) and
    ``wall_clock`` the real one (tests inject another). SMS leave only inside the campaign's
    send window on the wall clock, checked just before each send. A pinned ``clock`` or an
    ``as_of`` after today serve dry runs and the console channel only: with a real provider
    configured they raise :class:`~revisit.errors.ConfigError` before anything is written —
    for call campaigns too, so a day's runs stop at the first rather than after the call
    lists. The plan is the day's kept plan (:func:`revisit.entry.plans.campaign_plan`:
    planned once for every daily campaign, the plan a preview showed). Raises
    :class:`~revisit.errors.TemplateError` (nothing written) when a template fails,
    and ConfigError before anything is planned when the campaign may not run for ``as_of``
    (a greeting on another day than its occasion, an offer that has ended); a dry run
    previews any day."""
    opts = options or RunOptions()
    wall_clock = wall_clock or real_clock
    if not opts.dry_run and settings.has_twilio:
        refuse_replay_send(campaign=campaign.name, as_of=as_of, run_clock=clock,
                           wall_clock=wall_clock, timezone=settings.default_timezone)  # fmt: skip
    if not opts.dry_run:
        campaign.check_run_day(campaign.name, as_of)  # a greeting's day, an offer's dates
    renderer = Renderer(settings.templates_dir)
    report = RunReport(campaign=campaign.name, as_of=as_of, channel=campaign.channel)
    with Session(engine) as session:
        run = outbox.existing_run(session, campaign=campaign.name, as_of=as_of)
        if run is None:
            if not opts.dry_run and settings.has_twilio:
                refuse_past_day(campaign=campaign.name, as_of=as_of, wall_clock=wall_clock,
                                timezone=settings.default_timezone)  # fmt: skip
            plan = campaign_plan(
                session, settings, campaign=campaign, campaigns=campaigns, as_of=as_of,
                now=clock(),
            )  # fmt: skip
            report.plan = plan.summary()
            if opts.dry_run:
                report.samples = dry_run_samples(
                    session, plan=plan, renderer=renderer, replies=settings.receives_replies,
                    samples=opts.samples,
                )  # fmt: skip
                report.status = RunStatus.DRY_RUN
                return report
            run, report.samples = write_outbox(
                session, plan=plan, renderer=renderer, replies=settings.receives_replies,
                samples=opts.samples,
            )  # fmt: skip
            session.commit()
        else:
            report.resumed, report.plan = True, dict(run.counts)
        assert run.id is not None
        report.run_id = run_id = run.id
    channel = open_channel(
        campaign, settings=settings, as_of=as_of, clock=clock, renderer=renderer,
        rate=opts.rate, concurrency=opts.concurrency, progress=progress,
        wall_clock=wall_clock,
    )  # fmt: skip
    with closing(channel):
        waiting = channel.find(engine, run_id=run_id)
        shared = opts.fan_out and waiting and channel.kind is ChannelKind.SMS
        spread = opts.fan_out(run_id) if shared and opts.fan_out else None
        if spread is not None:
            delivered = fanned_out(engine, run_id, spread)
        elif waiting:
            delivered = channel.send(engine, run_id=run_id)
        else:
            delivered = Delivered(RunStatus.DONE)
    report.status, report.dispatch = delivered.status, delivered.dispatch
    report.sms_file, report.call_lists = delivered.sms_file, delivered.call_lists
    report.outbox = outbox.finish_run(
        engine, run_id=run_id, status=report.status, now=utcnow(), dispatch=report.dispatch or None
    )
    report.status = outbox.run_status(engine, run_id=run_id)  # paused by someone: paused
    return report


def _samples(
    rows: Sequence[PlanRow], texts: Mapping[str, tuple[str, int]], n: int
) -> list[tuple[str, str]]:
    """The first ``n`` of ``rows`` that have a text, as (customer id, text [segments])."""
    if n <= 0:
        return []
    shown = [r.customer_id for r in rows if r.customer_id in texts][:n]
    return [(cid, f"{texts[cid][0]} [{texts[cid][1]} segment(s)]") for cid in shown]
