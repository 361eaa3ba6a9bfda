"""The SMS provider a run's SMS go through: Twilio when its credentials are set, else the
console channel (texts written to a file, phones masked)."""

from __future__ import annotations

from pathlib import Path
from typing import TextIO

from revisit.delivery.channels.base import Channel
from revisit.settings import Settings


def console_sms_dir(settings: Settings) -> Path | None:
    """Where a run's SMS are written when no SMS provider is set up (no Twilio
    credentials): ``<output_dir>/sms``, one file per campaign and day; None when SMS go
    to phones. The one place that decides which it is: the dispatcher picks its provider
    by it, and every page that speaks of sending says what it means."""
    return None if settings.has_twilio else settings.output_dir / "sms"


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
    if console_sms_dir(settings) is None:
        from revisit.delivery.channels.twilio import TwilioChannel, timeouts

        return TwilioChannel(
            settings, timeout=timeouts(read_timeout), max_connections=max_connections
        )
    from revisit.delivery.channels.console import ConsoleChannel

    return ConsoleChannel(console_stream)
