"""SMS dispatch from the outbox: at most once per contact, whatever crashes, retries or re-runs.

A run's pending contacts are claimed in small batches (``sending`` is committed before the
provider is called), sent through a :class:`~revisit.delivery.channels.base.Channel` by a
bounded pool of tasks paced by a smooth rate limiter, and their outcomes recorded in groups.
A contact whose outcome is unknown (a 5xx, a timeout, a crash) is never sent again before the
provider has been asked whether it has the message (:meth:`Channel.find_sent`).

The run stops claiming when the quiet-hours check says no (``deferred``), after too many
consecutive failures (``paused``), or at once when the provider rejects the credentials
(:class:`~revisit.errors.ProviderError`). Calling :func:`dispatch_run` again resumes; on a
finished run it does nothing.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import random
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, TypeVar

from sqlalchemy.engine import Engine

from revisit.campaigns.statuses import WAITING_STATUSES, ContactStatus, RunStatus
from revisit.delivery import outbox
from revisit.delivery.channels.base import Channel, Outcome, OutgoingSms, SendResult
from revisit.delivery.outbox import Claimed, Recorded
from revisit.delivery.ratelimit import backoff_delay
from revisit.delivery.sharedrate import account_limiter
from revisit.errors import ProviderError

_log = logging.getLogger(__name__)
T = TypeVar("T")

CLOCK_TOLERANCE = dt.timedelta(minutes=2)  # our clock against the provider's
MAX_ATTEMPTS = 5  # claims of one contact before it is failed instead of requeued


@dataclass
class DispatchSummary:
    """What one call of :func:`dispatch_run` did, and where the run stands.

    Every count is of contacts (one SMS each) handled by this call; ``elapsed_s`` is wall
    seconds; ``by_status`` counts the whole run's contacts by status afterwards."""

    run_id: int
    status: RunStatus = RunStatus.SENDING  # then done, paused or deferred
    stop_reason: str | None = None  # quiet_hours | consecutive_failures | auth_failed
    sent: int = 0
    failed: int = 0
    unknown: int = 0
    throttled: int = 0  # 429 answers, each retried after a backoff
    released: int = 0  # claimed, then put back unsent (stop, quiet hours, retries exhausted)
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
class _Tuning:
    rate: float
    concurrency: int
    claim_size: int
    max_consecutive_failures: int
    lease: dt.timedelta
    settle: dt.timedelta
    max_retries: int
    rate_key: str | None = None


