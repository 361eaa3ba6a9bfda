"""The SMS provider a run's SMS go through: Twilio when its credentials are set, else the
console channel (texts written to a file, phones masked)."""

from __future__ import annotations

from typing import TextIO

from revisit.delivery.channels.base import Channel
from revisit.settings import Settings


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
