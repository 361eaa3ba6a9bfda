"""A campaign run: plan the day, render every text, write the outbox, then send the SMS or
hand the call list to staff.

The outbox is written once per campaign and as_of (contacts are unique on campaign, as_of and
customer): running the same campaign for the same day again resumes what is left — pending
SMS outside quiet hours, a run paused after failures — and otherwise does nothing. Nothing is
written when a template fails for any member (:class:`~revisit.errors.TemplateError`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.engine import Engine
from sqlmodel import Session

from revisit.campaigns.config import CampaignDef
from revisit.campaigns.rules import (
    CampaignPlan,
    PlanRow,
    ReachCache,
    plan_campaign,
)
from revisit.campaigns.window import within_send_window
from revisit.db.engine import chunked
from revisit.db.tables import CONTACTS, CUSTOMERS, STORES, Campaign, CampaignRun, Contact, utcnow
from revisit.delivery.channels import open_sms_channel
from revisit.delivery.dispatch import DispatchSummary, dispatch_run
from revisit.delivery.outbox import mark_listed, status_counts
from revisit.rendering import Renderer, load_contexts, member_refs, raise_problems
from revisit.rendering.members import MemberRef
from revisit.settings import Settings

RENDER_CHUNK = 1000
PLAN_STATUS = {"to_contact": "pending", "excluded": "excluded", "suppressed": "suppressed"}


@dataclass
class RunOptions:
    """How a run sends: ``rate`` SMS per second (default 50 on Twilio), ``concurrency``
    provider requests in flight, ``dry_run`` (plan and render, write nothing), and how many
    rendered ``samples`` the report keeps."""

    rate: float | None = None  # SMS per second; default by channel
    concurrency: int = 10
    dry_run: bool = False
    samples: int = 3


@dataclass
class RunReport:
    """What a run did, for the CLI summary, flow artifacts and reports.

    ``plan`` is the plan's summary (counts of customers: targeted, excluded/suppressed by
    reason, holdout, to_contact, deferred); ``outbox`` counts the run's contacts by status;
    ``dispatch`` is a :class:`~revisit.delivery.dispatch.DispatchSummary` as a dict;
    ``call_lists`` and ``sms_file`` are paths written; ``samples`` are (customer id, text)."""

    campaign: str
    as_of: dt.date
    channel: str
    run_id: int | None = None
    status: str = "planned"  # planned | done | deferred | paused | dry_run
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


def render_plan(
    session: Session, *, plan: CampaignPlan, renderer: Renderer
) -> dict[str, tuple[str, int]]:
    """customer id → (SMS text, segments) for every customer to contact; for call campaigns
    the call sheets are rendered and checked but not kept. Raises TemplateError, naming the
    template, campaign and customers, when any member fails."""
    c = plan.campaign
    rows = plan.by_status("to_contact")
    texts: dict[str, tuple[str, int]] = {}
    problems = []
    for chunk in chunked(rows, RENDER_CHUNK):
        contexts = _contexts(
            session, c, plan.as_of, member_refs(m for r in chunk for m in r.members)
        )
        rendered, found = renderer.render_campaign(
            c.name, contexts, c.max_segments, channel=c.channel, templates=c.templates
        )
        problems += found
        texts.update({cid: (sms.text, sms.segments) for cid, sms in rendered.items()})
    raise_problems(c.name, problems)
    return texts


def _contexts(
    session: Session, c: CampaignDef, as_of: dt.date, refs: Sequence[MemberRef]
) -> dict[str, dict[str, Any]]:
    return load_contexts(
        session, campaign_name=c.name, cohort=c.cohort, channel=c.channel, as_of=as_of,
        members=refs, campaign_vars=c.template_vars(),
    )  # fmt: skip


def _record_campaign(session: Session, c: CampaignDef) -> None:
    row = session.get(Campaign, c.name)
    definition = c.model_dump(mode="json")
    if row is None:
        session.add(Campaign(name=c.name, cohort=c.cohort, channel=c.channel,
                             priority=c.priority, definition=definition))  # fmt: skip
    else:
        row.cohort, row.channel, row.priority = c.cohort, c.channel, c.priority
        row.definition, row.updated_at = definition, utcnow()
    session.flush()


def materialise(
    session: Session, *, run_id: int, plan: CampaignPlan, texts: Mapping[str, tuple[str, int]]
) -> None:
    """Write one contact per planned customer: pending with its text, or the reason it is
    not contacted. A customer already in the outbox for this campaign and day is left alone."""
    c = plan.campaign
    channel = "call" if c.channel == "call" else "sms"
    for chunk in chunked(plan.rows, 5000):
        rows = [_contact_row(run_id, plan, r, channel, texts.get(r.customer_id)) for r in chunk]
        session.execute(_insert_ignoring_duplicates(session), rows)


def _contact_row(
    run_id: int, plan: CampaignPlan, r: PlanRow, channel: str, text: tuple[str, int] | None
) -> dict[str, Any]:
    return {
        "run_id": run_id, "campaign": plan.campaign.name, "as_of": plan.as_of,
        "customer_id": r.customer_id, "vins": list(r.vins), "channel": channel,
        "priority": plan.campaign.priority, "status": PLAN_STATUS.get(r.status, r.status),
        "reason": r.reason, "phone": r.phone, "body": text[0] if text else None,
        "attempts": 0, "created_at": utcnow(),
    }  # fmt: skip


def _insert_ignoring_duplicates(session: Session) -> Any:
    if session.get_bind().dialect.name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    else:
        from sqlalchemy.dialects.postgresql import insert as dialect_insert  # type: ignore[assignment]
    return dialect_insert(Contact).on_conflict_do_nothing(
        index_elements=["campaign", "as_of", "customer_id"]
    )


def open_run(
    session: Session, *, plan: CampaignPlan, texts: Mapping[str, tuple[str, int]]
) -> CampaignRun:
    _record_campaign(session, plan.campaign)
    run = CampaignRun(campaign=plan.campaign.name, as_of=plan.as_of, counts=plan.summary())
    session.add(run)
    session.flush()
    assert run.id is not None
    materialise(session, run_id=run.id, plan=plan, texts=texts)
    return run


def existing_run(session: Session, *, campaign: str, as_of: dt.date) -> CampaignRun | None:
    query = (
        select(CampaignRun)
        .where(CampaignRun.campaign == campaign, CampaignRun.as_of == as_of)  # type: ignore[arg-type]
        .order_by(CampaignRun.id)  # type: ignore[arg-type]
    )
    return session.execute(query).scalars().first()


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
    reach: ReachCache | None = None,
) -> RunReport:
    """Plan, render, write the outbox and send (SMS) or write the call lists (calls).

    ``clock()`` is the run's aware "now" (planning and the send window; pinned in a
    replay). Runs of one day's campaigns share ``reach`` (see
    :func:`revisit.campaigns.rules.plan_campaign`). Raises
    :class:`~revisit.errors.TemplateError` (nothing written) when a template fails,
    and ConfigError before anything is planned when the campaign may not run for ``as_of``
    (a greeting on another day than its occasion, an offer that has ended); a dry run
    previews any day."""
    opts = options or RunOptions()
    if not opts.dry_run:
        campaign.check_run_day(campaign.name, as_of)  # a greeting's day, an offer's dates
    renderer = Renderer(settings.templates_dir)
    report = RunReport(campaign=campaign.name, as_of=as_of, channel=campaign.channel)
    with Session(engine) as session:
        run = existing_run(session, campaign=campaign.name, as_of=as_of)
        if run is None:
            plan = plan_campaign(
                session, campaign=campaign, as_of=as_of, now=clock(), all_campaigns=campaigns,
                default_timezone=settings.default_timezone, reach=reach,
            )  # fmt: skip
            texts = render_plan(session, plan=plan, renderer=renderer)
            report.plan = plan.summary()
            report.samples = _samples(plan, texts, opts.samples)
            if opts.dry_run:
                report.status = "dry_run"
                return report
            run = open_run(session, plan=plan, texts=texts)
            session.commit()
        else:
            report.resumed, report.plan = True, dict(run.counts)
        assert run.id is not None
        report.run_id = run.id
    if campaign.channel == "call":
        _hand_to_callers(engine, campaign=campaign, run_id=run.id, now=clock(), settings=settings,
                         renderer=renderer, report=report)  # fmt: skip
    else:
        _send_sms(engine, campaign=campaign, run_id=run.id, clock=clock, settings=settings,
                  opts=opts, report=report, progress=progress)  # fmt: skip
    report.outbox = status_counts(engine, run_id=run.id)
    _finish(engine, run_id=run.id, report=report)
    return report


def _samples(
    plan: CampaignPlan, texts: Mapping[str, tuple[str, int]], n: int
) -> list[tuple[str, str]]:
    shown = [r.customer_id for r in plan.by_status("to_contact") if r.customer_id in texts][:n]
    return [(cid, f"{texts[cid][0]} [{texts[cid][1]} segment(s)]") for cid in shown]


def _finish(engine: Engine, *, run_id: int, report: RunReport) -> None:
    with Session(engine) as session:
        run = session.get(CampaignRun, run_id)
        assert run is not None
        run.status = report.status
        counts = dict(run.counts) | {"outbox": report.outbox}
        if report.dispatch:
            counts["dispatch"] = report.dispatch
        run.counts = counts
        if report.status == "done":
            run.finished_at = utcnow()
        session.commit()


def store_zones(engine: Engine, run_id: int, default: str) -> set[str]:
    """The time zones of the stores whose customers wait in this run's outbox."""
    stores, customers, contacts = STORES, CUSTOMERS, CONTACTS
    query = (
        select(stores.c.timezone)
        .join_from(contacts, customers, customers.c.customer_id == contacts.c.customer_id)
        .join(stores, stores.c.store_id == customers.c.store_id)
        .where(contacts.c.run_id == run_id, contacts.c.status == "pending")
        .distinct()
    )
    with Session(engine) as session:
        return {tz or default for tz in session.execute(query).scalars()} or {default}


