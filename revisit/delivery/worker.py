"""A dispatch worker: send one campaign run's pending SMS, on its own or beside others.

``revisit dev dispatch-run --run-id N`` runs one from the command line. Several workers may
work on the same run at once (PostgreSQL); a killed worker's contacts are reconciled by the
next one after ``lease_seconds``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.engine import Engine

from revisit.campaigns.window import parse_window, window_check
from revisit.db.tables import RUNS
from revisit.delivery.channels import open_sms_channel
from revisit.delivery.dispatch import DispatchSummary, dispatch_run
from revisit.errors import NotFoundError
from revisit.settings import Settings


def run_worker(
    engine: Engine,
    settings: Settings,
    *,
    run_id: int,
    rate: float,
    concurrency: int,
    window: str | None = None,
    lease_seconds: float = 30.0,
    settle_seconds: float = 30.0,
    read_timeout: float = 15.0,
    max_consecutive_failures: int = 20,
    clock: Callable[[], dt.datetime] | None = None,
) -> DispatchSummary:
    """Dispatch run ``run_id`` through the configured SMS channel until it is done, deferred
    (outside the send window) or paused.

    The send window is always the run's campaign's (as recorded when the run was opened),
    in its stores' time zones, on the real clock (``clock`` replaces it in tests); a
    ``window`` (``"09:00-20:00"``, default store time zone) narrows it further, never widens.
    Raises :class:`~revisit.errors.ConfigError` for a bad window,
    :class:`~revisit.errors.NotFoundError` when there is no such run, and
    :class:`~revisit.errors.ProviderError` when the provider refuses the credentials, the
    account or the sender."""
    may_send = window_check(parse_window(window), settings.default_timezone) if window else None
    with engine.connect() as conn:
        if conn.execute(select(RUNS.c.id).where(RUNS.c.id == run_id)).first() is None:
            raise NotFoundError(f"no campaign run with id {run_id} (see the campaign_runs table)")

    async def go() -> DispatchSummary:
        channel = open_sms_channel(
            settings, max_connections=concurrency + 4, read_timeout=read_timeout
        )
        try:
            return await dispatch_run(
                engine,
                run_id=run_id,
                channel=channel,
                rate=rate,
                concurrency=concurrency,
                clock=clock or (lambda: dt.datetime.now(dt.UTC)),
                default_timezone=settings.default_timezone,
                may_send=may_send,
                lease_seconds=lease_seconds,
                settle_seconds=settle_seconds,
                max_consecutive_failures=max_consecutive_failures,
                rate_key=settings.sms_account,
            )
        finally:
            await channel.aclose()

    return asyncio.run(go())
