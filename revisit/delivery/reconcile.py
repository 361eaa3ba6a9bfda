"""Reconciliation: whether a contact whose outcome is unknown (a 5xx, a timeout, a crash)
reached the provider, asked before anything is resent.

The provider is asked for every message to the contact's phone with its text created since
the run began (:meth:`Channel.find_sent`): in any state — still queued, accepted or sending
counts, since the provider has it. Found: sent. Not found: pending again (safe to send).
The provider cannot be asked: still unknown (never resent blindly).
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from revisit.campaigns.statuses import ContactStatus
from revisit.delivery.channels.base import Channel, Outcome, SendResult
from revisit.delivery.outbox import Claimed
from revisit.errors import ProviderError

CLOCK_TOLERANCE = dt.timedelta(minutes=2)  # our clock against the provider's
MAX_ATTEMPTS = 5  # claims of one contact before it is failed instead of requeued

_log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verdict:
    """What reconciling one contact found: its new status (sent, pending, failed or still
    unknown) and the result to record."""

    status: ContactStatus
    result: SendResult | None = None
    unanswered: bool = False  # the provider could not be asked


async def reconcile_contact(channel: Channel, c: Claimed, *, run_started: dt.datetime) -> Verdict:
    """Ask ``channel`` whether contact ``c`` went out since its run began (less
    ``CLOCK_TOLERANCE``); a contact claimed ``MAX_ATTEMPTS`` times and never found fails."""
    if c.phone is None or c.body is None:
        return Verdict(
            ContactStatus.FAILED, SendResult(Outcome.PERMANENT, error="no phone or body")
        )
    since = min(run_started, c.claimed_at) - CLOCK_TOLERANCE
    try:
        found = await channel.find_sent(to=c.phone, since=since, body=c.body)
    except ProviderError as exc:
        return Verdict(
            ContactStatus.UNKNOWN, SendResult(Outcome.UNKNOWN, error=str(exc)[:500]), True
        )
    if found:
        if len(found) > 1:
            _log.warning("contact %s: the provider has %d copies", c.id, len(found))
        m = found[-1]
        return Verdict(
            ContactStatus.SENT,
            SendResult(Outcome.SENT, sid=m.sid, segments=m.segments, provider_status=m.status),
        )
    if c.attempts >= MAX_ATTEMPTS:
        error = f"not sent after {c.attempts} attempts"
        return Verdict(
            ContactStatus.FAILED, SendResult(Outcome.PERMANENT, error_code="attempts", error=error)
        )
    return Verdict(ContactStatus.PENDING)