def _send_sms(
    engine: Engine,
    *,
    campaign: CampaignDef,
    run_id: int,
    clock: Callable[[], dt.datetime],
    settings: Settings,
    opts: RunOptions,
    report: RunReport,
    progress: Callable[[DispatchSummary], None] | None,
) -> None:
    waiting = status_counts(engine, run_id=run_id)
    if not any(waiting.get(s, 0) for s in ("pending", "sending", "unknown")):
        report.status = "done"
        return
    zones = store_zones(engine, run_id, settings.default_timezone)

    def may_send(_real: dt.datetime) -> bool:
        # Quiet hours follow the run's clock (pinned with --now in a replay), in every
        # store of the run; leases and the provider reconciliation use the real clock, which
        # is the one the provider's timestamps are compared with.
        at = clock()
        return all(within_send_window(at, tz, campaign.send_window) for tz in zones)

    out = None
    if not settings.has_twilio:
        path = settings.output_dir / "sms" / f"{campaign.name}_{report.as_of}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        out, report.sms_file = path.open("a", encoding="utf-8"), str(path)
    rate = opts.rate or (50.0 if settings.has_twilio else 5000.0)

    async def go() -> DispatchSummary:
        channel = open_sms_channel(
            settings, max_connections=opts.concurrency + 4, console_stream=out
        )
        try:
            return await dispatch_run(engine, run_id=run_id, channel=channel, rate=rate,
                                      concurrency=opts.concurrency, clock=real_clock,
                                      may_send=may_send,
                                      progress=progress)  # fmt: skip
        finally:
            await channel.aclose()

    try:
        summary = asyncio.run(go())
    finally:
        if out is not None:
            out.close()
    report.status, report.dispatch = summary.status, summary.as_dict()


