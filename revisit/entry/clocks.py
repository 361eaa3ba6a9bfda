"""The clocks of a run: the real one, a replay's pinned one, and the rule that a real send
follows the real clock (a pinned ``--now`` or a later ``--as-of`` rehearse a day; only a dry
run or the console channel does that)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from revisit.delivery.reconcile import CLOCK_TOLERANCE
from revisit.errors import ConfigError

if TYPE_CHECKING:
    from revisit.campaigns.config import CampaignDef


def refuse_replay_send(
    *,
    campaign: str,
    as_of: dt.date,
    run_clock: Callable[[], dt.datetime],
    wall_clock: Callable[[], dt.datetime],
    timezone: str,
) -> None:
    """Raise ConfigError when a real send would follow a pinned clock (``run_clock`` — a
    ``--now`` — more than ``CLOCK_TOLERANCE`` away from ``wall_clock``) or a day after today
    in ``timezone``: those replay or rehearse a day, which a dry run or the console does."""
    real = wall_clock()
    pinned = run_clock()
    if abs(pinned - real) > CLOCK_TOLERANCE:
        raise ConfigError(
            f"campaign {campaign}: --now {pinned.isoformat(timespec='minutes')} pins the clock, "
            "which only a --dry-run or the console channel may use; a real send follows the "
            "real clock and the send window. Drop --now, or add --dry-run."
        )
    refuse_future_day(campaign=campaign, as_of=as_of, wall_clock=wall_clock, timezone=timezone)


def refuse_future_day(
    *, campaign: str, as_of: dt.date, wall_clock: Callable[[], dt.datetime], timezone: str
) -> None:
    """Raise ConfigError (code ``future_day``; values ``campaign``, ``as_of``, ``today``)
    when ``as_of`` is after today in ``timezone``: a real send is for today or a day left
    to finish; a later day is rehearsed by a dry run."""
    today = wall_clock().astimezone(ZoneInfo(timezone)).date()
    if as_of > today:
        raise ConfigError(
            f"campaign {campaign}: --as-of {as_of} is after today ({today}); a real send is "
            "for today or a day left to finish. Use --dry-run to rehearse a later day.",
            code="future_day", values={"campaign": campaign, "as_of": as_of, "today": today},
        )  # fmt: skip


def refuse_past_day(
    *, campaign: str, as_of: dt.date, wall_clock: Callable[[], dt.datetime], timezone: str
) -> None:
    """Raise ConfigError when a real send would open a new run for a day before today in
    ``timezone``: its plan cannot see what today's runs send (the frequency cap counts the
    days up to as_of), so its customers would get today's messages again. A run already
    opened for that day may still be finished; a dry run may replay any day."""
    today = wall_clock().astimezone(ZoneInfo(timezone)).date()
    if as_of < today:
        raise ConfigError(
            f"campaign {campaign}: --as-of {as_of} is before today ({today}) and has no run to "
            "finish; a real send opens runs for today only (a past day's plan cannot see what "
            "today's runs send). Use --dry-run to replay a past day.",
            code="past_day", values={"campaign": campaign, "as_of": as_of, "today": today},
        )  # fmt: skip


def check_launch_day(
    campaign: CampaignDef, *, as_of: dt.date, now: dt.datetime, timezone: str
) -> None:
    """Raise ConfigError (with its ``code``) unless a person may launch ``campaign`` for
    ``as_of`` at ``now`` (aware): a day the campaign runs on
    (:meth:`~revisit.campaigns.content.CampaignContent.check_run_day`, as ``campaign run``
    checks), and today in ``timezone`` — a past day's plan cannot see what today's runs
    send, and its texts (a greeting's "today", a follow-up's window, see
    :func:`revisit.cohorts.events.last_useful_day`) would reach customers wrong; a later
    day is rehearsed with ``campaign run --dry-run``. The web app's rule, stricter than the
    CLI's, which may finish a past day's run or rehearse on the console channel."""
    campaign.check_run_day(campaign.name, as_of)
    clock = lambda: now  # noqa: E731
    refuse_past_day(campaign=campaign.name, as_of=as_of, wall_clock=clock, timezone=timezone)
    refuse_future_day(campaign=campaign.name, as_of=as_of, wall_clock=clock, timezone=timezone)


def real_clock() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def pinned_clock(start: dt.datetime | None) -> Callable[[], dt.datetime]:
    """The wall clock, or one that starts at ``start`` and runs at real speed."""
    if start is None:
        return real_clock
    origin, t0 = start.astimezone(dt.UTC), time.monotonic()
    return lambda: origin + dt.timedelta(seconds=time.monotonic() - t0)
