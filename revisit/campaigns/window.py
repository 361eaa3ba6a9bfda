"""The send window: the local hours in which a campaign's contacts may go out.

A window is ``[start, end)`` of local time in the store's time zone (SPEC: default
09:00–20:00). Campaign files name it ``send_window:``; the older key ``quiet_hours:`` is read
as the same thing. Outside the window a run is deferred, never dropped.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from revisit.errors import ConfigError

_CLOCK = re.compile(r"^\s*(\d{1,2}):(\d{2})(?::(\d{2}))?\s*$")


class SendWindow(BaseModel):
    """The local hours ``[start, end)`` in which contacts may go out."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: dt.time = dt.time(9, 0)
    end: dt.time = dt.time(20, 0)

    @field_validator("start", "end", mode="before")
    @classmethod
    def _clock_time(cls, value: Any) -> Any:
        """``"9:00"`` as well as ``"09:00"`` (and ``"9:00:30"``): a time as people write it."""
        if isinstance(value, str):
            match = _CLOCK.match(value)
            if match is None:
                raise ValueError(f"{value!r} is not a time of day; write HH:MM, e.g. 09:00")
            hour, minute, second = (int(g or 0) for g in match.groups())
            if hour > 23 or minute > 59 or second > 59:
                raise ValueError(f"{value!r} is not a time of day; write HH:MM, e.g. 09:00")
            return dt.time(hour, minute, second)
        if isinstance(value, int | float) and not isinstance(value, bool):
            raise ValueError(f"{value!r} is not a time of day; write HH:MM, e.g. 09:00")
        return value

    @model_validator(mode="after")
    def _ordered(self) -> SendWindow:
        if self.start >= self.end:
            raise ValueError("start must be before end")
        return self

    def label(self) -> str:
        """``09:00–20:00``."""
        return f"{self.start:%H:%M}–{self.end:%H:%M}"


def within_send_window(now: dt.datetime, tz: str, window: SendWindow) -> bool:
    """True when ``now`` (aware) falls inside ``window`` in the local time of ``tz``."""
    local = now.astimezone(ZoneInfo(tz)).time()
    return window.start <= local < window.end


def next_send_time(now: dt.datetime, tz: str, window: SendWindow) -> dt.datetime:
    """``now`` when inside the window, else the next opening of the window (aware, in tz)."""
    zone = ZoneInfo(tz)
    local = now.astimezone(zone)
    if within_send_window(now, tz, window):
        return local
    day = local.date() if local.time() < window.start else local.date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, window.start, tzinfo=zone)


def parse_window(spec: str) -> SendWindow:
    """``"09:00-20:00"`` as a :class:`SendWindow`; raises :class:`ConfigError` naming the
    value when it is not two ``HH:MM`` times with the start first."""
    try:
        start, end = spec.split("-", 1)
        return SendWindow(start=start, end=end)  # type: ignore[arg-type]
    except ValueError as exc:
        raise ConfigError(
            f"send window {spec!r}: expected HH:MM-HH:MM with the start first, e.g. 09:00-20:00"
        ) from exc


def window_check(window: SendWindow, timezone: str) -> Callable[[dt.datetime], bool]:
    """``window`` in ``timezone`` as a may-send check on an aware datetime."""
    return lambda now: within_send_window(now, timezone, window)
