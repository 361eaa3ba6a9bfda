"""SMS dispatch from the outbox: at most once per contact, whatever crashes, retries or re-runs.

A run's pending contacts are claimed in batches (``sending`` is committed before the
provider is called; a batch is about a tenth of a second's worth at the rate, two per
request in flight at least and ``batch_size`` at most), sent through a
:class:`~revisit.delivery.channels.base.Channel` by ``concurrency`` long-lived senders
paced by a smooth rate limiter — no task per message — and their outcomes recorded in
groups, one transaction each.
A contact whose outcome is unknown (a 5xx, a timeout, a crash) is never sent again before the
provider has been asked whether it has the message (:meth:`Channel.find_sent`).

The send window is checked just before every send, against the dispatcher's (real) clock
(:mod:`revisit.delivery.gate`); on the same clock, contacts past their last useful day in
their store's time zone expire instead of going out
(:func:`~revisit.delivery.claims.expire_past`). The run stops claiming when the window is
closed (``deferred``), after too many consecutive failures (``paused``), or at once when the
provider refuses the credentials, the account or the sender
(:mod:`~revisit.delivery.channels.provider_errors`; :class:`~revisit.errors.ProviderError`,
every unsent contact left pending). Calling :func:`dispatch_run` again resumes; on a finished
run it does nothing.
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
from typing import Any, TypeVar

from sqlalchemy.engine import Engine

from revisit.campaigns.statuses import ContactStatus, RunStatus
from revisit.campaigns.window import SendWindow
from revisit.delivery import outbox
from revisit.delivery.channels.base import (
    Channel,
    Outcome,
    OutgoingSms,
    SendResult,
    reaches_phones,
)
from revisit.delivery.gate import SendGate, gate_for_run
from revisit.delivery.outbox import Claimed, Recorded
from revisit.delivery.ratelimit import backoff_delay
from revisit.delivery.reconcile import reconcile_contact
from revisit.delivery.run_state import (
    UNSURE_IN_A_ROW,
    DispatchSummary,
    Held,
    StopCause,
    Tuning,
    recorded,
    stop_error,
)
from revisit.delivery.sharedrate import account_limiter
from revisit.errors import ConfigError
from revisit.settings import DEFAULT_TIMEZONE

_log = logging.getLogger(__name__)
T = TypeVar("T")
RECONCILE_EVERY_S = 1.0  # how often a busy dispatcher looks for expired leases


class _Dispatcher:
    def __init__(
        self,
        engine: Engine,
        run_id: int,
        channel: Channel,
        tuning: Tuning,
        clock: Callable[[], dt.datetime],
        gate: SendGate,
        may_send: Callable[[dt.datetime], bool] | None,
        progress: Callable[[DispatchSummary], None] | None,
    ) -> None:
        self.engine, self.run_id, self.channel, self.t = engine, run_id, channel, tuning
        self._clock, self.gate, self._may_send, self._progress = clock, gate, may_send, progress
        self.worker = uuid.uuid4().hex[:12]
        self.summary = DispatchSummary(run_id)
        self.limiter = account_limiter(engine, key=tuning.rate_key, rate=tuning.rate)
        # Claimed contacts wait here for one of the senders; its size bounds what a claim
        # may run ahead of the sends.
        self.queue: asyncio.Queue[Claimed | None] = asyncio.Queue(tuning.claim_size)
        self.sem = asyncio.Semaphore(tuning.concurrency)  # reconciliation's requests
        self.rng = random.Random()
        self.executor = ThreadPoolExecutor(1, thread_name_prefix="revisit-outbox")
        self.buffer: list[Recorded] = []
        self.senders: list[asyncio.Task[None]] = []
        self.busy = 0  # contacts taken by a sender and not yet settled
        self.reconcile_at = 0.0  # monotonic time of the next look for expired leases
        self.consecutive = 0
        self.stop_reason: str | None = None
        self.crash: BaseException | None = None
        self.cause: StopCause | None = None  # the provider's answer that stopped the run
        self.held: list[Held] = []  # contacts awaiting the next send's answer
        self.days: dict[str, dt.date] = {}  # today per store zone, as last looked at
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
        """The send window (the gate), and any further check the caller gave."""
        return self.gate.open() and (self._may_send is None or self._may_send(self.now()))

    # --- the run -------------------------------------------------------------------------

    async def run(self) -> DispatchSummary:
        started = time.monotonic()
        self.days = self.gate.days()
        _status, self.run_started = await self.db(
            outbox.prepare_run, run_id=self.run_id, now=self.now(), days=self.days,
            default_timezone=self.gate.default_zone,
        )  # fmt: skip
        background = [
            asyncio.create_task(self._renew_leases()),
            asyncio.create_task(self._flusher()),
        ]
        self.senders = [asyncio.create_task(self._sender()) for _ in range(self.t.concurrency)]
        try:
            await self._loop()
        finally:
            await self._stop_senders()
            for task in background:
                task.cancel()
            self._settle_held()
            await self.flush()
        self.summary.elapsed_s = round(time.monotonic() - started, 3)
        stopped = {None: RunStatus.DONE, "quiet_hours": RunStatus.DEFERRED}
        status = stopped.get(self.stop_reason, RunStatus.PAUSED)
        self.summary.status, self.summary.stop_reason = status, self.stop_reason
        self.summary.stop_code = self.cause.code if self.cause else None
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
        if self.cause is not None:
            raise stop_error(self.cause, channel=self.channel.name, run_id=self.run_id)
        return self.summary

    def _checkpoint(self) -> dict[str, Any]:
        keep = ("sent", "failed", "unknown", "throttled", "reconciled_sent", "opted_out")
        return {
            "worker": self.worker,
            "stop_reason": self.stop_reason,
            "stop_code": self.cause.code if self.cause else None,
            "last": {k: getattr(self.summary, k) for k in keep},
            "at": self.now().isoformat(),
        }

    async def _loop(self) -> None:
        look = True  # for expired leases: at the start, then about once a second
        while self.stop_reason is None:
            if look or time.monotonic() >= self.reconcile_at:
                await self._reconcile_due()
                self.reconcile_at = time.monotonic() + RECONCILE_EVERY_S
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
                today=await self._today(),
            )
            if batch:
                look = False
                await self._enqueue(batch)
                continue
            look = True
            if self._sending():  # let our own sends finish: they may come back unknown
                await self.queue.join()
                await self.flush()
                continue
            await self.flush()
            expiry = await self.db(outbox.next_lease_expiry, run_id=self.run_id)
            if expiry is None:
                return
            wait = (expiry - self.now()).total_seconds()
            await asyncio.sleep(min(max(wait, 0.05), 1.0))

    async def _today(self) -> dt.date:
        """The earliest local date of the run's stores; when the day has turned since the
        last look, the contacts past their last useful day expire first."""
        days = self.gate.days()
        if days != self.days:
            self.days = days
            await self.db(
                outbox.expire_run, run_id=self.run_id, days=days,
                default_timezone=self.gate.default_zone,
            )  # fmt: skip
        return min(days.values())

    def _sending(self) -> bool:
        return self.busy > 0 or not self.queue.empty()

    async def _enqueue(self, batch: list[Claimed]) -> None:
        """Hand a claimed batch to the senders (waiting while the queue is full)."""
        for i, contact in enumerate(batch):
            if contact.phone is None or contact.body is None:
                what = "phone" if contact.phone is None else "body"
                failed = SendResult(Outcome.PERMANENT, error=f"no {what}")
                self.add(contact, ContactStatus.FAILED, failed)
                continue
            if self.stop_reason is not None:
                for rest in batch[i:]:
                    self.release(rest)
                return
            await self.queue.put(contact)

    async def _sender(self) -> None:
        """One of ``concurrency`` senders: sends the queued contacts one after another until
        it is handed None; after a stop, releases what it takes."""
        while True:
            contact = await self.queue.get()
            try:
                if contact is None:
                    return
                if self.stop_reason is not None:
                    self.release(contact)
                    continue
                self.busy += 1
                try:
                    await self._send(contact)
                except Exception as exc:  # a bug, not an answer: stop the run
                    # The contact stays ``sending``: reconciled after its lease, never resent.
                    self.crash = self.crash or exc
                    self.stop("error")
                finally:
                    self.busy -= 1
            finally:
                self.queue.task_done()

    async def _stop_senders(self) -> None:
        """Release what is still queued, then end every sender once its send is done."""
        while not self.queue.empty():
            contact = self.queue.get_nowait()
            self.queue.task_done()
            if contact is not None:
                self.release(contact)
        for _ in self.senders:
            await self.queue.put(None)
        await asyncio.gather(*self.senders, return_exceptions=True)

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
            self._settle_held()  # the sender works: the held ones were about their recipient
            s.sent += 1
            self.add(c, ContactStatus.SENT, result)
        elif result.outcome is Outcome.UNKNOWN:
            s.unknown += 1
            self._failure()
            self.add(c, ContactStatus.UNKNOWN, result)
        elif result.outcome in (Outcome.AUTH_FAILED, Outcome.ACCOUNT):
            self._stop_for_account(result)
            self.release(c, result)  # refused before processing: never sent
        elif result.outcome is Outcome.UNSURE:
            self._hold(c, result)
        else:
            s.failed += 1
            s.opted_out += result.opted_out
            s.invalid_phone += result.invalid_phone
            if not (result.opted_out or result.invalid_phone):
                self._failure()  # about the run (sender, account), not this customer
            self.add(c, ContactStatus.FAILED, result)

    def _stop_for_account(self, result: SendResult) -> None:
        if self.cause is None:
            self.cause = StopCause.of(result)
        self.stop(self.cause.reason)

    def _hold(self, c: Claimed, result: SendResult) -> None:
        """About this recipient, or the sender for all: held until the next answer says which
        (UNSURE_IN_A_ROW with nothing accepted between them stop the run)."""
        self.held.append(Held(c, result))
        if len(self.held) >= UNSURE_IN_A_ROW and self.stop_reason is None:
            self._stop_for_account(result)
        if self.stop_reason is not None:
            self._settle_held()

    def _settle_held(self) -> None:
        """Held contacts fail for good when the run goes on; a stopped run keeps them."""
        held, self.held = self.held, []
        for h in held:
            if self.stop_reason is not None:
                self.release(h.contact, h.result)
            else:
                self.summary.failed += 1
                self.add(h.contact, ContactStatus.FAILED, h.result)

    def _failure(self) -> None:
        self.consecutive += 1
        if self.consecutive >= self.t.max_consecutive_failures:
            self.stop("consecutive_failures")

    def release(self, c: Claimed, r: SendResult | None = None) -> None:
        self.summary.released += 1
        self.add(c, ContactStatus.PENDING, r)

    def add(self, c: Claimed, status: ContactStatus, r: SendResult | None) -> None:
        settle = self.now() + self.t.settle if status == ContactStatus.UNKNOWN else None
        self.buffer.append(recorded(c, status, r, settle_until=settle))

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
            verdict = await reconcile_contact(self.channel, c, run_started=self.run_started)
        if verdict.unanswered:
            self._failure()
        elif verdict.status == ContactStatus.SENT:
            self.summary.reconciled_sent += 1
        elif verdict.status == ContactStatus.PENDING:
            self.summary.reconciled_pending += 1
        elif verdict.result is not None and verdict.result.error_code == "attempts":
            self.summary.failed += 1
        self.add(c, verdict.status, verdict.result)

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
    window: SendWindow | None = None,
    window_clock: Callable[[], dt.datetime] | None = None,
    default_timezone: str = DEFAULT_TIMEZONE,
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

    ``clock()`` is the dispatcher's (real, aware) "now" for leases, the provider's timestamps
    and the send window: ``window`` (default: the run's campaign's, as recorded) in every
    store's time zone (``default_timezone`` when a store has none), checked before each send.
    ``window_clock`` (a replay's pinned clock) may replace ``clock`` for the window only for
    a channel that reaches no phone — ConfigError otherwise; ``may_send(now)`` must allow too.
    ``rate``: messages per second in any one-second window; ``concurrency``: requests in
    flight; ``lease_seconds``: how long a crashed worker's contacts wait for reconciliation;
    ``settle_seconds``: how long an unknown outcome waits before the provider is asked.
    Several workers may share a run; ``rate_key`` names the provider account whose rate
    every dispatcher shares on PostgreSQL (:mod:`revisit.delivery.sharedrate`; without it the
    rate is this call's alone). Raises :class:`~revisit.errors.ProviderError` when the
    provider refuses the credentials, the account or the sender (unsent contacts stay
    pending).
    """
    if rate <= 0 or concurrency <= 0:
        raise ValueError("rate and concurrency must be positive")
    if window_clock is not None and reaches_phones(channel):
        raise ConfigError(
            f"run {run_id}: a pinned clock only serves a dry run or the console channel; "
            f"the {channel.name} channel sends on the real clock inside the send window"
        )
    gate = gate_for_run(
        engine, run_id=run_id, clock=window_clock or clock, default_timezone=default_timezone,
        window=window,
    )  # fmt: skip
    tuning = Tuning.of(
        rate=rate, concurrency=concurrency, batch_size=batch_size, max_retries=max_retries,
        max_consecutive_failures=max_consecutive_failures, lease_seconds=lease_seconds,
        settle_seconds=settle_seconds, rate_key=rate_key,
    )  # fmt: skip
    dispatcher = _Dispatcher(engine, run_id, channel, tuning, clock, gate, may_send, progress)
    return await dispatcher.run()
