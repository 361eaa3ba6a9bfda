"""Pausing and resuming a campaign run by hand (``revisit campaign pause|resume``, the web
app's run page): a pause stops the run's dispatchers from claiming more contacts (what is in
flight settles) and keeps it ``paused``; a resume lifts the pause, and the caller then runs
the campaign again for its day (:func:`revisit.entry.daily.launch`), which sends what is
left. Both are audited."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.engine import Engine

from revisit.access.audit import audit
from revisit.campaigns.statuses import AuditAction
from revisit.db.tables import RUNS
from revisit.delivery.outbox import pause_run, resume_run
from revisit.errors import NotFoundError, RevisitError


class HoldError(RevisitError):
    """A run that cannot be paused (finished, or paused already)."""

    exit_code = 1


@dataclass(frozen=True)
class RunRef:
    """A run's campaign and day (what running it again needs), status and who paused it."""

    run_id: int
    campaign: str
    as_of: dt.date
    status: str
    paused_by: str | None


def run_ref(engine: Engine, run_id: int) -> RunRef:
    """The run ``run_id``. Raises :class:`NotFoundError` when there is none."""
    r = RUNS.c
    with engine.connect() as conn:
        row = conn.execute(
            select(r.id, r.campaign, r.as_of, r.status, r.paused_by).where(r.id == run_id)
        ).first()
    if row is None:
        raise NotFoundError(f"no campaign run with id {run_id}")
    return RunRef(row.id, row.campaign, row.as_of, row.status, row.paused_by)


def pause(engine: Engine, *, run_id: int, actor: str) -> RunRef:
    """Pause the run (see the module docstring). Raises :class:`NotFoundError` for an
    unknown run, :class:`HoldError` for a finished or already paused one."""
    ref = run_ref(engine, run_id)
    with engine.begin() as conn:
        if not pause_run(conn, run_id=run_id, by=actor):
            why = f"paused by {ref.paused_by}" if ref.paused_by else ref.status
            raise HoldError(f"run {run_id} ({ref.campaign} {ref.as_of}) cannot be paused: {why}")
        audit(conn, actor=actor, action=AuditAction.RUN_PAUSED, entity="run", entity_id=run_id,
              detail={"campaign": ref.campaign, "as_of": ref.as_of.isoformat()})  # fmt: skip
    return ref


def lift_pause(engine: Engine, *, run_id: int, actor: str) -> RunRef:
    """Lift a pause (a run paused after failures has none to lift) and audit the resume;
    returns the run, for the caller to run its campaign again for its day. Raises
    :class:`NotFoundError` for an unknown run."""
    ref = run_ref(engine, run_id)
    with engine.begin() as conn:
        lifted = resume_run(conn, run_id=run_id)
        audit(conn, actor=actor, action=AuditAction.RUN_RESUMED, entity="run", entity_id=run_id,
              detail={"campaign": ref.campaign, "as_of": ref.as_of.isoformat(),
                      "was_paused_by": ref.paused_by if lifted else None})  # fmt: skip
    return ref