class _Dispatcher:
    def __init__(
        self,
        engine: Engine,
        run_id: int,
        channel: Channel,
        tuning: _Tuning,
        clock: Callable[[], dt.datetime],
        may_send: Callable[[dt.datetime], bool] | None,
        progress: Callable[[DispatchSummary], None] | None,
    ) -> None:
        self.engine, self.run_id, self.channel, self.t = engine, run_id, channel, tuning
        self._clock, self._may_send, self._progress = clock, may_send, progress
        self.worker = uuid.uuid4().hex[:12]
        self.summary = DispatchSummary(run_id)
        self.limiter = account_limiter(engine, key=tuning.rate_key, rate=tuning.rate)
        self.sem = asyncio.Semaphore(tuning.concurrency)
        self.rng = random.Random()
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="revisit-outbox")
        self.buffer: list[Recorded] = []
        self.tasks: set[asyncio.Task[None]] = set()
        self.consecutive = 0
        self.stop_reason: str | None = None
        self.crash: BaseException | None = None
        self.auth_error = ""
        self.run_started = dt.datetime.now(dt.UTC)

    def now(self) -> dt.datetime:
        return outbox.utc(self._clock())

    async def db(self, fn: Callable[..., T], **kw: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(fn, self.engine, **kw))

    def stop(self, reason: str) -> None:
        if self.stop_reason is None:
            self.stop_reason = reason

    def allowed_now(self) -> bool:
        return self._may_send is None or self._may_send(self.now())

    # --- the run -------------------------------------------------------------------------

    async def run(self) -> DispatchSummary:
        started = time.monotonic()
        _status, self.run_started = await self.db(
            outbox.prepare_run, run_id=self.run_id, now=self.now()
        )
        background = [
            asyncio.create_task(self._renew_leases()),
            asyncio.create_task(self._flusher()),
        ]
        try:
            await self._loop()
        finally:
            if self.tasks:
                await asyncio.gather(*self.tasks, return_exceptions=True)
            for task in background:
                task.cancel()
            await self.flush()
        self.summary.elapsed_s = round(time.monotonic() - started, 3)
        stopped = {None: RunStatus.DONE, "quiet_hours": RunStatus.DEFERRED}
        status = stopped.get(self.stop_reason, RunStatus.PAUSED)
        self.summary.status, self.summary.stop_reason = status, self.stop_reason
        self.summary.by_status = await self.db(
            outbox.finish_run,
            run_id=self.run_id,
            status=status,
            now=self.now(),
            dispatch=self._checkpoint(),
        )
        self.executor.shutdown(wait=False)
        if self.crash is not None:
            raise self.crash
        if self.stop_reason == "auth_failed":
            raise ProviderError(
                f"{self.channel.name} rejected the credentials ({self.auth_error}); run "
                f"{self.run_id} stopped before sending anything more. Check TWILIO_ACCOUNT_SID "
                "and TWILIO_AUTH_TOKEN, then run the dispatch again to resume."
            )
        return self.summary

    def _checkpoint(self) -> dict[str, Any]:
        keep = ("sent", "failed", "unknown", "throttled", "reconciled_sent", "opted_out")
        return {
            "worker": self.worker,
            "stop_reason": self.stop_reason,
            "last": {k: getattr(self.summary, k) for k in keep},
            "at": self.now().isoformat(),
        }

    async def _loop(self) -> None:
        while self.stop_reason is None:
            await self._reconcile_due()
            if self.stop_reason is not None:
                return
            if not self.allowed_now():
                self.stop("quiet_hours")
                return
            now = self.now()
            batch = await self.db(
                outbox.claim,
                run_id=self.run_id,
                worker=self.worker,
                now=now,
                lease_until=now + self.t.lease,
                limit=self.t.claim_size,
            )
            if batch:
                await self._spawn(batch)
                continue
            if self.tasks:  # let our own sends finish: they may come back unknown
                await asyncio.wait(list(self.tasks))
                await self.flush()
                continue
            await self.flush()
            expiry = await self.db(outbox.next_lease_expiry, run_id=self.run_id)
            if expiry is None:
                return
            wait = (expiry - self.now()).total_seconds()
            await asyncio.sleep(min(max(wait, 0.05), 1.0))

    async def _spawn(self, batch: list[Claimed]) -> None:
        for i, contact in enumerate(batch):
            if contact.phone is None or contact.body is None:
                what = "phone" if contact.phone is None else "body"
                failed = SendResult(Outcome.PERMANENT, error=f"no {what}")
                self.add(contact, ContactStatus.FAILED, failed)
                continue
            await self.sem.acquire()
            if self.stop_reason is not None:
                self.sem.release()
                for rest in batch[i:]:
                    self.release(rest)
                return
            task = asyncio.create_task(self._send(contact))
            self.tasks.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        self.sem.release()
        if not task.cancelled() and task.exception() is not None:
            self.crash = self.crash or task.exception()
            self.stop("error")

    # --- one message -----------------------------------------------------------------------

    async def _send(self, c: Claimed) -> None:
        assert c.phone is not None and c.body is not None
        sms = OutgoingSms(c.id, c.phone, c.body, f"revisit-contact-{c.id}")
        attempt = 0
        while True:
            await self.limiter.acquire()
            if self.stop_reason is None and not self.allowed_now():
                self.stop("quiet_hours")
            if self.stop_reason is not None:
                self.release(c)
                return
            result = await self.channel.send(sms)
            if result.outcome is not Outcome.RETRY_LATER:
                self._settle(c, result)
                return
            attempt += 1
            self.summary.throttled += 1
            if attempt > self.t.max_retries:
                self._failure()
                self.release(c, result)
                return
            await asyncio.sleep(
                backoff_delay(attempt, retry_after=result.retry_after, rng=self.rng)
            )

    def _settle(self, c: Claimed, result: SendResult) -> None:
        s = self.summary
        if result.outcome is Outcome.SENT:
            self.consecutive = 0
            s.sent += 1
            self.add(c, ContactStatus.SENT, result)
        elif result.outcome is Outcome.UNKNOWN:
            s.unknown += 1
            self._failure()
            self.add(c, ContactStatus.UNKNOWN, result)
        elif result.outcome is Outcome.AUTH_FAILED:
            self.auth_error = f"{result.error_code}: {result.error}"
            self.stop("auth_failed")
            self.release(c, result)  # rejected before processing: never sent
        else:
            s.failed += 1
            s.opted_out += result.opted_out
            s.invalid_phone += result.invalid_phone
            if not (result.opted_out or result.invalid_phone):
                self._failure()  # about the run (sender, account), not this customer
            self.add(c, ContactStatus.FAILED, result)

    def _failure(self) -> None:
        self.consecutive += 1
        if self.consecutive >= self.t.max_consecutive_failures:
            self.stop("consecutive_failures")

    def release(self, c: Claimed, r: SendResult | None = None) -> None:
        self.summary.released += 1
        self.add(c, ContactStatus.PENDING, r)

    def add(self, c: Claimed, status: ContactStatus, r: SendResult | None) -> None:
        self.buffer.append(
            Recorded(
                contact_id=c.id,
                customer_id=c.customer_id,
                status=status,
                sid=r.sid if r else None,
                to=c.phone,
                body=c.body,
                segments=r.segments if r else 1,
                provider_status=r.provider_status if r else None,
                error_code=r.error_code if r else None,
                error=r.error if r else None,
                opted_out=bool(r and r.opted_out),
                invalid_phone=bool(r and r.invalid_phone),
                settle_until=(
                    self.now() + self.t.settle if status == ContactStatus.UNKNOWN else None
                ),
            )
        )

    # --- reconciliation --------------------------------------------------------------------

    async def _reconcile_due(self) -> None:
        while self.stop_reason is None:
            now = self.now()
            due = await self.db(
                outbox.claim_for_reconcile,
                run_id=self.run_id,
                worker=self.worker,
                now=now,
                lease_until=now + self.t.lease,
                limit=self.t.claim_size,
            )
            if not due:
                return
            await asyncio.gather(*(self._reconcile(c) for c in due))
            await self.flush()

    async def _reconcile(self, c: Claimed) -> None:
        async with self.sem:
            if c.phone is None or c.body is None:
                failed = SendResult(Outcome.PERMANENT, error="no phone or body")
                self.add(c, ContactStatus.FAILED, failed)
                return
            since = min(self.run_started, c.claimed_at) - CLOCK_TOLERANCE
            try:
                found = await self.channel.find_sent(to=c.phone, since=since, body=c.body)
            except ProviderError as exc:
                self._failure()
                unknown = SendResult(Outcome.UNKNOWN, error=str(exc)[:500])
                self.add(c, ContactStatus.UNKNOWN, unknown)
                return
        if found:
            if len(found) > 1:
                _log.warning("contact %s: the provider has %d copies", c.id, len(found))
            m = found[-1]
            self.summary.reconciled_sent += 1
            result = SendResult(
                Outcome.SENT, sid=m.sid, segments=m.segments, provider_status=m.status
            )
            self.add(c, ContactStatus.SENT, result)
        elif c.attempts >= MAX_ATTEMPTS:
            self.add(
                c,
                ContactStatus.FAILED,
                SendResult(
                    Outcome.PERMANENT,
                    error_code="attempts",
                    error=f"not sent after {c.attempts} attempts",
                ),
            )
            self.summary.failed += 1
        else:
            self.summary.reconciled_pending += 1
            self.add(c, ContactStatus.PENDING, None)

    # --- background ------------------------------------------------------------------------

    async def flush(self) -> None:
        if not self.buffer:
            return
        group, self.buffer = self.buffer, []
        await self.db(
            outbox.record,
            outcomes=group,
            worker=self.worker,
            provider=self.channel.name,
            now=self.now(),
        )
        if self._progress is not None:
            self._progress(self.summary)

    async def _flusher(self) -> None:
        while True:
            await asyncio.sleep(0.2)
            await self.flush()

    async def _renew_leases(self) -> None:
        period = max(0.05, self.t.lease.total_seconds() / 3)
        while True:
            await asyncio.sleep(period)
            await self.db(
                outbox.renew,
                run_id=self.run_id,
                worker=self.worker,
                lease_until=self.now() + self.t.lease,
            )


