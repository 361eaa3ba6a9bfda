"""Dispatch one campaign run from the command line: ``python -m revisit.dispatch_worker``.

Settings come from the environment (``REVISIT_DATABASE_URL``, ``TWILIO_*``,
``REVISIT_TWILIO_BASE_URL``). Prints the :class:`~revisit.dispatch.DispatchSummary` as JSON.
Several workers may run on the same run at once (PostgreSQL); a killed worker's contacts are
reconciled by the next one after ``--lease-seconds``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
from collections.abc import Callable, Sequence

from revisit.campaigns import QuietHours
from revisit.channels import open_sms_channel
from revisit.dispatch import DispatchSummary, dispatch_run
from revisit.errors import RevisitError
from revisit.rules import within_quiet_hours
from revisit.settings import Settings
from revisit.store import open_engine


def send_window(spec: str, timezone: str) -> Callable[[dt.datetime], bool]:
    """``"09:00-20:00"`` in ``timezone`` as a may-send check (start included, end excluded)."""
    start, end = spec.split("-", 1)
    window = QuietHours(start=dt.time.fromisoformat(start), end=dt.time.fromisoformat(end))
    return lambda now: within_quiet_hours(now, timezone, window)


def run_worker(
    settings: Settings,
    *,
    run_id: int,
    rate: float,
    concurrency: int,
    window: str | None = None,
    lease_seconds: float = 30.0,
    settle_seconds: float = 30.0,
    read_timeout: float = 15.0,
    max_consecutive_failures: int = 20,
) -> DispatchSummary:
    engine = open_engine(settings.database_url)
    may_send = send_window(window, settings.default_timezone) if window else None

    async def go() -> DispatchSummary:
        channel = open_sms_channel(
            settings, max_connections=concurrency + 4, read_timeout=read_timeout
        )
        try:
            return await dispatch_run(
                engine,
                run_id=run_id,
                channel=channel,
                rate=rate,
                concurrency=concurrency,
                now=lambda: dt.datetime.now(dt.UTC),
                may_send=may_send,
                lease_seconds=lease_seconds,
                settle_seconds=settle_seconds,
                max_consecutive_failures=max_consecutive_failures,
            )
        finally:
            await channel.aclose()

    try:
        return asyncio.run(go())
    finally:
        engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m revisit.dispatch_worker", description=__doc__)
    p.add_argument("--run-id", type=int, required=True)
    p.add_argument("--rate", type=float, default=10.0, help="messages per second")
    p.add_argument("--concurrency", type=int, default=10, help="requests in flight")
    p.add_argument("--window", help="send window, e.g. 09:00-20:00 (store time zone)")
    p.add_argument("--lease-seconds", type=float, default=30.0)
    p.add_argument("--settle-seconds", type=float, default=30.0)
    p.add_argument("--read-timeout", type=float, default=15.0)
    p.add_argument("--max-consecutive-failures", type=int, default=20)
    a = p.parse_args(argv)
    try:
        summary = run_worker(
            Settings(),
            run_id=a.run_id,
            rate=a.rate,
            concurrency=a.concurrency,
            window=a.window,
            lease_seconds=a.lease_seconds,
            settle_seconds=a.settle_seconds,
            read_timeout=a.read_timeout,
            max_consecutive_failures=a.max_consecutive_failures,
        )
    except RevisitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    print(json.dumps(summary.as_dict(), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