def _hand_to_callers(
    engine: Engine,
    *,
    campaign: CampaignDef,
    run_id: int,
    now: dt.datetime,
    settings: Settings,
    renderer: Renderer,
    report: RunReport,
) -> None:
    """Write the call lists for the run's pending contacts, and the callbacks due that day
    in the campaign, and mark them listed with their caller."""
    from revisit.delivery.calls import produce_call_lists

    with Session(engine) as session:
        pending = _to_call(session, campaign=campaign.name, run_id=run_id, as_of=report.as_of)
        if pending:
            refs = [MemberRef(customer_id=p.customer_id, vins=list(p.vins or [])) for p in pending]
            contexts = _contexts(session, campaign, report.as_of, refs)
            out_dir = settings.output_dir / "calls" / report.as_of.isoformat()
            result = produce_call_lists(
                session, renderer=renderer, contexts=contexts, out_dir=out_dir,
                campaign=campaign.name, as_of=report.as_of, priority=campaign.priority,
                contact_ids={p.customer_id: p.id for p in pending},
                templates=campaign.templates, callers=campaign.callers,
                prefer_advisor=campaign.call_by == "last_advisor",
                preset={p.customer_id: p.caller for p in pending if p.caller},
                managers=settings.service_managers if campaign.call_to != "staff" else None,
            )  # fmt: skip
            report.call_lists = [str(path) for path in result.files]
            _mark_listed(session, pending, {r.customer_id: r.caller for r in result.rows}, now)
            session.commit()
            _notify(settings, campaign, report, result.counts)
    report.status = "done"


