"""Delivery-status reconciliation by polling (``revisit reconcile-status``, the
``reconcile-deliveries`` flow): the configured SMS channel asked about messages that have
no final status after some hours."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy.engine import Engine

from revisit.delivery.channels import open_sms_channel
from revisit.delivery.channels.base import StatusLookup
from revisit.delivery.status_poll import PollSummary, poll_statuses
from revisit.errors import ConfigError
from revisit.settings import Settings


def reconcile_statuses(
    engine: Engine,
    settings: Settings,
    *,
    hours: float = 6.0,
    max_days: float = 7.0,
    now: dt.datetime | None = None,
) -> PollSummary:
    """Poll the provider for messages sent between ``max_days`` days and ``hours`` hours ago
    that have no final status, and record the answers (forward only). Raises
    :class:`~revisit.errors.ConfigError` for a negative window or a channel that cannot be
    asked (the console channel is asked and never knows: nothing changes)."""
    if hours < 0 or max_days <= 0 or max_days * 24 < hours:
        raise ConfigError(
            f"reconcile-status: --hours {hours} must be ≥ 0 and within --max-days {max_days}"
        )
    moment = now or dt.datetime.now(dt.UTC)

    async def go() -> PollSummary:
        channel = open_sms_channel(settings)
        try:
            if not isinstance(channel, StatusLookup):
                raise ConfigError(f"the {channel.name} channel cannot report delivery statuses")
            return await poll_statuses(
                engine,
                channel,
                now=moment,
                older_than=dt.timedelta(hours=hours),
                max_age=dt.timedelta(days=max_days),
            )
        finally:
            await channel.aclose()

    return asyncio.run(go())
