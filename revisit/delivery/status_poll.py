"""Delivery-status polling, for deployments that cannot receive status callbacks (or lost
some): ask the provider for every message still without a final status some hours after it
was sent, and record what it says through :mod:`revisit.delivery.callbacks` — the same
forward-only rule as the webhook.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from revisit.campaigns.statuses import FINAL_MESSAGE_STATUSES
from revisit.db.tables import MESSAGES
from revisit.delivery.callbacks import (
    StatusUpdate,
    known_status,
    purge_stale_callbacks,
    record_statuses,
)
from revisit.delivery.channels.base import StatusLookup
from revisit.errors import ProviderError

BATCH = 200  # messages asked about, then recorded in one transaction


@dataclass
class PollSummary:
    """What :func:`poll_statuses` did: messages asked about, moved forward, unchanged,
    unknown to the provider, and not asked because the provider could not be reached."""

    checked: int = 0
    updated: int = 0
    unchanged: int = 0
    missing: int = 0
    errors: int = 0
    invalid_phones: int = 0
    purged: int = 0  # kept callbacks older than max_age for messages never recorded
    first_error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def waiting_messages(
    engine: Engine, *, provider: str, sent_before: dt.datetime, sent_after: dt.datetime
) -> list[str]:
    """SIDs of ``provider``'s messages created in [sent_after, sent_before] whose status is
    not final, oldest first."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(MESSAGES.c.provider_sid)
            .where(
                MESSAGES.c.provider == provider,
                MESSAGES.c.provider_sid.is_not(None),
                MESSAGES.c.status.not_in([str(s) for s in FINAL_MESSAGE_STATUSES]),
                MESSAGES.c.created_at <= sent_before,
                MESSAGES.c.created_at >= sent_after,
            )
            .order_by(MESSAGES.c.id)
        ).scalars()
        return [str(sid) for sid in rows]


async def poll_statuses(
    engine: Engine,
    lookup: StatusLookup,
    *,
    now: dt.datetime,
    older_than: dt.timedelta,
    max_age: dt.timedelta = dt.timedelta(days=7),
    concurrency: int = 8,
) -> PollSummary:
    """Ask ``lookup`` about every message of its provider sent between ``max_age`` and
    ``older_than`` ago that has no final status yet, and record the answers; then delete the
    kept callbacks older than ``max_age`` whose message was never recorded
    (:func:`~revisit.delivery.callbacks.purge_stale_callbacks`). A provider
    error for one message is counted (``errors``, ``first_error``), never raised: the next
    poll asks again."""
    sids = await asyncio.to_thread(
        waiting_messages,
        engine,
        provider=lookup.name,
        sent_before=now - older_than,
        sent_after=now - max_age,
    )
    summary = PollSummary()
    sem = asyncio.Semaphore(max(1, concurrency))

    async def ask(sid: str) -> StatusUpdate | None:
        async with sem:
            try:
                found = await lookup.fetch_status(sid)
            except ProviderError as exc:
                summary.errors += 1
                summary.first_error = summary.first_error or str(exc)
                return None
        if found is None:
            summary.missing += 1
            return None
        if not known_status(found.status):
            summary.unchanged += 1
            return None
        return StatusUpdate(sid, found.status, found.error_code)

    for start in range(0, len(sids), BATCH):
        answers = await asyncio.gather(*(ask(sid) for sid in sids[start : start + BATCH]))
        updates = [u for u in answers if u is not None]
        summary.checked += len(updates)
        if updates:
            result = await asyncio.to_thread(_record, engine, updates, now)
            summary.updated += len(result.applied)
            summary.unchanged += len(updates) - len(result.applied)
            summary.invalid_phones += result.invalid_phones
    summary.purged = await asyncio.to_thread(_purge, engine, now - max_age)
    return summary


def _purge(engine: Engine, before: dt.datetime) -> int:
    with engine.begin() as conn:
        return purge_stale_callbacks(conn, received_before=before)


def _record(engine: Engine, updates: list[StatusUpdate], now: dt.datetime) -> Any:
    with engine.begin() as conn:
        return record_statuses(conn, updates=updates, now=now)