def _to_call(session: Session, *, campaign: str, run_id: int, as_of: dt.date) -> list[Any]:
    """The run's pending call contacts and the campaign's callbacks due on ``as_of``."""
    c = CONTACTS.c
    mine = c.run_id == run_id
    callbacks = and_(c.campaign == campaign, c.as_of == as_of, c.callback_of.is_not(None))
    query = select(c.id, c.customer_id, c.vins, c.caller).where(
        c.status == "pending", or_(mine, callbacks)
    )
    return list(session.execute(query).all())


def _mark_listed(
    session: Session, pending: Sequence[Any], callers: Mapping[str, str], now: dt.datetime
) -> None:
    by_caller: dict[str, list[int]] = {}
    for p in pending:
        by_caller.setdefault(callers.get(p.customer_id, "unassigned"), []).append(p.id)
    mark_listed(session.connection(), by_caller=by_caller, now=now)


def _notify(
    settings: Settings, campaign: CampaignDef, report: RunReport, counts: dict[str, int]
) -> None:
    url = settings.staff_webhook_url.get_secret_value() if settings.staff_webhook_url else ""
    if not url:
        return
    import httpx

    from revisit.delivery.notify import notify_staff

    with httpx.Client(timeout=10.0) as client:
        notify_staff(
            url, campaign=campaign.name, as_of=report.as_of,
            files=[Path(p) for p in report.call_lists], counts=counts, client=client,
        )  # fmt: skip


def real_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def pinned_clock(start: dt.datetime | None) -> Callable[[], dt.datetime]:
    """The wall clock, or one that starts at ``start`` and runs at real speed."""
    if start is None:
        return real_clock
    origin, t0 = start.astimezone(dt.UTC), time.monotonic()
    return lambda: origin + dt.timedelta(seconds=time.monotonic() - t0)


def daily_campaigns(campaigns: Mapping[str, CampaignDef]) -> list[CampaignDef]:
    """The campaigns of the daily run, highest rank first (so that their contacts take the
    customers lower campaigns would also select)."""
    return sorted((c for c in campaigns.values() if c.schedule == "daily"), key=CampaignDef.rank)


def unsettled_runs(engine: Engine, *, since: dt.date) -> list[tuple[str, dt.date]]:
    """(campaign, as_of) of the runs since ``since`` with SMS still waiting to go out."""
    c = CONTACTS.c
    query = (
        select(c.campaign, c.as_of)
        .where(
            c.as_of >= since, c.channel == "sms", c.status.in_(("pending", "sending", "unknown"))
        )
        .distinct()
        .order_by(c.as_of, c.campaign)
    )
    with engine.connect() as conn:
        return [(name, day) for name, day in conn.execute(query)]
