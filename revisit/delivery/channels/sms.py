"""The SMS channel of a run: its waiting contacts go out through the SMS provider (Twilio,
or the console when no credentials are set), paced and at most once each, by
:func:`revisit.delivery.dispatch.dispatch_run`; only inside the send window of every
store the run's customers belong to, checked by the dispatcher just before each send on the
real clock (the console channel alone follows a replay's pinned clock)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import TextIO

from sqlalchemy.engine import Engine

from revisit.campaigns.config import CampaignDef
from revisit.campaigns.statuses import WAITING_STATUSES, ChannelKind
from revisit.db.tables import utcnow
from revisit.delivery import outbox
from revisit.delivery.channels.base import reaches_phones
from revisit.delivery.channels.providers import console_sms_dir, open_sms_channel
from revisit.delivery.channels.run import Delivered
from revisit.delivery.dispatch import DispatchSummary, dispatch_run
from revisit.settings import Settings

TWILIO_RATE = 50.0  # SMS per second, unless the run says otherwise
# The console reaches no phone, so nothing outside limits it: its rate is set above what a
# dispatcher does, and the dispatcher's own work is the limit. (At a few thousand a second
# the limiter would sleep before most messages, and the event loop sleeps in steps of a
# millisecond: a daily run's console SMS went at about 600 a second.)
CONSOLE_RATE = 1_000_000.0


class SmsChannel:
    kind = ChannelKind.SMS

    def __init__(
        self,
        campaign: CampaignDef,
        *,
        settings: Settings,
        as_of: dt.date,
        clock: Callable[[], dt.datetime],
        rate: float | None = None,
        concurrency: int = 10,
        progress: Callable[[DispatchSummary], None] | None = None,
        wall_clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        self.campaign, self.settings, self.as_of, self.clock = campaign, settings, as_of, clock
        self.wall_clock = wall_clock or utcnow
        self.rate = rate or (CONSOLE_RATE if console_sms_dir(settings) else TWILIO_RATE)
        self.concurrency, self.progress = concurrency, progress
        self._console: TextIO | None = None
        self._console_path: str | None = None

    def find(self, engine: Engine, *, run_id: int) -> int:
        """Contacts pending, or in flight with an outcome still to learn."""
        counts = outbox.status_counts(engine, run_id=run_id)
        return sum(counts.get(s, 0) for s in WAITING_STATUSES)

    def send(self, engine: Engine, *, run_id: int) -> Delivered:
        stream = self._console_stream()

        async def go() -> DispatchSummary:
            provider = open_sms_channel(
                self.settings, max_connections=self.concurrency + 4, console_stream=stream
            )
            # The send window is checked where the provider is called, on the real clock;
            # only a channel that reaches no phone (the console) follows a pinned one.
            pinned = None if reaches_phones(provider) else self.clock
            try:
                return await dispatch_run(
                    engine, run_id=run_id, channel=provider, rate=self.rate,
                    concurrency=self.concurrency, clock=self.wall_clock,
                    window=self.campaign.send_window, window_clock=pinned,
                    default_timezone=self.settings.default_timezone, progress=self.progress,
                    rate_key=self.settings.sms_account,
                )  # fmt: skip
            finally:
                await provider.aclose()

        summary = asyncio.run(go())
        return Delivered(summary.status, dispatch=summary.as_dict(), sms_file=self._console_path)

    def _console_stream(self) -> TextIO | None:
        """Without Twilio credentials the texts go to ``<output>/sms/<campaign>_<as_of>.txt``."""
        folder = console_sms_dir(self.settings)
        if folder is None:
            return None
        if self._console is None:
            path = folder / f"{self.campaign.name}_{self.as_of}.txt"
            path.parent.mkdir(parents=True, exist_ok=True)
            self._console, self._console_path = path.open("a", encoding="utf-8"), str(path)
        return self._console

    def close(self) -> None:
        if self._console is not None:
            self._console.close()
            self._console = None
