"""What a dispatch call keeps about its run: the summary it returns, its tuning, the
contacts it holds back, and why it stopped when the provider refused the account."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from revisit.campaigns.statuses import WAITING_STATUSES, ContactStatus, RunStatus
from revisit.delivery.channels.base import Outcome, SendResult
from revisit.delivery.channels.provider_errors import account_problem
from revisit.delivery.outbox import Claimed, Recorded
from revisit.errors import ProviderError

# Unsure answers (this recipient, or the sender for all) in a row, with no message accepted
# between them, that say the sender — not each recipient — is the problem.
UNSURE_IN_A_ROW = 3


@dataclass
class DispatchSummary:
    """What one call of :func:`~revisit.delivery.dispatch.dispatch_run` did, and where the
    run stands.

    Every count is of contacts (one SMS each) handled by this call; ``elapsed_s`` is wall
    seconds; ``by_status`` counts the whole run's contacts by status afterwards."""

    run_id: int
    status: RunStatus = RunStatus.SENDING  # then done, paused or deferred
    # quiet_hours (the send window) | consecutive_failures | auth_failed | account_error
    stop_reason: str | None = None
    stop_code: str | None = None  # the provider's error code that stopped the run
    sent: int = 0
    failed: int = 0
    unknown: int = 0
    throttled: int = 0  # 429 answers, each retried after a backoff
    released: int = 0  # claimed, then put back unsent (stop, send window, retries exhausted)
    reconciled_sent: int = 0
    reconciled_pending: int = 0
    opted_out: int = 0
    invalid_phone: int = 0
    elapsed_s: float = 0.0
    by_status: dict[str, int] = field(default_factory=dict)

    @property
    def remaining(self) -> int:
        return sum(self.by_status.get(s, 0) for s in WAITING_STATUSES)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Tuning:
    rate: float
    concurrency: int
    claim_size: int
    max_consecutive_failures: int
    lease: dt.timedelta
    settle: dt.timedelta
    max_retries: int
    rate_key: str | None = None  # the provider account whose rate dispatchers share

    @classmethod
    def of(
        cls, *, rate: float, concurrency: int, batch_size: int, max_retries: int,
        max_consecutive_failures: int, lease_seconds: float, settle_seconds: float,
        rate_key: str | None = None,
    ) -> Tuning:  # fmt: skip
        """Claims of two requests in flight each or a tenth of a second's worth at ``rate``,
        whichever is more (``batch_size`` at most). No floor beyond that: at a slow rate a
        big claim would hold contacts ``sending`` for minutes, beyond a pause's reach."""
        return cls(
            rate=rate, concurrency=concurrency,
            claim_size=max(1, min(batch_size, max(2 * concurrency, int(rate / 10)))),
            max_consecutive_failures=max(1, max_consecutive_failures),
            lease=dt.timedelta(seconds=lease_seconds),
            settle=dt.timedelta(seconds=settle_seconds), max_retries=max_retries,
            rate_key=rate_key,
        )  # fmt: skip


def recorded(
    c: Claimed, status: ContactStatus, r: SendResult | None, *, settle_until: dt.datetime | None
) -> Recorded:
    """The outcome of contact ``c`` to record: ``status`` and what the provider said."""
    return Recorded(
        contact_id=c.id, customer_id=c.customer_id, status=status,
        sid=r.sid if r else None, to=c.phone, body=c.body,
        segments=r.segments if r else 1, provider_status=r.provider_status if r else None,
        error_code=r.error_code if r else None, error=r.error if r else None,
        opted_out=bool(r and r.opted_out), invalid_phone=bool(r and r.invalid_phone),
        settle_until=settle_until,
    )  # fmt: skip


@dataclass(frozen=True)
class Held:
    """A contact whose answer may be about its recipient or about the sender."""

    contact: Claimed
    result: SendResult


@dataclass(frozen=True)
class StopCause:
    """The provider's answer that stopped a run: bad credentials, or an error about the
    account or the sender."""

    reason: str  # auth_failed | account_error
    code: str | None
    message: str
    advice: str

    @classmethod
    def of(cls, result: SendResult) -> StopCause:
        code = _int(result.error_code)
        if result.outcome is Outcome.AUTH_FAILED:
            advice = "check TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN"
            return cls("auth_failed", result.error_code, result.error or "", advice)
        advice = account_problem(code) or (
            "the same answer came back for several customers in a row, so it is about the "
            "sender, not them: check that TWILIO_FROM (or the Messaging Service) can send "
            "to these destinations"
        )
        return cls("account_error", result.error_code, result.error or "", advice)


def stop_error(cause: StopCause, *, channel: str, run_id: int) -> ProviderError:
    """The one-line error that tells the operator what stopped run ``run_id`` and what to
    fix; every unsent contact is still pending, so a run after the fix sends them all."""
    said = f"error {cause.code}" + (f" ({cause.message})" if cause.message else "")
    if cause.reason == "auth_failed":
        return ProviderError(
            f"{channel} rejected the credentials ({said}); run {run_id} stopped before "
            f"sending anything more. {cause.advice[0].upper()}{cause.advice[1:]}, then run "
            "the dispatch again to resume."
        )
    return ProviderError(
        f"{channel} refused the account or sender, not a customer: {said}. Run {run_id} "
        f"stopped at once and every unsent contact is still pending. To fix: "
        f"{cause.advice}; then run the campaign again to send them all."
    )


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None
