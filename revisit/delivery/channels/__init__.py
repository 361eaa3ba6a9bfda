"""Delivery channels: how a campaign run's waiting contacts reach their customers.

A run hands its contacts to a :class:`~.run.RunChannel` — ``find`` what waits, ``send`` it,
``close`` — the same three steps for SMS and calls (:func:`open_channel` picks one by the
campaign's channel; nothing else branches on it):

- SMS (:mod:`.sms`): the dispatcher sends each contact through an SMS provider, itself
  behind the small :class:`.base.Channel` interface (Twilio, or the console when no
  credentials are set: :func:`.providers.open_sms_channel`, which asks
  :func:`.providers.console_sms_dir`);
- calls (:mod:`.calls`): the contacts go on the call lists of the store's callers
  (:mod:`revisit.delivery.calls`) and are marked listed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

from revisit.campaigns.statuses import ChannelKind
from revisit.delivery.channels.base import (
    Channel,
    Outcome,
    OutgoingSms,
    ProviderMessage,
    SendResult,
    classify_error,
)
from revisit.delivery.channels.providers import console_sms_dir, open_sms_channel
from revisit.delivery.channels.run import Delivered, RunChannel
from revisit.settings import Settings

if TYPE_CHECKING:
    from revisit.campaigns.config import CampaignDef
    from revisit.delivery.dispatch import DispatchSummary
    from revisit.rendering import Renderer

__all__ = [
    "Channel",
    "Delivered",
    "Outcome",
    "OutgoingSms",
    "ProviderMessage",
    "RunChannel",
    "SendResult",
    "classify_error",
    "console_sms_dir",
    "open_channel",
    "open_sms_channel",
]


def open_channel(
    campaign: CampaignDef,
    *,
    settings: Settings,
    as_of: dt.date,
    clock: Callable[[], dt.datetime],
    renderer: Renderer,
    rate: float | None = None,
    concurrency: int = 10,
    progress: Callable[[DispatchSummary], None] | None = None,
    wall_clock: Callable[[], dt.datetime] | None = None,
) -> RunChannel:
    """The channel of ``campaign``'s run for ``as_of``. ``clock`` is the run's (pinned in a
    replay): it stamps listed calls, and decides the send window of the console channel
    only; SMS to real phones follow ``wall_clock`` (default: the real one). ``rate`` (SMS
    per second; default 50 on Twilio), ``concurrency`` and ``progress`` concern SMS only."""
    if campaign.channel == ChannelKind.CALL:
        from revisit.delivery.channels.calls import CallChannel

        return CallChannel(campaign, settings=settings, as_of=as_of, clock=clock,
                           renderer=renderer)  # fmt: skip
    from revisit.delivery.channels.sms import SmsChannel

    return SmsChannel(campaign, settings=settings, as_of=as_of, clock=clock, rate=rate,
                      concurrency=concurrency, progress=progress,
                      wall_clock=wall_clock)  # fmt: skip
