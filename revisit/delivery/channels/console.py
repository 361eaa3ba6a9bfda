"""The console channel: writes what would be sent (phones masked), so demos and tests run
offline. It is the default when no Twilio credentials are set."""

from __future__ import annotations

import collections
import datetime as dt
import itertools
import sys
import uuid
from typing import TextIO

from revisit.delivery.channels.base import (
    Outcome,
    OutgoingSms,
    ProviderMessage,
    SendResult,
    matching,
)
from revisit.dms.phones import mask_phone


class ConsoleChannel:
    name = "console"
    reaches_phones = False  # a replay may check the send window on its pinned clock

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream if stream is not None else sys.stdout
        self._seq = itertools.count(1)
        self._prefix = uuid.uuid4().hex[:10].upper()  # sids stay unique across runs
        # The recent past is enough to reconcile within a process; memory stays flat.
        self._sent: collections.deque[ProviderMessage] = collections.deque(maxlen=5000)

    async def send(self, sms: OutgoingSms) -> SendResult:
        sid = f"CONSOLE{self._prefix}{next(self._seq):08d}"
        now = dt.datetime.now(dt.UTC)
        self._stream.write(f"[sms {sid}] to {mask_phone(sms.to)}: {sms.body}\n")
        self._stream.flush()
        self._sent.append(ProviderMessage(sid, sms.to, sms.body, "sent", now, now))
        return SendResult(Outcome.SENT, sid=sid, provider_status="sent")

    async def find_sent(self, *, to: str, since: dt.datetime, body: str) -> list[ProviderMessage]:
        # Only what this process wrote: after a restart nothing is "found", which for a
        # console means at worst a line printed twice.
        return matching(self._sent, to=to, since=since, body=body)

    async def fetch_status(self, sid: str) -> ProviderMessage | None:
        # A console "message" has no delivery to report: its status never moves.
        return None

    async def aclose(self) -> None:
        self._stream.flush()
