"""The options every command shares, defined once: ``--as-of``, ``--now``, a campaign's name,
``--rate`` and ``--concurrency``, and how they turn into the day and the clock of a run.

"now" is always an aware datetime and a "clock" always a callable returning one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from revisit.entry.lookup import day_of
from revisit.entry.runs import pinned_clock
from revisit.settings import Settings


def parse_day(value: str) -> dt.date:
    """``YYYY-MM-DD`` as a date; raises :class:`typer.BadParameter` naming the value."""
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise typer.BadParameter(f"{value!r} is not a date; write YYYY-MM-DD") from None


def parse_now(value: str) -> dt.datetime:
    """An ISO date-time (offset optional) as a datetime; raises :class:`typer.BadParameter`."""
    try:
        return dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not an ISO date-time; write e.g. 2026-11-23T10:00 or "
            "2026-11-23T10:00+08:00"
        ) from None


AsOf = Annotated[
    dt.date | None,
    typer.Option(
        "--as-of",
        parser=parse_day,
        metavar="YYYY-MM-DD",
        help="The day to evaluate or run for; data after it is ignored. Default: today in the "
        "default store time zone (or the date of --now).",
    ),
]
Now = Annotated[
    dt.datetime | None,
    typer.Option(
        "--now",
        parser=parse_now,
        metavar="DATETIME",
        help="Pin the clock (ISO date-time; without an offset, in the default store time zone) "
        "to replay a day: with --dry-run or the console channel only (a real send follows the "
        "real clock and the send window, and is refused with a pinned one).",
    ),
]
CampaignName = Annotated[
    str,
    typer.Argument(metavar="CAMPAIGN", help="Campaign name (a file in the campaigns folder)."),
]
Rate = Annotated[
    float | None,
    typer.Option("--rate", min=0.1, help="SMS per second (default 50 on Twilio)."),
]
Concurrency = Annotated[
    int, typer.Option("--concurrency", min=1, help="Provider requests in flight.")
]


def aware(settings: Settings, now: dt.datetime | None) -> dt.datetime:
    """``now`` with the default store time zone when it has none; the real time when None."""
    if now is None:
        return dt.datetime.now(dt.UTC)
    return now if now.tzinfo else now.replace(tzinfo=ZoneInfo(settings.default_timezone))


def day_and_clock(
    settings: Settings, as_of: dt.date | None, now: dt.datetime | None
) -> tuple[dt.date, Callable[[], dt.datetime]]:
    """The as_of of a run and its clock: pinned at ``--now`` (running at real speed) or the
    wall clock; the day defaults to the clock's date in the default store time zone."""
    clock = pinned_clock(aware(settings, now) if now is not None else None)
    return day_of(settings, as_of, clock()), clock
