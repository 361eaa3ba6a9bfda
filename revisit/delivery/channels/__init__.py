"""Delivery channels: how a campaign run's waiting contacts reach their customers.

A run hands its contacts to a :class:`RunChannel` — ``find`` what waits, ``send`` it,
``close`` — the same three steps for SMS and calls (:func:`open_channel` picks one by the
campaign's channel; nothing else branches on it):

- SMS (:mod:`.sms`): the dispatcher sends each contact through an SMS provider, itself
  behind the small :class:`.base.Channel` interface (Twilio, or the console when no
  credentials are set: :func:`open_sms_channel`);
- calls (:mod:`.calls`): the contacts go on the call lists of the store's callers
  (:mod:`revisit.delivery.calls`) and are marked listed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TextIO, runtime_checkable

from sqlalchemy.engine import Engine

from revisit.campaigns.statuses import ChannelKind, RunStatus
from revisit.delivery.channels.base import (
    Channel,
    Outcome,
    OutgoingSms,
    ProviderMessage,
    SendResult,
    classify_error,
)
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
    "open_channel",
    "open_sms_channel",
]


@dataclass
class Delivered:
    """What one ``send`` did: where the run stands, and what it left for people to read."""

    status: RunStatus
    dispatch: dict[str, Any] = field(default_factory=dict)  # the SMS dispatch summary
    sms_file: str | None = None  # the console channel's output
    call_lists: list[str] = field(default_factory=list)  # CSV and HTML files


@runtime_checkable
class RunChannel(Protocol):
    """How a run's waiting contacts reach customers. ``find`` counts the run's contacts
    this channel still has to deliver; ``send`` delivers them (resuming what an earlier
    send left) and says where the run stands; ``close`` lets go of what it holds."""

    kind: ChannelKind

    def find(self, engine: Engine, *, run_id: int) -> int: ...

    def send(self, engine: Engine, *, run_id: int) -> Delivered: ...

    def close(self) -> None: ...


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
) -> RunChannel:
    """The channel of ``campaign``'s run for ``as_of``. ``clock`` is the run's (pinned in a
    replay): it decides the send window and stamps listed calls. ``rate`` (SMS per second;
    default 50 on Twilio), ``concurrency`` and ``progress`` concern SMS only."""
    if campaign.channel == ChannelKind.CALL:
        from revisit.delivery.channels.calls import CallChannel

        return CallChannel(campaign, settings=settings, as_of=as_of, clock=clock,
                           renderer=renderer)  # fmt: skip
    from revisit.delivery.channels.sms import SmsChannel

    return SmsChannel(campaign, settings=settings, as_of=as_of, clock=clock, rate=rate,
                      concurrency=concurrency, progress=progress)  # fmt: skip


def open_sms_channel(
    settings: Settings,
    *,
    max_connections: int = 50,
    read_timeout: float = 15.0,
    console_stream: TextIO | None = None,
) -> Channel:
    """The SMS provider: Twilio when its credentials are set, else the console channel.

    ``max_connections`` sizes the HTTP connection pool (match the dispatch concurrency);
    ``read_timeout`` is how long an answer is awaited before the outcome counts as unknown.
    """
    if settings.has_twilio:
        from revisit.delivery.channels.twilio import TwilioChannel, timeouts

        return TwilioChannel(
            settings, timeout=timeouts(read_timeout), max_connections=max_connections
        )
    from revisit.delivery.channels.console import ConsoleChannel

    return ConsoleChannel(console_stream)
