"""Campaigns and runs as a user scoped to some stores sees them.

A plan, a preview and a run's progress are counted over the customers of the user's stores
only (``store_ids``; None for every store), so no number of another store ever reaches
them; a run with no contact in their stores is not found, as a run that does not exist.
The plans themselves come from :mod:`revisit.entry.preview` — nothing is planned twice.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from revisit.campaigns.config import CampaignDef
from revisit.campaigns.plan import CampaignPlan
from revisit.campaigns.statuses import ContactStatus
from revisit.db.tables import CAMPAIGNS, CONTACTS, CUSTOMERS, RUNS
from revisit.entry.lookup import campaign_files, find_campaign
from revisit.entry.preview import campaign_overview, preview
from revisit.settings import Settings

Scope = Collection[str] | None


def plan_numbers(plan: CampaignPlan) -> dict[str, Any]:
    """The preview numbers of a (scoped) plan: targeted, excluded and suppressed in total and
    by reason, holdout, to contact, deferred (:meth:`CampaignPlan.summary`)."""
    summary = plan.summary()
    summary["excluded_total"] = sum(summary["excluded"].values())
    summary["suppressed_total"] = sum(summary["suppressed"].values())
    return summary


@dataclass
class CampaignRow:
    """A campaign on the lead's list: its definition, today's numbers in their stores and
    the run already opened for the day, if any."""

    campaign: CampaignDef
    numbers: dict[str, Any]
    run_id: int | None = None
    not_today: str | None = None  # why the day cannot run it (then it is not planned)


def campaign_rows(
    engine: Engine, settings: Settings, *, as_of: dt.date, now: dt.datetime, store_ids: Scope
) -> tuple[list[CampaignRow], dict[str, str]]:
    """Every loadable campaign with its preview numbers for ``as_of`` in ``store_ids``,
    highest rank first, and the broken campaign files (stem → one-line error). A campaign
    the day cannot run is not planned: its row has zero numbers and ``not_today`` says
    why."""
    overview = campaign_overview(engine, settings, as_of=as_of, now=now, store_ids=store_ids)
    runs = runs_of_day(engine, as_of=as_of)
    rows = [
        CampaignRow(p.campaign, plan_numbers(p), runs.get(p.campaign.name)) for p in overview.plans
    ]
    files = campaign_files(settings)
    for name, why in overview.not_today.items():
        empty = CampaignPlan(campaign=files.campaigns[name], as_of=as_of, now=now, tally=Counter())
        rows.append(CampaignRow(empty.campaign, plan_numbers(empty), runs.get(name), why))
    rows.sort(key=lambda r: r.campaign.rank())
    return rows, overview.broken


@dataclass
class ScopedPreview:
    """One campaign's preview in the user's stores: numbers and rendered samples."""

    campaign: CampaignDef
    numbers: dict[str, Any]
    samples: list[tuple[str, str]] = field(default_factory=list)
    not_today: str | None = None  # why the day cannot run it (then nothing is planned)


def scoped_preview(
    engine: Engine,
    settings: Settings,
    *,
    name: str,
    as_of: dt.date,
    now: dt.datetime,
    store_ids: Scope,
    samples: int = 3,
) -> ScopedPreview:
    """The preview of campaign ``name`` in ``store_ids`` (samples drawn from those stores).
    Raises :class:`~revisit.errors.NotFoundError` for an unknown campaign."""
    found = preview(
        engine, settings, name=name, as_of=as_of, now=now, samples=samples, store_ids=store_ids
    )
    return ScopedPreview(
        found.plan.campaign, plan_numbers(found.plan), found.samples, found.not_today
    )


def campaign_stores(engine: Engine, campaign: CampaignDef) -> list[str]:
    """The stores a campaign reaches: its ``filters.stores``, else every store with
    customers."""
    if campaign.filters.stores:
        return sorted(campaign.filters.stores)
    with engine.connect() as conn:
        return sorted(conn.execute(select(CUSTOMERS.c.store_id).distinct()).scalars())


def known_campaign(settings: Settings, name: str) -> CampaignDef:
    """The campaign called ``name`` from the campaign files. Raises
    :class:`~revisit.errors.NotFoundError` or the file's ConfigError."""
    return find_campaign(campaign_files(settings), name)


def runs_of_day(engine: Engine, *, as_of: dt.date) -> dict[str, int]:
    """campaign → the id of its run for ``as_of`` (the first, as a re-run resumes it)."""
    r = RUNS.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(r.campaign, func.min(r.id)).where(r.as_of == as_of).group_by(r.campaign)
        )
        return {name: int(run_id) for name, run_id in rows}


@dataclass
class RunView:
    """A run as a scoped user sees it: what and when, its status, its contacts by status in
    their stores, how many of the contacts to make are done (sent or listed) and the
    plan's numbers (only for a user who sees every store: they count all stores)."""

    run_id: int
    campaign: str
    channel: str
    as_of: dt.date
    status: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    by_status: dict[str, int]
    plan: dict[str, Any] | None
    paused_by: str | None = None

    @property
    def waiting(self) -> int:
        """Contacts still to send or list (pending, or in flight)."""
        live = (ContactStatus.PENDING, ContactStatus.SENDING, ContactStatus.UNKNOWN)
        return sum(self.by_status.get(s, 0) for s in live)

    @property
    def to_make(self) -> int:
        """Contacts this run sends or lists (done or waiting)."""
        skipped = (ContactStatus.EXCLUDED, ContactStatus.SUPPRESSED, ContactStatus.HOLDOUT)
        return sum(n for s, n in self.by_status.items() if s not in skipped)

    @property
    def done(self) -> int:
        """Contacts sent, listed or failed for good (no longer waiting)."""
        final = (ContactStatus.SENT, ContactStatus.LISTED, ContactStatus.FAILED)
        return sum(self.by_status.get(s, 0) for s in final)

    def as_dict(self) -> dict[str, Any]:
        """For the progress endpoint (JSON)."""
        return {
            "run_id": self.run_id, "campaign": self.campaign, "channel": self.channel,
            "as_of": self.as_of.isoformat(), "status": self.status,
            "by_status": self.by_status, "to_make": self.to_make, "done": self.done,
            "finished": self.finished_at is not None, "paused_by": self.paused_by,
            "waiting": self.waiting,
        }  # fmt: skip


def run_view(engine: Engine, *, run_id: int, store_ids: Scope) -> RunView | None:
    """The run ``run_id`` in ``store_ids``, or None when it does not exist or has no contact
    in those stores."""
    c, cu = CONTACTS.c, CUSTOMERS.c
    with engine.connect() as conn:
        run = conn.execute(
            select(RUNS, CAMPAIGNS.c.channel)
            .join(CAMPAIGNS, CAMPAIGNS.c.name == RUNS.c.campaign)
            .where(RUNS.c.id == run_id)
        ).first()
        if run is None:
            return None
        query = select(c.status, func.count()).where(c.run_id == run_id).group_by(c.status)
        if store_ids is not None:
            query = query.join(CUSTOMERS, cu.customer_id == c.customer_id).where(
                cu.store_id.in_(sorted(store_ids))
            )
        by_status = {str(s): int(n) for s, n in conn.execute(query)}
    if store_ids is not None and not by_status:
        return None
    return RunView(
        run_id=run.id, campaign=run.campaign, channel=run.channel, as_of=run.as_of,
        status=run.status, started_at=run.started_at, finished_at=run.finished_at,
        by_status=by_status, plan=dict(run.counts or {}) if store_ids is None else None,
        paused_by=run.paused_by,
    )  # fmt: skip