async def dispatch_run(
    engine: Engine,
    *,
    run_id: int,
    channel: Channel,
    rate: float,
    concurrency: int,
    clock: Callable[[], dt.datetime],
    may_send: Callable[[dt.datetime], bool] | None = None,
    batch_size: int = 500,
    max_consecutive_failures: int = 20,
    lease_seconds: float = 30.0,
    settle_seconds: float = 30.0,
    max_retries: int = 8,
    progress: Callable[[DispatchSummary], None] | None = None,
    rate_key: str | None = None,
) -> DispatchSummary:
    """Send the run's pending SMS contacts through ``channel``; see the module docstring.

    ``rate`` is messages per second (never exceeded in any one-second window), and
    ``concurrency`` the number of requests in flight; ``clock()`` is the aware "now" of
    leases and provider timestamps. ``may_send(now)`` is the send-window
    check. ``lease_seconds`` bounds how long a crashed worker's claimed contacts wait before
    another worker reconciles them; ``settle_seconds`` how long an unknown outcome waits
    before the provider is asked. Several workers may share a run. ``rate_key`` names the
    provider account whose rate every dispatcher shares on PostgreSQL
    (:mod:`revisit.delivery.sharedrate`); without it the rate is this call's alone.
    """
    if rate <= 0 or concurrency <= 0:
        raise ValueError("rate and concurrency must be positive")
    tuning = _Tuning(
        rate=rate,
        concurrency=concurrency,
        claim_size=max(1, min(batch_size, max(2 * concurrency, 20))),
        max_consecutive_failures=max(1, max_consecutive_failures),
        lease=dt.timedelta(seconds=lease_seconds),
        settle=dt.timedelta(seconds=settle_seconds),
        max_retries=max_retries,
        rate_key=rate_key,
    )
    return await _Dispatcher(engine, run_id, channel, tuning, clock, may_send, progress).run()
